import type { Response, Test } from 'supertest';
import { type OpportunityState, foldStored } from '@app/domain';
import { EventStore, type RecordedEvent } from '@app/event-store';
import { describeEachBackend, useTestApp, useTokens } from '../support/test-app';
import { bearer, calendarDaysBetween, OPPS, uniqueOrg } from './helpers';
import { addDays, Clock, quarterContaining, shiftQuarter } from './read-fixtures';

/**
 * `as_of` on pipeline-data and forecast must equal a replay of the event log: the deals are built
 * through the API (one request at a time, so every command gets its own recorded time), then for
 * many instants T the expected figures are worked out here by folding each deal's events recorded
 * at or before T and aggregating by hand, and compared with the API's answer for as_of=T.
 *
 * Script (CQ = the current quarter, CQe its last day; NQm = the next quarter's start + 14 days):
 *  1 A create prospecting 100,000.00 close CQe owner u1     12 A next → needs_analysis
 *  2 B create negotiation 50,000.00 close CQe owner u2      13 B probability 95 (override → commit)
 *  3 C create negotiation 10,000.10 close NQm owner u2      14 C resume → negotiation
 *  4 A next → qualification                                  15 A probability 65 (override → best case)
 *  5 D create verbal_commitment 33,333.33 close CQe owner u1 16 B win, actual 55,000.00 (closes today)
 *  6 A value → 120,000.50                                    17 D delete
 *  7 B assign → u1                                           18 C lose (price)
 *  8 C on hold                                               19 F create qualification 9,000.00 close CQe owner u1
 *  9 B next → verbal_commitment                             19b F value → 10,000.05 and owner → u2 in ONE request (2 events, same time)
 *                                                            20 A assign → u2
 * 10 E create proposal 40,000.00 EUR close CQe owner u1      21 F next → needs_analysis
 * 11 D close date → NQm
 */

const ACTIVE = ['prospecting', 'qualification', 'needs_analysis', 'proposal', 'negotiation', 'verbal_commitment'];
const DAY_MS = 86_400_000;

/** value × probability / 100 rounded half up to the cent, in integer (BigInt) arithmetic. */
const weighted = (valueMinor: number, probability: number) => Number((BigInt(valueMinor) * BigInt(probability) * 2n + 100n) / 200n);
const major = (minor: number) => minor / 100;
const statusOfStage = (stage: string): 'open' | 'won' | 'lost' => (stage === 'won' ? 'won' : stage === 'lost' ? 'lost' : 'open');

interface Deal {
  id: string;
  state: OpportunityState;
}

interface Agg {
  count: number;
  value: number;
  weighted: number;
}

const agg = (deals: Deal[]): Agg =>
  deals.reduce(
    (a, d) => ({
      count: a.count + 1,
      value: a.value + d.state.value_minor,
      weighted: a.weighted + weighted(d.state.value_minor, d.state.probability),
    }),
    { count: 0, value: 0, weighted: 0 },
  );
const avg = (a: Agg) => (a.count === 0 ? 0 : major(Math.round(a.value / a.count)));

/** The answer's currency: the one most deals in scope use (ties: alphabetical), the others listed beside it. */
function currencyOf(deals: Deal[], requested?: string) {
  const counts = new Map<string, number>();
  for (const d of deals) counts.set(d.state.currency, (counts.get(d.state.currency) ?? 0) + 1);
  const ranked = [...counts.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  const currency = requested ?? ranked[0]?.[0] ?? 'USD';
  return { currency, other_currencies: ranked.filter(([c]) => c !== currency).map(([c, count]) => ({ currency: c, count })) };
}

describeEachBackend('audit: as_of analytics equal a replay of the log (%s)', (backend) => {
  const t = useTestApp(backend);
  const org = uniqueOrg('audas');
  const tokens = useTokens(t, { manager: [org, 'mgr_p', 'manager'] });
  let store: EventStore;
  const ids: Record<string, string> = {};
  let last = '0';
  const streams = new Map<string, RecordedEvent[]>();
  let instants: number[] = [];

  const c = new Clock();
  const CQ = quarterContaining(c.today);
  const NQ = shiftQuarter(CQ, 1);
  const CQe = CQ.end;
  const NQm = addDays(NQ.start, 14);

  const http = () => t.http();
  const get = (path: string) =>
    http()
      .get(`${OPPS}${path}${path.includes('?') ? '&' : '?'}consistency=${last}`)
      .set(bearer(tokens.manager));
  const iso = (ms: number) => new Date(ms).toISOString();

  /** Each deal folded from its events recorded at or before `at` (ms); deals that did not exist or were deleted are left out. */
  function dealsAt(at: number): Deal[] {
    const out: Deal[] = [];
    for (const [id, events] of streams) {
      const upTo = events.filter((e) => e.recordedAt.getTime() <= at);
      const state = foldStored(upTo);
      if (upTo.length === 0 || !state.exists || state.deleted) continue;
      out.push({ id, state });
    }
    return out;
  }

  function expectedPipelineData(at: number, opts: { userId?: string; currency?: string } = {}) {
    const scope = dealsAt(at).filter(
      (d) => d.state.pipeline_id === 'default' && (!opts.userId || d.state.assigned_user_id === opts.userId),
    );
    const { currency, other_currencies } = currencyOf(scope, opts.currency);
    const rows = scope.filter((d) => d.state.currency === currency);
    const open = rows.filter((d) => statusOfStage(d.state.stage) === 'open');
    const active = open.filter((d) => ACTIVE.includes(d.state.stage));
    const onHold = agg(open.filter((d) => !ACTIVE.includes(d.state.stage)));
    const won = rows.filter((d) => d.state.stage === 'won');
    const lost = rows.filter((d) => d.state.stage === 'lost');
    const total = agg(active);
    const cycles = won.map((d) => calendarDaysBetween(d.state.created_at!.slice(0, 10), d.state.actual_close_date!));
    return {
      period: { label: 'all_time', from: null, to: null },
      as_of: iso(at),
      currency,
      other_currencies,
      by_stage: ACTIVE.map((stage) => {
        const s = agg(active.filter((d) => d.state.stage === stage));
        return { stage, count: s.count, total_value: major(s.value), weighted_value: major(s.weighted), average_deal_size: avg(s) };
      }),
      summary: {
        total_opportunities: total.count,
        total_pipeline_value: major(total.value),
        total_weighted_value: major(total.weighted),
        average_deal_size: avg(total),
        win_rate: won.length + lost.length === 0 ? null : Math.round((won.length / (won.length + lost.length)) * 1000) / 10,
        average_sales_cycle_days: won.length ? Math.round(cycles.reduce((a, b) => a + b, 0) / won.length) : null,
      },
      forecast: {
        commit: major(agg(active.filter((d) => d.state.probability >= 90)).weighted),
        best_case: major(agg(active.filter((d) => d.state.probability >= 60)).weighted),
        pipeline: major(total.weighted),
      },
      on_hold: { count: onHold.count, total_value: major(onHold.value) },
    };
  }

  function expectedForecast(at: number, q: { start: string; end: string }) {
    const closeDate = (s: OpportunityState) => s.actual_close_date ?? s.expected_close_date;
    const inQuarter = dealsAt(at).filter((d) => {
      const date = closeDate(d.state);
      return date !== null && date >= q.start && date <= q.end;
    });
    const { currency, other_currencies } = currencyOf(inQuarter);
    const rows = inQuarter.filter((d) => d.state.currency === currency);
    const open = rows.filter((d) => statusOfStage(d.state.stage) === 'open');
    const won = agg(rows.filter((d) => d.state.stage === 'won'));
    const cat = (deals: Deal[]) => {
      const a = agg(deals);
      return { count: a.count, value: major(a.weighted), unweighted_value: major(a.value) };
    };
    const today = iso(at).slice(0, 10);
    const stale = at - 30 * DAY_MS;
    const atRisk = open.filter(
      (d) =>
        d.state.expected_close_date! < today ||
        Date.parse(d.state.stage_changed_at!) < stale ||
        Date.parse(d.state.last_activity_at!) < stale,
    );
    const expectedRevenue = won.value + agg(open).weighted;
    return {
      as_of: iso(at),
      currency,
      other_currencies,
      forecast_categories: {
        commit: cat(open.filter((d) => d.state.probability >= 90)),
        best_case: cat(open.filter((d) => d.state.probability >= 60)),
        pipeline: cat(open),
        at_risk: cat(atRisk),
        closed_won: { count: won.count, value: major(won.value) },
      },
      expected_revenue: major(expectedRevenue),
      // nothing closes in the previous quarter or a year earlier: no comparable figure
      trends: {
        vs_last_quarter: { change_percentage: null, change_value: major(expectedRevenue) },
        vs_same_quarter_last_year: { change_percentage: null, change_value: major(expectedRevenue) },
      },
    };
  }

  beforeAll(async () => {
    store = t.app.get(EventStore);

    const send = async (req: Test, expected = 200) => {
      const res: Response = await req.set(bearer(tokens.manager));
      expect(res.status).toBe(expected);
      last = res.headers['x-global-position'] ?? last;
      return res;
    };
    const create = async (key: string, body: Record<string, unknown>) => {
      const res = await send(
        http()
          .post(OPPS)
          .send({ name: `As-of ${key}`, customer_id: 42, ...body }),
        201,
      );
      ids[key] = res.body.data.id;
    };
    const on = (key: string) => `${OPPS}/${ids[key]}`;

    await create('A', { stage: 'prospecting', value: 100000, expected_close_date: CQe, assigned_user_id: 'u1' }); // 1
    await create('B', { stage: 'negotiation', value: 50000, expected_close_date: CQe, assigned_user_id: 'u2' }); // 2
    await create('C', { stage: 'negotiation', value: '10000.10', expected_close_date: NQm, assigned_user_id: 'u2' }); // 3
    await send(
      http()
        .post(`${on('A')}/stage/next`)
        .send({}),
    ); // 4
    await create('D', { stage: 'verbal_commitment', value: 33333.33, expected_close_date: CQe, assigned_user_id: 'u1' }); // 5
    await send(http().patch(on('A')).send({ value: 120000.5 })); // 6
    await send(
      http()
        .post(`${on('B')}/assign`)
        .send({ user_id: 'u1' }),
    ); // 7
    await send(
      http()
        .patch(`${on('C')}/stage`)
        .send({ stage: 'on_hold' }),
    ); // 8
    await send(
      http()
        .post(`${on('B')}/stage/next`)
        .send({}),
    ); // 9
    await create('E', { stage: 'proposal', value: 40000, currency: 'EUR', expected_close_date: CQe, assigned_user_id: 'u1' }); // 10
    await send(http().patch(on('D')).send({ expected_close_date: NQm })); // 11
    await send(
      http()
        .post(`${on('A')}/stage/next`)
        .send({}),
    ); // 12
    await send(http().patch(on('B')).send({ probability: 95 })); // 13
    await send(
      http()
        .patch(`${on('C')}/stage`)
        .send({ stage: 'negotiation' }),
    ); // 14
    await send(http().patch(on('A')).send({ probability: 65 })); // 15
    await send(
      http()
        .post(`${on('B')}/win`)
        .send({ actual_value: 55000 }),
    ); // 16
    await send(http().delete(on('D')), 204); // 17
    await send(
      http()
        .post(`${on('C')}/lose`)
        .send({ loss_reason: 'price' }),
    ); // 18
    await create('F', { stage: 'qualification', value: 9000, expected_close_date: CQe, assigned_user_id: 'u1' }); // 19
    // 19b: one request, two events (OpportunityUpdated + OpportunityAssigned) recorded at the same instant
    await send(http().patch(on('F')).send({ value: '10000.05', assigned_user_id: 'u2' }));
    await send(
      http()
        .post(`${on('A')}/assign`)
        .send({ user_id: 'u2' }),
    ); // 20
    await send(
      http()
        .post(`${on('F')}/stage/next`)
        .send({}),
    ); // 21

    for (const id of Object.values(ids)) streams.set(id, await store.readStream(`opportunity-${org}-${id}`));
    const times = [...new Set([...streams.values()].flat().map((e) => e.recordedAt.getTime()))].sort((a, b) => a - b);
    // Before anything, at every recorded time exactly, halfway between consecutive times, and after everything.
    instants = [times[0] - 1];
    times.forEach((time, i) => {
      instants.push(time);
      const next = times[i + 1];
      if (next !== undefined && next - time >= 2) instants.push(Math.floor((time + next) / 2));
    });
    instants.push(times[times.length - 1] + 1000);
  }, 120_000);

  it('the script produced its events (one per command; two for 19b, sharing one recorded time)', () => {
    const all = [...streams.values()].flat();
    expect(all).toHaveLength(23);
    const f = streams.get(ids.F)!;
    expect(f.map((e) => e.type)).toEqual(['OpportunityCreated', 'OpportunityUpdated', 'OpportunityAssigned', 'OpportunityStageChanged']);
    expect(f[1].recordedAt.getTime()).toBe(f[2].recordedAt.getTime());
    expect(instants.length).toBeGreaterThanOrEqual(30);
  });

  it('the replay reference itself: the final state matches the hand-written script', () => {
    const end = dealsAt(instants[instants.length - 1]);
    const by = (key: string) => end.find((d) => d.id === ids[key])?.state;
    expect(by('A')).toMatchObject({ stage: 'needs_analysis', probability: 65, value_minor: 12_000_050, assigned_user_id: 'u2' });
    expect(by('B')).toMatchObject({ stage: 'won', value_minor: 5_500_000, assigned_user_id: 'u1' });
    expect(by('C')).toMatchObject({ stage: 'lost', probability: 0 });
    expect(by('D')).toBeUndefined();
    expect(by('E')).toMatchObject({ stage: 'proposal', currency: 'EUR' });
    expect(by('F')).toMatchObject({ stage: 'needs_analysis', value_minor: 1_000_005 });
  });

  it('pipeline-data?as_of=T equals the replay at every instant (before, at, between and after the events)', async () => {
    const mismatches: unknown[] = [];
    for (const at of instants) {
      const res = await get(`/pipeline-data?as_of=${iso(at)}`);
      expect(res.status).toBe(200);
      const expected = expectedPipelineData(at);
      if (!deepEquals(res.body.data, expected)) mismatches.push({ as_of: iso(at), expected, actual: res.body.data });
    }
    expect(mismatches).toEqual([]);
  });

  it('pipeline-data?as_of=T&user_id=u1 follows the owner changes (currency=USD)', async () => {
    const mismatches: unknown[] = [];
    for (const at of instants) {
      const res = await get(`/pipeline-data?as_of=${iso(at)}&user_id=u1&currency=USD`);
      expect(res.status).toBe(200);
      const expected = expectedPipelineData(at, { userId: 'u1', currency: 'USD' });
      if (!deepEquals(res.body.data, expected)) mismatches.push({ as_of: iso(at), expected, actual: res.body.data });
    }
    expect(mismatches).toEqual([]);
  });

  it('hand-checked instants: after step 9 and at the end', async () => {
    // After step 9 (B in verbal_commitment, C on hold): A qualification 120,000.50 @25 = 30,000.13 (30,000.125 rounds up);
    // B verbal_commitment 50,000 @90 = 45,000; D verbal_commitment 33,333.33 @90 = 30,000.00 (29,999.997).
    const step9 = [...streams.get(ids.B)!].find((e) => e.type === 'OpportunityStageChanged')!.recordedAt.getTime();
    const mid = await get(`/pipeline-data?as_of=${iso(step9)}`);
    expect(mid.body.data.summary).toEqual({
      total_opportunities: 3,
      total_pipeline_value: 203333.83,
      total_weighted_value: 105000.13,
      average_deal_size: 67777.94, // 20,333,383 / 3 = 6,777,794.33 cents
      win_rate: null,
      average_sales_cycle_days: null,
    });
    expect(mid.body.data.on_hold).toEqual({ count: 1, total_value: 10000.1 });
    expect(mid.body.data.forecast).toEqual({ commit: 75000, best_case: 75000, pipeline: 105000.13 });
    // At the end: A needs_analysis 120,000.50 @65 override = 78,000.33; F needs_analysis 10,000.05 @40 = 4,000.02; B won, C lost.
    const end = await get(`/pipeline-data?as_of=${iso(instants[instants.length - 1])}`);
    expect(end.body.data.by_stage.find((s: { stage: string }) => s.stage === 'needs_analysis')).toEqual({
      stage: 'needs_analysis',
      count: 2,
      total_value: 130000.55,
      weighted_value: 82000.35,
      average_deal_size: 65000.28, // 13,000,055 / 2 = 6,500,027.5 → 6,500,028
    });
    expect(end.body.data.summary).toMatchObject({ total_opportunities: 2, win_rate: 50, average_sales_cycle_days: 0 });
    expect(end.body.data.other_currencies).toEqual([{ currency: 'EUR', count: 1 }]);
  });

  it('as_of after the last event equals the current pipeline-data (apart from as_of)', async () => {
    const now = await get('/pipeline-data');
    const then = await get(`/pipeline-data?as_of=${iso(instants[instants.length - 1])}`);
    expect({ ...then.body.data, as_of: null }).toEqual(now.body.data);
  });

  it(`forecast?as_of=T for the current quarter equals the replay at every instant`, async () => {
    const mismatches: unknown[] = [];
    for (const at of instants) {
      const res = await get(`/forecast?year=${CQ.year}&quarter=Q${CQ.quarter}&as_of=${iso(at)}`);
      expect(res.status).toBe(200);
      const expected = expectedForecast(at, CQ);
      const actual = res.body.data;
      expect(actual).toMatchObject({ period: CQ.label, from: CQ.start, to: CQ.end });
      const comparable = {
        as_of: actual.as_of,
        currency: actual.currency,
        other_currencies: actual.other_currencies,
        forecast_categories: Object.fromEntries(
          Object.entries(actual.forecast_categories as Record<string, Record<string, unknown>>).map(([k, { description: _d, ...v }]) => [
            k,
            v,
          ]),
        ),
        expected_revenue: actual.expected_revenue,
        trends: actual.trends,
      };
      if (!deepEquals(comparable, expected)) mismatches.push({ as_of: iso(at), expected, actual: comparable });
    }
    expect(mismatches).toEqual([]);
  });

  it('forecast hand-checked: commit/best_case/pipeline counts move with the deals', async () => {
    const q = `year=${CQ.year}&quarter=Q${CQ.quarter}`;
    const timeOf = (key: string, type: string, nth = 0) =>
      streams
        .get(ids[key])!
        .filter((e) => e.type === type)
        [nth].recordedAt.getTime();
    // After step 9: B (90) and D (90) commit, A (25) pipeline only.
    const s9 = (await get(`/forecast?${q}&as_of=${iso(timeOf('B', 'OpportunityStageChanged'))}`)).body.data.forecast_categories;
    expect([s9.commit.count, s9.best_case.count, s9.pipeline.count]).toEqual([2, 2, 3]);
    // After step 11 (D's close date moved to the next quarter): B commit; A.
    const s11 = (await get(`/forecast?${q}&as_of=${iso(timeOf('D', 'OpportunityUpdated'))}`)).body.data.forecast_categories;
    expect([s11.commit.count, s11.best_case.count, s11.pipeline.count]).toEqual([1, 1, 2]);
    // After step 16 (B won 55,000, A at 65 %): commit 0, best case A, closed won B.
    const s16 = (await get(`/forecast?${q}&as_of=${iso(timeOf('B', 'OpportunityWon'))}`)).body.data;
    expect(s16.forecast_categories).toMatchObject({
      commit: { count: 0, value: 0 },
      best_case: { count: 1, value: 78000.33, unweighted_value: 120000.5 },
      pipeline: { count: 1, value: 78000.33 },
      closed_won: { count: 1, value: 55000 },
    });
    expect(s16.expected_revenue).toBe(133000.33);
  });

  it.each([
    ['/pipeline-data', 'yesterday'],
    ['/pipeline-data', '2026-13-45'],
    ['/pipeline-data', '2026-02-30'], // no such day: must not roll over to March 2
    ['/forecast', 'yesterday'],
    ['/forecast', '2026-13-45'],
    ['/forecast', '2026-02-30'],
  ])('%s?as_of=%s → 400 naming as_of', async (path, bad) => {
    const res = await get(`${path}?as_of=${bad}`);
    expect(res.status).toBe(400);
    expect(res.body.errors).toHaveProperty('as_of');
  });

  it('a date-only as_of on pipeline-data means the end of that UTC day', async () => {
    const day = iso(instants[instants.length - 1]).slice(0, 10);
    const res = await get(`/pipeline-data?as_of=${day}`);
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual(expectedPipelineData(Date.parse(`${day}T23:59:59.999Z`)));
  });
});

/** Deep equality with Jest's own rules, as a boolean (to collect every mismatching instant before failing). */
function deepEquals(a: unknown, b: unknown): boolean {
  try {
    expect(a).toEqual(b);
    return true;
  } catch {
    return false;
  }
}
