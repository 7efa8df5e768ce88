import { randomUUID } from 'node:crypto';
import { describeEachBackend, useTestApp } from '../support/test-app';
import { bearer, etagVersion, getDeal, OPPS, readStream, streamLength, uniqueOrg } from './helpers';
import { appendDeal, Clock, type DealSpec, heldAt, idFactory, lost, maxPosition, waitForPosition, won } from './read-fixtures';

/**
 * Cleaning up a pipeline in bulk: finding overdue and quiet deals, then POST /opportunities/bulk-actions
 * (update_close_date, mark_lost, update_stage, assign) with per-id results, Idempotency-Key replay and
 * validation. Back-dated deals are appended straight to the event store (read-fixtures.ts).
 */

const c = new Clock();

describeEachBackend('bulk pipeline cleanup: overdue and quiet deals, bulk actions (%s)', (backend) => {
  const t = useTestApp(backend);
  const http = () => t.http();

  /**
   * The dataset (owner mgr_3, default pipeline, customer 568). T = today, 12:00 UTC.
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
   * | OB   | another org's deal, created through the API |
   *
   * overdue=true → open and close < T: D2, D7, D1 (created_at desc); 62,000.00 total, 43,800.00 weighted.
   * last_activity_days_ago_min=60 & stage!=won,lost → D7 (-61), D3 (-65), D1 (-70), D8 (-100 created) by created_at desc.
   */
  const org = uniqueOrg('bulk');
  const otherOrg = uniqueOrg('bulk_b');
  const owner = 'mgr_3';
  let token: string;
  let otherToken: string;
  const id = idFactory();
  const D = { D1: id(1), D2: id(2), D3: id(3), D4: id(4), D5: id(5), D6: id(6), D7: id(7), D8: id(8) };
  const UNKNOWN = randomUUID();
  let OB: string;
  const BULK = `${OPPS}/bulk-actions`;

  const bulk = (body: object, tok = token) => http().post(BULK).set(bearer(tok)).send(body);
  const versions = async (ids: string[]) => Promise.all(ids.map((x) => streamLength(t, org, x)));

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
    expect(await streamLength(t, org, D.D6)).toBe(2);
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
