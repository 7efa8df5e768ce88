import {
  DEFAULT_LOSS_REASONS,
  DEFAULT_PIPELINE,
  DEFAULT_PIPELINE_ID,
  decidePipeline,
  DomainError,
  ErrorCode,
  evolvePipeline,
  INITIAL_PIPELINE_STATE,
  initialPipelineState,
  type Pipeline,
  type PipelineCommand,
  type PipelineEvent,
  type PipelineState,
  slugOf,
  type StageInput,
} from '@app/domain';

/*
 * decidePipeline / evolvePipeline as Given (the pipeline's past events) / When (a command) / Then
 * (the events decided, or the DomainError). The opportunity helper in ../testing/given-when-then.ts
 * folds opportunity events only, so this spec has its own small one for pipelines.
 */

const NOW = '2026-01-15T10:00:00.000Z';
const EARLIER = '2026-01-02T09:00:00.000Z';
const VALIDATION = ErrorCode.ValidationFailed;

/** Given the events of pipeline `pipelineId` (folded from its initial state: the default exists already). */
function given(pipelineId: string, ...events: PipelineEvent[]) {
  const state = events.reduce(evolvePipeline, initialPipelineState(pipelineId));
  return {
    state,
    when(command: PipelineCommand) {
      const run = () => decidePipeline(command, state, NOW);
      return {
        then(...expected: PipelineEvent[]): void {
          expect(run()).toEqual(expected);
        },
        /** Asserts the code and, for a validation error, exactly the fields named (sorted). */
        thenThrows(code: ErrorCode, fields?: string[]): DomainError {
          let result: PipelineEvent[] | undefined;
          try {
            result = run();
          } catch (err) {
            expect(err).toBeInstanceOf(DomainError);
            const error = err as DomainError;
            expect(error.code).toBe(code);
            if (fields) expect(fieldsOf(error)).toEqual([...fields].sort());
            return error;
          }
          throw new Error(`expected DomainError(${code}) but decidePipeline returned ${JSON.stringify(result)}`);
        },
      };
    },
  };
}
// Note: `when()` returns a thenable (it has `then`): never await it.

function fieldsOf(error: DomainError): string[] {
  return Object.keys((error.details as { errors: Record<string, string[]> }).errors).sort();
}

function messagesOf(error: DomainError, field: string): string[] {
  return (error.details as { errors: Record<string, string[]> }).errors[field];
}

const STAGES: StageInput[] = [
  { name: 'Discovery', display_order: 1, probability: 20 },
  { name: 'Demo', display_order: 2 },
  { key: 'closed_won', name: 'Closed won', display_order: 3, is_won: true },
  { key: 'closed_lost', name: 'Closed lost', display_order: 4, is_lost: true },
];

/** The pipeline CreatePipeline makes of STAGES with nothing else given. */
const ENTERPRISE: Pipeline = {
  id: 'enterprise',
  name: 'Enterprise',
  stages: [
    { key: 'discovery', name: 'Discovery', display_order: 1, probability: 20, kind: 'active' },
    { key: 'demo', name: 'Demo', display_order: 2, probability: 50, kind: 'active' },
    { key: 'closed_won', name: 'Closed won', display_order: 3, probability: 100, kind: 'won' },
    { key: 'closed_lost', name: 'Closed lost', display_order: 4, probability: 0, kind: 'lost' },
  ],
  loss_reasons: DEFAULT_LOSS_REASONS,
  policy: { allow_skip: false, allow_backward: true },
};

const create = (overrides: Partial<Extract<PipelineCommand, { type: 'CreatePipeline' }>> = {}): PipelineCommand => ({
  type: 'CreatePipeline',
  pipeline_id: 'enterprise',
  name: 'Enterprise',
  stages: STAGES,
  ...overrides,
});

const pipelineCreated = (pipeline: Pipeline = ENTERPRISE, at = EARLIER): PipelineEvent => ({
  type: 'PipelineCreated',
  data: { pipeline, created_at: at },
});
const deleted = (): PipelineEvent => ({ type: 'PipelineDeleted', data: { deleted_at: EARLIER } });

/** STAGES with stage `i` replaced by `stage` (or extra stages appended). */
const stagesWith = (changes: Record<number, Partial<StageInput>>, ...extra: StageInput[]): StageInput[] => [
  ...STAGES.map((s, i) => ({ ...s, ...changes[i] })),
  ...extra,
];

describe('initialPipelineState', () => {
  it('the default pipeline exists before anything happened to it', () => {
    expect(initialPipelineState(DEFAULT_PIPELINE_ID)).toEqual({ version: 0, exists: true, deleted: false, pipeline: DEFAULT_PIPELINE });
  });

  it('any other pipeline does not exist yet', () => {
    expect(initialPipelineState('enterprise')).toEqual(INITIAL_PIPELINE_STATE);
    expect(INITIAL_PIPELINE_STATE).toEqual({ version: 0, exists: false, deleted: false, pipeline: null });
  });
});

describe('slugOf (the key of a stage given without one)', () => {
  it.each([
    ['Needs Analysis', 'needs_analysis'],
    ['  Closed / Won!  ', 'closed_won'],
    ['Démo', 'd_mo'],
    ['2nd call', 'stage_2nd_call'],
    ['___', 'stage_'],
  ])('%j → %j', (name, slug) => {
    expect(slugOf(name)).toBe(slug);
  });

  it('is at most 63 characters', () => {
    expect(slugOf('a'.repeat(100))).toHaveLength(63);
    expect(slugOf('9'.repeat(100))).toBe(`stage_${'9'.repeat(57)}`);
  });
});

describe('decidePipeline: CreatePipeline', () => {
  it('creates the pipeline: keys from names, default probabilities (active 50, won 100, lost 0), default loss reasons and policy', () => {
    given('enterprise').when(create()).then(pipelineCreated(ENTERPRISE, NOW));
  });

  it('trims names, keeps rotting_days when given, takes the loss reasons and fills the policy flags not given', () => {
    given('enterprise')
      .when(
        create({
          name: '  Enterprise  ',
          stages: stagesWith(
            { 0: { name: '  Discovery ', rotting_days: 14 }, 1: { rotting_days: null } },
            {
              key: 'parked',
              name: 'Parked',
              display_order: 5,
              is_on_hold: true,
            },
          ),
          loss_reasons: ['price', 'timing'],
          policy: { allow_skip: true },
        }),
      )
      .then(
        pipelineCreated(
          {
            ...ENTERPRISE,
            stages: [
              { ...ENTERPRISE.stages[0], rotting_days: 14 },
              ...ENTERPRISE.stages.slice(1),
              { key: 'parked', name: 'Parked', display_order: 5, probability: 0, kind: 'on_hold' },
            ],
            loss_reasons: ['price', 'timing'],
            policy: { allow_skip: true, allow_backward: true },
          },
          NOW,
        ),
      );
  });

  it('can re-create a deleted pipeline', () => {
    const renamed = { ...ENTERPRISE, name: 'Enterprise again' };
    given('enterprise', pipelineCreated(), deleted())
      .when(create({ name: 'Enterprise again' }))
      .then(pipelineCreated(renamed, NOW));
  });

  it('refuses a pipeline that exists: already_exists', () => {
    given('enterprise', pipelineCreated()).when(create()).thenThrows(ErrorCode.AlreadyExists);
  });

  it('refuses to create the default pipeline, which always exists', () => {
    given(DEFAULT_PIPELINE_ID)
      .when(create({ pipeline_id: DEFAULT_PIPELINE_ID }))
      .thenThrows(ErrorCode.AlreadyExists);
  });

  it('needs a name', () => {
    given('enterprise')
      .when(create({ name: '   ' }))
      .thenThrows(VALIDATION, ['name']);
  });

  it('needs stages: an empty list lacks the active, won and lost stages', () => {
    const error = given('enterprise')
      .when(create({ stages: [] }))
      .thenThrows(VALIDATION, ['stages']);
    expect(messagesOf(error, 'stages')).toEqual([
      'a pipeline needs at least one active stage',
      'a pipeline needs exactly one stage with is_won',
      'a pipeline needs exactly one stage with is_lost',
    ]);
  });

  it.each<[string, StageInput[], string]>([
    ['no won stage', STAGES.filter((s) => !s.is_won), 'a pipeline needs exactly one stage with is_won'],
    [
      'two won stages',
      stagesWith({}, { key: 'won_again', name: 'Won again', display_order: 5, is_won: true }),
      'a pipeline needs exactly one stage with is_won',
    ],
    ['no lost stage', STAGES.filter((s) => !s.is_lost), 'a pipeline needs exactly one stage with is_lost'],
    [
      'two lost stages',
      stagesWith({}, { key: 'lost_again', name: 'Lost again', display_order: 5, is_lost: true }),
      'a pipeline needs exactly one stage with is_lost',
    ],
    ['no active stage', STAGES.slice(2), 'a pipeline needs at least one active stage'],
    [
      'two on-hold stages',
      stagesWith(
        {},
        { key: 'hold_a', name: 'Hold A', display_order: 5, is_on_hold: true },
        { key: 'hold_b', name: 'Hold B', display_order: 6, is_on_hold: true },
      ),
      'a pipeline has at most one on-hold stage',
    ],
    ['duplicate keys', stagesWith({ 1: { key: 'discovery' } }), 'stage keys must be unique'],
    ['duplicate keys from names', stagesWith({ 1: { name: 'Discovery' } }), 'stage keys must be unique'],
    ['duplicate display_order', stagesWith({ 1: { display_order: 1 } }), 'display_order values must be unique'],
  ])('refuses %s (field "stages")', (_, stages, message) => {
    const error = given('enterprise').when(create({ stages })).thenThrows(VALIDATION, ['stages']);
    expect(messagesOf(error, 'stages')).toEqual([message]);
  });

  it.each<[string, Partial<StageInput>, string]>([
    ['probability above 100', { probability: 101 }, 'stages.0.probability'],
    ['negative probability', { probability: -1 }, 'stages.0.probability'],
    ['fractional probability', { probability: 12.5 }, 'stages.0.probability'],
    ['display_order 0', { display_order: 0 }, 'stages.0.display_order'],
    ['fractional display_order', { display_order: 1.5 }, 'stages.0.display_order'],
    ['an upper-case key', { key: 'Discovery' }, 'stages.0.key'],
    ['a key starting with a digit', { key: '1st' }, 'stages.0.key'],
    ['a key with a dash', { key: 'first-call' }, 'stages.0.key'],
    ['a key of 64 characters', { key: 'a'.repeat(64) }, 'stages.0.key'],
    ['a blank name', { key: 'discovery', name: '  ' }, 'stages.0.name'],
    ['rotting_days 0', { rotting_days: 0 }, 'stages.0.rotting_days'],
    ['fractional rotting_days', { rotting_days: 2.5 }, 'stages.0.rotting_days'],
  ])('refuses a stage with %s (field %s)', (_, change, field) => {
    given('enterprise')
      .when(create({ stages: stagesWith({ 0: change }) }))
      .thenThrows(VALIDATION, [field]);
  });

  it.each<[string, Partial<StageInput>, string]>([
    ['a won stage below 100', { probability: 90 }, 'a won stage has probability 100'],
    ['a won stage that is also lost', { is_lost: true }, 'a stage is at most one of is_won, is_lost, is_on_hold'],
  ])('refuses %s', (_, change, message) => {
    const error = given('enterprise')
      .when(create({ stages: stagesWith({ 2: change }) }))
      .thenThrows(VALIDATION);
    expect(Object.values((error.details as { errors: Record<string, string[]> }).errors).flat()).toContain(message);
  });

  it('refuses a lost or on-hold stage with a probability above 0 (field stages.<i>.probability)', () => {
    const stages = stagesWith(
      { 3: { probability: 10 } },
      { key: 'parked', name: 'Parked', display_order: 5, is_on_hold: true, probability: 5 },
    );
    const error = given('enterprise').when(create({ stages })).thenThrows(VALIDATION, ['stages.3.probability', 'stages.4.probability']);
    expect(messagesOf(error, 'stages.3.probability')).toEqual(['a lost stage has probability 0']);
    expect(messagesOf(error, 'stages.4.probability')).toEqual(['a on_hold stage has probability 0']);
  });

  it('reports every problem at once', () => {
    given('enterprise')
      .when(
        create({
          name: '',
          stages: stagesWith({ 0: { probability: 200 }, 1: { display_order: 1 } }),
          loss_reasons: [],
        }),
      )
      .thenThrows(VALIDATION, ['name', 'stages', 'stages.0.probability', 'loss_reasons']);
  });

  it.each<[string, string[], string]>([
    ['no loss reason', [], 'at least one loss reason is needed'],
    ['an upper-case code', ['Price'], 'loss reason codes are lower-case letters, digits and _'],
    ['a code with a space', ['too expensive'], 'loss reason codes are lower-case letters, digits and _'],
    ['duplicate codes', ['price', 'price'], 'loss reason codes must be unique'],
  ])('refuses %s (field "loss_reasons")', (_, loss_reasons, message) => {
    const error = given('enterprise').when(create({ loss_reasons })).thenThrows(VALIDATION, ['loss_reasons']);
    expect(messagesOf(error, 'loss_reasons')).toEqual([message]);
  });
});

describe('decidePipeline: UpdatePipeline', () => {
  it('renames (trimmed)', () => {
    given('enterprise', pipelineCreated())
      .when({ type: 'UpdatePipeline', name: '  Enterprise deals ' })
      .then({ type: 'PipelineUpdated', data: { name: 'Enterprise deals', updated_at: NOW } });
  });

  it('changes only the policy flags given: the others keep their value', () => {
    given('enterprise', pipelineCreated())
      .when({ type: 'UpdatePipeline', policy: { allow_skip: true } })
      .then({ type: 'PipelineUpdated', data: { policy: { allow_skip: true, allow_backward: true }, updated_at: NOW } });
  });

  it('an undefined flag keeps its value too', () => {
    given('enterprise', pipelineCreated())
      .when({ type: 'UpdatePipeline', policy: { allow_skip: undefined, allow_backward: false } })
      .then({ type: 'PipelineUpdated', data: { policy: { allow_skip: false, allow_backward: false }, updated_at: NOW } });
  });

  it('updates the default pipeline, which has no events yet', () => {
    given(DEFAULT_PIPELINE_ID)
      .when({ type: 'UpdatePipeline', name: 'Sales', policy: { allow_backward: false } })
      .then({ type: 'PipelineUpdated', data: { name: 'Sales', policy: { allow_skip: false, allow_backward: false }, updated_at: NOW } });
  });

  it('refuses an empty name', () => {
    given('enterprise', pipelineCreated()).when({ type: 'UpdatePipeline', name: ' ' }).thenThrows(VALIDATION, ['name']);
  });

  it('records nothing when nothing would change: the same name, the same flags, or nothing given', () => {
    const pipeline = given('enterprise', pipelineCreated());
    pipeline.when({ type: 'UpdatePipeline', name: ' Enterprise ' }).then();
    pipeline.when({ type: 'UpdatePipeline', policy: { allow_skip: false, allow_backward: true } }).then();
    pipeline.when({ type: 'UpdatePipeline' }).then();
  });

  it('carries only what changes: a new name with the flags as they are is a rename', () => {
    given('enterprise', pipelineCreated())
      .when({ type: 'UpdatePipeline', name: 'Big deals', policy: { allow_skip: false } })
      .then({ type: 'PipelineUpdated', data: { name: 'Big deals', updated_at: NOW } });
  });
});

describe('decidePipeline: AddStage', () => {
  it('adds an active stage (key from its name, probability 50 by default)', () => {
    given('enterprise', pipelineCreated())
      .when({ type: 'AddStage', stage: { name: 'Security Review', display_order: 5, rotting_days: 30 } })
      .then({
        type: 'StageAdded',
        data: {
          stage: { key: 'security_review', name: 'Security Review', display_order: 5, probability: 50, kind: 'active', rotting_days: 30 },
          added_at: NOW,
        },
      });
  });

  it('adds an on-hold stage to a pipeline without one', () => {
    given('enterprise', pipelineCreated())
      .when({ type: 'AddStage', stage: { key: 'parked', name: 'Parked', display_order: 5, is_on_hold: true } })
      .then({
        type: 'StageAdded',
        data: { stage: { key: 'parked', name: 'Parked', display_order: 5, probability: 0, kind: 'on_hold' }, added_at: NOW },
      });
  });

  it.each<[string, StageInput, string]>([
    [
      'a second won stage',
      { key: 'won_too', name: 'Won too', display_order: 5, is_won: true },
      'a pipeline needs exactly one stage with is_won',
    ],
    [
      'a second lost stage',
      { key: 'lost_too', name: 'Lost too', display_order: 5, is_lost: true },
      'a pipeline needs exactly one stage with is_lost',
    ],
    ['an existing key', { key: 'demo', name: 'Demo 2', display_order: 5 }, 'stage keys must be unique'],
    ['a name whose key exists', { name: 'Demo', display_order: 5 }, 'stage keys must be unique'],
    ['a display_order in use', { name: 'Trial', display_order: 2 }, 'display_order values must be unique'],
  ])('refuses %s (field "stage")', (_, stage, message) => {
    const error = given('enterprise', pipelineCreated()).when({ type: 'AddStage', stage }).thenThrows(VALIDATION, ['stage']);
    expect(messagesOf(error, 'stage')).toEqual([message]);
  });

  it('refuses a second on-hold stage on the default pipeline', () => {
    given(DEFAULT_PIPELINE_ID)
      .when({ type: 'AddStage', stage: { key: 'parked', name: 'Parked', display_order: 10, is_on_hold: true } })
      .thenThrows(VALIDATION, ['stage']);
  });

  it('names the fields of the stage itself "stage.<field>"', () => {
    given('enterprise', pipelineCreated())
      .when({ type: 'AddStage', stage: { key: 'Trial', name: 'Trial', display_order: 0, probability: 101 } })
      .thenThrows(VALIDATION, ['stage.key', 'stage.display_order', 'stage.probability']);
  });
});

describe('decidePipeline: UpdateStage', () => {
  it('changes the fields given and carries the stage as it becomes (not its kind or key)', () => {
    given('enterprise', pipelineCreated())
      .when({ type: 'UpdateStage', key: 'demo', changes: { name: 'Live demo', probability: 65, rotting_days: 10 } })
      .then({
        type: 'StageUpdated',
        data: { key: 'demo', changes: { name: 'Live demo', display_order: 2, probability: 65, rotting_days: 10 }, updated_at: NOW },
      });
  });

  it('can move a stage to a free display_order', () => {
    given(DEFAULT_PIPELINE_ID)
      .when({ type: 'UpdateStage', key: 'on_hold', changes: { display_order: 20 } })
      .then({
        type: 'StageUpdated',
        data: { key: 'on_hold', changes: { name: 'On Hold', display_order: 20, probability: 0 }, updated_at: NOW },
      });
  });

  it('an unknown key is not_found (404)', () => {
    const error = given('enterprise', pipelineCreated())
      .when({ type: 'UpdateStage', key: 'nope', changes: { name: 'X' } })
      .thenThrows(ErrorCode.NotFound);
    expect(error.message).toBe('Stage not found');
  });

  it('a won stage keeps probability 100', () => {
    given('enterprise', pipelineCreated())
      .when({ type: 'UpdateStage', key: 'closed_won', changes: { probability: 90 } })
      .thenThrows(VALIDATION, ['stage.probability']);
  });

  it('a lost stage keeps probability 0', () => {
    given('enterprise', pipelineCreated())
      .when({ type: 'UpdateStage', key: 'closed_lost', changes: { probability: 5 } })
      .thenThrows(VALIDATION, ['stage.probability']);
  });

  it('refuses a display_order another stage has', () => {
    const error = given('enterprise', pipelineCreated())
      .when({ type: 'UpdateStage', key: 'demo', changes: { display_order: 1 } })
      .thenThrows(VALIDATION, ['stage']);
    expect(messagesOf(error, 'stage')).toEqual(['display_order values must be unique']);
  });

  it('rotting_days null clears the rule: said in the event, and gone from the stage once evolved', () => {
    const withRule: Pipeline = { ...ENTERPRISE, stages: ENTERPRISE.stages.map((s) => (s.key === 'demo' ? { ...s, rotting_days: 14 } : s)) };
    const before = given('enterprise', pipelineCreated(withRule));
    const decided: PipelineEvent = {
      type: 'StageUpdated',
      data: { key: 'demo', changes: { name: 'Demo', display_order: 2, probability: 50, rotting_days: null }, updated_at: NOW },
    };
    before.when({ type: 'UpdateStage', key: 'demo', changes: { rotting_days: null } }).then(decided);
    const demo = evolvePipeline(before.state, decided).pipeline!.stages.find((s) => s.key === 'demo')!;
    expect(demo).toEqual({ key: 'demo', name: 'Demo', display_order: 2, probability: 50, kind: 'active' });
  });

  it('a rule not mentioned is kept, in the event (as today) and once evolved', () => {
    const withRule: Pipeline = { ...ENTERPRISE, stages: ENTERPRISE.stages.map((s) => (s.key === 'demo' ? { ...s, rotting_days: 14 } : s)) };
    const before = given('enterprise', pipelineCreated(withRule));
    const decided = decidePipeline({ type: 'UpdateStage', key: 'demo', changes: { name: 'Live demo' } }, before.state, NOW);
    expect(decided).toEqual([
      {
        type: 'StageUpdated',
        data: { key: 'demo', changes: { name: 'Live demo', display_order: 2, probability: 50, rotting_days: 14 }, updated_at: NOW },
      },
    ]);
    expect(decided.reduce(evolvePipeline, before.state).pipeline!.stages.find((s) => s.key === 'demo')!.rotting_days).toBe(14);
  });

  it('an event recorded before rules could be cleared (no rotting_days in its changes) keeps the rule', () => {
    const withRule: Pipeline = { ...ENTERPRISE, stages: ENTERPRISE.stages.map((s) => (s.key === 'demo' ? { ...s, rotting_days: 14 } : s)) };
    const state = given('enterprise', pipelineCreated(withRule), {
      type: 'StageUpdated',
      data: { key: 'demo', changes: { name: 'Demo 2', display_order: 2, probability: 50 }, updated_at: NOW },
    }).state;
    expect(state.pipeline!.stages.find((s) => s.key === 'demo')).toMatchObject({ name: 'Demo 2', rotting_days: 14 });
  });

  it('refuses an empty name, a bad probability and rotting_days below 1', () => {
    given('enterprise', pipelineCreated())
      .when({ type: 'UpdateStage', key: 'demo', changes: { name: ' ', probability: 150, rotting_days: 0 } })
      .thenThrows(VALIDATION, ['stage.name', 'stage.probability', 'stage.rotting_days']);
  });
});

describe('decidePipeline: RemoveStage', () => {
  it('removes an active stage', () => {
    given('enterprise', pipelineCreated())
      .when({ type: 'RemoveStage', key: 'demo' })
      .then({ type: 'StageRemoved', data: { key: 'demo', removed_at: NOW } });
  });

  it('removes the on-hold stage (a pipeline needs none)', () => {
    given(DEFAULT_PIPELINE_ID)
      .when({ type: 'RemoveStage', key: 'on_hold' })
      .then({ type: 'StageRemoved', data: { key: 'on_hold', removed_at: NOW } });
  });

  it.each([
    ['closed_won', 'a pipeline needs exactly one stage with is_won'],
    ['closed_lost', 'a pipeline needs exactly one stage with is_lost'],
  ])('refuses to remove the %s stage', (key, message) => {
    const error = given('enterprise', pipelineCreated()).when({ type: 'RemoveStage', key }).thenThrows(VALIDATION, ['stage']);
    expect(messagesOf(error, 'stage')).toEqual([message]);
  });

  it('refuses to remove the default won stage', () => {
    given(DEFAULT_PIPELINE_ID).when({ type: 'RemoveStage', key: 'won' }).thenThrows(VALIDATION, ['stage']);
  });

  it('refuses to remove the last active stage', () => {
    const state = given('enterprise', pipelineCreated(), { type: 'StageRemoved', data: { key: 'demo', removed_at: EARLIER } });
    const error = state.when({ type: 'RemoveStage', key: 'discovery' }).thenThrows(VALIDATION, ['stage']);
    expect(messagesOf(error, 'stage')).toEqual(['a pipeline needs at least one active stage']);
  });

  it('an unknown key is not_found (404)', () => {
    const error = given('enterprise', pipelineCreated()).when({ type: 'RemoveStage', key: 'nope' }).thenThrows(ErrorCode.NotFound);
    expect(error.message).toBe('Stage not found');
  });

  it('a removed stage is unknown afterwards', () => {
    given('enterprise', pipelineCreated(), { type: 'StageRemoved', data: { key: 'demo', removed_at: EARLIER } })
      .when({ type: 'RemoveStage', key: 'demo' })
      .thenThrows(ErrorCode.NotFound);
  });
});

describe('decidePipeline: SetLossReasons', () => {
  it('sets the loss reasons', () => {
    given('enterprise', pipelineCreated())
      .when({ type: 'SetLossReasons', loss_reasons: ['price', 'no_budget_2026'] })
      .then({ type: 'LossReasonsSet', data: { loss_reasons: ['price', 'no_budget_2026'], set_at: NOW } });
  });

  it.each<[string, string[], string]>([
    ['an empty list', [], 'at least one loss reason is needed'],
    ['a code starting with a digit', ['2expensive'], 'loss reason codes are lower-case letters, digits and _'],
    ['an empty code', [''], 'loss reason codes are lower-case letters, digits and _'],
    ['duplicates', ['price', 'timing', 'price'], 'loss reason codes must be unique'],
  ])('refuses %s (field "loss_reasons")', (_, loss_reasons, message) => {
    const error = given('enterprise', pipelineCreated())
      .when({ type: 'SetLossReasons', loss_reasons })
      .thenThrows(VALIDATION, ['loss_reasons']);
    expect(messagesOf(error, 'loss_reasons')).toEqual([message]);
  });
});

describe('decidePipeline: DeletePipeline', () => {
  it('deletes a pipeline', () => {
    given('enterprise', pipelineCreated())
      .when({ type: 'DeletePipeline' })
      .then({ type: 'PipelineDeleted', data: { deleted_at: NOW } });
  });

  it('the default pipeline is protected: default_pipeline_protected', () => {
    const error = given(DEFAULT_PIPELINE_ID).when({ type: 'DeletePipeline' }).thenThrows(ErrorCode.DefaultPipelineProtected);
    expect(error.code).toBe('default_pipeline_protected');
  });

  it('the default pipeline stays protected after changes', () => {
    given(DEFAULT_PIPELINE_ID, { type: 'PipelineUpdated', data: { name: 'Renamed', updated_at: EARLIER } })
      .when({ type: 'DeletePipeline' })
      .thenThrows(ErrorCode.DefaultPipelineProtected);
  });
});

describe('decidePipeline: commands on a pipeline that does not exist', () => {
  const COMMANDS: PipelineCommand[] = [
    { type: 'UpdatePipeline', name: 'X' },
    { type: 'AddStage', stage: { name: 'Trial', display_order: 5 } },
    { type: 'UpdateStage', key: 'demo', changes: { name: 'X' } },
    { type: 'RemoveStage', key: 'demo' },
    { type: 'SetLossReasons', loss_reasons: ['price'] },
    { type: 'DeletePipeline' },
  ];

  it.each(COMMANDS.map((c) => [c.type, c] as const))('%s on an unknown pipeline is not_found', (_, command) => {
    const error = given('enterprise').when(command).thenThrows(ErrorCode.NotFound);
    expect(error.message).toBe('Pipeline not found');
  });

  it.each(COMMANDS.map((c) => [c.type, c] as const))('%s on a deleted pipeline is not_found', (_, command) => {
    const error = given('enterprise', pipelineCreated(), deleted()).when(command).thenThrows(ErrorCode.NotFound);
    expect(error.message).toBe('Pipeline not found');
  });
});

describe('evolvePipeline', () => {
  const fold = (pipelineId: string, ...events: PipelineEvent[]): PipelineState => given(pipelineId, ...events).state;

  it('counts every event in the version', () => {
    expect(fold('enterprise').version).toBe(0);
    expect(fold('enterprise', pipelineCreated(), deleted()).version).toBe(2);
  });

  it('PipelineCreated: the pipeline exists as created', () => {
    expect(fold('enterprise', pipelineCreated())).toEqual({ version: 1, exists: true, deleted: false, pipeline: ENTERPRISE });
  });

  it('PipelineUpdated: the name and policy given replace the old ones', () => {
    const policy = { allow_skip: true, allow_backward: false };
    const state = fold(
      'enterprise',
      pipelineCreated(),
      { type: 'PipelineUpdated', data: { name: 'Renamed', updated_at: EARLIER } },
      { type: 'PipelineUpdated', data: { policy, updated_at: EARLIER } },
    );
    expect(state.pipeline).toEqual({ ...ENTERPRISE, name: 'Renamed', policy });
  });

  it('StageAdded, StageUpdated, StageRemoved change the stage list', () => {
    const trial = { key: 'trial', name: 'Trial', display_order: 5, probability: 70, kind: 'active' as const };
    const state = fold(
      'enterprise',
      pipelineCreated(),
      { type: 'StageAdded', data: { stage: trial, added_at: EARLIER } },
      { type: 'StageUpdated', data: { key: 'discovery', changes: { name: 'First call', probability: 15 }, updated_at: EARLIER } },
      { type: 'StageRemoved', data: { key: 'demo', removed_at: EARLIER } },
    );
    expect(state.pipeline?.stages).toEqual([
      { ...ENTERPRISE.stages[0], name: 'First call', probability: 15 },
      ENTERPRISE.stages[2],
      ENTERPRISE.stages[3],
      trial,
    ]);
  });

  it('LossReasonsSet replaces the loss reasons', () => {
    const state = fold('enterprise', pipelineCreated(), { type: 'LossReasonsSet', data: { loss_reasons: ['timing'], set_at: EARLIER } });
    expect(state.pipeline?.loss_reasons).toEqual(['timing']);
  });

  it('PipelineDeleted marks it deleted (keeping its definition); PipelineCreated brings it back', () => {
    const gone = fold('enterprise', pipelineCreated(), deleted());
    expect(gone).toEqual({ version: 2, exists: true, deleted: true, pipeline: ENTERPRISE });
    const again = evolvePipeline(gone, pipelineCreated({ ...ENTERPRISE, name: 'Back' }));
    expect(again).toEqual({ version: 3, exists: true, deleted: false, pipeline: { ...ENTERPRISE, name: 'Back' } });
  });

  it('the default pipeline evolves from its built-in definition', () => {
    const state = fold(DEFAULT_PIPELINE_ID, { type: 'StageRemoved', data: { key: 'on_hold', removed_at: EARLIER } });
    expect(state.version).toBe(1);
    expect(state.pipeline?.stages.map((s) => s.key)).not.toContain('on_hold');
    expect(DEFAULT_PIPELINE.stages.map((s) => s.key)).toContain('on_hold'); // not mutated
  });

  it('what decide emits, evolve applies: a created pipeline with an added stage', () => {
    let state = initialPipelineState('enterprise');
    for (const command of [
      create(),
      { type: 'AddStage', stage: { name: 'Trial', display_order: 5 } },
      { type: 'UpdateStage', key: 'trial', changes: { probability: 70 } },
    ] as PipelineCommand[]) {
      state = decidePipeline(command, state, NOW).reduce(evolvePipeline, state);
    }
    expect(state.version).toBe(3);
    expect(state.pipeline?.stages.at(-1)).toEqual({ key: 'trial', name: 'Trial', display_order: 5, probability: 70, kind: 'active' });
  });
});
