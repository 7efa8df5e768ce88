import {
  DEFAULT_PIPELINE,
  type DomainError,
  ErrorCode,
  type CustomFieldsState,
  type OpportunityCommand,
  type OpportunityEvent,
  type Pipeline,
  type StakeholderRole,
} from '@app/domain';
import { atStage, created, day, given, NOW, onHoldFrom, stageChanged } from '../testing/given-when-then';
import { fold } from './state';

/*
 * The default pipeline's probabilities: prospecting 10, qualification 25, needs_analysis 40, proposal 60, negotiation 75,
 * verbal_commitment 90, won 100, lost 0, on_hold 0. Default ctx: now 2026-01-15T10:00:00Z, actor user-1.
 * The builders create deals owned by user-7, valued 150,000.00 (15_000_000 minor units).
 */

const TODAY = '2026-01-15';
const VALIDATION = ErrorCode.ValidationFailed;
const INVALID = ErrorCode.InvalidStageTransition;

/** The field names of a validation error, sorted. */
function fieldsOf(error: DomainError): string[] {
  return Object.keys((error.details as { errors: Record<string, string[]> }).errors).sort();
}

const sorted = (xs: unknown) => [...(xs as string[])].sort();

/** One instance of every command type that acts on an existing deal. */
const COMMANDS_ON_EXISTING: OpportunityCommand[] = [
  { type: 'UpdateOpportunity', changes: { name: 'Renamed' } },
  { type: 'UpdateOpportunity', changes: {}, probability: 50 },
  { type: 'ChangeStage', stage: 'qualification' },
  { type: 'ChangeStage', stage: 'won' },
  { type: 'ChangeStage', stage: 'lost', loss_reason: 'price' },
  { type: 'ChangeStage', stage: 'on_hold' },
  { type: 'AdvanceStage' },
  { type: 'MoveToPreviousStage', reason: 'customer asked for more discovery' },
  { type: 'PutOnHold', reason: 'budget freeze' },
  { type: 'Resume' },
  { type: 'Win', actual_value_minor: 100, close_date: '2026-01-10' },
  { type: 'Lose', loss_reason: 'price' },
  { type: 'Assign', user_id: 'user-9' },
  { type: 'Delete', reason: 'duplicate' },
];
const EACH_COMMAND = COMMANDS_ON_EXISTING.map((c) => [`${c.type} ${JSON.stringify(c)}`, c] as const);

const baseInput = {
  name: 'Acme Corp - Enterprise Platform Implementation',
  customer_id: 'cust-568',
  value_minor: 15_000_000,
  expected_close_date: '2026-03-31',
  assigned_user_id: 'user-7',
};
const create = (input: Record<string, unknown> = {}): OpportunityCommand => ({
  type: 'CreateOpportunity',
  opportunity_id: 'opp-1',
  input: { ...baseInput, ...input } as never,
});
/** The OpportunityCreated event the decider should produce at NOW for `baseInput` + overrides. */
const createdNow = (overrides: Parameters<typeof created>[0] = {}) => created({ created_at: NOW, ...overrides });

describe('decide: CreateOpportunity', () => {
  it('defaults to the first stage (prospecting, 10%) without an override', () => {
    given()
      .when(create())
      .then(createdNow({ stage: 'prospecting', probability: 10, probability_override: null }));
  });

  it('takes the stage default probability for an explicit stage (qualification 25%)', () => {
    given()
      .when(create({ stage: 'qualification' }))
      .then(createdNow({ stage: 'qualification', probability: 25 }));
  });

  it.each([
    ['prospecting', 10],
    ['needs_analysis', 40],
    ['proposal', 60],
    ['negotiation', 75],
    ['verbal_commitment', 90],
  ])('can start in active stage %s with %i%%', (stage, probability) => {
    given().when(create({ stage })).then(createdNow({ stage, probability }));
  });

  it('records an explicit probability as an override (effective probability = override)', () => {
    given()
      .when(create({ stage: 'qualification', probability: 35 }))
      .then(createdNow({ stage: 'qualification', probability: 35, probability_override: 35 }));
  });

  it('keeps an explicit probability equal to the stage default as an override', () => {
    given()
      .when(create({ stage: 'qualification', probability: 25 }))
      .then(createdNow({ stage: 'qualification', probability: 25, probability_override: 25 }));
  });

  it('accepts probability 0 and 100 as overrides', () => {
    given()
      .when(create({ probability: 0 }))
      .then(createdNow({ probability: 0, probability_override: 0 }));
    given()
      .when(create({ probability: 100 }))
      .then(createdNow({ probability: 100, probability_override: 100 }));
  });

  it('carries the documented create body (BANT flags, tags, custom fields, details)', () => {
    const input = {
      description: 'Full platform deployment for 500 users across 5 departments.',
      lead_id: '1234',
      expected_revenue_minor: 15_000_000,
      currency: 'USD',
      source: 'lead_conversion',
      priority: 'high',
      campaign_id: '456',
      territory: 'North America - Enterprise',
      competitor: 'Competitor X',
      decision_maker: 'Jane Smith, CTO',
      budget_confirmed: true,
      authority_confirmed: true,
      need_confirmed: true,
      timeline_confirmed: false,
      next_step: 'Schedule technical discovery call with IT team',
      discovery_notes: 'Initial call with CTO.',
      tags: ['enterprise', 'integration', 'professional-services'],
      custom_fields: { implementation_complexity: 'high', user_count: 500, departments: 5 },
    };
    given()
      .when(create({ ...input, stage: 'qualification', probability: 25 }))
      .then(createdNow({ ...(input as object), stage: 'qualification', probability: 25, probability_override: 25 }));
  });

  it('trims the name and de-duplicates / trims tags', () => {
    given()
      .when(create({ name: '  Acme deal  ', tags: ['a', ' a ', 'b'] }))
      .then(createdNow({ name: 'Acme deal', tags: ['a', 'b'] }));
  });

  it.each([[['a', '']], [['  ']]])('rejects an empty tag: %j', (tags) => {
    const error = given().when(create({ tags })).thenThrows(VALIDATION);
    expect(fieldsOf(error)).toEqual(['tags']);
  });

  it('assigns the deal to the creating user when no owner is given', () => {
    given()
      .when(create({ assigned_user_id: undefined }))
      .then(createdNow({ assigned_user_id: 'user-1' }));
  });

  it('uses the pipeline of the context and the command id', () => {
    const pipeline: Pipeline = { ...DEFAULT_PIPELINE, id: 'enterprise' };
    given()
      .when({ type: 'CreateOpportunity', opportunity_id: 'opp-42', input: baseInput }, { pipeline })
      .then(createdNow({ opportunity_id: 'opp-42', pipeline_id: 'enterprise' }));
  });

  it('accepts a prospect (prospect_name) without customer_id', () => {
    given()
      .when(create({ customer_id: undefined, prospect_name: 'Jane Doe', prospect_email: 'jane@example.com' }))
      .then(createdNow({ customer_id: null, prospect_name: 'Jane Doe', prospect_email: 'jane@example.com' }));
  });

  it('does not require expected_close_date for a prospect without a customer record', () => {
    given()
      .when(create({ customer_id: undefined, prospect_name: 'Jane Doe', expected_close_date: undefined }))
      .then(createdNow({ customer_id: null, prospect_name: 'Jane Doe', expected_close_date: null }));
  });

  it.each(['closing', 'PROSPECTING', ''])('rejects an unknown stage %j', (stage) => {
    const error = given()
      .when(create({ stage }))
      .thenThrows(VALIDATION, { errors: { stage: [expect.any(String)] } });
    expect(fieldsOf(error)).toEqual(['stage']);
  });

  it.each(['won', 'lost', 'on_hold'])('rejects creating a deal in the non-active stage %s', (stage) => {
    const error = given().when(create({ stage })).thenThrows(VALIDATION);
    expect(fieldsOf(error)).toEqual(['stage']);
  });

  it.each([[''], ['   '], [undefined]])('rejects a missing name %j', (name) => {
    const error = given().when(create({ name })).thenThrows(VALIDATION);
    expect(fieldsOf(error)).toEqual(['name']);
  });

  it('rejects a deal without customer_id and without prospect_name', () => {
    const error = given()
      .when(create({ customer_id: undefined }))
      .thenThrows(VALIDATION);
    expect(fieldsOf(error)).toEqual(['customer_id']);
    expect(
      fieldsOf(
        given()
          .when(create({ customer_id: '' }))
          .thenThrows(VALIDATION),
      ),
    ).toEqual(['customer_id']);
  });

  it('rejects a missing expected_close_date for a customer deal', () => {
    const error = given()
      .when(create({ expected_close_date: undefined }))
      .thenThrows(VALIDATION);
    expect(fieldsOf(error)).toEqual(['expected_close_date']);
  });

  it.each([[-1], [-15_000_000], [1.5], [Number.NaN]])('rejects value_minor %p', (value_minor) => {
    const error = given().when(create({ value_minor })).thenThrows(VALIDATION);
    expect(fieldsOf(error)).toEqual(['value']);
  });

  it('accepts a zero value', () => {
    given()
      .when(create({ value_minor: 0 }))
      .then(createdNow({ value_minor: 0 }));
  });

  it('rejects a negative expected_revenue', () => {
    const error = given()
      .when(create({ expected_revenue_minor: -100 }))
      .thenThrows(VALIDATION);
    expect(fieldsOf(error)).toEqual(['expected_revenue']);
  });

  it.each([
    ['expected_close_date', '2026-02-30'],
    ['expected_close_date', '2026-3-31'],
    ['expected_close_date', '31/03/2026'],
    ['expected_close_date', '2026-03-31T00:00:00Z'],
    ['demo_date', '2025-13-01'],
    ['proposal_date', 'tomorrow'],
    // PostgreSQL has no year 0, Date.UTC reads years 0–99 as 19xx, and 'YYYY' ends at 9999
    ['expected_close_date', '0000-01-01'],
    ['expected_close_date', '0099-12-31'],
    ['expected_close_date', '1899-12-31'],
    ['follow_up_date', '0000-01-01'],
    ['demo_date', '10000-01-01'],
  ])('rejects %s = %j', (field, value) => {
    const error = given()
      .when(create({ [field]: value }))
      .thenThrows(VALIDATION);
    expect(fieldsOf(error)).toEqual([field]);
  });

  it.each(['1900-01-01', '9999-12-31'])('accepts the bounds: expected_close_date = %s', (date) => {
    given()
      .when(create({ expected_close_date: date }))
      .then(createdNow({ expected_close_date: date }));
  });

  it('accepts 29 February in a leap year', () => {
    given()
      .when(create({ expected_close_date: '2028-02-29' }))
      .then(createdNow({ expected_close_date: '2028-02-29' }));
  });

  it.each(['usd', 'US', 'USDX', '840', ''])('rejects currency %j', (currency) => {
    const error = given().when(create({ currency })).thenThrows(VALIDATION);
    expect(fieldsOf(error)).toEqual(['currency']);
  });

  it('accepts another ISO currency', () => {
    given()
      .when(create({ currency: 'EUR' }))
      .then(createdNow({ currency: 'EUR' }));
  });

  it.each([[-1], [101], [12.5]])('rejects probability %p', (probability) => {
    const error = given().when(create({ probability })).thenThrows(VALIDATION);
    expect(fieldsOf(error)).toEqual(['probability']);
  });

  it('reports every invalid field at once', () => {
    const error = given()
      .when(create({ name: '', customer_id: undefined, stage: 'won', value_minor: -1, currency: 'x', expected_close_date: 'soon' }))
      .thenThrows(VALIDATION);
    expect(fieldsOf(error)).toEqual(['currency', 'customer_id', 'expected_close_date', 'name', 'stage', 'value']);
  });

  it('rejects creating an opportunity that already exists', () => {
    given(created()).when(create()).thenThrows(ErrorCode.AlreadyExists);
  });

  it('rejects re-creating a deleted opportunity id', () => {
    given(created(), { type: 'OpportunityDeleted', data: { deleted_at: day(2), reason: null } })
      .when(create())
      .thenThrows(ErrorCode.AlreadyExists);
  });
});

describe('decide: UpdateOpportunity', () => {
  const updated = (data: Partial<Extract<OpportunityEvent, { type: 'OpportunityUpdated' }>['data']>): OpportunityEvent => ({
    type: 'OpportunityUpdated',
    data: { changes: {}, updated_at: NOW, ...data },
  });

  it('emits only the fields that really change', () => {
    given(created())
      .when({
        type: 'UpdateOpportunity',
        changes: {
          name: 'Acme Corp - Enterprise Platform Implementation',
          value_minor: 17_500_000,
          expected_close_date: '2026-03-25',
          currency: 'USD',
          timeline_confirmed: true,
          budget_confirmed: false,
          next_step: 'Schedule contract review with legal team',
          description: undefined,
        },
      })
      .then(
        updated({
          changes: {
            value_minor: 17_500_000,
            expected_close_date: '2026-03-25',
            timeline_confirmed: true,
            next_step: 'Schedule contract review with legal team',
          },
        }),
      );
  });

  it('emits nothing when nothing changes', () => {
    given(created())
      .when({ type: 'UpdateOpportunity', changes: { value_minor: 15_000_000, customer_id: 'cust-568', tags: [] } })
      .thenNothing();
    given(created()).when({ type: 'UpdateOpportunity', changes: {} }).thenNothing();
    given(created()).when({ type: 'UpdateOpportunity', changes: {}, notes: null }).thenNothing();
  });

  it('trims a changed name', () => {
    given(created())
      .when({ type: 'UpdateOpportunity', changes: { name: '  New name ' } })
      .then(updated({ changes: { name: 'New name' } }));
  });

  it('records notes, alone or with changes', () => {
    given(created())
      .when({ type: 'UpdateOpportunity', changes: {}, notes: 'Called CTO' })
      .then(updated({ notes: 'Called CTO' }));
    given(created())
      .when({ type: 'UpdateOpportunity', changes: { priority: 'high' }, notes: 'Escalated' })
      .then(updated({ changes: { priority: 'high' }, notes: 'Escalated' }));
  });

  it('sets a probability override with the effective probability (65 at proposal)', () => {
    given(...atStage('proposal'))
      .when({ type: 'UpdateOpportunity', changes: { value_minor: 17_500_000 }, probability: 65 })
      .then(updated({ changes: { value_minor: 17_500_000 }, probability_override: 65, probability: 65 }));
  });

  it('an explicit probability equal to the stage default becomes an override', () => {
    given(...atStage('proposal'))
      .when({ type: 'UpdateOpportunity', changes: {}, probability: 60 })
      .then(updated({ probability_override: 60, probability: 60 }));
  });

  it('changes an existing override', () => {
    given(...atStage('proposal'), updated({ probability_override: 65, probability: 65 }))
      .when({ type: 'UpdateOpportunity', changes: {}, probability: 50 })
      .then(updated({ probability_override: 50, probability: 50 }));
  });

  it('emits nothing when the override is set to its current value', () => {
    given(...atStage('proposal'), updated({ probability_override: 65, probability: 65 }))
      .when({ type: 'UpdateOpportunity', changes: {}, probability: 65 })
      .thenNothing();
  });

  it('clears the override (null) back to the stage default probability', () => {
    given(...atStage('proposal'), updated({ probability_override: 65, probability: 65 }))
      .when({ type: 'UpdateOpportunity', changes: {}, probability: null })
      .then(updated({ probability_override: null, probability: 60 }));
  });

  it('clearing an override created with the deal returns to that stage default', () => {
    given(created({ stage: 'qualification', probability: 35, probability_override: 35 }))
      .when({ type: 'UpdateOpportunity', changes: {}, probability: null })
      .then(updated({ probability_override: null, probability: 25 }));
  });

  it('emits nothing when clearing an override that is not set', () => {
    given(...atStage('proposal'))
      .when({ type: 'UpdateOpportunity', changes: {}, probability: null })
      .thenNothing();
  });

  it('leaves the override alone when probability is undefined', () => {
    given(...atStage('proposal'), updated({ probability_override: 65, probability: 65 }))
      .when({ type: 'UpdateOpportunity', changes: { next_step: 'x' } })
      .then(updated({ changes: { next_step: 'x' } }));
  });

  it.each([[-1], [101], [33.3]])('rejects probability %p', (probability) => {
    const error = given(created()).when({ type: 'UpdateOpportunity', changes: {}, probability }).thenThrows(VALIDATION);
    expect(fieldsOf(error)).toEqual(['probability']);
  });

  it('merges custom_fields key by key and removes keys set to null', () => {
    given(created({ custom_fields: { implementation_complexity: 'high', user_count: 500, departments: 5 } }))
      .when({ type: 'UpdateOpportunity', changes: { custom_fields: { services_hours: 200, migration_required: true, user_count: null } } })
      .then(
        updated({
          changes: { custom_fields: { implementation_complexity: 'high', departments: 5, services_hours: 200, migration_required: true } },
        }),
      );
  });

  it('emits nothing when the custom_fields patch changes nothing', () => {
    given(created({ custom_fields: { user_count: 500 } }))
      .when({ type: 'UpdateOpportunity', changes: { custom_fields: { user_count: 500, not_there: null } } })
      .thenNothing();
  });

  it('de-duplicates and trims tags', () => {
    given(created({ tags: ['enterprise'] }))
      .when({ type: 'UpdateOpportunity', changes: { tags: ['enterprise', ' integration ', 'enterprise', 'integration'] } })
      .then(updated({ changes: { tags: ['enterprise', 'integration'] } }));
  });

  it('emits nothing when the de-duplicated tags equal the current tags', () => {
    given(created({ tags: ['enterprise', 'integration'] }))
      .when({ type: 'UpdateOpportunity', changes: { tags: ['enterprise', 'enterprise', 'integration'] } })
      .thenNothing();
  });

  it('assigns through update (previous owner recorded)', () => {
    const assigned: OpportunityEvent = {
      type: 'OpportunityAssigned',
      data: { user_id: 'user-9', previous_owner_id: 'user-7', reason: null, notify: false, assigned_at: NOW },
    };
    given(created()).when({ type: 'UpdateOpportunity', changes: {}, assigned_user_id: 'user-9' }).then(assigned);
    given(created())
      .when({ type: 'UpdateOpportunity', changes: { priority: 'low' }, assigned_user_id: 'user-9' })
      .then(updated({ changes: { priority: 'low' } }), assigned);
  });

  it('emits nothing when update assigns the current owner', () => {
    given(created()).when({ type: 'UpdateOpportunity', changes: {}, assigned_user_id: 'user-7' }).thenNothing();
  });

  it('rejects an empty assigned_user_id', () => {
    given(created())
      .when({ type: 'UpdateOpportunity', changes: {}, assigned_user_id: ' ' })
      .thenThrows(VALIDATION, { errors: { user_id: [expect.any(String)] } });
  });

  it.each([[''], ['   '], [null]])('rejects an empty name %j', (name) => {
    const error = given(created())
      .when({ type: 'UpdateOpportunity', changes: { name: name as string } })
      .thenThrows(VALIDATION);
    expect(fieldsOf(error)).toEqual(['name']);
  });

  it('rejects removing customer_id from a deal without prospect details', () => {
    const error = given(created())
      .when({ type: 'UpdateOpportunity', changes: { customer_id: null } })
      .thenThrows(VALIDATION);
    expect(fieldsOf(error)).toEqual(['customer_id']);
  });

  it('allows removing customer_id when prospect_name is given or already known', () => {
    given(created())
      .when({ type: 'UpdateOpportunity', changes: { customer_id: null, prospect_name: 'Jane Doe' } })
      .then(updated({ changes: { customer_id: null, prospect_name: 'Jane Doe' } }));
    given(created({ prospect_name: 'Jane Doe' }))
      .when({ type: 'UpdateOpportunity', changes: { customer_id: null } })
      .then(updated({ changes: { customer_id: null } }));
  });

  it.each([
    [{ value_minor: -1 }, 'value'],
    [{ expected_revenue_minor: -1 }, 'expected_revenue'],
    [{ expected_close_date: '2026-02-29' }, 'expected_close_date'],
    [{ demo_date: '20-11-2025' }, 'demo_date'],
    [{ proposal_date: '2025-12-32' }, 'proposal_date'],
    [{ currency: 'eur' }, 'currency'],
  ])('rejects invalid details %j', (changes, field) => {
    const error = given(created()).when({ type: 'UpdateOpportunity', changes }).thenThrows(VALIDATION);
    expect(fieldsOf(error)).toEqual([field]);
  });

  it('is allowed while on hold', () => {
    given(...onHoldFrom('proposal'))
      .when({ type: 'UpdateOpportunity', changes: { next_step: 'Re-engage in 30 days' } })
      .then(updated({ changes: { next_step: 'Re-engage in 30 days' } }));
  });

  // Spec: "only real changes are emitted". A name that differs only by surrounding whitespace is
  // trimmed to the current name, so it is no change at all.
  it('emits nothing when the new name equals the current one after trimming', () => {
    given(created({ name: 'Acme deal' }))
      .when({ type: 'UpdateOpportunity', changes: { name: '  Acme deal ' } })
      .thenNothing();
  });

  // Invariant of create: a deal has a customer_id or a prospect_name. Update must not remove both.
  it.each([
    ['customer_id and prospect_name removed together', { prospect_name: 'Jane Doe' }, { customer_id: null, prospect_name: null }],
    ['prospect_name removed from a prospect-only deal', { customer_id: null, prospect_name: 'Jane Doe' }, { prospect_name: null }],
  ])('rejects an update that leaves neither customer_id nor prospect_name: %s', (_label, initial, changes) => {
    given(created(initial)).when({ type: 'UpdateOpportunity', changes }).thenThrows(VALIDATION);
  });
});

describe('decide: ChangeStage', () => {
  const FORWARD: [string, string, number][] = [
    ['prospecting', 'qualification', 25],
    ['qualification', 'needs_analysis', 40],
    ['needs_analysis', 'proposal', 60],
    ['proposal', 'negotiation', 75],
    ['negotiation', 'verbal_commitment', 90],
  ];

  it.each(FORWARD)('moves forward one step %s → %s (%i%%)', (from, to, probability) => {
    given(...atStage(from))
      .when({ type: 'ChangeStage', stage: to, notes: 'Proposal approved.' })
      .then({
        type: 'OpportunityStageChanged',
        data: {
          from_stage: from,
          to_stage: to,
          movement: 'forward',
          probability,
          reason: null,
          notes: 'Proposal approved.',
          changed_at: NOW,
        },
      });
  });

  it('rejects skipping a stage with 422 listing the next stage as allowed', () => {
    const error = given(...atStage('prospecting'))
      .when({ type: 'ChangeStage', stage: 'proposal' })
      .thenThrows(INVALID, { current_stage: 'prospecting', requested_stage: 'proposal', allowed_with_reason: [] });
    expect(error.message).toBe('Invalid stage transition');
    expect(sorted(error.details.allowed_stages)).toEqual(['lost', 'on_hold', 'qualification']);
  });

  it('rejects skipping from needs_analysis to negotiation; lists proposal and the earlier stages with reason', () => {
    const error = given(...atStage('needs_analysis'))
      .when({ type: 'ChangeStage', stage: 'negotiation' })
      .thenThrows(INVALID);
    expect(sorted(error.details.allowed_stages)).toEqual(['lost', 'on_hold', 'proposal']);
    expect(sorted(error.details.allowed_with_reason)).toEqual(['prospecting', 'qualification']);
  });

  it.each([[undefined], [null], [''], ['   ']])('rejects a backward move without a reason (%j)', (reason) => {
    const error = given(...atStage('proposal'))
      .when({ type: 'ChangeStage', stage: 'qualification', reason })
      .thenThrows(INVALID, { current_stage: 'proposal', requested_stage: 'qualification' });
    expect(sorted(error.details.allowed_with_reason)).toEqual(['needs_analysis', 'prospecting', 'qualification']);
  });

  it('moves backward with a reason, recording the (trimmed) reason and notes', () => {
    given(...atStage('proposal'))
      .when({ type: 'ChangeStage', stage: 'qualification', reason: '  Budget owner changed ', notes: 'Re-qualify' })
      .then(
        stageChanged('proposal', 'qualification', 'backward', { probability: 25, reason: 'Budget owner changed', notes: 'Re-qualify' }),
      );
  });

  it('moves backward several stages with a reason', () => {
    given(...atStage('verbal_commitment'))
      .when({ type: 'ChangeStage', stage: 'prospecting', reason: 'Deal restarted' })
      .then(stageChanged('verbal_commitment', 'prospecting', 'backward', { probability: 10, reason: 'Deal restarted' }));
  });

  it('wins from verbal_commitment (defaults: actual value = value, close date = today; notes = close reason)', () => {
    given(...atStage('verbal_commitment'))
      .when({ type: 'ChangeStage', stage: 'won', notes: 'Contract signed' })
      .then({
        type: 'OpportunityWon',
        data: {
          from_stage: 'verbal_commitment',
          to_stage: 'won',
          actual_value_minor: 15_000_000,
          close_date: TODAY,
          close_reason: 'Contract signed',
          won_at: NOW,
        },
      });
  });

  it.each(['prospecting', 'qualification', 'needs_analysis', 'proposal', 'negotiation'])('rejects won from %s', (stage) => {
    const error = given(...atStage(stage))
      .when({ type: 'ChangeStage', stage: 'won' })
      .thenThrows(INVALID, { current_stage: stage, requested_stage: 'won' });
    expect(error.details.allowed_stages).not.toContain('won');
  });

  it.each([[undefined], [null], ['']])('requires loss_reason to move to lost (%j)', (loss_reason) => {
    const error = given(...atStage('proposal'))
      .when({ type: 'ChangeStage', stage: 'lost', loss_reason })
      .thenThrows(VALIDATION);
    expect(fieldsOf(error)).toEqual(['loss_reason']);
  });

  it('moves to lost with a configured loss_reason, notes become loss_notes', () => {
    given(...atStage('proposal'))
      .when({ type: 'ChangeStage', stage: 'lost', loss_reason: 'competitor', notes: 'Lost to Competitor Y' })
      .then({
        type: 'OpportunityLost',
        data: {
          from_stage: 'proposal',
          to_stage: 'lost',
          loss_reason: 'competitor',
          competitor: null,
          loss_notes: 'Lost to Competitor Y',
          lessons_learned: null,
          close_date: TODAY,
          lost_at: NOW,
        },
      });
  });

  it('rejects an unknown loss_reason on a stage change to lost', () => {
    const error = given(...atStage('proposal'))
      .when({ type: 'ChangeStage', stage: 'lost', loss_reason: 'too_expensive' })
      .thenThrows(VALIDATION);
    expect(fieldsOf(error)).toEqual(['loss_reason']);
  });

  it.each(['prospecting', 'negotiation', 'verbal_commitment'])('puts a deal on hold from %s', (stage) => {
    given(...atStage(stage))
      .when({ type: 'ChangeStage', stage: 'on_hold', reason: 'Budget freeze', notes: 'Unable to reach decision maker.' })
      .then(
        stageChanged(stage, 'on_hold', 'on_hold', { probability: 0, reason: 'Budget freeze', notes: 'Unable to reach decision maker.' }),
      );
  });

  it.each([
    ['needs_analysis', 40],
    ['qualification', 25],
    ['prospecting', 10],
  ])('resumes from on_hold to a reached stage %s', (stage, probability) => {
    given(...onHoldFrom('needs_analysis'))
      .when({ type: 'ChangeStage', stage, notes: 'Budget approved' })
      .then(stageChanged('on_hold', stage, 'resumed', { probability, notes: 'Budget approved' }));
  });

  it('resumes to a stage reached before moving back', () => {
    const events = [...atStage('proposal'), stageChanged('proposal', 'qualification', 'backward', { reason: 'x', changed_at: day(10) })];
    given(...events, stageChanged('qualification', 'on_hold', 'on_hold', { changed_at: day(11) }))
      .when({ type: 'ChangeStage', stage: 'proposal' })
      .then(stageChanged('on_hold', 'proposal', 'resumed'));
  });

  it.each(['proposal', 'verbal_commitment'])('rejects resuming from on_hold to never-reached stage %s', (stage) => {
    const error = given(...onHoldFrom('needs_analysis'))
      .when({ type: 'ChangeStage', stage })
      .thenThrows(INVALID, { current_stage: 'on_hold', requested_stage: stage, allowed_with_reason: [] });
    expect(sorted(error.details.allowed_stages)).toEqual(['lost', 'needs_analysis', 'prospecting', 'qualification']);
  });

  it('rejects won from on_hold', () => {
    given(...onHoldFrom('verbal_commitment'))
      .when({ type: 'ChangeStage', stage: 'won' })
      .thenThrows(INVALID, { requested_stage: 'won' });
  });

  it('moves from on_hold to lost', () => {
    given(...onHoldFrom('proposal'))
      .when({ type: 'ChangeStage', stage: 'lost', loss_reason: 'no_decision' })
      .then({
        type: 'OpportunityLost',
        data: {
          from_stage: 'on_hold',
          to_stage: 'lost',
          loss_reason: 'no_decision',
          competitor: null,
          loss_notes: null,
          lessons_learned: null,
          close_date: TODAY,
          lost_at: NOW,
        },
      });
  });

  it.each(['prospecting', 'proposal', 'verbal_commitment'])('rejects changing to the current stage %s', (stage) => {
    given(...atStage(stage))
      .when({ type: 'ChangeStage', stage })
      .thenThrows(INVALID, { current_stage: stage, requested_stage: stage });
  });

  it('rejects on_hold → on_hold', () => {
    given(...onHoldFrom('proposal'))
      .when({ type: 'ChangeStage', stage: 'on_hold' })
      .thenThrows(INVALID, { current_stage: 'on_hold' });
  });

  it.each(['closing', '', 'Won'])('rejects an unknown target stage %j', (stage) => {
    const error = given(...atStage('proposal'))
      .when({ type: 'ChangeStage', stage })
      .thenThrows(VALIDATION);
    expect(fieldsOf(error)).toEqual(['stage']);
  });
});

describe('decide: AdvanceStage', () => {
  it('a new deal starts at prospecting with 10%', () => {
    given()
      .when(create())
      .then(createdNow({ stage: 'prospecting', probability: 10 }));
  });

  it.each([
    ['prospecting', 'qualification', 25],
    ['qualification', 'needs_analysis', 40],
    ['needs_analysis', 'proposal', 60],
    ['proposal', 'negotiation', 75],
    ['negotiation', 'verbal_commitment', 90],
  ])('advances %s → %s (%i%%)', (from, to, probability) => {
    given(...atStage(from))
      .when({ type: 'AdvanceStage', notes: 'Discovery completed.' })
      .then({
        type: 'OpportunityStageChanged',
        data: {
          from_stage: from,
          to_stage: to,
          movement: 'forward',
          probability,
          reason: null,
          notes: 'Discovery completed.',
          changed_at: NOW,
        },
      });
  });

  it('works without notes', () => {
    given(...atStage('prospecting'))
      .when({ type: 'AdvanceStage' })
      .then(stageChanged('prospecting', 'qualification'));
  });

  it('walks the whole pipeline from a new deal', () => {
    const history: OpportunityEvent[] = [created()];
    const seen: [string, number][] = [];
    for (let i = 0; i < 5; i++) {
      const [event] = given(...history)
        .when({ type: 'AdvanceStage' })
        .events();
      const data = (event as Extract<OpportunityEvent, { type: 'OpportunityStageChanged' }>).data;
      seen.push([data.to_stage, data.probability]);
      history.push(event);
    }
    expect(seen).toEqual([
      ['qualification', 25],
      ['needs_analysis', 40],
      ['proposal', 60],
      ['negotiation', 75],
      ['verbal_commitment', 90],
    ]);
    given(...history)
      .when({ type: 'AdvanceStage' })
      .thenThrows(INVALID);
    given(...history)
      .when({ type: 'Win', actual_value_minor: 18_500_000, close_date: '2025-12-28' })
      .then({
        type: 'OpportunityWon',
        data: {
          from_stage: 'verbal_commitment',
          to_stage: 'won',
          actual_value_minor: 18_500_000,
          close_date: '2025-12-28',
          close_reason: null,
          won_at: NOW,
        },
      });
  });

  it('rejects advancing from verbal_commitment (close it with win)', () => {
    const error = given(...atStage('verbal_commitment'))
      .when({ type: 'AdvanceStage' })
      .thenThrows(INVALID, { current_stage: 'verbal_commitment' });
    expect(sorted(error.details.allowed_stages)).toEqual(['lost', 'on_hold', 'won']);
  });

  it('rejects advancing a deal on hold', () => {
    given(...onHoldFrom('proposal'))
      .when({ type: 'AdvanceStage' })
      .thenThrows(INVALID, { current_stage: 'on_hold' });
  });
});

describe('decide: MoveToPreviousStage', () => {
  it.each([[''], ['   '], [undefined]])('requires a reason (%j) → validation_failed', (reason) => {
    const error = given(...atStage('proposal'))
      .when({ type: 'MoveToPreviousStage', reason: reason as string })
      .thenThrows(VALIDATION);
    expect(fieldsOf(error)).toEqual(['reason']);
  });

  it('rejects moving back from prospecting', () => {
    given(...atStage('prospecting'))
      .when({ type: 'MoveToPreviousStage', reason: 'oops' })
      .thenThrows(INVALID, { current_stage: 'prospecting' });
  });

  it('rejects moving back from on_hold', () => {
    given(...onHoldFrom('proposal'))
      .when({ type: 'MoveToPreviousStage', reason: 'oops' })
      .thenThrows(INVALID, { current_stage: 'on_hold' });
  });

  it('moves one stage back recording the reason and notes', () => {
    given(...atStage('proposal'))
      .when({
        type: 'MoveToPreviousStage',
        reason: 'Customer requested additional discovery on integration requirements',
        notes: 'Moving back to needs analysis.',
      })
      .then({
        type: 'OpportunityStageChanged',
        data: {
          from_stage: 'proposal',
          to_stage: 'needs_analysis',
          movement: 'backward',
          probability: 40,
          reason: 'Customer requested additional discovery on integration requirements',
          notes: 'Moving back to needs analysis.',
          changed_at: NOW,
        },
      });
  });

  it.each([
    ['qualification', 'prospecting', 10],
    ['verbal_commitment', 'negotiation', 75],
  ])('moves %s back to %s (%i%%)', (from, to, probability) => {
    given(...atStage(from))
      .when({ type: 'MoveToPreviousStage', reason: ' why ' })
      .then(stageChanged(from, to, 'backward', { probability, reason: 'why' }));
  });
});

describe('decide: PutOnHold / Resume', () => {
  it('puts an active deal on hold with reason and notes', () => {
    given(...atStage('proposal'))
      .when({ type: 'PutOnHold', reason: 'Waiting for budget', notes: 'Re-engage in Q2' })
      .then(stageChanged('proposal', 'on_hold', 'on_hold', { probability: 0, reason: 'Waiting for budget', notes: 'Re-engage in Q2' }));
  });

  it('puts on hold without a reason', () => {
    given(...atStage('prospecting'))
      .when({ type: 'PutOnHold' })
      .then(stageChanged('prospecting', 'on_hold', 'on_hold'));
  });

  it('rejects putting a deal on hold twice', () => {
    given(...onHoldFrom('proposal'))
      .when({ type: 'PutOnHold' })
      .thenThrows(INVALID, { current_stage: 'on_hold', requested_stage: 'on_hold' });
  });

  it.each([[undefined], [null], ['']])('resume (stage %j) defaults to the stage the deal was held from', (stage) => {
    given(...onHoldFrom('negotiation'))
      .when({ type: 'Resume', stage, notes: 'Budget released' })
      .then(stageChanged('on_hold', 'negotiation', 'resumed', { probability: 75, notes: 'Budget released' }));
  });

  it('resumes to an explicitly named reached stage', () => {
    given(...onHoldFrom('negotiation'))
      .when({ type: 'Resume', stage: 'qualification' })
      .then(stageChanged('on_hold', 'qualification', 'resumed', { probability: 25 }));
  });

  it('rejects resuming to a never-reached stage', () => {
    given(...onHoldFrom('qualification'))
      .when({ type: 'Resume', stage: 'verbal_commitment' })
      .thenThrows(INVALID, { current_stage: 'on_hold', requested_stage: 'verbal_commitment' });
  });

  it.each(['won', 'lost'])('rejects resuming into %s', (stage) => {
    given(...onHoldFrom('verbal_commitment'))
      .when({ type: 'Resume', stage })
      .thenThrows(INVALID, { current_stage: 'on_hold', requested_stage: stage });
  });

  it('rejects resuming to an unknown stage', () => {
    const error = given(...onHoldFrom('proposal'))
      .when({ type: 'Resume', stage: 'nowhere' })
      .thenThrows(VALIDATION);
    expect(fieldsOf(error)).toEqual(['stage']);
  });

  it('rejects resuming a deal that is not on hold', () => {
    given(...atStage('proposal'))
      .when({ type: 'Resume' })
      .thenThrows(INVALID, { current_stage: 'proposal' });
  });
});

describe('decide: Win', () => {
  /** The win of the builders' deal at verbal_commitment with nothing given: value, today, no reason. */
  const wonWithDefaults = (extra: Record<string, unknown> = {}): OpportunityEvent => ({
    type: 'OpportunityWon',
    data: {
      from_stage: 'verbal_commitment',
      to_stage: 'won',
      actual_value_minor: 15_000_000,
      close_date: TODAY,
      close_reason: null,
      won_at: NOW,
      ...extra,
    },
  });

  it.each([{}, { transaction_id: null }])(
    'defaults actual value to the current value and close date to today, no sale reference (%o)',
    (extra) => {
      given(...atStage('verbal_commitment'))
        .when({ type: 'Win', ...extra })
        .then(wonWithDefaults());
    },
  );

  it('defaults the actual value to the updated value', () => {
    given(...atStage('verbal_commitment'), {
      type: 'OpportunityUpdated',
      data: { changes: { value_minor: 17_500_000 }, updated_at: day(9) },
    })
      .when({ type: 'Win' })
      .then({
        type: 'OpportunityWon',
        data: {
          from_stage: 'verbal_commitment',
          to_stage: 'won',
          actual_value_minor: 17_500_000,
          close_date: TODAY,
          close_reason: null,
          won_at: NOW,
        },
      });
  });

  it('uses explicit actual value, close date and reason', () => {
    given(...atStage('verbal_commitment'))
      .when({ type: 'Win', actual_value_minor: 17_500_000, close_date: '2025-12-18', close_reason: 'Proposal accepted. Contract signed.' })
      .then({
        type: 'OpportunityWon',
        data: {
          from_stage: 'verbal_commitment',
          to_stage: 'won',
          actual_value_minor: 17_500_000,
          close_date: '2025-12-18',
          close_reason: 'Proposal accepted. Contract signed.',
          won_at: NOW,
        },
      });
  });

  it('records the sale reference given, trimmed, and the state shows it', () => {
    const history = atStage('verbal_commitment');
    const win = given(...history).when({ type: 'Win', transaction_id: '  INV-2026/0042 ' });
    expect(fold([...history, ...win.events()]).transaction_id).toBe('INV-2026/0042');
    win.then(wonWithDefaults({ transaction_id: 'INV-2026/0042' }));
  });

  it.each([
    ['blank', '   '],
    ['longer than 200 characters', 'x'.repeat(201)],
    ['with a control character', 'INV\n42'],
  ])('refuses a sale reference %s, naming transaction_id', (_, transaction_id) => {
    given(...atStage('verbal_commitment'))
      .when({ type: 'Win', transaction_id })
      .thenThrows(VALIDATION, { errors: { transaction_id: [expect.any(String)] } });
  });

  it('accepts an actual value of zero', () => {
    given(...atStage('verbal_commitment'))
      .when({ type: 'Win', actual_value_minor: 0 })
      .then({
        type: 'OpportunityWon',
        data: {
          from_stage: 'verbal_commitment',
          to_stage: 'won',
          actual_value_minor: 0,
          close_date: TODAY,
          close_reason: null,
          won_at: NOW,
        },
      });
  });

  it.each(['prospecting', 'qualification', 'needs_analysis', 'proposal', 'negotiation'])('rejects winning from %s', (stage) => {
    given(...atStage(stage))
      .when({ type: 'Win' })
      .thenThrows(INVALID, { current_stage: stage, requested_stage: 'won' });
  });

  it('rejects winning from on_hold', () => {
    given(...onHoldFrom('verbal_commitment'))
      .when({ type: 'Win' })
      .thenThrows(INVALID, { current_stage: 'on_hold', requested_stage: 'won' });
  });

  it.each(['2025-02-29', '2025-12-18T10:00:00Z', '18/12/2025', ''])('rejects close_date %j', (close_date) => {
    const error = given(...atStage('verbal_commitment'))
      .when({ type: 'Win', close_date })
      .thenThrows(VALIDATION);
    expect(fieldsOf(error)).toEqual(['close_date']);
  });

  it.each([[-1], [0.5]])('rejects actual_value_minor %p', (actual_value_minor) => {
    const error = given(...atStage('verbal_commitment'))
      .when({ type: 'Win', actual_value_minor })
      .thenThrows(VALIDATION);
    expect(fieldsOf(error)).toEqual(['actual_value']);
  });
});

describe('decide: Lose', () => {
  const lostEvent = (
    from: string,
    data: Partial<Extract<OpportunityEvent, { type: 'OpportunityLost' }>['data']> = {},
  ): OpportunityEvent => ({
    type: 'OpportunityLost',
    data: {
      from_stage: from,
      to_stage: 'lost',
      loss_reason: 'price',
      competitor: null,
      loss_notes: null,
      lessons_learned: null,
      close_date: TODAY,
      lost_at: NOW,
      ...data,
    },
  });

  it.each(['price', 'competitor', 'no_decision', 'timing', 'lack_of_features', 'internal_champion_left', 'budget_cuts', 'other'])(
    'accepts the default loss reason %s',
    (loss_reason) => {
      given(...atStage('proposal'))
        .when({ type: 'Lose', loss_reason })
        .then(lostEvent('proposal', { loss_reason }));
    },
  );

  it('records competitor, notes, lessons learned and an explicit close date', () => {
    given(...atStage('negotiation'))
      .when({
        type: 'Lose',
        loss_reason: 'price',
        competitor: 'Competitor X',
        loss_notes: 'Lost to Competitor X on price.',
        lessons_learned: 'Articulate ROI better.',
        close_date: '2025-12-18',
      })
      .then(
        lostEvent('negotiation', {
          competitor: 'Competitor X',
          loss_notes: 'Lost to Competitor X on price.',
          lessons_learned: 'Articulate ROI better.',
          close_date: '2025-12-18',
        }),
      );
  });

  it.each(['prospecting', 'verbal_commitment'])('can lose from any active stage (%s)', (stage) => {
    given(...atStage(stage))
      .when({ type: 'Lose', loss_reason: 'timing' })
      .then(lostEvent(stage, { loss_reason: 'timing' }));
  });

  it('can lose a deal that is on hold', () => {
    given(...onHoldFrom('proposal'))
      .when({ type: 'Lose', loss_reason: 'budget_cuts' })
      .then(lostEvent('on_hold', { loss_reason: 'budget_cuts' }));
  });

  it.each(['too_expensive', 'Price', ' price'])('rejects unknown loss reason %j', (loss_reason) => {
    const error = given(...atStage('proposal'))
      .when({ type: 'Lose', loss_reason })
      .thenThrows(VALIDATION);
    expect(fieldsOf(error)).toEqual(['loss_reason']);
  });

  it('rejects an empty loss reason', () => {
    const error = given(...atStage('proposal'))
      .when({ type: 'Lose', loss_reason: '' })
      .thenThrows(VALIDATION);
    expect(fieldsOf(error)).toEqual(['loss_reason']);
  });

  it('rejects a bad close date', () => {
    const error = given(...atStage('proposal'))
      .when({ type: 'Lose', loss_reason: 'price', close_date: '2025-11-31' })
      .thenThrows(VALIDATION);
    expect(fieldsOf(error)).toEqual(['close_date']);
  });

  it("uses the pipeline's configured loss reasons", () => {
    const pipeline: Pipeline = { ...DEFAULT_PIPELINE, loss_reasons: ['ghosted', 'went_in_house'] };
    given(...atStage('proposal'))
      .when({ type: 'Lose', loss_reason: 'ghosted' }, { pipeline })
      .then(lostEvent('proposal', { loss_reason: 'ghosted' }));
    given(...atStage('proposal'))
      .when({ type: 'Lose', loss_reason: 'price' }, { pipeline })
      .thenThrows(VALIDATION);
  });
});

describe('decide: stakeholders', () => {
  const added = (contact_id: string, role: StakeholderRole, at = NOW): OpportunityEvent => ({
    type: 'StakeholderAdded',
    data: { contact_id, role, added_at: at },
  });

  it('a create with stakeholders records each after the creation, in the order given', () => {
    const events = given()
      .when(
        create({
          stakeholders: [
            { contact_id: 'ct-1', role: 'decision_maker' },
            { contact_id: 'ct-2', role: 'champion' },
          ],
        }),
      )
      .events();
    expect(events.map((e) => e.type)).toEqual(['OpportunityCreated', 'StakeholderAdded', 'StakeholderAdded']);
    expect(events.slice(1)).toEqual([added('ct-1', 'decision_maker'), added('ct-2', 'champion')]);
    expect(fold(events).stakeholders).toEqual([
      { contact_id: 'ct-1', role: 'decision_maker', added_at: NOW },
      { contact_id: 'ct-2', role: 'champion', added_at: NOW },
    ]);
  });

  it('stakeholder_ids is the shorthand for contacts with the role other, after those with roles', () => {
    const events = given()
      .when(create({ stakeholders: [{ contact_id: 'ct-1', role: 'champion' }], stakeholder_ids: ['ct-2'] }))
      .events();
    expect(events.slice(1)).toEqual([added('ct-1', 'champion'), added('ct-2', 'other')]);
  });

  it('a create refuses a contact listed twice, an unknown role and more than 50, naming each entry', () => {
    const error = given()
      .when(
        create({
          stakeholders: [
            { contact_id: 'ct-1', role: 'user' },
            { contact_id: 'ct-1', role: 'user' },
            { contact_id: 'ct-3', role: 'boss' },
          ],
        }),
      )
      .thenThrows(VALIDATION);
    expect(Object.keys(error.details!.errors as object).sort()).toEqual(['stakeholders.1.contact_id', 'stakeholders.2.role']);
    const both = given()
      .when(create({ stakeholders: [{ contact_id: 'ct-1', role: 'user' }], stakeholder_ids: ['ct-2', 'ct-1'] }))
      .thenThrows(VALIDATION);
    expect(Object.keys(both.details!.errors as object)).toEqual(['stakeholder_ids.1']);
    const many = Array.from({ length: 51 }, (_, i) => ({ contact_id: `ct-${i}`, role: 'other' }));
    given()
      .when(create({ stakeholders: many }))
      .thenThrows(VALIDATION, { errors: { stakeholders: [expect.stringContaining('at most 50')] } });
  });

  it('adds a contact with its role', () => {
    given(created()).when({ type: 'AddStakeholder', contact_id: 'ct-1', role: 'influencer' }).then(added('ct-1', 'influencer'));
  });

  it('the same contact with another role is a role change; with the same role nothing happens', () => {
    const deal = given(created(), added('ct-1', 'user', day(3)));
    deal
      .when({ type: 'AddStakeholder', contact_id: 'ct-1', role: 'blocker' })
      .then({ type: 'StakeholderRoleChanged', data: { contact_id: 'ct-1', role: 'blocker', previous_role: 'user', changed_at: NOW } });
    deal.when({ type: 'AddStakeholder', contact_id: 'ct-1', role: 'user' }).thenNothing();
    const changed = fold([
      created(),
      added('ct-1', 'user', day(3)),
      ...deal.when({ type: 'AddStakeholder', contact_id: 'ct-1', role: 'blocker' }).events(),
    ]);
    expect(changed.stakeholders).toEqual([{ contact_id: 'ct-1', role: 'blocker', added_at: day(3) }]);
  });

  it('refuses an unknown role naming role, and a 51st contact', () => {
    given(created())
      .when({ type: 'AddStakeholder', contact_id: 'ct-1', role: 'boss' as StakeholderRole })
      .thenThrows(VALIDATION, { errors: { role: [expect.any(String)] } });
    const full = Array.from({ length: 50 }, (_, i) => added(`ct-${i}`, 'other', day(2)));
    given(created(), ...full)
      .when({ type: 'AddStakeholder', contact_id: 'ct-new', role: 'user' })
      .thenThrows(VALIDATION, { errors: { contact_id: [expect.stringContaining('at most 50')] } });
    // A role change is not a 51st contact.
    given(created(), ...full)
      .when({ type: 'AddStakeholder', contact_id: 'ct-0', role: 'user' })
      .then({ type: 'StakeholderRoleChanged', data: { contact_id: 'ct-0', role: 'user', previous_role: 'other', changed_at: NOW } });
  });

  it('removes a stakeholder, recording the role it had; a contact not on the deal is not_found', () => {
    const deal = given(created(), added('ct-1', 'champion', day(3)), added('ct-2', 'user', day(4)));
    deal
      .when({ type: 'RemoveStakeholder', contact_id: 'ct-1' })
      .then({ type: 'StakeholderRemoved', data: { contact_id: 'ct-1', role: 'champion', removed_at: NOW } });
    const error = deal.when({ type: 'RemoveStakeholder', contact_id: 'ct-9' }).thenThrows(ErrorCode.NotFound);
    expect(error.message).toBe('Stakeholder not found');
    const after = fold([
      created(),
      added('ct-1', 'champion', day(3)),
      added('ct-2', 'user', day(4)),
      ...deal.when({ type: 'RemoveStakeholder', contact_id: 'ct-1' }).events(),
    ]);
    expect(after.stakeholders.map((s) => s.contact_id)).toEqual(['ct-2']);
  });

  it('a closed deal keeps the stakeholders it had', () => {
    given(...atStage('won'), {
      type: 'OpportunityWon',
      data: {
        from_stage: 'verbal_commitment',
        to_stage: 'won',
        actual_value_minor: 1,
        close_date: TODAY,
        close_reason: null,
        won_at: day(9),
      },
    })
      .when({ type: 'AddStakeholder', contact_id: 'ct-1', role: 'user' })
      .thenThrows(ErrorCode.InvalidStageTransition);
  });
});

describe('decide: Assign', () => {
  it('assigns a new owner and records the previous one', () => {
    given(created({ assigned_user_id: '7' }))
      .when({ type: 'Assign', user_id: '9', reason: 'Reassigning to enterprise specialist', notify: true })
      .then({
        type: 'OpportunityAssigned',
        data: { user_id: '9', previous_owner_id: '7', reason: 'Reassigning to enterprise specialist', notify: true, assigned_at: NOW },
      });
  });

  it('defaults reason to null and notify to false, and trims the user id', () => {
    given(created())
      .when({ type: 'Assign', user_id: ' user-9 ' })
      .then({
        type: 'OpportunityAssigned',
        data: { user_id: 'user-9', previous_owner_id: 'user-7', reason: null, notify: false, assigned_at: NOW },
      });
  });

  it('records previous_owner_id null for an unassigned deal', () => {
    given(created({ assigned_user_id: null }))
      .when({ type: 'Assign', user_id: 'user-9' })
      .then({
        type: 'OpportunityAssigned',
        data: { user_id: 'user-9', previous_owner_id: null, reason: null, notify: false, assigned_at: NOW },
      });
  });

  it('uses the latest owner as previous owner', () => {
    given(created(), {
      type: 'OpportunityAssigned',
      data: { user_id: 'user-8', previous_owner_id: 'user-7', reason: null, notify: false, assigned_at: day(2) },
    })
      .when({ type: 'Assign', user_id: 'user-9' })
      .then({
        type: 'OpportunityAssigned',
        data: { user_id: 'user-9', previous_owner_id: 'user-8', reason: null, notify: false, assigned_at: NOW },
      });
  });

  it('emits nothing when assigning the current owner', () => {
    given(created()).when({ type: 'Assign', user_id: 'user-7' }).thenNothing();
    given(created()).when({ type: 'Assign', user_id: ' user-7 ' }).thenNothing();
  });

  it.each([[''], ['  ']])('rejects an empty user id %j', (user_id) => {
    const error = given(created()).when({ type: 'Assign', user_id }).thenThrows(VALIDATION);
    expect(fieldsOf(error)).toEqual(['user_id']);
  });

  it('assigns a deal on hold', () => {
    given(...onHoldFrom('proposal'))
      .when({ type: 'Assign', user_id: 'user-9' })
      .then({
        type: 'OpportunityAssigned',
        data: { user_id: 'user-9', previous_owner_id: 'user-7', reason: null, notify: false, assigned_at: NOW },
      });
  });
});

describe('decide: Delete', () => {
  it('deletes with an optional reason', () => {
    given(created())
      .when({ type: 'Delete', reason: 'duplicate' })
      .then({ type: 'OpportunityDeleted', data: { deleted_at: NOW, reason: 'duplicate' } });
    given(created())
      .when({ type: 'Delete' })
      .then({ type: 'OpportunityDeleted', data: { deleted_at: NOW, reason: null } });
  });

  it('deletes a deal on hold', () => {
    given(...onHoldFrom('proposal'))
      .when({ type: 'Delete' })
      .then({ type: 'OpportunityDeleted', data: { deleted_at: NOW, reason: null } });
  });

  const deletedDeal = [
    ...atStage('verbal_commitment'),
    { type: 'OpportunityDeleted', data: { deleted_at: day(8), reason: null } } as OpportunityEvent,
  ];

  it.each(EACH_COMMAND)('after delete: %s → not_found', (_label, command) => {
    given(...deletedDeal)
      .when(command)
      .thenThrows(ErrorCode.NotFound);
  });

  it.each(EACH_COMMAND)('on a deal that was never created: %s → not_found', (_label, command) => {
    given().when(command).thenThrows(ErrorCode.NotFound);
  });
});

describe('decide: closed deals are terminal', () => {
  it.each(EACH_COMMAND)('after won: %s → invalid_stage_transition', (_label, command) => {
    given(...atStage('won'))
      .when(command)
      .thenThrows(INVALID, { current_stage: 'won', allowed_stages: [], allowed_with_reason: [] });
  });

  it.each(EACH_COMMAND)('after lost: %s → invalid_stage_transition', (_label, command) => {
    given(...atStage('lost'))
      .when(command)
      .thenThrows(INVALID, { current_stage: 'lost', allowed_stages: [], allowed_with_reason: [] });
  });

  it('after lost from on hold: updates are rejected too', () => {
    const events = [
      ...onHoldFrom('proposal'),
      {
        type: 'OpportunityLost',
        data: {
          from_stage: 'on_hold',
          to_stage: 'lost',
          loss_reason: 'timing',
          competitor: null,
          loss_notes: null,
          lessons_learned: null,
          close_date: '2026-01-10',
          lost_at: day(10),
        },
      } as OpportunityEvent,
    ];
    given(...events)
      .when({ type: 'UpdateOpportunity', changes: {} })
      .thenThrows(INVALID, { current_stage: 'lost' });
  });

  it.each(['won', 'lost'])('after %s: creating the same id again → already_exists', (stage) => {
    given(...atStage(stage))
      .when(create())
      .thenThrows(ErrorCode.AlreadyExists);
  });
});

describe('decide: pipeline policy', () => {
  const skipping: Pipeline = { ...DEFAULT_PIPELINE, policy: { ...DEFAULT_PIPELINE.policy, allow_skip: true } };
  const noBackward: Pipeline = { ...DEFAULT_PIPELINE, policy: { ...DEFAULT_PIPELINE.policy, allow_backward: false } };

  it('allow_skip = true: a forward stage change may jump over stages', () => {
    given(...atStage('prospecting'))
      .when({ type: 'ChangeStage', stage: 'proposal' }, { pipeline: skipping })
      .then(stageChanged('prospecting', 'proposal', 'forward', { probability: 60 }));
  });

  it('allow_skip = true: every later stage (and won) is allowed; backward still needs a reason', () => {
    const error = given(...atStage('needs_analysis'))
      .when({ type: 'ChangeStage', stage: 'prospecting' }, { pipeline: skipping })
      .thenThrows(INVALID);
    expect(sorted(error.details.allowed_stages)).toEqual(['lost', 'negotiation', 'on_hold', 'proposal', 'verbal_commitment', 'won']);
  });

  it('allow_skip = true: AdvanceStage still moves one step', () => {
    given(...atStage('prospecting'))
      .when({ type: 'AdvanceStage' }, { pipeline: skipping })
      .then(stageChanged('prospecting', 'qualification'));
  });

  it('allow_skip = true: win may skip the remaining stages', () => {
    given(...atStage('negotiation'))
      .when({ type: 'Win' }, { pipeline: skipping })
      .then({
        type: 'OpportunityWon',
        data: {
          from_stage: 'negotiation',
          to_stage: 'won',
          actual_value_minor: 15_000_000,
          close_date: TODAY,
          close_reason: null,
          won_at: NOW,
        },
      });
  });

  it('allow_backward = false: a stage change backward is rejected even with a reason', () => {
    given(...atStage('proposal'))
      .when({ type: 'ChangeStage', stage: 'needs_analysis', reason: 'Customer asked for more discovery' }, { pipeline: noBackward })
      .thenThrows(INVALID, { current_stage: 'proposal', requested_stage: 'needs_analysis', allowed_with_reason: [] });
  });

  it('allow_backward = false: MoveToPreviousStage is rejected even with a reason', () => {
    given(...atStage('proposal'))
      .when({ type: 'MoveToPreviousStage', reason: 'Customer asked for more discovery' }, { pipeline: noBackward })
      .thenThrows(INVALID, { current_stage: 'proposal', requested_stage: 'needs_analysis', allowed_with_reason: [] });
  });

  it('allow_backward = false: forward moves and resuming from on hold still work', () => {
    given(...atStage('proposal'))
      .when({ type: 'AdvanceStage' }, { pipeline: noBackward })
      .then(stageChanged('proposal', 'negotiation'));
    given(...onHoldFrom('proposal'))
      .when({ type: 'ChangeStage', stage: 'qualification' }, { pipeline: noBackward })
      .then(stageChanged('on_hold', 'qualification', 'resumed'));
  });

  it('works with an org-defined pipeline (stages are data)', () => {
    const custom: Pipeline = {
      id: 'smb',
      name: 'SMB',
      stages: [
        { key: 'lead', name: 'Lead', display_order: 1, probability: 20, kind: 'active' },
        { key: 'demo', name: 'Demo', display_order: 2, probability: 50, kind: 'active' },
        { key: 'closed_won', name: 'Closed Won', display_order: 3, probability: 100, kind: 'won' },
        { key: 'closed_lost', name: 'Closed Lost', display_order: 4, probability: 0, kind: 'lost' },
        { key: 'paused', name: 'Paused', display_order: 5, probability: 0, kind: 'on_hold' },
      ],
      loss_reasons: ['ghosted'],
      policy: { allow_skip: false, allow_backward: true },
    };
    given()
      .when(create(), { pipeline: custom })
      .then(createdNow({ pipeline_id: 'smb', stage: 'lead', probability: 20 }));
    const atLead = created({ pipeline_id: 'smb', stage: 'lead', probability: 20 });
    given(atLead)
      .when({ type: 'AdvanceStage' }, { pipeline: custom })
      .then(stageChanged('lead', 'demo', 'forward', { probability: 50 }));
    given(atLead).when({ type: 'Win' }, { pipeline: custom }).thenThrows(INVALID, { requested_stage: 'closed_won' });
    given(atLead)
      .when({ type: 'PutOnHold' }, { pipeline: custom })
      .then(stageChanged('lead', 'paused', 'on_hold', { probability: 0 }));
    given(atLead)
      .when({ type: 'ChangeStage', stage: 'closed_lost', loss_reason: 'ghosted' }, { pipeline: custom })
      .then({
        type: 'OpportunityLost',
        data: {
          from_stage: 'lead',
          to_stage: 'closed_lost',
          loss_reason: 'ghosted',
          competitor: null,
          loss_notes: null,
          lessons_learned: null,
          close_date: TODAY,
          lost_at: NOW,
        },
      });
  });
});

describe('decide: custom fields against their definitions', () => {
  const definitions: CustomFieldsState = {
    version: 2,
    allow_unknown: true,
    definitions: [
      { key: 'seats', label: 'Seats', type: 'number', required: false, display_order: 1, pipeline_id: null },
      {
        key: 'tier',
        label: 'Tier',
        type: 'single_select',
        options: ['gold', 'silver'],
        required: true,
        display_order: 2,
        pipeline_id: null,
      },
    ],
  };
  const custom_fields = definitions;

  it('a create with typed values records them as given', () => {
    given()
      .when(create({ custom_fields: { seats: 40, tier: 'gold', free: 'x' } }), { custom_fields })
      .then(createdNow({ custom_fields: { seats: 40, tier: 'gold', free: 'x' } }));
  });

  it('a create refuses a wrong type and a missing required field, naming custom_fields.<key>', () => {
    const error = given()
      .when(create({ custom_fields: { seats: '40' } }), { custom_fields })
      .thenThrows(VALIDATION);
    expect(fieldsOf(error)).toEqual(['custom_fields.seats', 'custom_fields.tier']);
    expect((error.details as { errors: Record<string, string[]> }).errors['custom_fields.seats'][0]).toContain('number');
  });

  it('an unknown key is refused only when allow_unknown is false', () => {
    const error = given()
      .when(create({ custom_fields: { tier: 'gold', free: 'x' } }), { custom_fields: { ...definitions, allow_unknown: false } })
      .thenThrows(VALIDATION);
    expect(fieldsOf(error)).toEqual(['custom_fields.free']);
  });

  it('an update checks only the keys it gives; an old value that no longer fits stays', () => {
    const deal = created({ custom_fields: { seats: 'forty', tier: 'gold' } });
    given(deal)
      .when({ type: 'UpdateOpportunity', changes: { custom_fields: { tier: 'silver' } } }, { custom_fields })
      .then({ type: 'OpportunityUpdated', data: { changes: { custom_fields: { seats: 'forty', tier: 'silver' } }, updated_at: NOW } });
    const error = given(deal)
      .when({ type: 'UpdateOpportunity', changes: { custom_fields: { tier: null, seats: 'x' } } }, { custom_fields })
      .thenThrows(VALIDATION);
    expect(fieldsOf(error)).toEqual(['custom_fields.seats', 'custom_fields.tier']);
  });
});
