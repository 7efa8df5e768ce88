import { randomUUID } from 'node:crypto';
import type { Response } from 'supertest';
import { describeEachBackend, useTestApp } from '../support/test-app';
import { API, bearer, calendarDaysBetween, etagVersion, getDeal, ISO_INSTANT, OPPS, readStream, streamLength, uniqueOrg } from './helpers';
import { appendDeal, Clock, type DealSpec, type DomainEvent, idFactory, maxPosition, stageChanged, waitForPosition } from './read-fixtures';

/**
 * Deals stalled in proposal: finding them by days in stage, reviewing one, scheduling and completing
 * a re-engagement activity, then re-planning one (close date, probability override), putting one on
 * hold and losing one, request by request. Back-dated deals are appended straight to the event store
 * (read-fixtures.ts); every figure below is worked out by hand in the comments next to it.
 */

const c = new Clock();

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

describeEachBackend('stalled deals: finding them, following up, re-planning, pausing or losing them (%s)', (backend) => {
  const t = useTestApp(backend);
  const http = () => t.http();

  /**
   * The dataset (owner mgr_2, customer 568, default pipeline). T = today; instants at 12:00 UTC.
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
  const org = uniqueOrg('stall');
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
    const base = (deal: keyof typeof deals, stage: string, probability: number, value_minor: number, createdDaysAgo: number): DealSpec => ({
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

  it('3. POST /activities with a re-engagement call → 201, scheduled', async () => {
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
    expect(await streamLength(t, org, deals.A)).toBe(5);
  });

  it('activities: bad input → 400, unknown deal or another org → 404, nothing appended', async () => {
    const otherToken = await t.token(uniqueOrg('stall_x'), 'mgr_x', 'manager');
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
    expect(await streamLength(t, org, deals.A)).toBe(5);
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
    expect(await streamLength(t, org, deals.C)).toBe(4);
    const read = await getDeal(t, token, deals.C);
    expect(read.status).toBe(200);
    expect(read.body.data).toMatchObject({ stage: 'lost', status: 'lost', loss_reason: 'competitor' });
  });
});
