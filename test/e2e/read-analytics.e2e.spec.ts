import { describeEachBackend, useTestApp, useTokens } from '../support/test-app';
import { bearer, OPPS, uniqueOrg } from './helpers';
import {
  addDays,
  appendDeal,
  Clock,
  type DealSpec,
  type DomainEvent,
  heldAt,
  idFactory,
  lost,
  maxPosition,
  noonOf,
  quarterContaining,
  shiftQuarter,
  stageChanged,
  waitForPosition,
  won,
} from './read-fixtures';

/**
 * Analytics over a fixed, back-dated dataset: pipeline-data, forecast, forecast/monthly, stats,
 * pipeline-summary. Quarters are worked out here from today's date (UTC):
 *   CQ = the current quarter, LQ = the previous one, NQ = the next one, YQ = CQ one year earlier.
 * Dates: CQs/CQe = first/last day of CQ; NQm = NQ start + 14 days; LQm, YQm likewise.
 *
 * Org X (USD unless noted; all open deals other than A10 were created 3–20 days ago, so they are neither stale nor stalled):
 * | #   | stage             | prob        | value    | weighted | close          | owner | notes                                  |
 * |-----|-------------------|-------------|----------|----------|----------------|-------|----------------------------------------|
 * | A1  | prospecting       | 10          | 20,000   | 2,000    | CQe            | u_a   | follow-up today                        |
 * | A2  | qualification     | 25          | 40,000   | 10,000   | NQm            | u_b   | follow-up T+3 (not due)                |
 * | A3  | needs_analysis    | 40          | 50,000   | 20,000   | CQe            | u_a   |                                        |
 * | A4  | proposal          | 70 override | 100,000  | 70,000   | CQe            | u_b   | best case by override                  |
 * | A5  | negotiation       | 75          | 80,000   | 60,000   | NQm            | u_a   | follow-up T-3 (due)                    |
 * | A6  | verbal_commitment | 90          | 150,000  | 135,000  | CQe            | u_a   | commit                                 |
 * | A7  | negotiation       | 95 override | 60,000   | 57,000   | CQe            | u_b   | commit by override                     |
 * | A8  | proposal          | 50 override | 30,000   | 15,000   | CQe            | u_b   | NOT best case (override below 60)      |
 * | A9  | qualification     | 25          | 12,000   | 3,000    | CQs            | u_a   | overdue (whenever today > CQs)         |
 * | A10 | proposal          | 60          | 10,000   | 6,000    | CQe            | u_b   | stalled: stage change + activity 45 d ago |
 * | A12 | negotiation EUR   | 75          | 40,000 € | 30,000 € | CQe            | u_a   |                                        |
 * | A13 | qualification     | 25          | 8,000    | 2,000    | LQm            | u_a   | overdue, last quarter                  |
 * | W1  | won               | 100         | 90,000 (estimate 85,000) | 90,000 | closed CQs | u_a | sales cycle 40 d; follow-up T-10 (closed) |
 * | W2  | won               | 100         | 50,000   | 50,000   | closed LQm     | u_b   | sales cycle 30 d                       |
 * | W3  | won               | 100         | 40,000   | 40,000   | closed YQm     | u_a   | sales cycle 20 d                       |
 * | W4  | won EUR           | 100         | 10,000 € | 10,000 € | closed CQs     | u_b   | sales cycle 10 d                       |
 * | X1  | lost              | 0           | 30,000   | 0        | closed CQs     | u_a   |                                        |
 * | X2  | lost              | 0           | 20,000   | 0        | closed LQm     | u_b   |                                        |
 * | X3  | lost              | 0           | 5,000    | 0        | closed YQm     | u_b   |                                        |
 * USD deals: 11 open + 3 won + 3 lost = 17; EUR deals: 2.
 * Org H: one proposal deal and one deal on hold. Org O: big deals that must never show in org X.
 */

const c = new Clock();
const CQ = quarterContaining(c.today);
const LQ = shiftQuarter(CQ, -1);
const NQ = shiftQuarter(CQ, 1);
const YQ = shiftQuarter(CQ, -4);
const CQs = CQ.start;
const CQe = CQ.end;
const NQm = addDays(NQ.start, 14);
const LQm = addDays(LQ.start, 14);
const YQm = addDays(YQ.start, 14);
/** A9 (close CQs) is overdue unless today is the first day of the quarter. */
const overdueInCQ = CQs < c.today;
const month = (date: string) => date.slice(0, 7);

describeEachBackend('opportunity analytics (%s)', (backend) => {
  const t = useTestApp(backend);
  const orgX = uniqueOrg('ranx');
  const orgH = uniqueOrg('ranh');
  const orgO = uniqueOrg('rano');
  const tok = useTokens(t, { X: [orgX, 'mgr_x', 'manager'], H: [orgH, 'mgr_h', 'manager'], O: [orgO, 'mgr_o', 'manager'] });
  let onHoldId: string;
  const http = () => t.http();
  const get = (path: string, token = tok.X) => http().get(`${OPPS}${path}`).set(bearer(token));

  beforeAll(async () => {
    const id = idFactory();
    let last = '0';
    let n = 0;
    const add = async (spec: Omit<DealSpec, 'id' | 'name' | 'customer_id'> & { name?: string }, later: DomainEvent[] = []) => {
      n += 1;
      last = maxPosition(last, await appendDeal(t, orgX, { id: id(n), name: `Deal ${n}`, customer_id: '100', ...spec }, later));
    };
    const open = (stage: string, probability: number, value: number, close: string, owner: string, extra: Partial<DealSpec> = {}) =>
      add({
        stage,
        probability,
        value_minor: value * 100,
        expected_close_date: close,
        assigned_user_id: owner,
        created_at: c.at(-5),
        ...extra,
      });

    await open('prospecting', 10, 20_000, CQe, 'u_a', { follow_up_date: c.day(0), name: 'A1' }); // A1
    await open('qualification', 25, 40_000, NQm, 'u_b', { follow_up_date: c.day(3), name: 'A2' }); // A2
    await open('needs_analysis', 40, 50_000, CQe, 'u_a', { name: 'A3' }); // A3
    await open('proposal', 70, 100_000, CQe, 'u_b', { probability_override: 70, name: 'A4' }); // A4
    await open('negotiation', 75, 80_000, NQm, 'u_a', { follow_up_date: c.day(-3), name: 'A5' }); // A5
    await open('verbal_commitment', 90, 150_000, CQe, 'u_a', { name: 'A6' }); // A6
    await open('negotiation', 95, 60_000, CQe, 'u_b', { probability_override: 95, name: 'A7' }); // A7
    await open('proposal', 50, 30_000, CQe, 'u_b', { probability_override: 50, name: 'A8' }); // A8
    await open('qualification', 25, 12_000, CQs, 'u_a', { name: 'A9' }); // A9
    await add(
      {
        name: 'A10',
        stage: 'needs_analysis',
        probability: 40,
        value_minor: 1_000_000,
        expected_close_date: CQe,
        assigned_user_id: 'u_b',
        created_at: c.at(-50),
      },
      [stageChanged('needs_analysis', 'proposal', 60, c.at(-45))],
    ); // A10
    await open('negotiation', 75, 40_000, CQe, 'u_a', { currency: 'EUR', name: 'A12' }); // A12
    await open('qualification', 25, 8_000, LQm, 'u_a', { created_at: c.at(-20), name: 'A13' }); // A13

    const closedWon = (value: number, estimate: number, close: string, cycle: number, owner: string, extra: Partial<DealSpec> = {}) =>
      add(
        {
          stage: 'verbal_commitment',
          probability: 90,
          value_minor: estimate * 100,
          expected_close_date: close,
          assigned_user_id: owner,
          created_at: noonOf(addDays(close, -cycle)),
          ...extra,
        },
        [won('verbal_commitment', value * 100, close, noonOf(close))],
      );
    await closedWon(90_000, 85_000, CQs, 40, 'u_a', { follow_up_date: c.day(-10), name: 'W1' });
    await closedWon(50_000, 50_000, LQm, 30, 'u_b', { name: 'W2' });
    await closedWon(40_000, 40_000, YQm, 20, 'u_a', { name: 'W3' });
    await closedWon(10_000, 10_000, CQs, 10, 'u_b', { currency: 'EUR', name: 'W4' });
    const closedLost = (value: number, close: string, owner: string, name: string) =>
      add(
        {
          name,
          stage: 'negotiation',
          probability: 75,
          value_minor: value * 100,
          expected_close_date: close,
          assigned_user_id: owner,
          created_at: noonOf(addDays(close, -20)),
        },
        [lost('negotiation', 'competitor', close, noonOf(close))],
      );
    await closedLost(30_000, CQs, 'u_a', 'X1');
    await closedLost(20_000, LQm, 'u_b', 'X2');
    await closedLost(5_000, YQm, 'u_b', 'X3');
    await waitForPosition(t, tok.X, last);

    // Org H: H1 proposal 100,000 (60 % → 60,000); H2 needs_analysis 50,000, put on hold 5 days ago (probability 0).
    const hid = idFactory();
    await appendDeal(t, orgH, {
      id: hid(1),
      name: 'H1',
      customer_id: '1',
      stage: 'proposal',
      probability: 60,
      value_minor: 10_000_000,
      expected_close_date: CQe,
      assigned_user_id: 'mgr_h',
      created_at: c.at(-3),
    });
    onHoldId = hid(2);
    const hpos = await appendDeal(
      t,
      orgH,
      {
        id: onHoldId,
        name: 'H2',
        customer_id: '1',
        stage: 'needs_analysis',
        probability: 40,
        value_minor: 5_000_000,
        expected_close_date: CQe,
        assigned_user_id: 'mgr_h',
        budget_confirmed: true,
        created_at: c.at(-10),
      },
      [heldAt('needs_analysis', c.at(-5))],
    );
    await waitForPosition(t, tok.H, hpos);

    // Org O: large deals through the API that must never show up in org X's figures.
    const o1 = await http()
      .post(OPPS)
      .set(bearer(tok.O))
      .send({ name: 'O1', customer_id: 1, value: 1_000_000, expected_close_date: CQe, stage: 'verbal_commitment' });
    expect(o1.status).toBe(201);
    const o2 = await http()
      .post(OPPS)
      .set(bearer(tok.O))
      .send({ name: 'O2', customer_id: 1, value: 2_000_000, expected_close_date: CQe, stage: 'verbal_commitment' });
    expect(o2.status).toBe(201);
    expect((await http().post(`${OPPS}/${o2.body.data.id}/win`).set(bearer(tok.O)).send({ actual_value: 2_500_000 })).status).toBe(200);
    const o3 = await http()
      .post(OPPS)
      .set(bearer(tok.O))
      .send({ name: 'O3', customer_id: 1, value: 3_000_000, expected_close_date: NQm, stage: 'proposal' });
    expect((await http().post(`${OPPS}/${o3.body.data.id}/lose`).set(bearer(tok.O)).send({ loss_reason: 'price' })).status).toBe(200);
  }, 120_000);

  const ZERO = { count: 0, total_value: 0, weighted_value: 0, average_deal_size: 0 };

  describe('GET /opportunities/pipeline-data', () => {
    it('all time: the six active stages, summary and forecast in USD; EUR listed aside', async () => {
      const res = await get('/pipeline-data');
      expect(res.status).toBe(200);
      const d = res.body.data;
      expect(d.period).toEqual({ label: 'all_time', from: null, to: null });
      expect(d.currency).toBe('USD');
      expect(d.other_currencies).toEqual([{ currency: 'EUR', count: 2 }]); // A12, W4
      expect(d.by_stage).toMatchObject([
        { stage: 'prospecting', count: 1, total_value: 20000, weighted_value: 2000, average_deal_size: 20000 }, // A1
        // A2 40,000 + A9 12,000 + A13 8,000 = 60,000; 10,000 + 3,000 + 2,000 = 15,000; 60,000 / 3 = 20,000
        { stage: 'qualification', count: 3, total_value: 60000, weighted_value: 15000, average_deal_size: 20000 },
        { stage: 'needs_analysis', count: 1, total_value: 50000, weighted_value: 20000, average_deal_size: 50000 }, // A3
        // A4 100,000 + A8 30,000 + A10 10,000 = 140,000; 70,000 + 15,000 + 6,000 = 91,000; 140,000 / 3 = 46,666.67
        { stage: 'proposal', count: 3, total_value: 140000, weighted_value: 91000, average_deal_size: 46666.67 },
        // A5 80,000 + A7 60,000 = 140,000; 60,000 + 57,000 = 117,000; 70,000
        { stage: 'negotiation', count: 2, total_value: 140000, weighted_value: 117000, average_deal_size: 70000 },
        { stage: 'verbal_commitment', count: 1, total_value: 150000, weighted_value: 135000, average_deal_size: 150000 }, // A6
      ]);
      expect(d.summary).toEqual({
        total_opportunities: 11, // 1 + 3 + 1 + 3 + 2 + 1
        total_pipeline_value: 560000, // 20,000 + 60,000 + 50,000 + 140,000 + 140,000 + 150,000
        total_weighted_value: 380000, // 2,000 + 15,000 + 20,000 + 91,000 + 117,000 + 135,000
        average_deal_size: 50909.09, // 560,000 / 11 = 50,909.0909…
        win_rate: 50, // USD: won W1, W2, W3; lost X1, X2, X3 → 3 / 6
        average_sales_cycle_days: 30, // (40 + 30 + 20) / 3
      });
      expect(d.forecast).toEqual({
        commit: 192000, // ≥ 90 %: A6 135,000 + A7 57,000
        best_case: 328000, // ≥ 60 %: A4 70,000 + A5 60,000 + A6 135,000 + A7 57,000 + A10 6,000 (A8 at 50 % is out)
        pipeline: 380000, // all open weighted
      });
    });

    it('user_id=u_a', async () => {
      const res = await get('/pipeline-data?user_id=u_a');
      const d = res.body.data;
      expect(d.currency).toBe('USD');
      expect(d.other_currencies).toEqual([{ currency: 'EUR', count: 1 }]); // A12
      expect(d.by_stage).toMatchObject([
        { stage: 'prospecting', count: 1, total_value: 20000, weighted_value: 2000, average_deal_size: 20000 }, // A1
        { stage: 'qualification', count: 2, total_value: 20000, weighted_value: 5000, average_deal_size: 10000 }, // A9 12,000 + A13 8,000; 3,000 + 2,000
        { stage: 'needs_analysis', count: 1, total_value: 50000, weighted_value: 20000, average_deal_size: 50000 }, // A3
        { stage: 'proposal', ...ZERO },
        { stage: 'negotiation', count: 1, total_value: 80000, weighted_value: 60000, average_deal_size: 80000 }, // A5
        { stage: 'verbal_commitment', count: 1, total_value: 150000, weighted_value: 135000, average_deal_size: 150000 }, // A6
      ]);
      expect(d.summary).toEqual({
        total_opportunities: 6,
        total_pipeline_value: 320000, // 20,000 + 20,000 + 50,000 + 80,000 + 150,000
        total_weighted_value: 222000, // 2,000 + 5,000 + 20,000 + 60,000 + 135,000
        average_deal_size: 53333.33, // 320,000 / 6
        win_rate: 66.7, // won W1, W3; lost X1 → 2 / 3
        average_sales_cycle_days: 30, // (40 + 20) / 2
      });
      expect(d.forecast).toEqual({ commit: 135000, best_case: 195000, pipeline: 222000 }); // A6; A5 + A6
    });

    it('date_range=this_quarter', async () => {
      const res = await get('/pipeline-data?date_range=this_quarter');
      const d = res.body.data;
      expect(d.period).toEqual({ label: CQ.label, from: CQ.start, to: CQ.end });
      expect(d.other_currencies).toEqual([{ currency: 'EUR', count: 2 }]); // A12, W4
      expect(d.by_stage).toMatchObject([
        { stage: 'prospecting', count: 1, total_value: 20000, weighted_value: 2000, average_deal_size: 20000 }, // A1
        { stage: 'qualification', count: 1, total_value: 12000, weighted_value: 3000, average_deal_size: 12000 }, // A9
        { stage: 'needs_analysis', count: 1, total_value: 50000, weighted_value: 20000, average_deal_size: 50000 }, // A3
        { stage: 'proposal', count: 3, total_value: 140000, weighted_value: 91000, average_deal_size: 46666.67 }, // A4, A8, A10
        { stage: 'negotiation', count: 1, total_value: 60000, weighted_value: 57000, average_deal_size: 60000 }, // A7
        { stage: 'verbal_commitment', count: 1, total_value: 150000, weighted_value: 135000, average_deal_size: 150000 }, // A6
      ]);
      expect(d.summary).toEqual({
        total_opportunities: 8,
        total_pipeline_value: 432000, // 20,000 + 12,000 + 50,000 + 140,000 + 60,000 + 150,000
        total_weighted_value: 308000, // 2,000 + 3,000 + 20,000 + 91,000 + 57,000 + 135,000
        average_deal_size: 54000, // 432,000 / 8
        win_rate: 50, // W1 won, X1 lost
        average_sales_cycle_days: 40, // W1
      });
      expect(d.forecast).toEqual({ commit: 192000, best_case: 268000, pipeline: 308000 }); // A6+A7; + A4 70,000 + A10 6,000
    });

    it('date_range=next_quarter', async () => {
      const res = await get('/pipeline-data?date_range=next_quarter');
      const d = res.body.data;
      expect(d.period).toEqual({ label: NQ.label, from: NQ.start, to: NQ.end });
      expect(d.other_currencies).toEqual([]);
      expect(d.by_stage).toMatchObject([
        { stage: 'prospecting', ...ZERO },
        { stage: 'qualification', count: 1, total_value: 40000, weighted_value: 10000, average_deal_size: 40000 }, // A2
        { stage: 'needs_analysis', ...ZERO },
        { stage: 'proposal', ...ZERO },
        { stage: 'negotiation', count: 1, total_value: 80000, weighted_value: 60000, average_deal_size: 80000 }, // A5
        { stage: 'verbal_commitment', ...ZERO },
      ]);
      expect(d.summary).toEqual({
        total_opportunities: 2,
        total_pipeline_value: 120000,
        total_weighted_value: 70000,
        average_deal_size: 60000,
        win_rate: null, // nothing closed in the period
        average_sales_cycle_days: null,
      });
      expect(d.forecast).toEqual({ commit: 0, best_case: 60000, pipeline: 70000 }); // A5 (75 %)
    });

    it('date_range=this_year (CQ always; LQ unless CQ is Q1; NQ unless CQ is Q4; YQ never)', async () => {
      // Q1: CQ + NQ → 8 + 2 deals; 432,000 + 120,000; 308,000 + 70,000; 552,000 / 10 = 55,200; cycle W1 40
      // Q2/Q3: CQ + LQ + NQ → 8 + 1 + 2; 432,000 + 8,000 + 120,000; 308,000 + 2,000 + 70,000; 560,000 / 11; cycle (40 + 30) / 2
      // Q4: CQ + LQ → 8 + 1; 440,000; 310,000; 440,000 / 9 = 48,888.88…; cycle 35
      const byQuarter: Record<number, { count: number; value: number; weighted: number; avg: number; cycle: number; best: number }> = {
        1: { count: 10, value: 552000, weighted: 378000, avg: 55200, cycle: 40, best: 328000 },
        2: { count: 11, value: 560000, weighted: 380000, avg: 50909.09, cycle: 35, best: 328000 },
        3: { count: 11, value: 560000, weighted: 380000, avg: 50909.09, cycle: 35, best: 328000 },
        4: { count: 9, value: 440000, weighted: 310000, avg: 48888.89, cycle: 35, best: 268000 },
      };
      const e = byQuarter[CQ.quarter];
      const res = await get('/pipeline-data?date_range=this_year');
      const d = res.body.data;
      expect(d.period).toEqual({ label: String(CQ.year), from: `${CQ.year}-01-01`, to: `${CQ.year}-12-31` });
      expect(d.summary).toEqual({
        total_opportunities: e.count,
        total_pipeline_value: e.value,
        total_weighted_value: e.weighted,
        average_deal_size: e.avg,
        win_rate: 50, // W1/X1 (+ W2/X2 when LQ is this year)
        average_sales_cycle_days: e.cycle,
      });
      // commit A6 + A7 always; best case adds A5 (NQ) when NQ is this year
      expect(d.forecast).toEqual({ commit: 192000, best_case: e.best, pipeline: e.weighted });
      // Stages untouched by LQ/NQ deals:
      expect(d.by_stage.find((s: { stage: string }) => s.stage === 'proposal')).toMatchObject({
        count: 3,
        total_value: 140000,
        weighted_value: 91000,
      });
      expect(d.by_stage.find((s: { stage: string }) => s.stage === 'verbal_commitment')).toMatchObject({ count: 1, total_value: 150000 });
    });

    it('currency=EUR: only the EUR deals; USD listed aside', async () => {
      const res = await get('/pipeline-data?currency=EUR');
      const d = res.body.data;
      expect(d.currency).toBe('EUR');
      expect(d.other_currencies).toEqual([{ currency: 'USD', count: 17 }]);
      expect(d.by_stage.find((s: { stage: string }) => s.stage === 'negotiation')).toEqual({
        stage: 'negotiation',
        count: 1,
        total_value: 40000,
        weighted_value: 30000,
        average_deal_size: 40000, // A12
      });
      expect(d.summary).toEqual({
        total_opportunities: 1,
        total_pipeline_value: 40000,
        total_weighted_value: 30000,
        average_deal_size: 40000,
        win_rate: 100, // W4 won, no EUR deal lost
        average_sales_cycle_days: 10,
      });
      expect(d.forecast).toEqual({ commit: 0, best_case: 30000, pipeline: 30000 });
    });

    it('on-hold deals: the summary adds up the by_stage rows (total_opportunities = Σ by_stage.count)', async () => {
      // Org H: H1 proposal 100,000 (w 60,000); H2 on hold 50,000 (w 0), in no active stage.
      const res = await get('/pipeline-data', tok.H);
      const d = res.body.data;
      const stages = d.by_stage as { count: number; total_value: number; weighted_value: number }[];
      expect(stages.find((s) => (s as unknown as { stage: string }).stage === 'proposal')).toMatchObject({
        count: 1,
        total_value: 100000,
        weighted_value: 60000,
      });
      expect(stages.reduce((n, s) => n + s.count, 0)).toBe(1);
      expect(d.summary).toMatchObject({
        total_opportunities: 1, // Σ by_stage.count
        total_pipeline_value: 100000, // Σ by_stage.total_value
        total_weighted_value: 60000,
        average_deal_size: 100000,
      });
    });
  });

  describe('GET /opportunities/forecast', () => {
    const q = (quarter: { quarter: number; year: number }) => `quarter=Q${quarter.quarter}&year=${quarter.year}`;

    it('current quarter: categories, trends and confidence', async () => {
      const res = await get(`/forecast?${q(CQ)}`);
      expect(res.status).toBe(200);
      const d = res.body.data;
      expect(d).toMatchObject({
        period: CQ.label,
        from: CQ.start,
        to: CQ.end,
        currency: 'USD',
        other_currencies: [{ currency: 'EUR', count: 2 }],
      });
      expect(d.forecast_categories).toMatchObject({
        commit: { count: 2, value: 192000, unweighted_value: 210000 }, // A6, A7: 135,000 + 57,000; 150,000 + 60,000
        best_case: { count: 4, value: 268000, unweighted_value: 320000 }, // + A4, A10: 70,000 + 6,000; 100,000 + 10,000
        pipeline: { count: 8, value: 308000, unweighted_value: 432000 }, // A1 A3 A4 A6 A7 A8 A9 A10
        // A10 stalled (6,000 / 10,000); A9 overdue (3,000 / 12,000) unless today is the quarter's first day
        at_risk: overdueInCQ ? { count: 2, value: 9000, unweighted_value: 22000 } : { count: 1, value: 6000, unweighted_value: 10000 },
        closed_won: { count: 1, value: 90000 }, // W1
      });
      // expected revenue = won 90,000 + open weighted 308,000 = 398,000
      expect(d.expected_revenue).toBe(398000);
      expect(d.trends).toEqual({
        // LQ: W2 50,000 + A13 weighted 2,000 = 52,000 → +346,000; 346,000 / 52,000 = 665.38… %
        vs_last_quarter: { change_percentage: 665.4, change_value: 346000 },
        // YQ: W3 40,000 → +358,000; 358,000 / 40,000 = 895 %
        vs_same_quarter_last_year: { change_percentage: 895, change_value: 358000 },
      });
      // (won 90,000 + commit 192,000) / (won 90,000 + pipeline 308,000) = 0.709 ≥ 0.6 → high;
      // at risk 9,000 (or 6,000) / 308,000 ≤ 1/3 → no downgrade
      expect(d.confidence_level).toBe('high');
      expect(typeof d.notes).toBe('string');
    });

    it('no parameters → the current quarter', async () => {
      const res = await get('/forecast');
      expect(res.body.data).toMatchObject({ period: CQ.label, expected_revenue: 398000 });
    });

    it('quarter is case-insensitive (q1…q4)', async () => {
      const res = await get(`/forecast?quarter=q${CQ.quarter}&year=${CQ.year}`);
      expect(res.status).toBe(200);
      expect(res.body.data.period).toBe(CQ.label);
    });

    it('user_id=u_b: medium confidence; no comparable figure a year ago', async () => {
      const res = await get(`/forecast?${q(CQ)}&user_id=u_b`);
      const d = res.body.data;
      expect(d.other_currencies).toEqual([{ currency: 'EUR', count: 1 }]); // W4
      expect(d.forecast_categories).toMatchObject({
        commit: { count: 1, value: 57000, unweighted_value: 60000 }, // A7
        best_case: { count: 3, value: 133000, unweighted_value: 170000 }, // A4 70,000 + A7 57,000 + A10 6,000
        pipeline: { count: 4, value: 148000, unweighted_value: 200000 }, // + A8 15,000
        at_risk: { count: 1, value: 6000, unweighted_value: 10000 }, // A10
        closed_won: { count: 0, value: 0 },
      });
      expect(d.expected_revenue).toBe(148000);
      expect(d.trends).toEqual({
        vs_last_quarter: { change_percentage: 196, change_value: 98000 }, // LQ u_b: W2 50,000 → 98,000 / 50,000
        vs_same_quarter_last_year: { change_percentage: null, change_value: 148000 }, // YQ u_b: only X3 (lost) → 0
      });
      // (0 + 57,000) / (0 + 148,000) = 0.385 → medium
      expect(d.confidence_level).toBe('medium');
    });

    it('next quarter: low confidence, negative trend', async () => {
      const res = await get(`/forecast?${q(NQ)}`);
      const d = res.body.data;
      expect(d).toMatchObject({ period: NQ.label, currency: 'USD', other_currencies: [] });
      expect(d.forecast_categories).toMatchObject({
        commit: { count: 0, value: 0, unweighted_value: 0 },
        best_case: { count: 1, value: 60000, unweighted_value: 80000 }, // A5
        pipeline: { count: 2, value: 70000, unweighted_value: 120000 }, // A2 + A5
        at_risk: { count: 0, value: 0, unweighted_value: 0 },
        closed_won: { count: 0, value: 0 },
      });
      expect(d.expected_revenue).toBe(70000);
      expect(d.trends).toEqual({
        // vs CQ 398,000: −328,000; −328,000 / 398,000 = −82.41 %
        vs_last_quarter: { change_percentage: -82.4, change_value: -328000 },
        // a year before NQ is CQ − 3 quarters: no deals there
        vs_same_quarter_last_year: { change_percentage: null, change_value: 70000 },
      });
      expect(d.confidence_level).toBe('low'); // nothing won or committed
    });

    it('last quarter: high share secured, one level lower because at-risk deals hold > 1/3 of the open pipeline', async () => {
      const res = await get(`/forecast?${q(LQ)}`);
      const d = res.body.data;
      expect(d.forecast_categories).toMatchObject({
        commit: { count: 0, value: 0 },
        best_case: { count: 0, value: 0 },
        pipeline: { count: 1, value: 2000, unweighted_value: 8000 }, // A13
        at_risk: { count: 1, value: 2000, unweighted_value: 8000 }, // A13 is overdue
        closed_won: { count: 1, value: 50000 }, // W2
      });
      expect(d.expected_revenue).toBe(52000);
      // (50,000 + 0) / (50,000 + 2,000) = 0.96 → high; at risk 2,000 / 2,000 = 1 > 1/3 → medium
      expect(d.confidence_level).toBe('medium');
    });

    it('currency=EUR: never mixed with USD', async () => {
      const res = await get(`/forecast?${q(CQ)}&currency=EUR`);
      const d = res.body.data;
      expect(d).toMatchObject({ currency: 'EUR', other_currencies: [{ currency: 'USD', count: 10 }] }); // CQ USD: 8 open + W1 + X1
      expect(d.forecast_categories).toMatchObject({
        commit: { count: 0, value: 0 },
        best_case: { count: 1, value: 30000, unweighted_value: 40000 }, // A12
        pipeline: { count: 1, value: 30000, unweighted_value: 40000 },
        at_risk: { count: 0, value: 0 },
        closed_won: { count: 1, value: 10000 }, // W4
      });
      expect(d.expected_revenue).toBe(40000);
      expect(d.trends.vs_last_quarter).toEqual({ change_percentage: null, change_value: 40000 });
      expect(d.confidence_level).toBe('low'); // (10,000 + 0) / (10,000 + 30,000) = 0.25
    });
  });

  describe('GET /opportunities/forecast/monthly', () => {
    it(`close_date__gte=CQ start&close_date__lte=NQ end: open deals per month, unweighted and weighted`, async () => {
      const res = await get(`/forecast/monthly?close_date__gte=${CQ.start}&close_date__lte=${NQ.end}`);
      expect(res.status).toBe(200);
      const d = res.body.data;
      expect(d).toMatchObject({ currency: 'USD', other_currencies: [{ currency: 'EUR', count: 1 }], from: CQ.start, to: NQ.end });
      expect(d.months).toEqual([
        { month: month(CQs), count: 1, unweighted: 12000, weighted: 3000 }, // A9
        // A1 20,000 + A3 50,000 + A4 100,000 + A6 150,000 + A7 60,000 + A8 30,000 + A10 10,000 = 420,000
        // 2,000 + 20,000 + 70,000 + 135,000 + 57,000 + 15,000 + 6,000 = 305,000
        { month: month(CQe), count: 7, unweighted: 420000, weighted: 305000 },
        { month: month(NQm), count: 2, unweighted: 120000, weighted: 70000 }, // A2 + A5
      ]);
      expect(d.totals).toEqual({ unweighted: 552000, weighted: 378000 });
    });

    it('from/to aliases give the same answer', async () => {
      const a = await get(`/forecast/monthly?close_date__gte=${CQ.start}&close_date__lte=${NQ.end}`);
      const b = await get(`/forecast/monthly?from=${CQ.start}&to=${NQ.end}`);
      expect(b.body.data.months).toEqual(a.body.data.months);
    });

    it('no range: every open deal with a date, including last quarter', async () => {
      const res = await get('/forecast/monthly');
      expect(res.body.data.months).toEqual([
        { month: month(LQm), count: 1, unweighted: 8000, weighted: 2000 }, // A13
        { month: month(CQs), count: 1, unweighted: 12000, weighted: 3000 },
        { month: month(CQe), count: 7, unweighted: 420000, weighted: 305000 },
        { month: month(NQm), count: 2, unweighted: 120000, weighted: 70000 },
      ]);
      expect(res.body.data.totals).toEqual({ unweighted: 560000, weighted: 380000 });
    });

    it('user_id=u_b', async () => {
      const res = await get(`/forecast/monthly?close_date__gte=${CQ.start}&close_date__lte=${NQ.end}&user_id=u_b`);
      expect(res.body.data.months).toEqual([
        { month: month(CQe), count: 4, unweighted: 200000, weighted: 148000 }, // A4 + A7 + A8 + A10
        { month: month(NQm), count: 1, unweighted: 40000, weighted: 10000 }, // A2
      ]);
      expect(res.body.data.totals).toEqual({ unweighted: 240000, weighted: 158000 });
    });

    it('currency=EUR', async () => {
      const res = await get(`/forecast/monthly?close_date__gte=${CQ.start}&close_date__lte=${NQ.end}&currency=EUR`);
      expect(res.body.data).toMatchObject({ currency: 'EUR', other_currencies: [{ currency: 'USD', count: 10 }] });
      expect(res.body.data.months).toEqual([{ month: month(CQe), count: 1, unweighted: 40000, weighted: 30000 }]); // A12
    });
  });

  describe('GET /opportunities/stats', () => {
    it('counts per stage (all currencies) + stale, open value and weighted value (USD), follow-ups due, total', async () => {
      const res = await get('/stats');
      expect(res.status).toBe(200);
      expect(res.body.data).toMatchObject({
        counts: {
          prospecting: 1, // A1
          qualification: 3, // A2, A9, A13
          needs_analysis: 1, // A3
          proposal: 3, // A4, A8, A10
          negotiation: 3, // A5, A7, A12 (EUR)
          verbal_commitment: 1, // A6
          won: 4, // W1–W4
          lost: 3, // X1–X3
          on_hold: 0,
          stale: 1, // A10: last activity 45 days ago (≥ 30)
        },
        currency: 'USD',
        other_currencies: [{ currency: 'EUR', count: 2 }],
        total_value: 560000, // open USD
        weighted_value: 380000,
        needs_follow_up: 2, // A1 (today), A5 (T-3); A2 not due; W1 closed
        stale_after_days: 30,
        total: 19, // 17 USD + 2 EUR
      });
    });

    it('stale_days moves the stale threshold', async () => {
      expect((await get('/stats?stale_days=40')).body.data.counts.stale).toBe(1); // 45 ≥ 40
      const res = await get('/stats?stale_days=50');
      expect(res.body.data).toMatchObject({ stale_after_days: 50, counts: { stale: 0 } });
    });

    it('currency=EUR', async () => {
      const res = await get('/stats?currency=EUR');
      expect(res.body.data).toMatchObject({
        currency: 'EUR',
        total_value: 40000,
        weighted_value: 30000,
        total: 19,
        other_currencies: [{ currency: 'USD', count: 17 }],
      });
    });

    it('a deal on hold is counted under on_hold and in the open value', async () => {
      const res = await get('/stats', tok.H);
      expect(res.body.data).toMatchObject({
        counts: { proposal: 1, needs_analysis: 0, on_hold: 1, stale: 0 },
        total_value: 150000, // 100,000 + 50,000 (both open)
        weighted_value: 60000, // 60,000 + 0
        total: 2,
      });
    });
  });

  describe('GET /opportunities/pipeline-summary', () => {
    it('every stage in display order, closed ones included; totals over all of them (USD)', async () => {
      const res = await get('/pipeline-summary');
      expect(res.status).toBe(200);
      const d = res.body.data;
      expect(d).toMatchObject({ currency: 'USD', other_currencies: [{ currency: 'EUR', count: 2 }], period: 'all_time' });
      expect(d.stages).toMatchObject([
        { stage: 'prospecting', is_won: false, is_lost: false, deal_count: 1, total_value: 20000, weighted_value: 2000 },
        { stage: 'qualification', deal_count: 3, total_value: 60000, weighted_value: 15000 },
        { stage: 'needs_analysis', deal_count: 1, total_value: 50000, weighted_value: 20000 },
        { stage: 'proposal', deal_count: 3, total_value: 140000, weighted_value: 91000 },
        { stage: 'negotiation', deal_count: 2, total_value: 140000, weighted_value: 117000 },
        { stage: 'verbal_commitment', deal_count: 1, total_value: 150000, weighted_value: 135000 },
        // W1 90,000 + W2 50,000 + W3 40,000 = 180,000, weighted at 100 %
        { stage: 'won', is_won: true, is_lost: false, deal_count: 3, total_value: 180000, weighted_value: 180000 },
        // X1 30,000 + X2 20,000 + X3 5,000 = 55,000, weighted at 0 %
        { stage: 'lost', is_won: false, is_lost: true, deal_count: 3, total_value: 55000, weighted_value: 0 },
        { stage: 'on_hold', deal_count: 0, total_value: 0, weighted_value: 0 },
      ]);
      expect(d.total_deals).toBe(17); // 11 open + 3 won + 3 lost
      expect(d.total_value).toBe(795000); // 560,000 + 180,000 + 55,000
      expect(d.total_weighted_value).toBe(560000); // 380,000 + 180,000 + 0
    });

    it('period=this_quarter', async () => {
      const res = await get('/pipeline-summary?period=this_quarter');
      const d = res.body.data;
      expect(d.period).toBe('this_quarter');
      expect(
        d.stages.map((s: { stage: string; deal_count: number; total_value: number; weighted_value: number }) => [
          s.stage,
          s.deal_count,
          s.total_value,
          s.weighted_value,
        ]),
      ).toEqual([
        ['prospecting', 1, 20000, 2000], // A1
        ['qualification', 1, 12000, 3000], // A9
        ['needs_analysis', 1, 50000, 20000], // A3
        ['proposal', 3, 140000, 91000], // A4, A8, A10
        ['negotiation', 1, 60000, 57000], // A7
        ['verbal_commitment', 1, 150000, 135000], // A6
        ['won', 1, 90000, 90000], // W1
        ['lost', 1, 30000, 0], // X1
        ['on_hold', 0, 0, 0],
      ]);
      expect(d).toMatchObject({ total_deals: 10, total_value: 552000, total_weighted_value: 398000 }); // 432,000 + 90,000 + 30,000; 308,000 + 90,000
    });

    it('currency=EUR', async () => {
      const res = await get('/pipeline-summary?currency=EUR');
      const d = res.body.data;
      expect(d).toMatchObject({
        currency: 'EUR',
        total_deals: 2,
        total_value: 50000,
        total_weighted_value: 40000,
        other_currencies: [{ currency: 'USD', count: 17 }],
      });
      expect(d.stages.find((s: { stage: string }) => s.stage === 'negotiation')).toMatchObject({
        deal_count: 1,
        total_value: 40000,
        weighted_value: 30000,
      });
      expect(d.stages.find((s: { stage: string }) => s.stage === 'won')).toMatchObject({
        deal_count: 1,
        total_value: 10000,
        weighted_value: 10000,
      });
    });

    it('a deal on hold appears in the on_hold stage', async () => {
      const res = await get('/pipeline-summary', tok.H);
      const d = res.body.data;
      expect(d.stages.find((s: { stage: string }) => s.stage === 'on_hold')).toMatchObject({
        deal_count: 1,
        total_value: 50000,
        weighted_value: 0,
      });
      expect(d.stages.find((s: { stage: string }) => s.stage === 'proposal')).toMatchObject({
        deal_count: 1,
        total_value: 100000,
        weighted_value: 60000,
      });
      expect(d).toMatchObject({ total_deals: 2, total_value: 150000, total_weighted_value: 60000 });
    });
  });

  describe('on hold: detail', () => {
    it('health of a deal on hold is half: (BANT 1×10 + 20 + 20 + 20) / 2 = 35', async () => {
      const res = await get(`/${onHoldId}`, tok.H);
      expect(res.body.data).toMatchObject({
        stage: 'on_hold',
        status: 'open',
        probability: 0,
        weighted_value: 0,
        stage_duration: 5,
        health_score: 35,
        previous_stage: 'needs_analysis',
      });
    });
  });

  describe('another org', () => {
    it('org O sees only its own deals in every analytic', async () => {
      const stats = await get('/stats', tok.O);
      // O1 open verbal 1,000,000 (w 900,000); O2 won 2,500,000; O3 lost
      expect(stats.body.data).toMatchObject({
        total: 3,
        total_value: 1000000,
        weighted_value: 900000,
        counts: { won: 1, lost: 1, verbal_commitment: 1 },
      });
      const summary = await get('/pipeline-summary', tok.O);
      expect(summary.body.data).toMatchObject({ total_deals: 3, total_value: 6500000 }); // 1,000,000 + 2,500,000 + 3,000,000
    });
  });

  describe('bad parameters → 400', () => {
    it.each([
      ['/forecast?quarter=Q5', 'quarter'],
      ['/forecast?year=abc', 'year'],
      ['/forecast?year=1800', 'year'],
      ['/forecast?currency=usd', 'currency'],
      ['/forecast?colour=blue', 'colour'],
      ['/pipeline-data?date_range=bogus', 'date_range'],
      ['/pipeline-data?colour=blue', 'colour'],
      ['/forecast/monthly?close_date__gte=2026-13-01', 'close_date__gte'],
      ['/forecast/monthly?close_date__lte=tomorrow', 'close_date__lte'],
      ['/stats?stale_days=0', 'stale_days'],
      ['/stats?stale_days=abc', 'stale_days'],
      ['/pipeline-summary?period=bogus', 'period'],
    ])('%s → errors.%s', async (path, field) => {
      const res = await get(path);
      expect(res.status).toBe(400);
      expect(res.body.code).toBe('validation_failed');
      expect(res.body.errors[field]).toEqual(expect.arrayContaining([expect.any(String)]));
    });
  });
});
