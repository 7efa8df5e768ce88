import fc from 'fast-check';
import {
  activeRank,
  activeStages,
  ACTIVITY_TYPES,
  computeFields,
  decide,
  DEFAULT_PIPELINE,
  DomainError,
  ErrorCode,
  findStage,
  fold,
  INITIAL_STATE,
  type OpportunityCommand,
  type OpportunityEvent,
  type OpportunityState,
  type Pipeline,
  stageKindOf,
} from '@app/domain';

/**
 * Property-based tests of the pure decider: random command sequences (valid and invalid) are
 * decided and folded step by step, and the pipeline's invariants are checked after every step
 * against a small model kept from the commands (not from the events).
 */
const SEED = 20261121;
const NUM_RUNS = Number(process.env.DECIDER_NUM_RUNS ?? 1000);
const MAX_STEPS = 60;
const T0 = Date.parse('2026-03-01T09:00:00.000Z');

const PIPELINES: Record<string, Pipeline> = {
  default: DEFAULT_PIPELINE,
  allow_skip: { ...DEFAULT_PIPELINE, id: 'skippy', policy: { allow_skip: true, allow_backward: true } },
  no_backward: { ...DEFAULT_PIPELINE, id: 'forward_only', policy: { allow_skip: false, allow_backward: false } },
};

const STAGE_KEYS = DEFAULT_PIPELINE.stages.map((s) => s.key);
const USERS = ['rep_1', 'rep_2', 'mgr_1'];
const ACTIVITY_IDS = ['a1', 'a2'];

// ---------- arbitraries over the OpportunityCommand union (type-correct, rule-valid or not) ----------

const validDate = fc.constantFrom('2026-04-30', '2026-12-31', '2027-02-28', '2028-02-29');
const invalidDate = fc.constantFrom('2026-02-30', '2026-13-01', '30/04/2026', '', '2026-4-1', '2027-02-29');
const instant = fc.constantFrom('2026-03-01T10:00:00Z', '2026-05-01T12:30:00.000Z', '2025-12-31T23:59:59+02:00');
const badInstant = fc.constantFrom('tomorrow', '2026-02-30T10:00:00Z', '2026-03-01', '2026-03-01T25:99:00Z');
const amount = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 10_000_000_000 }) },
  { weight: 1, arbitrary: fc.constantFrom(-1, -100, 0.5, 1e16 + 1, Number.MAX_SAFE_INTEGER + 2) },
);
const probability = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 100 }) },
  { weight: 1, arbitrary: fc.constantFrom(-1, 101, 33.3, 1000) },
);
const text = fc.oneof(fc.constantFrom('', '   ', 'ok', ' padded '), fc.string({ maxLength: 12 }));
const stageKey = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom(...STAGE_KEYS) },
  { weight: 1, arbitrary: fc.constantFrom('bogus', '', 'WON') },
);
const lossReason = fc.oneof(
  { weight: 5, arbitrary: fc.constantFrom(...DEFAULT_PIPELINE.loss_reasons) },
  { weight: 1, arbitrary: fc.constantFrom('', 'bogus', 'PRICE') },
);

const createInput = fc.record(
  {
    name: fc.oneof({ weight: 6, arbitrary: fc.constant('Deal') }, { weight: 1, arbitrary: fc.constantFrom('', '   ') }),
    value_minor: amount,
    stage: fc.option(stageKey, { nil: undefined }),
    probability: fc.option(probability, { nil: undefined }),
    customer_id: fc.option(fc.constantFrom('c1', 'c2'), { nil: undefined }),
    prospect_name: fc.option(fc.constantFrom('Prospect Ltd'), { nil: undefined }),
    expected_close_date: fc.option(fc.oneof({ weight: 5, arbitrary: validDate }, { weight: 1, arbitrary: invalidDate }), {
      nil: undefined,
    }),
    assigned_user_id: fc.option(fc.constantFrom(...USERS), { nil: undefined }),
    currency: fc.option(fc.constantFrom('USD', 'EUR', 'usd', 'EURO'), { nil: undefined }),
  },
  { requiredKeys: ['name', 'value_minor'] },
);

const create: fc.Arbitrary<OpportunityCommand> = createInput.map((input) => ({
  type: 'CreateOpportunity',
  opportunity_id: 'opp-1',
  input,
}));

const update: fc.Arbitrary<OpportunityCommand> = fc
  .record(
    {
      changes: fc.record(
        {
          name: fc.oneof({ weight: 5, arbitrary: fc.constantFrom('Renamed', ' Deal ') }, { weight: 1, arbitrary: text }),
          value_minor: amount,
          expected_close_date: fc.oneof(
            { weight: 5, arbitrary: validDate },
            { weight: 1, arbitrary: invalidDate },
            { weight: 1, arbitrary: fc.constant(null) },
          ),
          customer_id: fc.oneof({ weight: 5, arbitrary: fc.constantFrom('c1', 'c9') }, { weight: 1, arbitrary: fc.constant(null) }),
          prospect_name: fc.oneof(fc.constant('Prospect Ltd'), fc.constant(null)),
          currency: fc.oneof({ weight: 5, arbitrary: fc.constantFrom('USD', 'GBP') }, { weight: 1, arbitrary: fc.constant('gbp') }),
          tags: fc.array(fc.constantFrom('a', 'b', ' a ', ''), { maxLength: 4 }),
          custom_fields: fc.dictionary(fc.constantFrom('k1', 'k2'), fc.oneof(fc.constant(null), fc.integer(), fc.string({ maxLength: 3 }))),
          budget_confirmed: fc.boolean(),
        },
        { requiredKeys: [] },
      ),
      probability: fc.oneof(fc.constant(undefined), fc.constant(null), probability),
      assigned_user_id: fc.option(fc.constantFrom(...USERS, ''), { nil: undefined }),
      notes: fc.option(text, { nil: undefined }),
    },
    { requiredKeys: ['changes'] },
  )
  .map((r) => ({ type: 'UpdateOpportunity', ...r }) as OpportunityCommand);

const changeStage: fc.Arbitrary<OpportunityCommand> = fc
  .record(
    {
      stage: stageKey,
      reason: fc.option(text, { nil: undefined }),
      notes: fc.option(text, { nil: undefined }),
      loss_reason: fc.option(lossReason, { nil: undefined }),
    },
    { requiredKeys: ['stage'] },
  )
  .map((r) => ({ type: 'ChangeStage', ...r }));

const commandArb: fc.Arbitrary<OpportunityCommand> = fc.oneof(
  { weight: 2, arbitrary: create },
  { weight: 8, arbitrary: update },
  { weight: 16, arbitrary: changeStage },
  { weight: 16, arbitrary: fc.option(text, { nil: undefined }).map((notes) => ({ type: 'AdvanceStage', notes }) as OpportunityCommand) },
  { weight: 6, arbitrary: text.map((reason) => ({ type: 'MoveToPreviousStage', reason }) as OpportunityCommand) },
  { weight: 4, arbitrary: fc.option(text, { nil: undefined }).map((reason) => ({ type: 'PutOnHold', reason }) as OpportunityCommand) },
  {
    weight: 4,
    arbitrary: fc
      .oneof(fc.constant(undefined), fc.constant(null), stageKey)
      .map((stage) => ({ type: 'Resume', stage }) as OpportunityCommand),
  },
  {
    weight: 3,
    arbitrary: fc
      .record({ actual_value_minor: amount, close_date: fc.oneof(validDate, invalidDate), close_reason: text }, { requiredKeys: [] })
      .map((r) => ({ type: 'Win', ...r }) as OpportunityCommand),
  },
  {
    weight: 3,
    arbitrary: fc
      .record(
        { loss_reason: lossReason, close_date: fc.oneof(validDate, invalidDate), competitor: text },
        { requiredKeys: ['loss_reason'] },
      )
      .map((r) => ({ type: 'Lose', ...r }) as OpportunityCommand),
  },
  { weight: 4, arbitrary: fc.constantFrom(...USERS, '', '  ').map((user_id) => ({ type: 'Assign', user_id }) as OpportunityCommand) },
  { weight: 1, arbitrary: fc.option(text, { nil: undefined }).map((reason) => ({ type: 'Delete', reason }) as OpportunityCommand) },
  {
    weight: 2,
    arbitrary: fc
      .record(
        {
          activity_id: fc.constantFrom(...ACTIVITY_IDS),
          activity_type: fc.constantFrom(...ACTIVITY_TYPES),
          scheduled_at: fc.oneof({ weight: 8, arbitrary: instant }, { weight: 2, arbitrary: badInstant }),
          completed_at: fc.oneof(
            { weight: 6, arbitrary: fc.constant(undefined) },
            { weight: 2, arbitrary: instant },
            { weight: 2, arbitrary: badInstant },
          ),
        },
        { requiredKeys: ['activity_id', 'activity_type', 'completed_at'] },
      )
      .map((r) => ({ type: 'LogActivity', ...r }) as OpportunityCommand),
  },
  {
    weight: 2,
    arbitrary: fc
      .record(
        {
          activity_id: fc.constantFrom(...ACTIVITY_IDS, 'unknown'),
          completed_at: fc.oneof({ weight: 4, arbitrary: instant }, { weight: 1, arbitrary: badInstant }),
        },
        { requiredKeys: ['activity_id'] },
      )
      .map((r) => ({ type: 'CompleteActivity', ...r }) as OpportunityCommand),
  },
  { weight: 4, arbitrary: text.map((content) => ({ type: 'AddNote', note_id: 'n', content }) as OpportunityCommand) },
  {
    weight: 2,
    arbitrary: fc
      .constantFrom('cust_9', '')
      .map((customer_id) => ({ type: 'ConvertProspect', customer_id, activity_id: 'conv' }) as OpportunityCommand),
  },
);

/** A valid create first (so most sequences exercise a live deal), then anything. */
const sequenceArb = fc.tuple(
  createInput.map((input) => ({
    ...input,
    name: 'Deal',
    customer_id: 'c1',
    expected_close_date: '2026-06-30',
    value_minor: Math.max(0, Math.trunc(Math.abs(input.value_minor))) % 1e12,
    probability: undefined,
    currency: undefined,
    stage: input.stage && findStage(DEFAULT_PIPELINE, input.stage)?.kind === 'active' ? input.stage : undefined,
  })),
  fc.array(commandArb, { minLength: 5, maxLength: MAX_STEPS, size: 'max' }),
);

// ---------- the model and the invariants ----------

const STAGE_CHANGING: ReadonlySet<OpportunityCommand['type']> = new Set([
  'ChangeStage',
  'AdvanceStage',
  'MoveToPreviousStage',
  'PutOnHold',
  'Resume',
  'Win',
  'Lose',
]);

/** round-half-up(value × probability / 100) in exact integer arithmetic, written independently. */
function expectedWeighted(valueMinor: number, probability: number): number {
  const product = BigInt(valueMinor) * BigInt(probability);
  const quotient = product / 100n;
  return Number(product % 100n >= 50n ? quotient + 1n : quotient);
}

interface Stats {
  sequences: number;
  steps: number;
  accepted: Record<string, number>;
  rejected: Record<string, number>;
  finalKinds: Record<string, number>;
}

function newStats(): Stats {
  return { sequences: 0, steps: 0, accepted: {}, rejected: {}, finalKinds: {} };
}

function checkInvariants(pipeline: Pipeline, state: OpportunityState, override: number | null, where: string): void {
  const stage = findStage(pipeline, state.stage);
  if (!stage) throw new Error(`${where}: stage ${state.stage} is not a stage of ${pipeline.id}`);
  if (!Number.isInteger(state.probability) || state.probability < 0 || state.probability > 100) {
    throw new Error(`${where}: probability ${state.probability} outside 0..100`);
  }
  const expected = override ?? stage.probability;
  if (state.probability !== expected || state.probability_override !== override) {
    throw new Error(
      `${where}: probability ${state.probability} (override ${state.probability_override}), expected ${expected} (override ${override}) in ${stage.key}`,
    );
  }
  if (!Number.isSafeInteger(state.value_minor) || state.value_minor < 0) throw new Error(`${where}: value_minor ${state.value_minor}`);
  if (state.expected_revenue_minor !== null && (!Number.isSafeInteger(state.expected_revenue_minor) || state.expected_revenue_minor < 0)) {
    throw new Error(`${where}: expected_revenue_minor ${state.expected_revenue_minor}`);
  }
  const kind = stageKindOf(state);
  if (kind !== stage.kind) throw new Error(`${where}: history says ${kind}, stage ${stage.key} is ${stage.kind}`);
  const computed = computeFields(state, new Date(T0).toISOString(), kind);
  const weighted = expectedWeighted(state.value_minor, state.probability);
  if (computed.weighted_value_minor !== weighted) {
    throw new Error(
      `${where}: weighted ${computed.weighted_value_minor} ≠ round-half-up(${state.value_minor} × ${state.probability} / 100) = ${weighted}`,
    );
  }
}

/** Each event must be a move the pipeline allows from the state it was decided on. */
function checkMoves(pipeline: Pipeline, before: OpportunityState, events: OpportunityEvent[], where: string): void {
  const last = activeStages(pipeline).at(-1)!.key;
  for (const e of events) {
    if (e.type === 'OpportunityStageChanged') {
      const { from_stage, to_stage, movement, reason } = e.data;
      const from = activeRank(pipeline, from_stage);
      const to = activeRank(pipeline, to_stage);
      switch (movement) {
        case 'forward':
          if (from < 0 || to < 0 || (pipeline.policy.allow_skip ? to <= from : to !== from + 1)) {
            throw new Error(`${where}: forward ${from_stage} → ${to_stage} (allow_skip ${pipeline.policy.allow_skip})`);
          }
          break;
        case 'backward':
          if (!pipeline.policy.allow_backward || from < 0 || to < 0 || to >= from || !reason?.trim()) {
            throw new Error(
              `${where}: backward ${from_stage} → ${to_stage} reason ${JSON.stringify(reason)} (allow_backward ${pipeline.policy.allow_backward})`,
            );
          }
          break;
        case 'on_hold':
          if (from < 0 || findStage(pipeline, to_stage)?.kind !== 'on_hold')
            throw new Error(`${where}: on_hold ${from_stage} → ${to_stage}`);
          break;
        case 'resumed':
          if (findStage(pipeline, from_stage)?.kind !== 'on_hold' || to < 0 || !before.reached_stages.includes(to_stage)) {
            throw new Error(`${where}: resumed ${from_stage} → ${to_stage}, reached ${before.reached_stages}`);
          }
          break;
        default: {
          const unreachable: never = movement;
          throw new Error(`unknown movement ${String(unreachable)}`);
        }
      }
    }
    if (e.type === 'OpportunityWon') {
      const from = findStage(pipeline, e.data.from_stage);
      if (from?.kind !== 'active' || (!pipeline.policy.allow_skip && from.key !== last)) {
        throw new Error(`${where}: won from ${e.data.from_stage} (allow_skip ${pipeline.policy.allow_skip})`);
      }
    }
    if (e.type === 'OpportunityLost' && !pipeline.loss_reasons.includes(e.data.loss_reason)) {
      throw new Error(`${where}: lost with reason ${e.data.loss_reason}`);
    }
  }
}

function runSequence(pipeline: Pipeline, first: OpportunityCommand, rest: OpportunityCommand[], stats: Stats): void {
  stats.sequences++;
  let state = INITIAL_STATE;
  let override: number | null = null;
  const commands = [first, ...rest];
  commands.forEach((command, step) => {
    stats.steps++;
    const where = `step ${step} ${command.type} ${JSON.stringify(command)}`;
    const ctx = { now: new Date(T0 + step * 60_000).toISOString(), actor_id: 'rep_1', pipeline };
    const snapshot = JSON.stringify(state);
    const wasTerminal = state.exists && !state.deleted && (stageKindOf(state) === 'won' || stageKindOf(state) === 'lost');
    const wasGone = !state.exists || state.deleted;
    let events: OpportunityEvent[];
    try {
      events = decide(command, state, ctx);
    } catch (error) {
      if (!(error instanceof DomainError)) throw new Error(`${where}: threw ${String(error)} instead of a DomainError (an HTTP 500)`);
      if (JSON.stringify(state) !== snapshot) throw new Error(`${where}: decide mutated the state`);
      stats.rejected[command.type] = (stats.rejected[command.type] ?? 0) + 1;
      if (wasTerminal && command.type !== 'CreateOpportunity' && error.code !== ErrorCode.InvalidStageTransition) {
        throw new Error(`${where}: a closed deal refused with ${error.code}, expected ${ErrorCode.InvalidStageTransition}`);
      }
      if (wasGone && command.type !== 'CreateOpportunity' && error.code !== ErrorCode.NotFound) {
        throw new Error(`${where}: a missing/deleted deal refused with ${error.code}`);
      }
      return;
    }
    if (JSON.stringify(state) !== snapshot) throw new Error(`${where}: decide mutated the state`);
    if (wasTerminal) throw new Error(`${where}: accepted on a closed deal → ${JSON.stringify(events)}`);
    if (wasGone && command.type !== 'CreateOpportunity') throw new Error(`${where}: accepted on a missing or deleted deal`);
    stats.accepted[command.type] = (stats.accepted[command.type] ?? 0) + 1;
    checkMoves(pipeline, state, events, where);
    const after = fold(events, state);
    if (after.version !== state.version + events.length)
      throw new Error(`${where}: version ${state.version} + ${events.length} events → ${after.version}`);
    // The model: an override lives from the command that sets it until the next stage change.
    if (command.type === 'CreateOpportunity') override = command.input.probability ?? null;
    else if (STAGE_CHANGING.has(command.type) && events.length > 0) override = null;
    else if (command.type === 'UpdateOpportunity' && command.probability !== undefined) override = command.probability;
    state = after;
    if (state.exists && !state.deleted) checkInvariants(pipeline, state, override, where);
  });
  const final = !state.exists ? 'never created' : state.deleted ? 'deleted' : stageKindOf(state);
  stats.finalKinds[final] = (stats.finalKinds[final] ?? 0) + 1;
}

describe('decider properties (fast-check, fixed seed)', () => {
  it.each(Object.keys(PIPELINES))('%s pipeline: every invariant holds after every step of random command sequences', (name) => {
    const pipeline = PIPELINES[name];
    const stats = newStats();
    fc.assert(
      fc.property(sequenceArb, ([input, rest]) => {
        runSequence(pipeline, { type: 'CreateOpportunity', opportunity_id: 'opp-1', input }, rest, stats);
      }),
      { seed: SEED, numRuns: NUM_RUNS },
    );
    console.log(
      `[decider ${name}] seed ${SEED}, numRuns ${NUM_RUNS}: ${stats.sequences} sequences, ${stats.steps} steps; ` +
        `accepted ${JSON.stringify(stats.accepted)}; rejected ${JSON.stringify(stats.rejected)}; final ${JSON.stringify(stats.finalKinds)}`,
    );
    // The generator must reach the interesting states, or the properties say little.
    expect(stats.finalKinds.won ?? 0).toBeGreaterThan(0);
    expect(stats.finalKinds.lost ?? 0).toBeGreaterThan(0);
    expect(stats.finalKinds.on_hold ?? 0).toBeGreaterThan(0);
    expect(stats.accepted.Win ?? 0).toBeGreaterThan(0);
    expect(stats.rejected.Win ?? 0).toBeGreaterThan(0);
  });

  it('the generator covers every command type of the OpportunityCommand union', () => {
    const seen = new Set(fc.sample(commandArb, { seed: SEED, numRuns: 2000 }).map((c) => c.type));
    const all: OpportunityCommand['type'][] = [
      'CreateOpportunity',
      'UpdateOpportunity',
      ...STAGE_CHANGING,
      'Assign',
      'Delete',
      'LogActivity',
      'CompleteActivity',
      'AddNote',
      'ConvertProspect',
    ];
    expect([...seen].sort()).toEqual([...all].sort());
  });
});
