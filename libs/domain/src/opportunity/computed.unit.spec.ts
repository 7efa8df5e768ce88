import { bantScore, computeFields, healthScore, INITIAL_STATE, type OpportunityState } from '@app/domain';

type Kind = 'active' | 'won' | 'lost' | 'on_hold';

const NOW = '2026-01-15T10:00:00.000Z';

/** An open deal; every date used by the formulas is explicit. */
function deal(overrides: Partial<OpportunityState> = {}): OpportunityState {
  return {
    ...INITIAL_STATE,
    exists: true,
    version: 1,
    opportunity_id: 'opp-1',
    pipeline_id: 'default',
    stage: 'proposal',
    probability: 60,
    value_minor: 15_000_000,
    expected_close_date: '2026-03-31',
    created_at: '2025-11-02T10:00:00.000Z',
    stage_changed_at: '2026-01-10T09:00:00.000Z',
    last_activity_at: '2026-01-10T09:00:00.000Z',
    ...overrides,
  };
}

const bant = (n: number) => ({
  budget_confirmed: n >= 1,
  authority_confirmed: n >= 2,
  need_confirmed: n >= 3,
  timeline_confirmed: n >= 4,
});

describe('bant_score', () => {
  const flags = ['budget_confirmed', 'authority_confirmed', 'need_confirmed', 'timeline_confirmed'] as const;
  const combos = Array.from({ length: 16 }, (_, mask) => {
    const s = Object.fromEntries(flags.map((f, i) => [f, (mask & (1 << i)) !== 0])) as Record<(typeof flags)[number], boolean>;
    const expected = [0, 1, 2, 3].filter((i) => (mask & (1 << i)) !== 0).length;
    return [JSON.stringify(s), s, expected] as const;
  });

  it.each(combos)('%s → %p', (_label, s, expected) => {
    expect(bantScore(s)).toBe(expected);
  });

  it('the create example: budget, authority, need confirmed, timeline not → 3', () => {
    expect(bantScore({ budget_confirmed: true, authority_confirmed: true, need_confirmed: true, timeline_confirmed: false })).toBe(3);
    expect(computeFields(deal(bant(4)), NOW, 'active').bant_score).toBe(4);
    expect(computeFields(deal(), NOW, 'active').bant_score).toBe(0);
  });
});

describe('health_score = 10/BANT flag + close date 20 + momentum 20/10/0 + engagement 20/10/0; on hold half; won 100; lost 0', () => {
  // NOW = 2026-01-15. Dates below are chosen for their whole-day distance from it.
  it.each([
    // label, overrides, expected (qualification + close date + momentum + engagement)
    ['healthy: 3 BANT, future close, 5 days in stage, 5 days quiet', { ...bant(3) }, 30 + 20 + 20 + 20],
    ['all max: 4 BANT', { ...bant(4) }, 100],
    ['nothing confirmed, otherwise fine', {}, 0 + 20 + 20 + 20],
    ['overdue close date (2026-01-14)', { ...bant(2), expected_close_date: '2026-01-14' }, 20 + 0 + 20 + 20],
    ['close date today counts as on time', { expected_close_date: '2026-01-15' }, 0 + 20 + 20 + 20],
    ['no close date counts as on time', { expected_close_date: null }, 0 + 20 + 20 + 20],
    ['30 days in stage (2025-12-16) still fresh', { stage_changed_at: '2025-12-16T23:00:00.000Z' }, 0 + 20 + 20 + 20],
    ['31 days in stage (2025-12-15) → 10', { stage_changed_at: '2025-12-15T00:00:00.000Z' }, 0 + 20 + 10 + 20],
    ['60 days in stage (2025-11-16) → 10', { stage_changed_at: '2025-11-16T00:00:00.000Z' }, 0 + 20 + 10 + 20],
    ['61 days in stage (2025-11-15) → 0', { stage_changed_at: '2025-11-15T00:00:00.000Z' }, 0 + 20 + 0 + 20],
    ['14 days quiet (2026-01-01) → 20', { last_activity_at: '2026-01-01T00:00:00.000Z' }, 0 + 20 + 20 + 20],
    ['15 days quiet (2025-12-31) → 10', { last_activity_at: '2025-12-31T23:59:59.000Z' }, 0 + 20 + 20 + 10],
    ['30 days quiet (2025-12-16) → 10', { last_activity_at: '2025-12-16T00:00:00.000Z' }, 0 + 20 + 20 + 10],
    ['31 days quiet (2025-12-15) → 0', { last_activity_at: '2025-12-15T00:00:00.000Z' }, 0 + 20 + 20 + 0],
    [
      'stalled: 1 BANT, overdue, 45 days in stage, 26 days quiet',
      {
        ...bant(1),
        expected_close_date: '2026-01-10',
        stage_changed_at: '2025-12-01T00:00:00.000Z',
        last_activity_at: '2025-12-20T00:00:00.000Z',
      },
      10 + 0 + 10 + 10,
    ],
    [
      'dead: 0 BANT, overdue, 106 days in stage, 45 days quiet',
      { expected_close_date: '2025-12-31', stage_changed_at: '2025-10-01T00:00:00.000Z', last_activity_at: '2025-12-01T00:00:00.000Z' },
      0,
    ],
    ['stage clock / activity unknown count as now', { ...bant(2), stage_changed_at: null, last_activity_at: null }, 20 + 20 + 20 + 20],
  ] as [string, Partial<OpportunityState>, number][])('%s → %p', (_label, overrides, expected) => {
    expect(healthScore(deal(overrides), NOW, 'active')).toBe(expected);
    expect(computeFields(deal(overrides), NOW, 'active').health_score).toBe(expected);
  });

  it.each([
    [{ ...bant(1) }, 35], // (10 + 20 + 20 + 20) / 2
    [{ ...bant(4) }, 50], // 100 / 2
    [{ expected_close_date: '2026-01-01', stage_changed_at: '2025-12-01T00:00:00.000Z' }, 15], // (0 + 0 + 10 + 20) / 2
  ] as [Partial<OpportunityState>, number][])('on hold scores half: %j → %p', (overrides, expected) => {
    expect(healthScore(deal({ stage: 'on_hold', ...overrides }), NOW, 'on_hold')).toBe(expected);
  });

  it('won deals score 100 and lost deals 0 regardless of the parts', () => {
    const stale = deal({
      expected_close_date: '2025-01-01',
      stage_changed_at: '2024-01-01T00:00:00.000Z',
      last_activity_at: '2024-01-01T00:00:00.000Z',
    });
    expect(healthScore(stale, NOW, 'won')).toBe(100);
    expect(healthScore(deal(bant(4)), NOW, 'lost')).toBe(0);
  });

  it('always lies within 0–100', () => {
    for (const kind of ['active', 'on_hold', 'won', 'lost'] as Kind[]) {
      for (let n = 0; n <= 4; n++) {
        const score = healthScore(deal(bant(n)), NOW, kind);
        expect(score).toBeGreaterThanOrEqual(0);
        expect(score).toBeLessThanOrEqual(100);
      }
    }
  });
});

describe('computeFields: dates (the documented examples)', () => {
  const SEED_NOW = '2025-12-17T20:00:00.000Z';

  it('days_to_close 104, age_in_days 45, stage_duration 12 on 2025-12-17 (the detail example)', () => {
    const s = deal({
      expected_close_date: '2026-03-31',
      created_at: '2025-11-02T10:00:00.000Z',
      stage_changed_at: '2025-12-05T15:00:00.000Z',
    });
    expect(computeFields(s, SEED_NOW, 'active')).toMatchObject({
      days_to_close: 104, // Dec 17 → Dec 31: 14, + Jan 31 + Feb 28 + Mar 31
      age_in_days: 45, // Nov 2 → Nov 30: 28, + 17
      stage_duration: 12,
      is_overdue: false,
      sales_cycle_days: null,
      days_early: null,
    });
  });

  it('won: days_early 97 and sales_cycle_days 46 (the win example)', () => {
    const s = deal({
      stage: 'won',
      probability: 100,
      value_minor: 17_500_000,
      created_at: '2025-11-02T10:00:00.000Z',
      expected_close_date: '2026-03-25',
      actual_close_date: '2025-12-18',
      stage_changed_at: '2025-12-18T10:00:00.000Z',
    });
    expect(computeFields(s, '2025-12-18T10:00:00.000Z', 'won')).toMatchObject({
      days_early: 97, // Dec 18 → Dec 31: 13, + Jan 31 + Feb 28 + Mar 25
      sales_cycle_days: 46, // Nov 2 → Nov 30: 28, + 18
      days_to_close: null,
      is_overdue: false,
      health_score: 100,
      weighted_value_minor: 17_500_000,
    });
  });

  it('lost: sales_cycle_days 46, no days_early (the lose example)', () => {
    const s = deal({ stage: 'lost', probability: 0, created_at: '2025-11-02T10:00:00.000Z', actual_close_date: '2025-12-18' });
    expect(computeFields(s, '2025-12-18T11:00:00.000Z', 'lost')).toMatchObject({
      sales_cycle_days: 46,
      days_early: null,
      days_to_close: null,
      is_overdue: false,
      health_score: 0,
      weighted_value_minor: 0,
    });
  });

  it('an open deal past its expected close date is overdue with negative days_to_close', () => {
    expect(computeFields(deal({ expected_close_date: '2026-01-10' }), NOW, 'active')).toMatchObject({
      is_overdue: true,
      days_to_close: -5,
    });
    expect(computeFields(deal({ expected_close_date: '2026-01-15' }), NOW, 'active')).toMatchObject({
      is_overdue: false,
      days_to_close: 0,
    });
    expect(computeFields(deal({ expected_close_date: '2026-01-10', stage: 'on_hold' }), NOW, 'on_hold')).toMatchObject({
      is_overdue: true,
    });
  });

  it('a closed deal is never overdue', () => {
    const s = deal({ expected_close_date: '2026-01-10', actual_close_date: '2026-01-12' });
    expect(computeFields(s, NOW, 'won').is_overdue).toBe(false);
    expect(computeFields(s, NOW, 'lost').is_overdue).toBe(false);
  });

  it('no expected close date → days_to_close null, not overdue', () => {
    expect(computeFields(deal({ expected_close_date: null }), NOW, 'active')).toMatchObject({ days_to_close: null, is_overdue: false });
  });

  it('counts whole UTC calendar days (time of day ignored, leap years honoured)', () => {
    const s = deal({
      created_at: '2028-02-28T23:59:00.000Z',
      stage_changed_at: '2028-02-28T23:59:00.000Z',
      expected_close_date: '2029-02-28',
    });
    expect(computeFields(s, '2028-03-01T00:01:00.000Z', 'active')).toMatchObject({ age_in_days: 2, stage_duration: 2, days_to_close: 364 });
    expect(computeFields(deal({ created_at: '2026-01-15T00:00:00.000Z' }), '2026-01-15T23:59:59.999Z', 'active').age_in_days).toBe(0);
  });

  it('a deal with no created_at / stage_changed_at has age and stage duration 0', () => {
    expect(computeFields(deal({ created_at: null, stage_changed_at: null }), NOW, 'active')).toMatchObject({
      age_in_days: 0,
      stage_duration: 0,
    });
  });

  it('won without actual close date → no days_early / sales cycle', () => {
    expect(computeFields(deal({ actual_close_date: null }), NOW, 'won')).toMatchObject({ days_early: null, sales_cycle_days: null });
  });
});

describe('computeFields: weighted_value', () => {
  it('uses the effective probability: 150,000 × 60% = 90,000.00', () => {
    expect(computeFields(deal(), NOW, 'active').weighted_value_minor).toBe(9_000_000);
  });

  it('uses an override: 175,000 × 65% = 113,750.00 (the update example)', () => {
    expect(
      computeFields(deal({ value_minor: 17_500_000, probability: 65, probability_override: 65 }), NOW, 'active').weighted_value_minor,
    ).toBe(11_375_000);
  });

  it('rounds half up to the cent: 333.33 × 25% = 83.3325 → 83.33; 333.30 × 25% = 83.325 → 83.33', () => {
    expect(computeFields(deal({ value_minor: 33_333, probability: 25 }), NOW, 'active').weighted_value_minor).toBe(8_333);
    expect(computeFields(deal({ value_minor: 33_330, probability: 25 }), NOW, 'active').weighted_value_minor).toBe(8_333);
  });
});
