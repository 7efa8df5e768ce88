import type { Response } from 'supertest';
import { describeEachBackend, useTestApp, useTokens } from '../support/test-app';
import { API, bearer, OPPS, uniqueOrg } from './helpers';
import {
  appendDeal,
  Clock,
  type DealSpec,
  deleted,
  type DomainEvent,
  idFactory,
  lost,
  maxPosition,
  stageChanged,
  updated,
  waitForPosition,
  won,
} from './read-fixtures';

/**
 * GET /opportunities (every filter, sort, paging, meta, summary, includes) and
 * GET /opportunities/{id} (every computed field), over a fixed, back-dated dataset.
 *
 * Dataset, org A (days are relative to today T; every instant is at 12:00 UTC unless noted).
 * stage_chg / last_act = days ago of the last stage change / last activity.
 *
 * | #   | name                     | stage             | status | cust | owner | prio   | value (cur)     | prob      | weighted   | close  | created | stage_chg | last_act | BANT | follow_up |
 * |-----|--------------------------|-------------------|--------|------|-------|--------|-----------------|-----------|------------|--------|---------|-----------|----------|------|-----------|
 * | L1  | Alpha Platform Rollout   | prospecting       | open   | 568  | ana   | high   | 10,000.00       | 10        | 1,000.00   | T+20   | -40     | -40       | -40      | 1    | T-1       |
 * | L2  | Bravo Data Migration     | qualification     | open   | 568  | ben   | medium | 25,000.00       | 25        | 6,250.00   | T+45   | -50     | -45       | -20      | 3    | -         |
 * | L3  | Charlie Support Renewal  | needs_analysis    | open   | 569  | ana   | low    | 40,000.00       | 35 (ovr)  | 14,000.00  | T-10   | -90     | -70       | -70 13:00| 1    | T+5       |
 * | L4  | Delta Analytics Suite    | proposal          | open   | 569  | ben   | high   | 80,000.00       | 60        | 48,000.00  | T+60   | -30     | -10       | -10      | 2    | T         |
 * | L5  | Echo Platform Expansion  | proposal          | open   | 570  | cy    | medium | 55,500.50       | 60        | 33,300.30  | T-3    | -100    | -80       | -65      | 0    | -         |
 * | L6  | Foxtrot Security Audit   | negotiation       | open   | 568  | ana   | high   | 120,000.00      | 75        | 90,000.00  | T+15   | -20     | -5        | -5       | 4    | T+10      |
 * | L7  | Golf Training Package    | verbal_commitment | open   | 570  | ben   | low    | 15,000.05       | 90        | 13,500.05* | T+7    | -35     | -35       | -35      | 0    | -         |
 * | L8  | Hotel Cloud Migration    | won               | won    | 568  | ana   | high   | 95,000.00 (act) | 100       | 95,000.00  | T-20   | -60     | -25 (won) | -25      | 4    | T-30      |
 * | L9  | India Legacy Replacement | lost              | lost   | 569  | ben   | medium | 60,000.00       | 0         | 0.00       | T-5    | -75     | -15 (lost)| -15      | 1    | T-30      |
 * | L10 | Juliet Euro Expansion    | qualification     | open   | 570  | cy    | high   | 30,000.00 EUR   | 25        | 7,500.00   | T+90   | -12     | -12       | -12      | 0    | -         |
 * | L11 | Kilo Euro Consulting     | won               | won    | 568  | ana   | low    | 20,000.00 EUR   | 100       | 20,000.00  | T-140  | -200    | -150 (won)| -150     | 0    | -         |
 * | L12 | Lima Fresh Opportunity   | prospecting (API) | open   | 568  | ben   | medium | 5,000.00        | 15 (ovr)  | 750.00     | T+30   | 0 (now) | 0         | 0        | 2    | -         |
 * | L13 | Mike Deleted Deal        | (deleted 2 days ago: must never appear)                                                                                         |
 * * 15,000.05 × 90 % = 13,500.045 → rounded half up to the cent = 13,500.05.
 *
 * Tags: L1 enterprise,platform · L2 enterprise · L3 renewal · L4 enterprise,analytics,renewal · L5 platform ·
 *       L6 security · L7 training · L8 enterprise · L9 – · L10 enterprise,platform · L11 consulting · L12 fresh.
 * Custom fields: L1 {region: emea, seats: 50} · L2 {region: na} · L3 {region: emea, seats: "50"} · L4 {seats: 200} ·
 *       L6 {region: apac, complex: true} · L10 {region: emea}.
 * Owners ana and ben are in the user directory, cy is not; customers 568 and 569 are in the customer directory, 570 is not.
 * Org B (same customer/owner ids, tags and words) and org C (pipeline_id) must never leak into org A.
 */

const c = new Clock();
const LABELS = ['L1', 'L2', 'L3', 'L4', 'L5', 'L6', 'L7', 'L8', 'L9', 'L10', 'L11', 'L12'] as const;
type Label = (typeof LABELS)[number];
const ALL: Label[] = [...LABELS];
const except = (...out: Label[]) => ALL.filter((l) => !out.includes(l));
const BY_NAME = 'sort_by=name&sort_direction=asc&per_page=100';

describeEachBackend('GET /opportunities list and detail (%s)', (backend) => {
  const t = useTestApp(backend);
  const orgA = uniqueOrg('rlist');
  const orgB = uniqueOrg('rlistb');
  const orgC = uniqueOrg('rlistc');
  const tokens = useTokens(t, { A: [orgA, 'mgr_a', 'manager'], B: [orgB, 'mgr_b', 'manager'], C: [orgC, 'mgr_c', 'manager'] });
  const id = idFactory();
  const ids = {} as Record<Label | 'L13', string>;
  const labelOf = new Map<string, string>();
  const orgBIds: string[] = [];
  let orgCPartnersId: string;
  let orgCDefaultId: string;

  const http = () => t.http();
  const list = (query: string, token = tokens.A) => http().get(`${OPPS}?${query}`).set(bearer(token));
  const labels = (res: Response) => (res.body.data as { id: string }[]).map((d) => labelOf.get(d.id) ?? `unknown:${d.id}`);

  beforeAll(async () => {
    // Directories (org A, and look-alikes in org B that must never show in org A).
    const post = async (path: string, token: string, body: object) => {
      const res = await http().post(`${API}${path}`).set(bearer(token)).send(body);
      expect(res.status).toBe(201);
    };
    await post('/users', tokens.A, { id: 'u_ana', name: 'Ana Alvarez', email: 'ana@example.com' });
    await post('/users', tokens.A, { id: 'u_ben', name: 'Ben Brown' });
    await post('/customers', tokens.A, { id: '568', company_name: 'Acme Corporation', email: 'contact@acme.example' });
    await post('/customers', tokens.A, { id: '569', customer_number: 'ENT-569', company_name: 'Globex Ltd' });
    await post('/users', tokens.B, { id: 'u_ana', name: 'Other Ana', email: 'other@example.com' });
    await post('/customers', tokens.B, { id: '568', company_name: 'Other Org Acme' });

    for (const l of [...LABELS, 'L13'] as const) {
      if (l !== 'L12') ids[l] = id(Number(l.slice(1)));
    }
    let last = '0';
    const add = async (spec: DealSpec, later: DomainEvent[] = []) => {
      last = maxPosition(last, await appendDeal(t, orgA, spec, later));
    };
    await add({
      id: ids.L1,
      name: 'Alpha Platform Rollout',
      description: 'Enterprise platform deployment for 500 users',
      customer_id: '568',
      lead_id: 'lead_1234',
      stage: 'prospecting',
      probability: 10,
      value_minor: 1_000_000,
      expected_close_date: c.day(20),
      priority: 'high',
      assigned_user_id: 'u_ana',
      tags: ['enterprise', 'platform'],
      custom_fields: { region: 'emea', seats: 50 },
      budget_confirmed: true,
      follow_up_date: c.day(-1),
      created_at: c.at(-40),
    });
    await add(
      {
        id: ids.L2,
        name: 'Bravo Data Migration',
        description: 'Move legacy CRM records',
        customer_id: '568',
        stage: 'prospecting',
        probability: 10,
        value_minor: 2_500_000,
        expected_close_date: c.day(45),
        priority: 'medium',
        assigned_user_id: 'u_ben',
        tags: ['enterprise'],
        custom_fields: { region: 'na' },
        budget_confirmed: true,
        authority_confirmed: true,
        need_confirmed: true,
        created_at: c.at(-50),
      },
      [stageChanged('prospecting', 'qualification', 25, c.at(-45)), updated({ next_step: 'Send security questionnaire' }, c.at(-20))],
    );
    await add(
      {
        id: ids.L3,
        name: 'Charlie Support Renewal',
        description: 'Annual support contract',
        customer_id: '569',
        stage: 'qualification',
        probability: 25,
        value_minor: 4_000_000,
        expected_close_date: c.day(-10),
        priority: 'low',
        assigned_user_id: 'u_ana',
        tags: ['renewal'],
        custom_fields: { region: 'emea', seats: '50' },
        timeline_confirmed: true,
        follow_up_date: c.day(5),
        created_at: c.at(-90),
      },
      [stageChanged('qualification', 'needs_analysis', 40, c.at(-70)), updated({}, c.at(-70, 13), { probability: 35 })],
    );
    await add(
      {
        id: ids.L4,
        name: 'Delta Analytics Suite',
        description: 'Dashboards and reporting for finance',
        customer_id: '569',
        stage: 'needs_analysis',
        probability: 40,
        value_minor: 8_000_000,
        expected_close_date: c.day(60),
        priority: 'high',
        assigned_user_id: 'u_ben',
        tags: ['enterprise', 'analytics', 'renewal'],
        custom_fields: { seats: 200 },
        budget_confirmed: true,
        authority_confirmed: true,
        follow_up_date: c.day(0),
        created_at: c.at(-30),
      },
      [stageChanged('needs_analysis', 'proposal', 60, c.at(-10))],
    );
    await add(
      {
        id: ids.L5,
        name: 'Echo Platform Expansion',
        description: 'Additional regions',
        customer_id: '570',
        stage: 'needs_analysis',
        probability: 40,
        value_minor: 5_550_050,
        expected_close_date: c.day(-3),
        priority: 'medium',
        assigned_user_id: 'u_cy',
        tags: ['platform'],
        created_at: c.at(-100),
      },
      [stageChanged('needs_analysis', 'proposal', 60, c.at(-80)), updated({ next_step: 'Chase the sponsor' }, c.at(-65))],
    );
    await add(
      {
        id: ids.L6,
        name: 'Foxtrot Security Audit',
        description: 'Penetration testing and compliance review',
        customer_id: '568',
        stage: 'proposal',
        probability: 60,
        value_minor: 12_000_000,
        expected_close_date: c.day(15),
        priority: 'high',
        assigned_user_id: 'u_ana',
        tags: ['security'],
        custom_fields: { region: 'apac', complex: true },
        budget_confirmed: true,
        authority_confirmed: true,
        need_confirmed: true,
        timeline_confirmed: true,
        follow_up_date: c.day(10),
        created_at: c.at(-20),
      },
      [stageChanged('proposal', 'negotiation', 75, c.at(-5))],
    );
    await add({
      id: ids.L7,
      name: 'Golf Training Package',
      customer_id: '570',
      stage: 'verbal_commitment',
      probability: 90,
      value_minor: 1_500_005,
      expected_close_date: c.day(7),
      priority: 'low',
      assigned_user_id: 'u_ben',
      tags: ['training'],
      created_at: c.at(-35),
    });
    await add(
      {
        id: ids.L8,
        name: 'Hotel Cloud Migration',
        description: 'Lift and shift of on-premise servers',
        customer_id: '568',
        stage: 'verbal_commitment',
        probability: 90,
        value_minor: 9_000_000,
        expected_close_date: c.day(-20),
        priority: 'high',
        assigned_user_id: 'u_ana',
        tags: ['enterprise'],
        budget_confirmed: true,
        authority_confirmed: true,
        need_confirmed: true,
        timeline_confirmed: true,
        follow_up_date: c.day(-30),
        created_at: c.at(-60),
      },
      [won('verbal_commitment', 9_500_000, c.day(-25), c.at(-25))],
    );
    await add(
      {
        id: ids.L9,
        name: 'India Legacy Replacement',
        description: 'Replace the mainframe billing',
        customer_id: '569',
        stage: 'negotiation',
        probability: 75,
        value_minor: 6_000_000,
        expected_close_date: c.day(-5),
        priority: 'medium',
        assigned_user_id: 'u_ben',
        need_confirmed: true,
        follow_up_date: c.day(-30),
        created_at: c.at(-75),
      },
      [lost('negotiation', 'price', c.day(-15), c.at(-15))],
    );
    await add({
      id: ids.L10,
      name: 'Juliet Euro Expansion',
      description: 'German subsidiary rollout',
      customer_id: '570',
      stage: 'qualification',
      probability: 25,
      value_minor: 3_000_000,
      currency: 'EUR',
      expected_close_date: c.day(90),
      priority: 'high',
      assigned_user_id: 'u_cy',
      tags: ['enterprise', 'platform'],
      custom_fields: { region: 'emea' },
      created_at: c.at(-12),
    });
    await add(
      {
        id: ids.L11,
        name: 'Kilo Euro Consulting',
        description: 'Advisory hours',
        customer_id: '568',
        stage: 'verbal_commitment',
        probability: 90,
        value_minor: 1_800_000,
        currency: 'EUR',
        expected_close_date: c.day(-140),
        priority: 'low',
        assigned_user_id: 'u_ana',
        tags: ['consulting'],
        created_at: c.at(-200),
      },
      [won('verbal_commitment', 2_000_000, c.day(-150), c.at(-150))],
    );
    await add(
      {
        id: ids.L13,
        name: 'Mike Deleted Deal',
        description: 'Enterprise platform rollout',
        customer_id: '568',
        stage: 'proposal',
        probability: 60,
        value_minor: 99_900_000,
        expected_close_date: c.day(10),
        priority: 'high',
        assigned_user_id: 'u_ana',
        tags: ['enterprise', 'platform'],
        custom_fields: { region: 'emea', seats: 50 },
        follow_up_date: c.day(-1),
        created_at: c.at(-30),
      },
      [deleted(c.at(-2))],
    );
    await waitForPosition(t, tokens.A, last);

    // L12 through the API, "now".
    const res = await http()
      .post(OPPS)
      .set(bearer(tokens.A))
      .send({
        name: 'Lima Fresh Opportunity',
        description: 'Created through the API today',
        customer_id: 568,
        value: 5000,
        expected_close_date: c.day(30),
        stage: 'prospecting',
        probability: 15,
        priority: 'medium',
        assigned_user_id: 'u_ben',
        tags: ['fresh'],
        budget_confirmed: true,
        need_confirmed: true,
      });
    expect(res.status).toBe(201);
    ids.L12 = res.body.data.id;
    for (const [l, v] of Object.entries(ids)) labelOf.set(v, l);

    // Org B: look-alikes of org A's deals (same customer, owner, tags, words, custom fields).
    for (const body of [
      {
        name: 'Alpha Platform Other Org',
        description: 'Enterprise platform migration',
        customer_id: 568,
        value: 777777,
        stage: 'proposal',
        expected_close_date: c.day(-2),
        priority: 'high',
        assigned_user_id: 'u_ana',
        tags: ['enterprise', 'platform'],
        custom_fields: { region: 'emea', seats: 50 },
        follow_up_date: c.day(-1),
      },
      {
        name: 'Zulu Legacy Other Org',
        customer_id: 569,
        value: 888888,
        stage: 'negotiation',
        expected_close_date: c.day(20),
        assigned_user_id: 'u_ben',
        currency: 'EUR',
      },
    ]) {
      const r = await http().post(OPPS).set(bearer(tokens.B)).send(body);
      expect(r.status).toBe(201);
      orgBIds.push(r.body.data.id);
    }

    // Org C: one deal in the default pipeline (API), one recorded in another pipeline ("partners").
    const rc = await http()
      .post(OPPS)
      .set(bearer(tokens.C))
      .send({ name: 'Default Pipeline Deal', customer_id: 1, value: 100, expected_close_date: c.day(10) });
    expect(rc.status).toBe(201);
    orgCDefaultId = rc.body.data.id;
    orgCPartnersId = idFactory()(1);
    const pos = await appendDeal(t, orgC, {
      id: orgCPartnersId,
      name: 'Partner Pipeline Deal',
      customer_id: '1',
      pipeline_id: 'partners',
      stage: 'prospecting',
      probability: 10,
      value_minor: 20_000,
      expected_close_date: c.day(10),
      assigned_user_id: 'mgr_c',
      created_at: c.at(-3),
    });
    await waitForPosition(t, tokens.C, pos);
  }, 120_000);

  describe('filters (results sorted by name, so L1 … L12 order)', () => {
    const cases: [string, string, Label[]][] = [
      ['no filter: the 12 live deals of org A (L13 deleted, org B/C absent)', '', ALL],
      ['stage single', 'stage=proposal', ['L4', 'L5']],
      ['stage comma list', 'stage=proposal,negotiation', ['L4', 'L5', 'L6']],
      ['stage=won', 'stage=won', ['L8', 'L11']],
      ['status=open', 'status=open', except('L8', 'L9', 'L11')],
      ['status=won', 'status=won', ['L8', 'L11']],
      ['status=lost', 'status=lost', ['L9']],
      ['status comma list', 'status=won,lost', ['L8', 'L9', 'L11']],
      ['customer_id=569', 'customer_id=569', ['L3', 'L4', 'L9']],
      ['customer_id=568', 'customer_id=568', ['L1', 'L2', 'L6', 'L8', 'L11', 'L12']],
      ['customer_id unknown', 'customer_id=999', []],
      ['assigned_user_id=u_ben', 'assigned_user_id=u_ben', ['L2', 'L4', 'L7', 'L9', 'L12']],
      ['assigned_user_id=u_cy', 'assigned_user_id=u_cy', ['L5', 'L10']],
      ['priority=high', 'priority=high', ['L1', 'L4', 'L6', 'L8', 'L10']],
      ['priority comma list', 'priority=low,high', ['L1', 'L3', 'L4', 'L6', 'L7', 'L8', 'L10', 'L11']],
      // T+7 (L7), T+15 (L6), T+20 (L1), T+30 (L12, inclusive upper bound)
      [
        'expected close date range T..T+30',
        `expected_close_date_from=${c.day(0)}&expected_close_date_to=${c.day(30)}`,
        ['L1', 'L6', 'L7', 'L12'],
      ],
      // T+45 (L2, inclusive lower bound), T+60 (L4), T+90 (L10)
      ['expected_close_date_from only', `expected_close_date_from=${c.day(45)}`, ['L2', 'L4', 'L10']],
      // T-10 (L3, inclusive), T-20 (L8), T-140 (L11)
      ['expected_close_date_to only', `expected_close_date_to=${c.day(-10)}`, ['L3', 'L8', 'L11']],
      // 25,000 (L2) ≤ v ≤ 60,000 (L9), both inclusive; 40,000 L3; 55,500.50 L5; 30,000 EUR L10
      ['min_value and max_value', 'min_value=25000&max_value=60000', ['L2', 'L3', 'L5', 'L9', 'L10']],
      ['min_value at a cent boundary (inclusive)', 'min_value=55500.50', ['L4', 'L5', 'L6', 'L8', 'L9']],
      ['min_value one cent above', 'min_value=55500.51', ['L4', 'L6', 'L8', 'L9']],
      ['max_value only', 'max_value=10000', ['L1', 'L12']],
      ['search: word prefix in names', 'search=plat', ['L1', 'L5']],
      ['search: case-insensitive', 'search=PLATFORM', ['L1', 'L5']],
      ['search: word prefix in description only', 'search=penetr', ['L6']],
      ['search: another description prefix', 'search=Dashb', ['L4']],
      ['search: name prefix on two deals', 'search=migr', ['L2', 'L8']],
      ['search: name of one, description of another', 'search=legacy', ['L2', 'L9']],
      ['search: every word required', 'search=euro%20exp', ['L10']],
      ['search: rollout (L1 name, L10 description)', 'search=rollout', ['L1', 'L10']],
      ['search: no match', 'search=zzzz', []],
      // open and expected close before today: L3 (T-10), L5 (T-3); L8 (won) and L9 (lost) have past dates but are closed
      ['overdue=true', 'overdue=true', ['L3', 'L5']],
      ['overdue=false', 'overdue=false', except('L3', 'L5')],
      ['days_in_stage_min=0 includes everything', 'days_in_stage_min=0', ALL],
      ['days_in_stage_min=1 excludes the deal created now', 'days_in_stage_min=1', except('L12')],
      // stage changed ≥ 30 days ago: L1 40, L2 45, L3 70, L5 80, L7 35, L11 150 (L8 25, L9 15, L4 10, L10 12, L6 5, L12 0 are not)
      ['days_in_stage_min=30', 'days_in_stage_min=30', ['L1', 'L2', 'L3', 'L5', 'L7', 'L11']],
      ['stalled in proposal: stage=proposal&days_in_stage_min=30', 'stage=proposal&days_in_stage_min=30', ['L5']],
      // last activity ≥ 60 days ago: L3 70, L5 65, L11 150
      ['last_activity_days_ago_min=60', 'last_activity_days_ago_min=60', ['L3', 'L5', 'L11']],
      [
        'quiet and still open: last_activity_days_ago_min=60&stage!=won,lost',
        'last_activity_days_ago_min=60&stage!=won,lost',
        ['L3', 'L5'],
      ],
      ['stage exclusion, literal syntax stage!=won,lost', 'stage!=won,lost', except('L8', 'L9', 'L11')],
      ['stage exclusion with exclude_stage', 'exclude_stage=won,lost', except('L8', 'L9', 'L11')],
      ['both exclusion forms combine', 'stage!=won&exclude_stage=lost', except('L8', 'L9', 'L11')],
      ['stage!=prospecting', 'stage!=prospecting', except('L1', 'L12')],
      ['tags: one tag', 'tags=enterprise', ['L1', 'L2', 'L4', 'L8', 'L10']],
      ['tags: all listed tags required', 'tags=enterprise,platform', ['L1', 'L10']],
      ['tags: all listed tags required (2)', 'tags=enterprise,renewal', ['L4']],
      ['tags: unknown tag', 'tags=nope', []],
      ['cf_<key> string value', 'cf_region=emea', ['L1', 'L3', 'L10']],
      ['cf_<key> numeric value matches a JSON number and a numeric string', 'cf_seats=50', ['L1', 'L3']],
      ['cf_<key> another number', 'cf_seats=200', ['L4']],
      ['cf_<key> boolean', 'cf_complex=true', ['L6']],
      ['two cf_ filters combine', 'cf_region=emea&cf_seats=50', ['L1', 'L3']],
      // open and follow_up_date ≤ today: L1 (T-1), L4 (T); L8 and L9 have past follow-ups but are closed; L3 and L6 are in the future
      ['needs_follow_up=true', 'needs_follow_up=true', ['L1', 'L4']],
      ['pipeline_id=default', 'pipeline_id=default', ALL],
      ['pipeline_id of another pipeline', 'pipeline_id=partners', []],
      ['currency=EUR', 'currency=EUR', ['L10', 'L11']],
      ['filters combine (AND)', 'status=open&priority=high&tags=enterprise', ['L1', 'L4', 'L10']],
    ];

    it.each(cases)('%s', async (_label, query, expected) => {
      const res = await list(`${query}${query ? '&' : ''}${BY_NAME}`);
      expect(res.status).toBe(200);
      expect(labels(res)).toEqual(expected);
      expect(res.body.meta.total).toBe(expected.length);
      expect(res.body.summary.total_opportunities).toBe(expected.length);
    });

    it('needs_follow_up=false returns the deals that do NOT need a follow-up (the complement of =true, like overdue=false)', async () => {
      const res = await list(`needs_follow_up=false&${BY_NAME}`);
      expect(res.status).toBe(200);
      expect(labels(res)).toEqual(except('L1', 'L4'));
    });

    it('days_in_stage_min counts calendar days like stage_duration: a deal showing stage_duration 30 matches days_in_stage_min=30', async () => {
      // Separate org: one deal whose stage started 30 calendar days ago at 23:59 UTC → stage_duration 30.
      const org = uniqueOrg('rlistd');
      const tok = await t.token(org, 'mgr_d', 'manager');
      const dealId = idFactory()(1);
      const pos = await appendDeal(t, org, {
        id: dealId,
        name: 'Boundary Deal',
        customer_id: '1',
        stage: 'proposal',
        probability: 60,
        value_minor: 100_000,
        expected_close_date: c.day(30),
        assigned_user_id: 'mgr_d',
        created_at: c.at(-30, 23, 59),
      });
      await waitForPosition(t, tok, pos);
      const detail = await http().get(`${OPPS}/${dealId}`).set(bearer(tok));
      expect(detail.body.data.stage_duration).toBe(30);
      const res = await list('days_in_stage_min=30', tok);
      expect(res.status).toBe(200);
      expect(res.body.data.map((d: { id: string }) => d.id)).toEqual([dealId]);
    });

    it('pipeline_id selects the deals of that pipeline (org C)', async () => {
      const partners = await list('pipeline_id=partners', tokens.C);
      expect(partners.body.data.map((d: { id: string }) => d.id)).toEqual([orgCPartnersId]);
      expect(partners.body.data[0].pipeline_id).toBe('partners');
      const def = await list('pipeline_id=default', tokens.C);
      expect(def.body.data.map((d: { id: string }) => d.id)).toEqual([orgCDefaultId]);
      const all = await list('sort_by=name&sort_direction=asc', tokens.C);
      expect(all.body.data.map((d: { id: string }) => d.id)).toEqual([orgCDefaultId, orgCPartnersId]);
    });

    it('org B sees only its own two deals, whatever the filter', async () => {
      const res = await list('search=platform&sort_by=name&sort_direction=asc', tokens.B);
      expect(res.body.data.map((d: { id: string }) => d.id)).toEqual([orgBIds[0]]);
      const all = await list('sort_by=name&sort_direction=asc', tokens.B);
      expect(all.body.data.map((d: { id: string }) => d.id)).toEqual(orgBIds);
      expect(all.body.meta.total).toBe(2);
    });
  });

  describe('sorting', () => {
    // Ascending orders worked out from the table; ties (equal probability) break by id in the same direction,
    // and fixture ids sort in deal-number order (L2 < L10, L4 < L5, L8 < L11).
    const ASC: Record<string, Label[]> = {
      // created: L11 -200, L5 -100, L3 -90, L9 -75, L8 -60, L2 -50, L1 -40, L7 -35, L4 -30, L6 -20, L10 -12, L12 now
      created_at: ['L11', 'L5', 'L3', 'L9', 'L8', 'L2', 'L1', 'L7', 'L4', 'L6', 'L10', 'L12'],
      // updated: L11 -150, L3 -70 13:00, L5 -65, L1 -40, L7 -35, L8 -25, L2 -20, L9 -15, L10 -12, L4 -10, L6 -5, L12 now
      updated_at: ['L11', 'L3', 'L5', 'L1', 'L7', 'L8', 'L2', 'L9', 'L10', 'L4', 'L6', 'L12'],
      // 5,000 · 10,000 · 15,000.05 · 20,000 EUR · 25,000 · 30,000 EUR · 40,000 · 55,500.50 · 60,000 · 80,000 · 95,000 · 120,000
      value: ['L12', 'L1', 'L7', 'L11', 'L2', 'L10', 'L3', 'L5', 'L9', 'L4', 'L8', 'L6'],
      // 0 · 750 · 1,000 · 6,250 · 7,500 · 13,500.05 · 14,000 · 20,000 · 33,300.30 · 48,000 · 90,000 · 95,000
      weighted_value: ['L9', 'L12', 'L1', 'L2', 'L10', 'L7', 'L3', 'L11', 'L5', 'L4', 'L6', 'L8'],
      // T-140 · T-20 · T-10 · T-5 · T-3 · T+7 · T+15 · T+20 · T+30 · T+45 · T+60 · T+90
      expected_close_date: ['L11', 'L8', 'L3', 'L9', 'L5', 'L7', 'L6', 'L1', 'L12', 'L2', 'L4', 'L10'],
      // 0 · 10 · 15 · 25 (L2, L10) · 35 · 60 (L4, L5) · 75 · 90 · 100 (L8, L11)
      probability: ['L9', 'L1', 'L12', 'L2', 'L10', 'L3', 'L4', 'L5', 'L6', 'L7', 'L8', 'L11'],
      name: ALL,
      // L11 -150, L5 -80, L3 -70, L2 -45, L1 -40, L7 -35, L8 -25, L9 -15, L10 -12, L4 -10, L6 -5, L12 now
      stage_changed_at: ['L11', 'L5', 'L3', 'L2', 'L1', 'L7', 'L8', 'L9', 'L10', 'L4', 'L6', 'L12'],
      // L11 -150, L3 -70 13:00, L5 -65, L1 -40, L7 -35, L8 -25, L2 -20, L9 -15, L10 -12, L4 -10, L6 -5, L12 now
      last_activity_at: ['L11', 'L3', 'L5', 'L1', 'L7', 'L8', 'L2', 'L9', 'L10', 'L4', 'L6', 'L12'],
    };
    const rows = Object.entries(ASC).flatMap(([field, order]) => [
      [field, 'asc', order] as const,
      [field, 'desc', [...order].reverse()] as const,
    ]);

    it.each(rows)('sort_by=%s sort_direction=%s', async (field, direction, expected) => {
      const res = await list(`sort_by=${field}&sort_direction=${direction}&per_page=100`);
      expect(res.status).toBe(200);
      expect(labels(res)).toEqual(expected);
    });

    it('default sort is created_at desc', async () => {
      const res = await list('per_page=100');
      expect(labels(res)).toEqual([...ASC.created_at].reverse());
    });

    it('an unknown sort_by → 400 with errors.sort_by', async () => {
      const res = await list('sort_by=colour');
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ code: 'validation_failed' });
      expect(res.body.errors.sort_by).toEqual([expect.stringContaining('sort_by must be one of')]);
    });

    it('a bad sort_direction → 400 with errors.sort_direction', async () => {
      const res = await list('sort_by=value&sort_direction=up');
      expect(res.status).toBe(400);
      expect(res.body.errors.sort_direction).toEqual(['sort_direction must be asc or desc']);
    });
  });

  describe('paging, meta and summary', () => {
    // created_at desc: L12, L10, L6, L4, L7, L1, L2, L8, L9, L3, L5, L11
    it('per_page=2&page=2 → the 3rd and 4th newest; meta over 12 rows; summary over the WHOLE set, per currency', async () => {
      const res = await list('per_page=2&page=2');
      expect(res.status).toBe(200);
      expect(labels(res)).toEqual(['L6', 'L4']);
      expect(res.body.meta).toMatchObject({ current_page: 2, per_page: 2, total: 12, last_page: 6 }); // ceil(12 / 2) = 6
      expect(res.body.summary).toMatchObject({
        total_opportunities: 12,
        // USD and EUR are both present: no single-currency money figures
        currency: null,
        total_value: null,
        total_weighted_value: null,
        average_deal_size: null,
        // won L8, L11; lost L9 → 2 / 3 = 66.66… → 66.7
        win_rate: 66.7,
      });
      expect(res.body.summary.by_currency).toMatchObject([
        {
          currency: 'USD',
          count: 10,
          // 10,000 + 25,000 + 40,000 + 80,000 + 55,500.50 + 120,000 + 15,000.05 + 95,000 + 60,000 + 5,000 = 505,500.55
          total_value: 505500.55,
          // 1,000 + 6,250 + 14,000 + 48,000 + 33,300.30 + 90,000 + 13,500.05 + 95,000 + 0 + 750 = 301,800.35
          total_weighted_value: 301800.35,
          // 505,500.55 / 10 = 50,550.055 → 50,550.06 (half up to the cent)
          average_deal_size: 50550.06,
        },
        // L10 30,000 (w 7,500) + L11 20,000 (w 20,000) = 50,000 / 27,500; 50,000 / 2 = 25,000
        { currency: 'EUR', count: 2, total_value: 50000, total_weighted_value: 27500, average_deal_size: 25000 },
      ]);
    });

    it('per_page=5: three pages (5, 5, 2); page 4 is empty with the same meta', async () => {
      const pages: Label[][] = [];
      for (const page of [1, 2, 3]) {
        const res = await list(`per_page=5&page=${page}`);
        expect(res.body.meta).toMatchObject({ current_page: page, per_page: 5, total: 12, last_page: 3 });
        pages.push(labels(res) as Label[]);
      }
      expect(pages).toEqual([
        ['L12', 'L10', 'L6', 'L4', 'L7'],
        ['L1', 'L2', 'L8', 'L9', 'L3'],
        ['L5', 'L11'],
      ]);
      const beyond = await list('per_page=5&page=4');
      expect(beyond.status).toBe(200);
      expect(beyond.body.data).toEqual([]);
      expect(beyond.body.meta).toMatchObject({ current_page: 4, per_page: 5, total: 12, last_page: 3 });
      expect(beyond.body.summary.total_opportunities).toBe(12);
    });

    it('defaults: page 1, per_page 25', async () => {
      const res = await list('');
      expect(res.body.meta).toMatchObject({ current_page: 1, per_page: 25, total: 12, last_page: 1 });
      expect(res.body.data).toHaveLength(12);
    });

    it('per_page=100 is allowed, per_page=101 → 400', async () => {
      expect((await list('per_page=100')).status).toBe(200);
      const res = await list('per_page=101');
      expect(res.status).toBe(400);
      expect(res.body.errors.per_page).toEqual(['per_page must not be greater than 100']);
    });

    it.each([
      ['per_page=0', 'per_page'],
      ['page=0', 'page'],
      ['page=abc', 'page'],
      ['per_page=2.5', 'per_page'],
    ])('%s → 400 on %s', async (query, field) => {
      const res = await list(query);
      expect(res.status).toBe(400);
      expect(res.body.errors[field]).toBeDefined();
    });

    it('an absurd page number → 200 with no rows (or 400), never a 500', async () => {
      // (page − 1) × per_page = 10^19 overflows a PostgreSQL bigint OFFSET
      const res = await list('page=100000000000000000&per_page=100');
      expect([200, 400]).toContain(res.status);
      if (res.status === 200) expect(res.body.data).toEqual([]);
    });

    it('single-currency set (customer_id=569): money totals in USD; win rate is the org-wide rate, not the filtered set’s', async () => {
      const res = await list('customer_id=569&per_page=1');
      expect(res.body.data).toHaveLength(1);
      expect(res.body.summary).toMatchObject({
        total_opportunities: 3,
        currency: 'USD',
        total_value: 180000, // L3 40,000 + L4 80,000 + L9 60,000
        total_weighted_value: 62000, // 14,000 + 48,000 + 0
        average_deal_size: 60000, // 180,000 / 3
        win_rate: 66.7, // org: won 2, lost 1
      });
      expect(res.body.summary.by_currency).toMatchObject([
        { currency: 'USD', count: 3, total_value: 180000, total_weighted_value: 62000, average_deal_size: 60000 },
      ]);
    });

    it('stage=proposal: L4 + L5', async () => {
      const res = await list('stage=proposal');
      expect(res.body.summary).toMatchObject({
        total_opportunities: 2,
        currency: 'USD',
        total_value: 135500.5, // 80,000 + 55,500.50
        total_weighted_value: 81300.3, // 48,000 + 33,300.30
        average_deal_size: 67750.25, // 135,500.50 / 2
      });
    });

    it('currency=EUR: the EUR deals only, totals in EUR', async () => {
      const res = await list('currency=EUR');
      expect(res.body.summary).toMatchObject({
        total_opportunities: 2,
        currency: 'EUR',
        total_value: 50000, // 30,000 + 20,000
        total_weighted_value: 27500, // 7,500 + 20,000
        average_deal_size: 25000,
      });
    });

    it('assigned_user_id=u_ben: totals and the owner win rate (0 won, 1 lost → 0)', async () => {
      const res = await list('assigned_user_id=u_ben&per_page=2');
      expect(res.body.data).toHaveLength(2);
      expect(res.body.summary).toMatchObject({
        total_opportunities: 5,
        currency: 'USD',
        total_value: 185000.05, // 25,000 + 80,000 + 15,000.05 + 60,000 + 5,000
        total_weighted_value: 68500.05, // 6,250 + 48,000 + 13,500.05 + 0 + 750
        average_deal_size: 37000.01, // 185,000.05 / 5 = 37,000.01
        win_rate: 0,
      });
    });

    it('assigned_user_id=u_ana: mixed currencies listed separately; owner win rate 2 / 2 = 100', async () => {
      const res = await list('assigned_user_id=u_ana');
      expect(res.body.summary).toMatchObject({ total_opportunities: 5, currency: null, total_value: null, win_rate: 100 });
      expect(res.body.summary.by_currency).toMatchObject([
        // L1 10,000 + L3 40,000 + L6 120,000 + L8 95,000 = 265,000; 1,000 + 14,000 + 90,000 + 95,000 = 200,000; 265,000 / 4 = 66,250
        { currency: 'USD', count: 4, total_value: 265000, total_weighted_value: 200000, average_deal_size: 66250 },
        { currency: 'EUR', count: 1, total_value: 20000, total_weighted_value: 20000, average_deal_size: 20000 },
      ]);
    });

    it('value range with mixed currencies: never adds EUR to USD', async () => {
      const res = await list('min_value=25000&max_value=60000');
      expect(res.body.summary).toMatchObject({ total_opportunities: 5, currency: null, total_value: null, total_weighted_value: null });
      expect(res.body.summary.by_currency).toMatchObject([
        // L2 25,000 + L3 40,000 + L5 55,500.50 + L9 60,000 = 180,500.50
        // weighted 6,250 + 14,000 + 33,300.30 + 0 = 53,550.30; average 180,500.50 / 4 = 45,125.125 → 45,125.13
        { currency: 'USD', count: 4, total_value: 180500.5, total_weighted_value: 53550.3, average_deal_size: 45125.13 },
        { currency: 'EUR', count: 1, total_value: 30000, total_weighted_value: 7500, average_deal_size: 30000 },
      ]);
    });

    it('an empty result: total 0, last_page 1, no currencies, money sums of 0 (not null)', async () => {
      const res = await list('search=zzzz');
      expect(res.body.data).toEqual([]);
      expect(res.body.meta).toMatchObject({ current_page: 1, total: 0, last_page: 1 });
      expect(res.body.summary).toEqual({
        total_opportunities: 0,
        currency: null,
        total_value: 0,
        total_weighted_value: 0,
        average_deal_size: 0,
        // The win rate is the org's (or the owner's), whatever the other filters: won L8, L11; lost L9.
        win_rate: 66.7,
        by_currency: [],
      });
      // No deal in the currency asked for: its sums are 0 as well.
      const none = await list('currency=JPY');
      expect(none.body.summary).toMatchObject({ total_opportunities: 0, total_value: 0, total_weighted_value: 0, average_deal_size: 0 });
    });
  });

  describe('list items: computed fields and includes', () => {
    it('every row carries its computed fields (hand-computed health per computed.ts)', async () => {
      const res = await list(BY_NAME);
      const byLabel = Object.fromEntries((res.body.data as Record<string, unknown>[]).map((d) => [labelOf.get(d.id as string), d]));
      // health = 10 × BANT + 20 (close ≥ today) + momentum (≤30 d: 20, ≤60: 10) + engagement (≤14 d: 20, ≤30: 10); won 100, lost 0
      const expected: Record<Label, Record<string, unknown>> = {
        L1: {
          stage: 'prospecting',
          status: 'open',
          weighted_value: 1000,
          bant_score: 1,
          health_score: 40,
          stage_duration: 40,
          age_in_days: 40,
          days_to_close: 20,
          is_overdue: false,
        }, // 10+20+10+0
        L2: {
          stage: 'qualification',
          status: 'open',
          weighted_value: 6250,
          bant_score: 3,
          health_score: 70,
          stage_duration: 45,
          age_in_days: 50,
          days_to_close: 45,
          is_overdue: false,
        }, // 30+20+10+10
        L3: {
          stage: 'needs_analysis',
          status: 'open',
          weighted_value: 14000,
          bant_score: 1,
          health_score: 10,
          stage_duration: 70,
          age_in_days: 90,
          days_to_close: -10,
          is_overdue: true,
        }, // 10+0+0+0
        L4: {
          stage: 'proposal',
          status: 'open',
          weighted_value: 48000,
          bant_score: 2,
          health_score: 80,
          stage_duration: 10,
          age_in_days: 30,
          days_to_close: 60,
          is_overdue: false,
        }, // 20+20+20+20
        L5: {
          stage: 'proposal',
          status: 'open',
          weighted_value: 33300.3,
          bant_score: 0,
          health_score: 0,
          stage_duration: 80,
          age_in_days: 100,
          days_to_close: -3,
          is_overdue: true,
        }, // 0+0+0+0
        L6: {
          stage: 'negotiation',
          status: 'open',
          weighted_value: 90000,
          bant_score: 4,
          health_score: 100,
          stage_duration: 5,
          age_in_days: 20,
          days_to_close: 15,
          is_overdue: false,
        }, // 40+20+20+20
        L7: {
          stage: 'verbal_commitment',
          status: 'open',
          weighted_value: 13500.05,
          bant_score: 0,
          health_score: 30,
          stage_duration: 35,
          age_in_days: 35,
          days_to_close: 7,
          is_overdue: false,
        }, // 0+20+10+0
        L8: {
          stage: 'won',
          status: 'won',
          value: 95000,
          weighted_value: 95000,
          probability: 100,
          bant_score: 4,
          health_score: 100,
          stage_duration: 25,
          age_in_days: 60,
          days_to_close: null,
          is_overdue: false,
        },
        L9: {
          stage: 'lost',
          status: 'lost',
          value: 60000,
          weighted_value: 0,
          probability: 0,
          bant_score: 1,
          health_score: 0,
          stage_duration: 15,
          age_in_days: 75,
          days_to_close: null,
          is_overdue: false,
        },
        L10: {
          stage: 'qualification',
          status: 'open',
          currency: 'EUR',
          weighted_value: 7500,
          bant_score: 0,
          health_score: 60,
          stage_duration: 12,
          age_in_days: 12,
          days_to_close: 90,
          is_overdue: false,
        }, // 0+20+20+20
        L11: {
          stage: 'won',
          status: 'won',
          currency: 'EUR',
          value: 20000,
          weighted_value: 20000,
          health_score: 100,
          stage_duration: 150,
          age_in_days: 200,
          days_to_close: null,
        },
        L12: {
          stage: 'prospecting',
          status: 'open',
          value: 5000,
          probability: 15,
          weighted_value: 750,
          bant_score: 2,
          health_score: 80,
          stage_duration: 0,
          age_in_days: 0,
          days_to_close: 30,
          is_overdue: false,
        }, // 20+20+20+20
      };
      for (const l of ALL) expect({ [l]: byLabel[l] }).toMatchObject({ [l]: expected[l] });
    });

    it('without includes there is no customer object; assigned_user is always rendered from the user directory', async () => {
      const res = await list(BY_NAME);
      const [l1, l2] = res.body.data;
      expect(l1).not.toHaveProperty('customer');
      expect(l1.customer_id).toBe('568');
      expect(l1.assigned_user).toEqual({ id: 'u_ana', name: 'Ana Alvarez', email: 'ana@example.com' });
      expect(l2.assigned_user).toEqual({ id: 'u_ben', name: 'Ben Brown', email: null });
    });

    it('includes=customer,assigned_user renders {id, customer_number, company_name, email} and {id, name, email} (org A directory only)', async () => {
      const res = await list(`includes=customer,assigned_user&${BY_NAME}`);
      expect(res.status).toBe(200);
      const byLabel = Object.fromEntries((res.body.data as Record<string, unknown>[]).map((d) => [labelOf.get(d.id as string), d]));
      expect(byLabel.L1.customer).toEqual({
        id: '568',
        customer_number: 'CUST-000568',
        company_name: 'Acme Corporation',
        email: 'contact@acme.example',
      });
      expect(byLabel.L3.customer).toEqual({ id: '569', customer_number: 'ENT-569', company_name: 'Globex Ltd', email: null });
      // 570 was never created in the directory: only its id is known
      expect(byLabel.L5.customer).toEqual({ id: '570', customer_number: null, company_name: null, email: null });
      expect(byLabel.L1.assigned_user).toEqual({ id: 'u_ana', name: 'Ana Alvarez', email: 'ana@example.com' });
      expect(byLabel.L5.assigned_user).toEqual({ id: 'u_cy', name: null, email: null });
    });

    it('includes with an unknown relation → 400', async () => {
      const res = await list('includes=customer,invoices');
      expect(res.status).toBe(400);
      expect(res.body.errors.includes).toBeDefined();
    });
  });

  describe('bad query parameters → 400, field-level', () => {
    it.each([
      ['unknown parameter', 'colour=blue', 'colour'],
      ['status outside open/won/lost', 'status=pending', 'status'],
      ['priority outside low/medium/high', 'priority=urgent', 'priority'],
      ['negative min_value', 'min_value=-5', 'min_value'],
      ['three decimals in max_value', 'max_value=1.234', 'max_value'],
      ['impossible date', 'expected_close_date_from=2026-02-30', 'expected_close_date_from'],
      ['overdue not a boolean', 'overdue=maybe', 'overdue'],
      ['needs_follow_up not a boolean', 'needs_follow_up=soon', 'needs_follow_up'],
      ['negative days_in_stage_min', 'days_in_stage_min=-1', 'days_in_stage_min'],
      ['last_activity_days_ago_min not a number', 'last_activity_days_ago_min=ten', 'last_activity_days_ago_min'],
      ['a parameter given twice', 'stage=proposal&stage=won', 'stage'],
    ])('%s (%s)', async (_label, query, field) => {
      const res = await list(query);
      expect(res.status).toBe(400);
      expect(res.body.code).toBe('validation_failed');
      expect(res.body.errors[field]).toEqual(expect.arrayContaining([expect.any(String)]));
    });

    it('a stage no pipeline of the org has (stage=bogus, stage!=, exclude_stage) → 400 naming it and the known stages, as status does', async () => {
      for (const [query, field] of [
        ['stage=bogus', 'stage'],
        ['stage=proposal,bogus', 'stage'],
        ['stage!=nope', 'stage!'],
        ['exclude_stage=won,nope', 'exclude_stage'],
      ]) {
        const res = await list(query);
        expect(res.status).toBe(400);
        expect(res.body.code).toBe('validation_failed');
        const unknown = query.endsWith('bogus') ? 'bogus' : 'nope';
        expect(res.body.errors).toEqual({
          [field]: [
            `${field} names no stage of this org's pipelines: ${unknown} (stages: prospecting, qualification, needs_analysis, proposal, negotiation, verbal_commitment, won, lost, on_hold)`,
          ],
        });
      }
      // Known stages, won and lost included, still filter.
      expect((await list('stage=won,lost&per_page=1')).status).toBe(200);
    });
  });

  describe('GET /opportunities/{id}', () => {
    const get = (label: Label | 'L13', query = '', token = tokens.A) => http().get(`${OPPS}/${ids[label]}${query}`).set(bearer(token));

    it('L2: every computed field', async () => {
      const res = await get('L2');
      expect(res.status).toBe(200);
      expect(res.headers.etag).toBe('"3"'); // created, stage changed, updated
      expect(res.body.data).toMatchObject({
        id: ids.L2,
        name: 'Bravo Data Migration',
        stage: 'qualification',
        status: 'open',
        previous_stage: 'prospecting',
        stage_changed_at: c.at(-45),
        last_activity_at: c.at(-20),
        created_at: c.at(-50),
        updated_at: c.at(-20),
        value: 25000,
        probability: 25,
        stage_probability: 25,
        probability_is_override: false,
        weighted_value: 6250, // 25,000 × 25 %
        expected_close_date: c.day(45),
        days_to_close: 45,
        age_in_days: 50,
        stage_duration: 45,
        is_overdue: false,
        bant_score: 3, // budget, authority, need
        health_score: 70, // 3×10 + 20 (close in the future) + 10 (45 days in stage: ≤ 60) + 10 (last activity 20 days ago: ≤ 30)
        next_step: 'Send security questionnaire',
        customer_id: '568',
        assigned_user_id: 'u_ben',
        assigned_user: { id: 'u_ben', name: 'Ben Brown', email: null },
        sales_cycle_days: null,
        days_early: null,
      });
    });

    it('L3: probability override, overdue, stalled', async () => {
      const res = await get('L3');
      expect(res.body.data).toMatchObject({
        stage: 'needs_analysis',
        probability: 35,
        stage_probability: 40,
        probability_is_override: true,
        weighted_value: 14000, // 40,000 × 35 %
        days_to_close: -10,
        is_overdue: true,
        age_in_days: 90,
        stage_duration: 70,
        bant_score: 1,
        health_score: 10, // 1×10 + 0 (overdue) + 0 (70 days in stage) + 0 (70 days quiet)
        custom_fields: { region: 'emea', seats: '50' },
        tags: ['renewal'],
      });
    });

    it('L6: a fully qualified, active, on-time open deal scores 100', async () => {
      const res = await get('L6');
      expect(res.body.data).toMatchObject({
        bant_score: 4,
        health_score: 100,
        weighted_value: 90000,
        stage_duration: 5,
        days_to_close: 15,
      });
    });

    it('L8 (won): actual value, sales cycle, days early', async () => {
      const res = await get('L8');
      expect(res.body.data).toMatchObject({
        stage: 'won',
        status: 'won',
        probability: 100,
        value: 95000, // the actual value replaces the 90,000 estimate
        actual_value: 95000,
        weighted_value: 95000,
        actual_close_date: `${c.day(-25)}T00:00:00Z`,
        won_at: c.at(-25),
        expected_close_date: c.day(-20),
        days_early: 5, // closed T-25, expected T-20
        sales_cycle_days: 35, // created T-60 → closed T-25
        days_to_close: null,
        is_overdue: false,
        health_score: 100,
        previous_stage: 'verbal_commitment',
      });
    });

    it('L9 (lost): loss reason, sales cycle, health 0', async () => {
      const res = await get('L9');
      expect(res.body.data).toMatchObject({
        stage: 'lost',
        status: 'lost',
        probability: 0,
        weighted_value: 0,
        value: 60000,
        loss_reason: 'price',
        actual_close_date: `${c.day(-15)}T00:00:00Z`,
        sales_cycle_days: 60, // created T-75 → closed T-15
        days_early: null,
        days_to_close: null,
        health_score: 0,
      });
    });

    it('L11 (won, EUR): days_early 10, sales cycle 50', async () => {
      const res = await get('L11');
      expect(res.body.data).toMatchObject({ currency: 'EUR', value: 20000, days_early: 10, sales_cycle_days: 50 });
    });

    it('L12 (created through the API now): age 0, stage_duration 0', async () => {
      const res = await get('L12');
      expect(res.body.data).toMatchObject({
        probability: 15,
        stage_probability: 10,
        probability_is_override: true,
        weighted_value: 750, // 5,000 × 15 %
        days_to_close: 30,
        age_in_days: 0,
        stage_duration: 0,
        bant_score: 2,
        health_score: 80, // 2×10 + 20 + 20 + 20
        customer_id: '568',
      });
    });

    it('includes=customer,lead', async () => {
      const res = await get('L1', '?includes=customer,lead');
      expect(res.status).toBe(200);
      expect(res.body.data.customer).toEqual({
        id: '568',
        customer_number: 'CUST-000568',
        company_name: 'Acme Corporation',
        email: 'contact@acme.example',
      });
      expect(res.body.data.lead).toMatchObject({ id: 'lead_1234' });
      const plain = await get('L1');
      expect(plain.body.data).not.toHaveProperty('customer');
      expect(plain.body.data).not.toHaveProperty('lead');
      expect(plain.body.data.lead_id).toBe('lead_1234');
    });

    it('includes=bogus → 400; an unknown parameter → 400', async () => {
      expect((await get('L1', '?includes=bogus')).status).toBe(400);
      const res = await get('L1', '?colour=blue');
      expect(res.status).toBe(400);
      expect(res.body.errors.colour).toBeDefined();
    });

    it('a deleted deal → 404; another org → 404; a malformed id → 400', async () => {
      expect((await get('L13')).status).toBe(404);
      const other = await get('L1', '', tokens.B);
      expect(other.status).toBe(404);
      expect(other.body).toMatchObject({ code: 'not_found' });
      const bad = await http().get(`${OPPS}/not-a-uuid`).set(bearer(tokens.A));
      expect(bad.status).toBe(400);
      expect(bad.body.errors.id).toBeDefined();
    });
  });
});
