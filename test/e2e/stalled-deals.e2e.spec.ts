import { randomUUID } from 'node:crypto';
import type { Response } from 'supertest';
import { startTestApp, type TestApp } from '../support/test-app';
import { testBackends } from '../support/test-database';
import { API, bearer, calendarDaysBetween, etagVersion, getDeal, OPPS, readStream, uniqueOrg } from './helpers';
import {
  appendDeal,
  Clock,
  type DealSpec,
  type DomainEvent,
  idFactory,
  lost,
  maxPosition,
  stageChanged,
  waitForPosition,
  won,
} from './read-fixtures';

/**
 * Seed 000 Scenario 2 ("Handling Stalled Opportunity"), Scenario 3 ("Bulk Pipeline Cleanup") and the
 * seed 003 Website Lead Workflow (prospects, activities, notes, stats, convert-to-customer, categories),
 * request by request. Back-dated deals are appended straight to the event store (read-fixtures.ts);
 * every figure below is worked out by hand in the comments next to it.
 */

const c = new Clock();
const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

/** A completed activity written as a fixture event (shape: libs/domain/src/opportunity/events.ts). */
function activityLogged(activityId: string, type: string, subject: string, at: string): DomainEvent {
  return {
    type: 'ActivityLogged',
    at,
    data: {
      activity_id: activityId,
      activity_type: type,
      subject,
      description: null,
      outcome: null,
      priority: null,
      scheduled_at: null,
      completed_at: at,
      logged_at: at,
    },
  };
}

function heldAt(from: string, at: string): DomainEvent {
  return stageChanged(from, 'on_hold', 0, at, 'on_hold');
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.each(testBackends().map((b) => [b.name, b] as const))(
  'mission: seed scenarios 2, 3 and the seed 003 workflow (%s)',
  (_name, backend) => {
    let t: TestApp;
    const http = () => t.http();

    beforeAll(async () => {
      t = await startTestApp(backend);
    }, 60_000);

    afterAll(async () => {
      await t?.close();
    });

    async function streamLength(org: string, id: string): Promise<number> {
      return (await readStream(t, org, id)).length;
    }

    /**
     * Scenario 2 dataset (org s2, owner mgr_2, customer 568, default pipeline). T = today; instants at 12:00 UTC.
     *
     * | deal        | stage history                                         | value      | close  | last activity |
     * |-------------|-------------------------------------------------------|------------|--------|---------------|
     * | A, B, C     | needs_analysis at T-60 → proposal at T-45; email T-20 | 120,000.00 | T+30   | T-20          |
     * | Boundary30  | proposal since T-30                                   | 10,000.00  | T+30   | T-30          |
     * | Boundary29  | proposal since T-29                                   | 10,000.00  | T+30   | T-29          |
     * | Fresh       | needs_analysis T-20 → proposal T-10                   | 10,000.00  | T+30   | T-10          |
     * | OldNego     | negotiation since T-50                                | 10,000.00  | T+30   | T-50          |
     *
     * `?stage=proposal&days_in_stage_min=30` → Boundary30, A, B, C (4 deals):
     *   total_value 3 × 120,000 + 10,000 = 370,000.00; weighted 60 % of it = 222,000.00.
     */
    describe('Scenario 2: handling a stalled opportunity', () => {
      const org = uniqueOrg('s2');
      const owner = 'mgr_2';
      let token: string;
      const id = idFactory();
      const deals = { A: id(1), B: id(2), C: id(3), Boundary30: id(4), Boundary29: id(5), Fresh: id(6), OldNego: id(7) };
      const emailActivity = { A: randomUUID(), B: randomUUID(), C: randomUUID() };
      let callId: string;

      const NAMES = {
        A: 'Stalled Proposal A',
        B: 'Stalled Proposal B',
        C: 'Stalled Proposal C',
        Boundary30: 'Boundary proposal 30 days',
        Boundary29: 'Boundary proposal 29 days',
        Fresh: 'Fresh proposal 10 days',
        OldNego: 'Old negotiation 50 days',
      };

      const CALL = {
        type: 'call',
        subject: 'Re-engage Stalled Opportunity - Proposal Follow-up',
        priority: 'high',
        scheduled_at: '2025-12-19T10:00:00Z',
        notes: 'No response to proposal for 20 days. Need to understand if still interested or if timeline changed.',
      };

      beforeAll(async () => {
        token = await t.token(org, owner, 'manager');
        const base = (
          deal: keyof typeof deals,
          stage: string,
          probability: number,
          value_minor: number,
          createdDaysAgo: number,
        ): DealSpec => ({
          id: deals[deal],
          name: NAMES[deal],
          customer_id: '568',
          stage,
          probability,
          value_minor,
          expected_close_date: c.day(30),
          assigned_user_id: owner,
          created_at: c.at(-createdDaysAgo),
        });
        let last = '0';
        for (const k of ['A', 'B', 'C'] as const) {
          last = maxPosition(
            last,
            await appendDeal(t, org, base(k, 'needs_analysis', 40, 12_000_000, 60), [
              stageChanged('needs_analysis', 'proposal', 60, c.at(-45)),
              activityLogged(emailActivity[k], 'email', 'Proposal follow-up email', c.at(-20)),
            ]),
          );
        }
        last = maxPosition(last, await appendDeal(t, org, base('Boundary30', 'proposal', 60, 1_000_000, 30)));
        last = maxPosition(last, await appendDeal(t, org, base('Boundary29', 'proposal', 60, 1_000_000, 29)));
        last = maxPosition(
          last,
          await appendDeal(t, org, base('Fresh', 'needs_analysis', 40, 1_000_000, 20), [
            stageChanged('needs_analysis', 'proposal', 60, c.at(-10)),
          ]),
        );
        last = maxPosition(last, await appendDeal(t, org, base('OldNego', 'negotiation', 75, 1_000_000, 50)));
        await waitForPosition(t, token, last);
      }, 60_000);

      it('1. finds the stalled deal: GET /opportunities?stage=proposal&days_in_stage_min=30', async () => {
        const res = await http().get(`${OPPS}?stage=proposal&days_in_stage_min=30&sort_by=name&sort_direction=asc`).set(bearer(token));
        expect(res.status).toBe(200);
        expect(res.body.data.map((d: { id: string }) => d.id)).toEqual([deals.Boundary30, deals.A, deals.B, deals.C]);
        expect(res.body.meta).toMatchObject({ current_page: 1, per_page: 25, total: 4, last_page: 1 });
        expect(res.body.summary).toMatchObject({ total_opportunities: 4, total_value: 370000, total_weighted_value: 222000 });
        const a = res.body.data.find((d: { id: string }) => d.id === deals.A);
        expect(a).toMatchObject({
          stage: 'proposal',
          stage_duration: 45,
          age_in_days: 60,
          last_activity_at: c.at(-20),
          probability: 60,
          weighted_value: 72000,
        });
        expect(res.body.data.find((d: { id: string }) => d.id === deals.Boundary30).stage_duration).toBe(30);
      });

      it('2. reviews it: 45 days in proposal, no activity for 20 days', async () => {
        const res = await getDeal(t, token, deals.A);
        expect(res.status).toBe(200);
        expect(res.body.data).toMatchObject({
          id: deals.A,
          stage: 'proposal',
          status: 'open',
          previous_stage: 'needs_analysis',
          stage_changed_at: c.at(-45),
          stage_duration: 45,
          age_in_days: 60,
          last_activity_at: c.at(-20),
          days_since_activity: 20,
          is_stale: false, // 20 days quiet < 30 (STALE_AFTER_DAYS default)
          value: 120000,
          probability: 60,
          probability_is_override: false,
          weighted_value: 72000, // 120,000 × 60 %
          expected_close_date: c.day(30),
          days_to_close: 30,
          is_overdue: false,
          // BANT 0 + close date ahead 20 + 45 days in stage (≤ 60) 10 + 20 days quiet (≤ 30) 10
          health_score: 40,
        });
        expect(etagVersion(res)).toBe(3);
      });

      it('3. POST /activities with the seed re-engagement call → 201, scheduled', async () => {
        const res = await http()
          .post(`${API}/activities`)
          .set(bearer(token))
          .send({ ...CALL, opportunity_id: deals.A });
        expect(res.status).toBe(201);
        expect(res.body.message).toBe('Activity created successfully');
        expect(res.body.data).toMatchObject({
          opportunity_id: deals.A,
          type: 'call',
          subject: CALL.subject,
          description: CALL.notes,
          priority: 'high',
          status: 'scheduled',
          scheduled_at: '2025-12-19T10:00:00Z',
          completed_at: null,
          created_by: owner,
        });
        expect(res.body.data.id).toMatch(/^[0-9a-f-]{36}$/);
        expect(res.body.data.created_at).toMatch(ISO_INSTANT);
        callId = res.body.data.id;
        expect(etagVersion(res)).toBe(4);
        const last = (await readStream(t, org, deals.A)).at(-1)!;
        expect(last).toMatchObject({
          type: 'ActivityLogged',
          streamVersion: 4,
          data: {
            activity_id: callId,
            activity_type: 'call',
            subject: CALL.subject,
            description: CALL.notes,
            priority: 'high',
            scheduled_at: '2025-12-19T10:00:00Z',
            completed_at: null,
          },
          metadata: { actor_id: owner, org_id: org },
        });
      });

      it('4. the call is listed first in GET /opportunities/{id}/activities (newest first)', async () => {
        const res = await http().get(`${OPPS}/${deals.A}/activities`).set(bearer(token));
        expect(res.status).toBe(200);
        // now: the call · T-20: the email · T-45: the stage change needs_analysis → proposal
        expect(res.body.data.map((a: { id: string }) => a.id)).toEqual([callId, emailActivity.A, expect.any(String)]);
        expect(res.body.data[0]).toMatchObject({
          type: 'call',
          status: 'scheduled',
          subject: CALL.subject,
          priority: 'high',
          created_by: owner,
        });
        expect(res.body.data[1]).toMatchObject({ type: 'email', status: 'completed', completed_at: c.at(-20), created_at: c.at(-20) });
        expect(res.body.data[2]).toMatchObject({
          type: 'status_change',
          subject: 'Stage changed from needs_analysis to proposal',
          created_at: c.at(-45),
        });
        expect(res.body.meta).toMatchObject({ total: 3, current_page: 1 });
        const calls = await http().get(`${OPPS}/${deals.A}/activities?type=call`).set(bearer(token));
        expect(calls.body.data.map((a: { id: string }) => a.id)).toEqual([callId]);
      });

      it('4b. … and in includes=activities (detail and list)', async () => {
        const detail = await http().get(`${OPPS}/${deals.A}?includes=activities`).set(bearer(token));
        expect(detail.status).toBe(200);
        expect(detail.body.data.activities.map((a: { id: string }) => a.id).slice(0, 2)).toEqual([callId, emailActivity.A]);
        expect(detail.body.data.activities).toHaveLength(3);
        // Logging the call is activity: the deal is no longer quiet.
        expect(detail.body.data.days_since_activity).toBe(0);
        const list = await http()
          .get(`${OPPS}?stage=proposal&days_in_stage_min=30&includes=activities&sort_by=name&sort_direction=asc`)
          .set(bearer(token));
        const a = list.body.data.find((d: { id: string }) => d.id === deals.A);
        expect(a.activities[0]).toMatchObject({ id: callId, type: 'call' });
      });

      it('5. PATCH /activities/{id} completes the call', async () => {
        const before = Date.now();
        const res = await http()
          .patch(`${API}/activities/${callId}`)
          .set(bearer(token))
          .send({ status: 'completed', outcome: 'Reached CTO: still interested, budget approval delayed to Q1' });
        expect(res.status).toBe(200);
        expect(res.body.data).toMatchObject({
          id: callId,
          status: 'completed',
          outcome: 'Reached CTO: still interested, budget approval delayed to Q1',
          type: 'call',
        });
        expect(Date.parse(res.body.data.completed_at)).toBeGreaterThanOrEqual(before - 1000);
        expect(etagVersion(res)).toBe(5);
        const list = await http().get(`${OPPS}/${deals.A}/activities`).set(bearer(token));
        expect(list.body.data[0]).toMatchObject({ id: callId, status: 'completed' });
        // Completing it twice is refused and appends nothing.
        const again = await http().patch(`${API}/activities/${callId}`).set(bearer(token)).send({ status: 'completed' });
        expect(again.status).toBe(409);
        expect(await streamLength(org, deals.A)).toBe(5);
      });

      it('activities: bad input → 400, unknown deal or another org → 404, nothing appended', async () => {
        const otherToken = await t.token(uniqueOrg('s2x'), 'mgr_x', 'manager');
        const post = (body: object, tok = token) => http().post(`${API}/activities`).set(bearer(tok)).send(body);
        const noType = await post({ opportunity_id: deals.A, subject: 'x' });
        expect(noType.status).toBe(400);
        expect(Object.keys(noType.body.errors)).toEqual(['type']);
        const badType = await post({ ...CALL, type: 'fax', opportunity_id: deals.A });
        expect(badType.status).toBe(400);
        expect(Object.keys(badType.body.errors)).toEqual(['type']);
        const badTime = await post({ ...CALL, scheduled_at: '2025-13-40T10:00:00Z', opportunity_id: deals.A });
        expect(badTime.status).toBe(400);
        expect(Object.keys(badTime.body.errors)).toEqual(['scheduled_at']);
        const badId = await post({ ...CALL, opportunity_id: 'deal-892' });
        expect(badId.status).toBe(400);
        expect((await post({ ...CALL, opportunity_id: randomUUID() })).status).toBe(404);
        expect((await post({ ...CALL, opportunity_id: deals.A }, otherToken)).status).toBe(404);
        expect((await http().get(`${OPPS}/${deals.A}/activities`).set(bearer(otherToken))).status).toBe(404);
        expect((await http().patch(`${API}/activities/${callId}`).set(bearer(otherToken)).send({ status: 'completed' })).status).toBe(404);
        const badStatus = await http().patch(`${API}/activities/${callId}`).set(bearer(token)).send({ status: 'scheduled' });
        expect(badStatus.status).toBe(400);
        expect(Object.keys(badStatus.body.errors)).toEqual(['status']);
        expect(await streamLength(org, deals.A)).toBe(5);
      });

      it('Option A: still interested → PATCH close date 2026-05-31, probability 50 (override), next step, notes', async () => {
        const body = {
          expected_close_date: '2026-05-31',
          probability: 50,
          next_step: 'Follow up in January after budget finalization',
          notes: 'Customer confirmed still interested. Budget approval delayed to Q1. Staying in proposal stage but adjusting timeline.',
        };
        const res = await http().patch(`${OPPS}/${deals.A}`).set(bearer(token)).send(body);
        expect(res.status).toBe(200);
        expect(res.body.data).toMatchObject({
          stage: 'proposal',
          expected_close_date: '2026-05-31',
          probability: 50,
          stage_probability: 60,
          probability_is_override: true,
          weighted_value: 60000, // 120,000 × 50 %
          next_step: body.next_step,
          days_to_close: calendarDaysBetween(c.today, '2026-05-31'),
          is_overdue: '2026-05-31' < c.today,
        });
        expect(etagVersion(res)).toBe(6);
        const last = (await readStream(t, org, deals.A)).at(-1)!;
        expect(last).toMatchObject({
          type: 'OpportunityUpdated',
          data: {
            changes: { expected_close_date: '2026-05-31', next_step: body.next_step },
            probability_override: 50,
            probability: 50,
            notes: body.notes,
          },
        });
        const read = await getDeal(t, token, deals.A);
        expect(read.body.data).toMatchObject({ probability: 50, probability_is_override: true, stage: 'proposal' });
      });

      it('Option B: not responsive → PATCH /stage on_hold; a status_change activity is recorded', async () => {
        const notes = 'Unable to reach decision maker. Putting on hold. Will re-engage in 30 days.';
        const res = await http().patch(`${OPPS}/${deals.B}/stage`).set(bearer(token)).send({ stage: 'on_hold', notes });
        expect(res.status).toBe(200);
        expect(res.body.message).toBe('Opportunity stage updated successfully');
        expect(res.body.data).toMatchObject({ id: deals.B, stage: 'on_hold', probability: 0, previous_stage: 'proposal' });
        expect(etagVersion(res)).toBe(4);
        const acts = await http().get(`${OPPS}/${deals.B}/activities`).set(bearer(token));
        expect(acts.status).toBe(200);
        expect(acts.body.meta.total).toBe(3);
        expect(acts.body.data[0]).toMatchObject({
          type: 'status_change',
          subject: 'Stage changed from proposal to on_hold',
          description: notes,
          status: 'completed',
          created_by: owner,
        });
        const read = await getDeal(t, token, deals.B);
        // on hold: half of (BANT 0 + close 20 + stage 0 days 20 + activity today 20) = 30
        expect(read.body.data).toMatchObject({ stage: 'on_hold', status: 'open', weighted_value: 0, health_score: 30 });
        const held = await http().get(`${OPPS}?stage=on_hold`).set(bearer(token));
        expect(held.body.data.map((d: { id: string }) => d.id)).toEqual([deals.B]);
      });

      it('Option C: went with a competitor → POST /lose; every later command is 422', async () => {
        const body = {
          loss_reason: 'competitor',
          competitor: 'Competitor Y',
          loss_notes:
            'Lost to Competitor Y. Customer felt their solution better aligned with legacy systems. Competitor offered free migration services which we did not.',
          lessons_learned: 'Need to include migration services in enterprise proposals. Legacy integration is key buying criterion.',
        };
        const res = await http().post(`${OPPS}/${deals.C}/lose`).set(bearer(token)).send(body);
        expect(res.status).toBe(200);
        expect(res.body.message).toBe('Opportunity marked as lost');
        expect(res.body.data).toMatchObject({
          id: deals.C,
          stage: 'lost',
          probability: 0,
          loss_reason: 'competitor',
          competitor: 'Competitor Y',
          lessons_learned: body.lessons_learned,
          close_reason: body.loss_notes,
          actual_close_date: `${c.today}T00:00:00Z`,
          sales_cycle_days: 60, // created T-60, closed today
        });
        expect(etagVersion(res)).toBe(4);

        const later: [string, () => Promise<Response>][] = [
          ['PATCH', () => http().patch(`${OPPS}/${deals.C}`).set(bearer(token)).send({ next_step: 'x' })],
          ['PATCH stage', () => http().patch(`${OPPS}/${deals.C}/stage`).set(bearer(token)).send({ stage: 'proposal' })],
          ['stage/next', () => http().post(`${OPPS}/${deals.C}/stage/next`).set(bearer(token)).send({})],
          ['stage/previous', () => http().post(`${OPPS}/${deals.C}/stage/previous`).set(bearer(token)).send({ reason: 'retry' })],
          ['win', () => http().post(`${OPPS}/${deals.C}/win`).set(bearer(token)).send({})],
          ['lose', () => http().post(`${OPPS}/${deals.C}/lose`).set(bearer(token)).send({ loss_reason: 'price' })],
          ['assign', () => http().post(`${OPPS}/${deals.C}/assign`).set(bearer(token)).send({ user_id: 'rep_9' })],
          [
            'activity',
            () =>
              http()
                .post(`${API}/activities`)
                .set(bearer(token))
                .send({ ...CALL, opportunity_id: deals.C }),
          ],
          ['note', () => http().post(`${OPPS}/${deals.C}/notes`).set(bearer(token)).send({ content: 'post mortem' })],
        ];
        for (const [label, send] of later) {
          const r = await send();
          expect({ label, status: r.status, message: r.body.message, code: r.body.code, current_stage: r.body.current_stage }).toEqual({
            label,
            status: 422,
            message: 'Invalid stage transition',
            code: 'invalid_stage_transition',
            current_stage: 'lost',
          });
        }
        expect(await streamLength(org, deals.C)).toBe(4);
        const read = await getDeal(t, token, deals.C);
        expect(read.status).toBe(200);
        expect(read.body.data).toMatchObject({ stage: 'lost', status: 'lost', loss_reason: 'competitor' });
      });
    });

    /**
     * Scenario 3 dataset (org s3, owner mgr_3, default pipeline, customer 568). T = today, 12:00 UTC.
     *
     * | deal | stage (history)                         | value     | prob | weighted  | close  | created | last act |
     * |------|-----------------------------------------|-----------|------|-----------|--------|---------|----------|
     * | D1   | proposal                                | 30,000.00 | 60   | 18,000.00 | T-10   | T-70    | T-70     |
     * | D2   | negotiation                             | 20,000.00 | 75   | 15,000.00 | T-5    | T-30    | T-30     |
     * | D3   | qualification                           |  8,000.00 | 25   |  2,000.00 | T+30   | T-65    | T-65     |
     * | D4   | prospecting                             |  5,000.00 | 10   |    500.00 | T+60   | T-5     | T-5      |
     * | D5   | verbal_commitment → won at T-80         | 50,000.00 | 100  |           | T-100  | T-120   | T-80     |
     * | D6   | proposal → lost (price) at T-90         | 40,000.00 | 0    |           | T-90   | T-120   | T-90     |
     * | D7   | verbal_commitment                       | 12,000.00 | 90   | 10,800.00 | T-1    | T-61    | T-61     |
     * | D8   | needs_analysis → on_hold at T-75        |  9,000.00 | 0    |      0.00 | T+10   | T-100   | T-75     |
     * | OB   | org s3b (another org), created by API   |
     *
     * overdue=true → open and close < T: D2, D7, D1 (created_at desc); 62,000.00 total, 43,800.00 weighted.
     * last_activity_days_ago_min=60 & stage!=won,lost → D7 (-61), D3 (-65), D1 (-70), D8 (-100 created) by created_at desc.
     */
    describe('Scenario 3: bulk pipeline cleanup', () => {
      const org = uniqueOrg('s3');
      const otherOrg = uniqueOrg('s3b');
      const owner = 'mgr_3';
      let token: string;
      let otherToken: string;
      const id = idFactory();
      const D = { D1: id(1), D2: id(2), D3: id(3), D4: id(4), D5: id(5), D6: id(6), D7: id(7), D8: id(8) };
      const UNKNOWN = randomUUID();
      let OB: string;
      const BULK = `${OPPS}/bulk-actions`;

      const bulk = (body: object, tok = token) => http().post(BULK).set(bearer(tok)).send(body);
      const versions = async (ids: string[]) => Promise.all(ids.map((x) => streamLength(org, x)));

      beforeAll(async () => {
        token = await t.token(org, owner, 'manager');
        otherToken = await t.token(otherOrg, 'mgr_b', 'manager');
        const spec = (
          key: keyof typeof D,
          stage: string,
          probability: number,
          value_minor: number,
          close: number,
          createdDaysAgo: number,
        ): DealSpec => ({
          id: D[key],
          name: `Cleanup ${key.slice(1)}`,
          customer_id: '568',
          stage,
          probability,
          value_minor,
          expected_close_date: c.day(close),
          assigned_user_id: owner,
          created_at: c.at(-createdDaysAgo),
        });
        let last = '0';
        last = maxPosition(last, await appendDeal(t, org, spec('D1', 'proposal', 60, 3_000_000, -10, 70)));
        last = maxPosition(last, await appendDeal(t, org, spec('D2', 'negotiation', 75, 2_000_000, -5, 30)));
        last = maxPosition(last, await appendDeal(t, org, spec('D3', 'qualification', 25, 800_000, 30, 65)));
        last = maxPosition(last, await appendDeal(t, org, spec('D4', 'prospecting', 10, 500_000, 60, 5)));
        last = maxPosition(
          last,
          await appendDeal(t, org, spec('D5', 'verbal_commitment', 90, 5_000_000, -100, 120), [
            won('verbal_commitment', 5_000_000, c.day(-80), c.at(-80)),
          ]),
        );
        last = maxPosition(
          last,
          await appendDeal(t, org, spec('D6', 'proposal', 60, 4_000_000, -90, 120), [lost('proposal', 'price', c.day(-90), c.at(-90))]),
        );
        last = maxPosition(last, await appendDeal(t, org, spec('D7', 'verbal_commitment', 90, 1_200_000, -1, 61)));
        last = maxPosition(
          last,
          await appendDeal(t, org, spec('D8', 'needs_analysis', 40, 900_000, 10, 100), [heldAt('needs_analysis', c.at(-75))]),
        );
        await waitForPosition(t, token, last);
        const other = await http()
          .post(OPPS)
          .set(bearer(otherToken))
          .send({ name: 'Other org deal', customer_id: 568, value: 1000, expected_close_date: c.day(-3) });
        expect(other.status).toBe(201);
        OB = other.body.data.id;
      }, 60_000);

      it('1. GET /opportunities?overdue=true&per_page=100', async () => {
        const res = await http().get(`${OPPS}?overdue=true&per_page=100`).set(bearer(token));
        expect(res.status).toBe(200);
        expect(res.body.data.map((d: { id: string }) => d.id)).toEqual([D.D2, D.D7, D.D1]);
        expect(res.body.data.every((d: { is_overdue: boolean }) => d.is_overdue)).toBe(true);
        expect(res.body.meta).toMatchObject({ per_page: 100, total: 3, last_page: 1 });
        expect(res.body.summary).toMatchObject({ total_opportunities: 3, total_value: 62000, total_weighted_value: 43800 });
      });

      it('2. GET /opportunities?last_activity_days_ago_min=60&stage!=won,lost', async () => {
        const res = await http().get(`${OPPS}?last_activity_days_ago_min=60&stage!=won,lost`).set(bearer(token));
        expect(res.status).toBe(200);
        expect(res.body.data.map((d: { id: string }) => d.id)).toEqual([D.D7, D.D3, D.D1, D.D8]);
        expect(res.body.meta.total).toBe(4);
        // Without the exclusion the won and lost deals are quiet too.
        const all = await http().get(`${OPPS}?last_activity_days_ago_min=60&per_page=100`).set(bearer(token));
        expect(all.body.meta.total).toBe(6);
      });

      it('3. update_close_date: partial success with per-id errors (unknown 404, other org 404, malformed 400, lost 422)', async () => {
        const res = await bulk({
          action: 'update_close_date',
          opportunity_ids: [D.D1, D.D2, D.D7, UNKNOWN, OB, 'not-a-uuid', D.D6],
          parameters: { expected_close_date: '2026-06-30' },
        });
        expect(res.status).toBe(200);
        expect(res.body.message).toBe('Bulk action partially completed');
        expect(res.body.data).toMatchObject({ action: 'update_close_date', total: 7, succeeded: 3, failed: 4 });
        const r = res.body.data.results;
        expect(r.map((x: { id: string }) => x.id)).toEqual([D.D1, D.D2, D.D7, UNKNOWN, OB, 'not-a-uuid', D.D6]);
        for (const ok of r.slice(0, 3)) expect(ok).toMatchObject({ status: 'success', version: 2, changed: true });
        expect(r[3]).toMatchObject({ status: 'error', http_status: 404, code: 'not_found' });
        expect(r[4]).toMatchObject({ status: 'error', http_status: 404, code: 'not_found' });
        expect(r[5]).toMatchObject({ status: 'error', http_status: 400, code: 'validation_failed' });
        expect(r[6]).toMatchObject({
          status: 'error',
          http_status: 422,
          code: 'invalid_stage_transition',
          message: 'Invalid stage transition',
          current_stage: 'lost',
        });

        for (const x of [D.D1, D.D2, D.D7]) {
          const d = await getDeal(t, token, x);
          expect(d.body.data.expected_close_date).toBe('2026-06-30');
          expect(etagVersion(d)).toBe(2);
        }
        const lostDeal = await getDeal(t, token, D.D6);
        expect(lostDeal.body.data).toMatchObject({ expected_close_date: c.day(-90), stage: 'lost' });
        expect(await streamLength(org, D.D6)).toBe(2);
        const other = await getDeal(t, otherToken, OB);
        expect(other.body.data.expected_close_date).toBe(c.day(-3));
        expect(etagVersion(other)).toBe(1);
        expect(await readStream(t, org, UNKNOWN)).toEqual([]);
      });

      it('4. mark_lost with no_decision: open deals lost, the already-lost one 422', async () => {
        const notes = 'Customer unresponsive for 90+ days. No longer pursuing.';
        const res = await bulk({
          action: 'mark_lost',
          opportunity_ids: [D.D3, D.D4, D.D6],
          parameters: { loss_reason: 'no_decision', loss_notes: notes },
        });
        expect(res.status).toBe(200);
        expect(res.body.data).toMatchObject({ total: 3, succeeded: 2, failed: 1 });
        expect(res.body.data.results.map((x: { status: string }) => x.status)).toEqual(['success', 'success', 'error']);
        expect(res.body.data.results[2]).toMatchObject({ id: D.D6, http_status: 422 });
        for (const x of [D.D3, D.D4]) {
          const d = await getDeal(t, token, x);
          expect(d.body.data).toMatchObject({
            stage: 'lost',
            status: 'lost',
            probability: 0,
            loss_reason: 'no_decision',
            loss_notes: notes,
            weighted_value: 0,
          });
        }
        expect((await getDeal(t, token, D.D6)).body.data.loss_reason).toBe('price');
      });

      it('5. update_stage to on_hold: open deals paused, the won one 422', async () => {
        const notes = 'Pausing these opportunities. Will re-engage next quarter.';
        const res = await bulk({
          action: 'update_stage',
          opportunity_ids: [D.D1, D.D2, D.D7, D.D5],
          parameters: { stage: 'on_hold', notes },
        });
        expect(res.status).toBe(200);
        expect(res.body.data).toMatchObject({ total: 4, succeeded: 3, failed: 1 });
        expect(res.body.data.results[3]).toMatchObject({ id: D.D5, status: 'error', http_status: 422, current_stage: 'won' });
        const previous = { [D.D1]: 'proposal', [D.D2]: 'negotiation', [D.D7]: 'verbal_commitment' };
        for (const x of [D.D1, D.D2, D.D7]) {
          const d = await getDeal(t, token, x);
          expect(d.body.data).toMatchObject({ stage: 'on_hold', previous_stage: previous[x], probability: 0 });
          const acts = await http().get(`${OPPS}/${x}/activities`).set(bearer(token));
          expect(acts.body.data[0]).toMatchObject({ type: 'status_change', description: notes });
        }
        expect((await getDeal(t, token, D.D5)).body.data.stage).toBe('won');
      });

      it('6. assign: every valid id reassigned, unknown 404', async () => {
        // A repeated id (in any letter case) is acted on once.
        const res = await bulk({
          action: 'assign',
          opportunity_ids: [D.D1, D.D2, D.D8, UNKNOWN, D.D1, D.D2.toUpperCase()],
          parameters: { user_id: 'rep_9', reason: 'Territory rebalancing' },
        });
        expect(res.status).toBe(200);
        expect(res.body.data).toMatchObject({ total: 4, succeeded: 3, failed: 1 });
        expect(res.body.data.results.map((x: { id: string }) => x.id)).toEqual([D.D1, D.D2, D.D8, UNKNOWN]);
        expect(await versions([D.D1, D.D2])).toEqual([4, 4]); // created, close date, on hold, assigned
        expect(res.body.data.results[3]).toMatchObject({ id: UNKNOWN, http_status: 404 });
        for (const x of [D.D1, D.D2, D.D8]) {
          expect((await getDeal(t, token, x)).body.data.assigned_user_id).toBe('rep_9');
        }
        const last = (await readStream(t, org, D.D8)).at(-1)!;
        expect(last).toMatchObject({
          type: 'OpportunityAssigned',
          data: { user_id: 'rep_9', previous_owner_id: owner, reason: 'Territory rebalancing' },
          metadata: { actor_id: owner },
        });
      });

      it('7. the same bulk request with the same Idempotency-Key → same response, nothing appended again', async () => {
        const body = {
          action: 'update_close_date',
          opportunity_ids: [D.D7, D.D8, UNKNOWN],
          parameters: { expected_close_date: '2026-12-31' },
        };
        const key = `cleanup-${randomUUID()}`;
        const first = await http().post(BULK).set(bearer(token)).set('Idempotency-Key', key).send(body);
        expect(first.status).toBe(200);
        expect(first.body.data).toMatchObject({ total: 3, succeeded: 2, failed: 1 });
        const after = await versions([D.D7, D.D8]);
        const again = await http().post(BULK).set(bearer(token)).set('Idempotency-Key', key).send(body);
        expect(again.status).toBe(200);
        expect(again.body).toEqual(first.body);
        expect(again.headers['idempotent-replayed']).toBe('true');
        expect(await versions([D.D7, D.D8])).toEqual(after);
        // The same key for a different request is refused.
        const other = await http()
          .post(BULK)
          .set(bearer(token))
          .set('Idempotency-Key', key)
          .send({ ...body, parameters: { expected_close_date: '2027-01-31' } });
        expect(other.status).toBe(422);
        expect(other.body.code).toBe('idempotency_key_reused');
        expect(await versions([D.D7, D.D8])).toEqual(after);
        expect((await getDeal(t, token, D.D7)).body.data.expected_close_date).toBe('2026-12-31');
      });

      it('8. more than 1000 ids → 400', async () => {
        const ids = Array.from({ length: 1001 }, () => randomUUID());
        const res = await bulk({ action: 'assign', opportunity_ids: ids, parameters: { user_id: 'rep_9' } });
        expect(res.status).toBe(400);
        expect(res.body.code).toBe('validation_failed');
        expect(res.body.errors.opportunity_ids).toEqual(expect.arrayContaining([expect.stringMatching(/1000/)]));
      });

      it('9. unknown action → 400; empty id list → 400', async () => {
        const res = await bulk({ action: 'archive', opportunity_ids: [D.D4], parameters: {} });
        expect(res.status).toBe(400);
        expect(res.body.errors.action).toEqual(['action must be one of: update_close_date, mark_lost, update_stage, assign']);
        const empty = await bulk({ action: 'assign', opportunity_ids: [], parameters: { user_id: 'rep_9' } });
        expect(empty.status).toBe(400);
        expect(Object.keys(empty.body.errors)).toEqual(['opportunity_ids']);
      });

      it('10. bad parameters → 400 naming parameters.<field>, nothing appended', async () => {
        const before = await versions([D.D7, D.D8]);
        const badDate = await bulk({
          action: 'update_close_date',
          opportunity_ids: [D.D7, D.D8],
          parameters: { expected_close_date: '2026-02-30' },
        });
        expect(badDate.status).toBe(400);
        expect(badDate.body.code).toBe('validation_failed');
        expect(Object.keys(badDate.body.errors)).toEqual(['parameters.expected_close_date']);
        expect(badDate.body.errors['parameters.expected_close_date'][0]).toMatch(/expected_close_date/);
        const missing = await bulk({ action: 'mark_lost', opportunity_ids: [D.D7], parameters: {} });
        expect(missing.status).toBe(400);
        expect(Object.keys(missing.body.errors)).toEqual(['parameters.loss_reason']);
        const unknownField = await bulk({
          action: 'update_close_date',
          opportunity_ids: [D.D7],
          parameters: { expected_close_date: '2026-12-01', archive: true },
        });
        expect(unknownField.status).toBe(400);
        expect(Object.keys(unknownField.body.errors)).toEqual(['parameters.archive']);
        expect(await versions([D.D7, D.D8])).toEqual(before);
      });
    });

    /**
     * Seed 003 Website Lead Workflow, in a seed-003-style pipeline:
     *   open 10 · contacted 25 · qualified 50 · proposal 75 · won (is_won) · lost (is_lost); allow_skip.
     * The prospect deal: value 500.00 → weighted 50.00 at 10 %.
     */
    describe('Seed 003: website lead workflow, notes and categories', () => {
      const org = uniqueOrg('s003');
      let admin: string;
      let token: string;
      const owner = 'mgr_4';
      const PIPELINE = 'website_leads';
      let dealId: string;
      let customerId: string;
      const PROSPECT = {
        name: 'Website Inquiry - Botox',
        prospect_name: 'Jane Doe',
        prospect_email: 'jane@example.com',
        prospect_phone: '+15551234567',
        source: 'website',
        description: 'Filled out inquiry form for Botox. First-time client.',
        value: 500,
      };

      const stats = () => http().get(`${OPPS}/stats?pipeline_id=${PIPELINE}`).set(bearer(token));

      beforeAll(async () => {
        admin = await t.token(org, 'admin_4', 'admin');
        token = await t.token(org, owner, 'manager');
      }, 60_000);

      it('creates the seed-003 pipeline (open … proposal, won, lost; allow_skip)', async () => {
        const res = await http()
          .post(`${API}/pipelines`)
          .set(bearer(admin))
          .send({
            id: PIPELINE,
            name: 'Website Leads',
            stages: [
              { key: 'open', name: 'Open', display_order: 1, probability: 10 },
              { key: 'contacted', name: 'Contacted', display_order: 2, probability: 25 },
              { key: 'qualified', name: 'Qualified', display_order: 3, probability: 50 },
              { key: 'proposal', name: 'Proposal', display_order: 4, probability: 75 },
              { key: 'won', name: 'Won', display_order: 5, is_won: true },
              { key: 'lost', name: 'Lost', display_order: 6, is_lost: true },
            ],
            policy: { allow_skip: true },
          });
        expect(res.status).toBe(201);
        expect(res.body.data).toMatchObject({ id: PIPELINE, policy: { allow_skip: true, allow_backward: true } });
        expect(res.body.data.stages.map((s: { key: string }) => s.key)).toEqual([
          'open',
          'contacted',
          'qualified',
          'proposal',
          'won',
          'lost',
        ]);
      });

      it('1. receives the inquiry: a prospect deal without customer_id, follow-up tomorrow', async () => {
        const res = await http()
          .post(OPPS)
          .set(bearer(token))
          .send({ ...PROSPECT, follow_up_date: c.day(1), pipeline_id: PIPELINE });
        expect(res.status).toBe(201);
        expect(res.body.data).toMatchObject({
          pipeline_id: PIPELINE,
          stage: 'open',
          probability: 10,
          value: 500,
          weighted_value: 50,
          customer_id: null,
          expected_close_date: null,
          prospect_name: 'Jane Doe',
          prospect_email: 'jane@example.com',
          prospect_phone: '+15551234567',
          source: 'website',
          description: PROSPECT.description,
          follow_up_date: c.day(1),
          assigned_user_id: owner,
        });
        dealId = res.body.data.id;
      });

      it('2. assigns it to sales staff with PATCH assigned_user_id', async () => {
        const res = await http().patch(`${OPPS}/${dealId}`).set(bearer(token)).send({ assigned_user_id: 'sales_staff_1' });
        expect(res.status).toBe(200);
        expect(res.body.data.assigned_user_id).toBe('sales_staff_1');
        expect((await readStream(t, org, dealId)).at(-1)).toMatchObject({
          type: 'OpportunityAssigned',
          data: { user_id: 'sales_staff_1', previous_owner_id: owner },
        });
      });

      it('3. logs the outreach call (activity_type call, outcome "Left voicemail")', async () => {
        const res = await http().post(`${API}/activities`).set(bearer(token)).send({
          opportunity_id: dealId,
          activity_type: 'call',
          description: 'Initial outreach call',
          outcome: 'Left voicemail',
        });
        expect(res.status).toBe(201);
        // Neither scheduled nor completed: an interaction that just happened.
        expect(res.body.data).toMatchObject({
          type: 'call',
          description: 'Initial outreach call',
          outcome: 'Left voicemail',
          status: 'completed',
        });
        const list = await http().get(`${OPPS}/${dealId}/activities`).set(bearer(token));
        expect(list.body.data).toHaveLength(1);
        expect(list.body.data[0]).toMatchObject({ id: res.body.data.id, outcome: 'Left voicemail', created_by: owner });
      });

      it('4. stats: needs_follow_up counts deals with follow_up_date ≤ today', async () => {
        const before = await stats();
        expect(before.status).toBe(200);
        expect(before.body.data).toMatchObject({
          counts: { open: 1, contacted: 0, qualified: 0, proposal: 0, won: 0, lost: 0 },
          total_value: 500,
          weighted_value: 50,
          needs_follow_up: 0, // follow-up is tomorrow
          total: 1,
        });
        const patch = await http().patch(`${OPPS}/${dealId}`).set(bearer(token)).send({ follow_up_date: c.today });
        expect(patch.status).toBe(200);
        const due = await stats();
        expect(due.body.data.needs_follow_up).toBe(1);
        const list = await http().get(`${OPPS}?needs_follow_up=true`).set(bearer(token));
        expect(list.body.data.map((d: { id: string }) => d.id)).toEqual([dealId]);
      });

      it('5. convert-to-customer: the customer exists, the deal is linked, an activity is logged', async () => {
        const res = await http().post(`${OPPS}/${dealId}/convert-to-customer`).set(bearer(token)).send({});
        expect(res.status).toBe(200);
        customerId = res.body.data.customer_id;
        expect(customerId).toEqual(expect.any(String));
        expect(res.body.data).toMatchObject({
          opportunity_id: dealId,
          customer: { id: customerId, company_name: 'Jane Doe', email: 'jane@example.com' },
          activity: { type: 'status_change', subject: 'Prospect converted to customer', status: 'completed' },
        });
        const customer = await http().get(`${API}/customers/${customerId}`).set(bearer(token));
        expect(customer.status).toBe(200);
        expect(customer.body.data).toMatchObject({ id: customerId, company_name: 'Jane Doe', email: 'jane@example.com' });
        const deal = await getDeal(t, token, dealId);
        expect(deal.body.data).toMatchObject({ customer_id: customerId, prospect_name: 'Jane Doe' });
        const withCustomer = await http().get(`${OPPS}/${dealId}?includes=customer`).set(bearer(token));
        expect(withCustomer.body.data.customer).toMatchObject({ id: customerId, company_name: 'Jane Doe' });
        const acts = await http().get(`${OPPS}/${dealId}/activities`).set(bearer(token));
        expect(acts.body.data.map((a: { type: string }) => a.type)).toEqual(['status_change', 'call']);
        expect(acts.body.data[0].subject).toBe('Prospect converted to customer');
        const tail = (await readStream(t, org, dealId)).slice(-2).map((e) => e.type);
        expect(tail).toEqual(['ProspectConverted', 'ActivityLogged']);
        // A second conversion is refused and creates nothing.
        const again = await http().post(`${OPPS}/${dealId}/convert-to-customer`).set(bearer(token)).send({});
        expect(again.status).toBe(409);
        const customers = await http().get(`${API}/customers`).set(bearer(token));
        expect(customers.body.meta.total).toBe(1);
      });

      it('6. qualifies straight from open (allow_skip) and closes won with POST /win', async () => {
        const qualify = await http()
          .patch(`${OPPS}/${dealId}/stage`)
          .set(bearer(token))
          .send({ stage: 'qualified', notes: 'Called back; ready to book' });
        expect(qualify.status).toBe(200);
        expect(qualify.body.data).toMatchObject({ stage: 'qualified', probability: 50, previous_stage: 'open' });
        const win = await http().post(`${OPPS}/${dealId}/win`).set(bearer(token)).send({ close_reason: 'Booked first treatment' });
        expect({ status: win.status, body: win.body }).toMatchObject({
          status: 200,
          body: { data: { stage: 'won', probability: 100, value: 500, actual_value: 500 } },
        });
        const s = await stats();
        expect(s.body.data).toMatchObject({
          counts: { open: 0, qualified: 0, won: 1 },
          total_value: 0,
          weighted_value: 0,
          needs_follow_up: 0,
          total: 1,
        });
      });

      it('notes: POST and GET /opportunities/{id}/notes (newest first, author and time)', async () => {
        const deal = await http()
          .post(OPPS)
          .set(bearer(token))
          .send({ name: 'Membership upgrade', customer_id: 'client_77', value: 1200, expected_close_date: c.day(20) });
        expect(deal.status).toBe(201);
        const noteDeal = deal.body.data.id;
        const before = Date.now();
        const first = await http()
          .post(`${OPPS}/${noteDeal}/notes`)
          .set(bearer(token))
          .send({ content: 'Called and left voicemail. Will try again tomorrow.' });
        expect(first.status).toBe(201);
        expect(first.body.data).toMatchObject({
          opportunity_id: noteDeal,
          content: 'Called and left voicemail. Will try again tomorrow.',
          created_by: owner,
        });
        await sleep(10);
        const second = await http()
          .post(`${OPPS}/${noteDeal}/notes`)
          .set(bearer(token))
          .send({ content: '  Spoke to client: wants the premium tier.  ' });
        expect(second.status).toBe(201);
        const after = Date.now();
        const list = await http().get(`${OPPS}/${noteDeal}/notes`).set(bearer(token));
        expect(list.status).toBe(200);
        expect(list.body.data.map((n: { id: string }) => n.id)).toEqual([second.body.data.id, first.body.data.id]);
        expect(list.body.data[0]).toMatchObject({ content: 'Spoke to client: wants the premium tier.', created_by: owner });
        for (const n of list.body.data) {
          expect(n.created_at).toMatch(ISO_INSTANT);
          expect(Date.parse(n.created_at)).toBeGreaterThanOrEqual(before - 1000);
          expect(Date.parse(n.created_at)).toBeLessThanOrEqual(after + 1000);
        }
        expect(list.body.meta).toMatchObject({ total: 2 });
        const events = await readStream(t, org, noteDeal);
        expect(events.slice(-2).map((e) => e.type)).toEqual(['NoteAdded', 'NoteAdded']);
        // Empty or blank content → 400, nothing appended.
        for (const content of ['', '   ']) {
          const bad = await http().post(`${OPPS}/${noteDeal}/notes`).set(bearer(token)).send({ content });
          expect(bad.status).toBe(400);
          expect(Object.keys(bad.body.errors)).toEqual(['content']);
        }
        expect(await streamLength(org, noteDeal)).toBe(3);
      });

      it('categories: CRUD, bad color → 400, duplicate name → 409', async () => {
        const CAT = `${API}/categories`;
        const botox = await http().post(CAT).set(bearer(token)).send({ name: 'Botox Inquiry', color: '#10b981' });
        expect(botox.status).toBe(201);
        expect(botox.body.data).toMatchObject({ name: 'Botox Inquiry', color: '#10b981', sort_order: 0, is_active: true });
        const membership = await http().post(CAT).set(bearer(token)).send({ name: 'Membership', color: '#3b82f6', sort_order: 2 });
        expect(membership.status).toBe(201);
        const renewal = await http().post(CAT).set(bearer(token)).send({ name: 'Renewal', sort_order: 1, is_active: false });
        expect(renewal.status).toBe(201);
        expect(renewal.body.data.color).toBeNull();

        const list = await http().get(CAT).set(bearer(token));
        expect(list.status).toBe(200);
        // sort_order, then name: Botox (0), Renewal (1), Membership (2)
        expect(list.body.data.map((x: { name: string }) => x.name)).toEqual(['Botox Inquiry', 'Renewal', 'Membership']);
        const active = await http().get(`${CAT}?is_active=true`).set(bearer(token));
        expect(active.body.data.map((x: { name: string }) => x.name)).toEqual(['Botox Inquiry', 'Membership']);

        const badColor = await http().post(CAT).set(bearer(token)).send({ name: 'Fillers', color: 'green' });
        expect(badColor.status).toBe(400);
        expect(Object.keys(badColor.body.errors)).toEqual(['color']);
        const duplicate = await http().post(CAT).set(bearer(token)).send({ name: 'Botox Inquiry', color: '#000000' });
        expect(duplicate.status).toBe(409);

        const patch = await http().patch(`${CAT}/${botox.body.data.id}`).set(bearer(token)).send({ color: '#f59e0b', sort_order: 5 });
        expect(patch.status).toBe(200);
        expect(patch.body.data).toMatchObject({ id: botox.body.data.id, name: 'Botox Inquiry', color: '#f59e0b', sort_order: 5 });
        const patchBadColor = await http().patch(`${CAT}/${botox.body.data.id}`).set(bearer(token)).send({ color: '#12345' });
        expect(patchBadColor.status).toBe(400);
        const rename = await http().patch(`${CAT}/${botox.body.data.id}`).set(bearer(token)).send({ name: 'Membership' });
        expect(rename.status).toBe(409);

        const del = await http().delete(`${CAT}/${renewal.body.data.id}`).set(bearer(token));
        expect(del.status).toBe(204);
        const after = await http().get(CAT).set(bearer(token));
        expect(after.body.data.map((x: { name: string }) => x.name)).toEqual(['Membership', 'Botox Inquiry']);
        expect((await http().delete(`${CAT}/${renewal.body.data.id}`).set(bearer(token))).status).toBe(404);
        expect((await http().patch(`${CAT}/${randomUUID()}`).set(bearer(token)).send({ name: 'x' })).status).toBe(404);
        // Another org does not see them.
        const otherOrgToken = await t.token(uniqueOrg('s003b'), 'mgr_x', 'manager');
        expect((await http().get(CAT).set(bearer(otherOrgToken))).body.data).toEqual([]);
      });
    });
  },
);
