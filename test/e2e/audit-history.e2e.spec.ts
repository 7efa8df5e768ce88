import type { Response, Test } from 'supertest';
import { describeEachBackend, useTestApp, useTokens } from '../support/test-app';
import { bearer, OPPS, readStream, uniqueOrg } from './helpers';

/**
 * Audit, per deal: GET /opportunities/{id}/history and GET /opportunities/{id}?as_of=<time>.
 *
 * Deal H, one event per request (expected figures written out by hand from the requests):
 * | v | request (actor)                          | event                    | stage after    | prob | value      | owner |
 * |---|------------------------------------------|--------------------------|----------------|------|------------|-------|
 * | 1 | POST create, owner rep_1 (mgr_1)         | OpportunityCreated       | prospecting    | 10   | 100,000.00 | rep_1 |
 * | 2 | POST stage/next (rep_1)                  | OpportunityStageChanged  | qualification  | 25   | 100,000.00 | rep_1 |
 * | 3 | PATCH value 120,000.50 (rep_1)           | OpportunityUpdated       | qualification  | 25   | 120,000.50 | rep_1 |
 * | 4 | PATCH probability 33 (mgr_1)             | OpportunityUpdated       | qualification  | 33   | 120,000.50 | rep_1 |
 * | 5 | PATCH stage on_hold (mgr_1)              | OpportunityStageChanged  | on_hold        | 0    | 120,000.50 | rep_1 |
 * | 6 | PATCH stage qualification (rep_1)        | OpportunityStageChanged  | qualification  | 25   | 120,000.50 | rep_1 |
 * | 7 | POST stage/next (rep_1)                  | OpportunityStageChanged  | needs_analysis | 40   | 120,000.50 | rep_1 |
 * | 8 | POST assign rep_2 (mgr_1)                | OpportunityAssigned      | needs_analysis | 40   | 120,000.50 | rep_2 |
 *
 * Deal D: created (v1), advanced (v2), deleted (v3).
 */

interface Step {
  actor: 'mgr_1' | 'rep_1';
  role: 'manager' | 'rep';
  send: (id: string) => Test;
  type: string;
  data: Record<string, unknown>;
  state: { stage: string; probability: number; value: number; assigned_user_id: string; status: string };
}

interface Recorded {
  correlationId: string;
  position: string;
  before: number;
  after: number;
}

const CLOSE = '2030-06-30';
const SLACK_MS = 1000;

describeEachBackend('audit: deal history and as_of (%s)', (backend) => {
  const t = useTestApp(backend);
  const org = uniqueOrg('audh');
  const otherOrg = uniqueOrg('audo');
  const tok = useTokens(t, {
    admin: [org, 'admin_1', 'admin'],
    mgr_1: [org, 'mgr_1', 'manager'],
    rep_1: [org, 'rep_1', 'rep'],
    rep_2: [org, 'rep_2', 'rep'],
    rep_3: [org, 'rep_3', 'rep'],
    viewer: [org, 'viewer_1', 'viewer'],
    other_admin: [otherOrg, 'admin_1', 'admin'],
    other_mgr: [otherOrg, 'mgr_1', 'manager'],
  });
  const http = () => t.http();

  let id: string;
  const recorded: Recorded[] = [];
  let deletedId: string;
  let history: any[];
  let deletedHistory: any[];

  const STEPS: Step[] = [
    {
      actor: 'mgr_1',
      role: 'manager',
      send: () =>
        http().post(OPPS).send({
          name: 'Audit - History Deal',
          customer_id: 568,
          value: 100000,
          expected_close_date: CLOSE,
          stage: 'prospecting',
          assigned_user_id: 'rep_1',
        }),
      type: 'OpportunityCreated',
      data: {
        name: 'Audit - History Deal',
        customer_id: '568',
        value_minor: 10_000_000,
        stage: 'prospecting',
        probability: 10,
        probability_override: null,
        assigned_user_id: 'rep_1',
        created_by: 'mgr_1',
        currency: 'USD',
        expected_close_date: CLOSE,
        pipeline_id: 'default',
      },
      state: { stage: 'prospecting', probability: 10, value: 100000, assigned_user_id: 'rep_1', status: 'open' },
    },
    {
      actor: 'rep_1',
      role: 'rep',
      send: (id) => http().post(`${OPPS}/${id}/stage/next`).send({}),
      type: 'OpportunityStageChanged',
      data: { from_stage: 'prospecting', to_stage: 'qualification', movement: 'forward', probability: 25 },
      state: { stage: 'qualification', probability: 25, value: 100000, assigned_user_id: 'rep_1', status: 'open' },
    },
    {
      actor: 'rep_1',
      role: 'rep',
      send: (id) => http().patch(`${OPPS}/${id}`).send({ value: 120000.5 }),
      type: 'OpportunityUpdated',
      data: { changes: { value_minor: 12_000_050 } },
      state: { stage: 'qualification', probability: 25, value: 120000.5, assigned_user_id: 'rep_1', status: 'open' },
    },
    {
      actor: 'mgr_1',
      role: 'manager',
      send: (id) => http().patch(`${OPPS}/${id}`).send({ probability: 33 }),
      type: 'OpportunityUpdated',
      data: { changes: {}, probability_override: 33, probability: 33 },
      state: { stage: 'qualification', probability: 33, value: 120000.5, assigned_user_id: 'rep_1', status: 'open' },
    },
    {
      actor: 'mgr_1',
      role: 'manager',
      send: (id) => http().patch(`${OPPS}/${id}/stage`).send({ stage: 'on_hold', reason: 'budget freeze' }),
      type: 'OpportunityStageChanged',
      data: { from_stage: 'qualification', to_stage: 'on_hold', movement: 'on_hold', probability: 0 },
      state: { stage: 'on_hold', probability: 0, value: 120000.5, assigned_user_id: 'rep_1', status: 'open' },
    },
    {
      actor: 'rep_1',
      role: 'rep',
      send: (id) => http().patch(`${OPPS}/${id}/stage`).send({ stage: 'qualification' }),
      type: 'OpportunityStageChanged',
      data: { from_stage: 'on_hold', to_stage: 'qualification', movement: 'resumed', probability: 25 },
      state: { stage: 'qualification', probability: 25, value: 120000.5, assigned_user_id: 'rep_1', status: 'open' },
    },
    {
      actor: 'rep_1',
      role: 'rep',
      send: (id) => http().post(`${OPPS}/${id}/stage/next`).send({}),
      type: 'OpportunityStageChanged',
      data: { from_stage: 'qualification', to_stage: 'needs_analysis', movement: 'forward', probability: 40 },
      state: { stage: 'needs_analysis', probability: 40, value: 120000.5, assigned_user_id: 'rep_1', status: 'open' },
    },
    {
      actor: 'mgr_1',
      role: 'manager',
      send: (id) => http().post(`${OPPS}/${id}/assign`).send({ user_id: 'rep_2' }),
      type: 'OpportunityAssigned',
      data: { user_id: 'rep_2', previous_owner_id: 'rep_1' },
      state: { stage: 'needs_analysis', probability: 40, value: 120000.5, assigned_user_id: 'rep_2', status: 'open' },
    },
  ];

  const historyOf = (dealId: string, token: string, query = '') => http().get(`${OPPS}/${dealId}/history${query}`).set(bearer(token));
  const asOf = (dealId: string, at: string, token = tok.mgr_1) =>
    http()
      .get(`${OPPS}/${dealId}?as_of=${encodeURIComponent(at)}`)
      .set(bearer(token));
  const ms = (iso: string) => Date.parse(iso);
  const iso = (n: number) => new Date(n).toISOString();

  beforeAll(async () => {
    for (const [i, step] of STEPS.entries()) {
      const correlationId = `audit-history-${i + 1}`;
      const before = Date.now();
      const res: Response = await step.send(id).set(bearer(tok[step.actor])).set('X-Correlation-Id', correlationId);
      const after = Date.now();
      expect([200, 201]).toContain(res.status);
      if (i === 0) id = res.body.data.id;
      expect(res.headers.etag).toBe(`"${i + 1}"`);
      recorded.push({ correlationId, position: res.headers['x-global-position'], before, after });
    }

    const created = await http()
      .post(OPPS)
      .set(bearer(tok.mgr_1))
      .send({ name: 'Audit - Deleted Deal', customer_id: 7, value: 5000, expected_close_date: CLOSE });
    expect(created.status).toBe(201);
    deletedId = created.body.data.id;
    expect((await http().post(`${OPPS}/${deletedId}/stage/next`).set(bearer(tok.mgr_1)).send({})).status).toBe(200);
    expect((await http().delete(`${OPPS}/${deletedId}?reason=duplicate`).set(bearer(tok.mgr_1))).status).toBe(204);

    const res = await historyOf(id, tok.mgr_1, '?per_page=100');
    expect(res.status).toBe(200);
    history = res.body.data;
    const del = await historyOf(deletedId, tok.mgr_1, '?per_page=100');
    expect(del.status).toBe(200);
    deletedHistory = del.body.data;
  }, 120_000);

  describe('GET /opportunities/{id}/history', () => {
    it('lists every event of the deal in stream order with type, version, position, actor, time, correlation id and data', async () => {
      expect(history).toHaveLength(STEPS.length);
      history.forEach((item, i) => {
        const step = STEPS[i];
        expect(item).toMatchObject({
          type: step.type,
          version: i + 1,
          position: recorded[i].position, // the X-Global-Position the command returned
          actor_id: step.actor,
          actor_role: step.role,
          correlation_id: recorded[i].correlationId,
        });
        expect(item.data).toMatchObject(step.data);
        // recorded_at is an ISO instant taken while the request was in flight
        expect(item.recorded_at).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
        expect(ms(item.recorded_at)).toBeGreaterThanOrEqual(recorded[i].before - SLACK_MS);
        expect(ms(item.recorded_at)).toBeLessThanOrEqual(recorded[i].after + SLACK_MS);
      });
    });

    it('positions strictly increase and recorded times never go back', () => {
      for (let i = 1; i < history.length; i++) {
        expect(BigInt(history[i].position)).toBeGreaterThan(BigInt(history[i - 1].position));
        expect(ms(history[i].recorded_at)).toBeGreaterThanOrEqual(ms(history[i - 1].recorded_at));
      }
    });

    it('is exactly the stored stream (event ids, versions, positions, recorded times, data)', async () => {
      const stream = await readStream(t, org, id);
      expect(history.map((h) => [h.event_id, h.version, h.position, h.recorded_at, h.type, h.data])).toEqual(
        stream.map((e) => [e.eventId, e.streamVersion, e.position, e.recordedAt.toISOString(), e.type, e.data]),
      );
    });

    it('paginates with page/per_page; meta.total is the number of events', async () => {
      const pages = [];
      for (const page of [1, 2, 3]) {
        const res = await historyOf(id, tok.mgr_1, `?per_page=3&page=${page}`);
        expect(res.status).toBe(200);
        expect(res.body.meta).toMatchObject({ current_page: page, per_page: 3, total: 8, last_page: 3 });
        pages.push(res.body.data);
      }
      expect(pages.map((p) => p.length)).toEqual([3, 3, 2]);
      expect(pages.flat()).toEqual(history);
      const beyond = await historyOf(id, tok.mgr_1, '?per_page=3&page=4');
      expect(beyond.status).toBe(200);
      expect(beyond.body.data).toEqual([]);
      expect(beyond.body.meta.total).toBe(8);
    });

    it('default page holds every event of a short history; meta.total counts them', async () => {
      const res = await historyOf(id, tok.mgr_1);
      expect(res.status).toBe(200);
      expect(res.body.data).toEqual(history);
      expect(res.body.meta).toMatchObject({ current_page: 1, total: 8 });
    });

    it('bad paging → 400', async () => {
      expect((await historyOf(id, tok.mgr_1, '?per_page=0')).status).toBe(400);
      expect((await historyOf(id, tok.mgr_1, '?per_page=101')).status).toBe(400);
      expect((await historyOf(id, tok.mgr_1, '?page=abc')).status).toBe(400);
    });

    it('managers and admins may read it', async () => {
      for (const token of [tok.mgr_1, tok.admin]) {
        const res = await historyOf(id, token, '?per_page=100');
        expect(res.status).toBe(200);
        expect(res.body.data).toEqual(history);
      }
    });

    it("the deal's current owner (a rep) may read it", async () => {
      const res = await historyOf(id, tok.rep_2, '?per_page=100');
      expect(res.status).toBe(200);
      expect(res.body.data).toEqual(history);
    });

    it('a rep who does not own the deal → 403 (also its former owner)', async () => {
      for (const token of [tok.rep_3, tok.rep_1]) {
        const res = await historyOf(id, token);
        expect(res.status).toBe(403);
        expect(res.body.code).toBe('forbidden');
        expect(JSON.stringify(res.body)).not.toContain('OpportunityCreated');
      }
    });

    it('a viewer → 403', async () => {
      const res = await historyOf(id, tok.viewer);
      expect(res.status).toBe(403);
      expect(res.body.code).toBe('forbidden');
    });

    it('a viewer → 403 even on a deal assigned to the viewer (ownership is a rep notion; viewers are not let in)', async () => {
      const created = await http()
        .post(OPPS)
        .set(bearer(tok.mgr_1))
        .send({ name: 'Viewer-assigned', customer_id: 9, value: 1000, expected_close_date: CLOSE, assigned_user_id: 'viewer_1' });
      expect(created.status).toBe(201);
      const res = await historyOf(created.body.data.id, tok.viewer);
      expect(res.status).toBe(403);
      expect(res.body.code).toBe('forbidden');
    });

    it('another org → 404 (admin and manager), indistinguishable from an unknown id', async () => {
      for (const token of [tok.other_admin, tok.other_mgr]) {
        const res = await historyOf(id, token);
        expect(res.status).toBe(404);
        expect(res.body.code).toBe('not_found');
      }
      const unknown = await historyOf('00000000-0000-4000-8000-000000000000', tok.mgr_1);
      expect(unknown.status).toBe(404);
      expect(unknown.body.code).toBe('not_found');
    });

    it('malformed id → 400', async () => {
      expect((await historyOf('not-a-uuid', tok.mgr_1)).status).toBe(400);
    });

    it("a deleted deal's history is still readable and ends with OpportunityDeleted", async () => {
      expect((await http().get(`${OPPS}/${deletedId}`).set(bearer(tok.mgr_1))).status).toBe(404);
      expect(deletedHistory.map((h) => [h.type, h.version])).toEqual([
        ['OpportunityCreated', 1],
        ['OpportunityStageChanged', 2],
        ['OpportunityDeleted', 3],
      ]);
      expect(deletedHistory[2]).toMatchObject({ actor_id: 'mgr_1', data: { reason: 'duplicate' } });
      expect((await historyOf(deletedId, tok.admin)).status).toBe(200);
    });
  });

  describe('GET /opportunities/{id}?as_of=', () => {
    const expectState = (res: Response, k: number) => {
      expect(res.status).toBe(200);
      expect(res.body.data).toMatchObject({ id, ...STEPS[k - 1].state });
      expect(res.headers.etag).toBe(`"${k}"`);
    };

    it('as_of = recorded_at of event k shows the deal right after event k', async () => {
      for (let k = 1; k <= STEPS.length; k++) {
        const at = history[k - 1].recorded_at;
        const res = await asOf(id, at);
        expectState(res, k);
        expect(res.body.meta).toEqual({ as_of: at });
      }
    });

    it('a millisecond before event k shows the deal after event k−1', async () => {
      let checked = 0;
      for (let k = 2; k <= STEPS.length; k++) {
        const just = ms(history[k - 1].recorded_at) - 1;
        if (just < ms(history[k - 2].recorded_at)) continue; // two events in the same millisecond: no instant between them
        expectState(await asOf(id, iso(just)), k - 1);
        checked++;
      }
      expect(checked).toBeGreaterThanOrEqual(STEPS.length - 3);
    });

    it('halfway between two events: stage and value as they stood then', async () => {
      const between = (k: number) => iso(Math.floor((ms(history[k - 1].recorded_at) + ms(history[k].recorded_at)) / 2));
      // between v3 (value 120,000.50) and v4 (override 33): value changed, probability still the stage default
      const r3 = await asOf(id, between(3));
      expect(r3.body.data).toMatchObject({ stage: 'qualification', value: 120000.5, probability: 25, weighted_value: 30000.13 }); // 120,000.50 × 25 % = 30,000.125 → 30,000.13
      // between v5 (on hold) and v6 (resumed)
      const r5 = await asOf(id, between(5));
      expect(r5.body.data).toMatchObject({ stage: 'on_hold', status: 'open', probability: 0, weighted_value: 0 });
    });

    it('the same instant written with a UTC offset gives the same answer', async () => {
      const at = ms(history[3].recorded_at); // v4
      const shifted = new Date(at + 330 * 60_000).toISOString().replace('Z', '+05:30');
      expectState(await asOf(id, shifted), 4);
    });

    it('as_of after every event equals the current deal', async () => {
      const now = await http().get(`${OPPS}/${id}`).set(bearer(tok.mgr_1));
      const later = await asOf(id, iso(Date.now() + 60_000));
      expect(later.status).toBe(200);
      const { days_to_close: _a, age_in_days: _b, stage_duration: _c, health_score: _d, ...current } = now.body.data;
      expect(later.body.data).toMatchObject(current);
    });

    it('before the first event → 404 (the deal did not exist yet)', async () => {
      const res = await asOf(id, iso(ms(history[0].recorded_at) - 1));
      expect(res.status).toBe(404);
      expect(res.body.code).toBe('not_found');
    });

    it('a date-only value means the end of that UTC day', async () => {
      const lastDay = history[history.length - 1].recorded_at.slice(0, 10);
      const end = ms(`${lastDay}T23:59:59.999Z`);
      const k = history.filter((h) => ms(h.recorded_at) <= end).length;
      const res = await asOf(id, lastDay);
      expectState(res, k);
      expect(res.body.meta).toEqual({ as_of: `${lastDay}T23:59:59.999Z` });
      // the day before the deal was created: it did not exist
      const dayBefore = new Date(ms(`${history[0].recorded_at.slice(0, 10)}T00:00:00Z`) - 86_400_000).toISOString().slice(0, 10);
      expect((await asOf(id, dayBefore)).status).toBe(404);
    });

    it('a deleted deal: shown as of a time before its deletion, 404 from the deletion on', async () => {
      const [, advanced, removed] = deletedHistory;
      const before = await asOf(deletedId, advanced.recorded_at);
      expect(before.status).toBe(200);
      expect(before.body.data).toMatchObject({ id: deletedId, stage: 'qualification', probability: 25, value: 5000 });
      expect((await asOf(deletedId, removed.recorded_at)).status).toBe(404);
    });

    it('another org → 404', async () => {
      const res = await asOf(id, history[7].recorded_at, tok.other_admin);
      expect(res.status).toBe(404);
    });

    it.each([
      ['yesterday'],
      ['2026-13-45'],
      ['2026-02-30'], // no such day (must not roll over to March 2)
      ['2026-04-31'],
      ['2026-01-01T25:00:00Z'],
      ['31/12/2026'],
      [''],
    ])('bad timestamp as_of=%j → 400 naming as_of', async (bad) => {
      const res = await asOf(id, bad);
      expect(res.status).toBe(400);
      expect(res.body.code).toBe('validation_failed');
      expect(res.body.errors).toHaveProperty('as_of');
    });
  });
});
