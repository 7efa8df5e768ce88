import { customFieldErrors, type CustomFieldsState } from '../custom-fields';
import { DATE_BOUNDS, dateOf, invalidDateMessage, isValidDate, parseInstant } from '../dates';
import { DomainError, ErrorCode, type FieldErrors } from '../errors';
import { MAX_AMOUNT, MAX_AMOUNT_MINOR } from '../money';
import {
  activeRank,
  activeStages,
  findStage,
  isTerminal,
  type Pipeline,
  requireStage,
  type StageDefinition,
  stageOfKind,
} from '../pipeline';
import {
  type DetailChanges,
  type OpportunityDetails,
  type OpportunityEvent,
  STAKEHOLDER_ROLES,
  type StageMovement,
  type ActivityType,
  type StakeholderRole,
} from './events';
import { type OpportunityState, stakeholdersOf } from './state';

// Commands: what a caller asks of a deal (the decider below says which events follow).

/** A contact involved in the deal and in what capacity. */
export interface StakeholderInput {
  contact_id: string;
  role: StakeholderRole;
}

/** Input already shaped by the API layer (types checked); the decider checks the rules. */
export type CreateOpportunityInput = Partial<OpportunityDetails> & {
  name: string;
  value_minor: number;
  stage?: string;
  probability?: number;
  assigned_user_id?: string | null;
  pipeline_id?: string;
  /** Contacts involved from the start (each recorded as StakeholderAdded after the creation). */
  stakeholders?: StakeholderInput[];
  /** Shorthand: contacts involved from the start, each with the role `other`. */
  stakeholder_ids?: string[];
};

export type OpportunityCommand =
  | { type: 'CreateOpportunity'; opportunity_id: string; input: CreateOpportunityInput }
  | {
      type: 'UpdateOpportunity';
      changes: DetailChanges;
      /** number sets an override, null returns to the stage default, undefined leaves it. */
      probability?: number | null;
      assigned_user_id?: string;
      notes?: string | null;
    }
  | { type: 'ChangeStage'; stage: string; reason?: string | null; notes?: string | null; loss_reason?: string | null }
  | { type: 'AdvanceStage'; notes?: string | null }
  | { type: 'MoveToPreviousStage'; reason: string; notes?: string | null }
  | { type: 'PutOnHold'; reason?: string | null; notes?: string | null }
  | { type: 'Resume'; stage?: string | null; notes?: string | null }
  | {
      type: 'Win';
      actual_value_minor?: number;
      close_date?: string;
      close_reason?: string | null;
      /** The sale in another system (an order, invoice or transaction id): kept as given, never looked up. */
      transaction_id?: string | null;
    }
  | {
      type: 'Lose';
      loss_reason: string;
      competitor?: string | null;
      loss_notes?: string | null;
      lessons_learned?: string | null;
      close_date?: string;
    }
  | { type: 'Assign'; user_id: string; reason?: string | null; notify?: boolean }
  | { type: 'Delete'; reason?: string | null }
  | {
      type: 'LogActivity';
      activity_id: string;
      activity_type: ActivityType;
      subject?: string | null;
      description?: string | null;
      outcome?: string | null;
      priority?: 'low' | 'medium' | 'high' | null;
      scheduled_at?: string | null;
      completed_at?: string | null;
    }
  | { type: 'CompleteActivity'; activity_id: string; outcome?: string | null; completed_at?: string | null }
  | { type: 'AddNote'; note_id: string; content: string }
  | { type: 'ConvertProspect'; customer_id: string; activity_id: string }
  /** Adds a contact to the deal, or changes the role of one already on it. */
  | ({ type: 'AddStakeholder' } & StakeholderInput)
  | { type: 'RemoveStakeholder'; contact_id: string };

export interface DecideContext {
  /** ISO instant of the command; the decider never reads the clock. */
  now: string;
  actor_id: string;
  pipeline: Pipeline;
  /**
   * The org's custom-field definitions, for a create or an update that gives custom_fields
   * (absent: the values are not checked, as before definitions existed).
   */
  custom_fields?: CustomFieldsState;
}

export interface AllowedTransitions {
  /** Stages reachable with a plain stage change. */
  allowed_stages: string[];
  /** Earlier stages reachable only with a recorded reason. */
  allowed_with_reason: string[];
}

export function decide(command: OpportunityCommand, state: OpportunityState, ctx: DecideContext): OpportunityEvent[] {
  if (command.type === 'CreateOpportunity') return create(command, state, ctx);
  if (!state.exists || state.deleted) throw DomainError.notFound('Opportunity');
  const current = requireStage(ctx.pipeline, state.stage);
  if (isTerminal(current)) {
    throw invalidTransition(state, ctx.pipeline, null, `opportunity is ${current.kind}; closed opportunities cannot change`);
  }
  switch (command.type) {
    case 'UpdateOpportunity':
      return update(command, state, ctx);
    case 'ChangeStage':
      return changeStage(command, state, current, ctx);
    case 'AdvanceStage': {
      if (current.kind !== 'active') {
        throw invalidTransition(state, ctx.pipeline, null, 'a deal on hold resumes with a stage change to a stage it reached');
      }
      const next = activeStages(ctx.pipeline)[activeRank(ctx.pipeline, current.key) + 1];
      if (!next) throw invalidTransition(state, ctx.pipeline, null, 'already at the last active stage; close it with win');
      return [stageChanged(state, next, 'forward', null, command.notes ?? null, ctx)];
    }
    case 'MoveToPreviousStage': {
      requireReason(command.reason);
      const previous = activeStages(ctx.pipeline)[activeRank(ctx.pipeline, current.key) - 1];
      if (current.kind !== 'active' || !previous) {
        throw invalidTransition(state, ctx.pipeline, null, 'there is no earlier active stage to move back to');
      }
      return [moveBackward(state, previous, command.reason, command.notes ?? null, ctx)];
    }
    case 'PutOnHold':
      return [putOnHold(state, current, command.reason ?? null, command.notes ?? null, ctx)];
    case 'Resume': {
      const target = command.stage ? requireStage(ctx.pipeline, command.stage) : undefined;
      return [resume(state, current, target, command.notes ?? null, ctx)];
    }
    case 'Win':
      return [win(state, current, command, ctx)];
    case 'Lose':
      return [lose(state, current, command, ctx)];
    case 'Assign': {
      const userId = requireText(command.user_id, 'user_id');
      if (userId === state.assigned_user_id) return [];
      return [
        {
          type: 'OpportunityAssigned',
          data: {
            user_id: userId,
            previous_owner_id: state.assigned_user_id,
            reason: command.reason ?? null,
            notify: command.notify ?? false,
            assigned_at: ctx.now,
          },
        },
      ];
    }
    case 'Delete':
      return [{ type: 'OpportunityDeleted', data: { deleted_at: ctx.now, reason: command.reason ?? null } }];
    case 'LogActivity':
      return [logActivity(command, state, ctx)];
    case 'CompleteActivity': {
      const status = state.activities[command.activity_id];
      if (!status) throw DomainError.notFound('Activity');
      if (status === 'completed') {
        throw new DomainError(ErrorCode.AlreadyExists, 'Activity is already completed', { activity_id: command.activity_id });
      }
      const completedAt = command.completed_at ?? ctx.now;
      checkInstant(completedAt, 'completed_at');
      return [
        {
          type: 'ActivityCompleted',
          data: { activity_id: command.activity_id, outcome: command.outcome ?? null, completed_at: completedAt },
        },
      ];
    }
    case 'AddNote': {
      const content = requireText(command.content, 'content');
      return [{ type: 'NoteAdded', data: { note_id: command.note_id, content, added_at: ctx.now } }];
    }
    case 'ConvertProspect': {
      if (state.customer_id) {
        throw new DomainError(ErrorCode.AlreadyExists, 'The opportunity already has a customer', { customer_id: state.customer_id });
      }
      if (!state.prospect_name) throw DomainError.validation({ prospect_name: ['the opportunity has no prospect to convert'] });
      const customerId = requireText(command.customer_id, 'customer_id');
      return [
        { type: 'ProspectConverted', data: { customer_id: customerId, converted_at: ctx.now } },
        logActivity(
          {
            type: 'LogActivity',
            activity_id: command.activity_id,
            activity_type: 'status_change',
            subject: 'Prospect converted to customer',
            description: `${state.prospect_name} became customer ${customerId}`,
            completed_at: ctx.now,
          },
          state,
          ctx,
        ),
      ];
    }
    case 'AddStakeholder':
      return addStakeholder(command, state, ctx);
    case 'RemoveStakeholder': {
      const existing = stakeholdersOf(state).find((s) => s.contact_id === command.contact_id);
      if (!existing) throw DomainError.notFound('Stakeholder');
      return [{ type: 'StakeholderRemoved', data: { contact_id: existing.contact_id, role: existing.role, removed_at: ctx.now } }];
    }
    default: {
      const unreachable: never = command;
      throw new Error(`Unknown command ${(unreachable as { type: string }).type}`);
    }
  }
}

/** What a stage change may target from the current state (for 422 bodies and clients). */
export function allowedTransitions(state: OpportunityState, pipeline: Pipeline): AllowedTransitions {
  const current = findStage(pipeline, state.stage);
  if (!current || isTerminal(current)) return { allowed_stages: [], allowed_with_reason: [] };
  const lost = stageOfKind(pipeline, 'lost').key;
  if (current.kind === 'on_hold') {
    return { allowed_stages: [...state.reached_stages, lost], allowed_with_reason: [] };
  }
  const active = activeStages(pipeline);
  const rank = activeRank(pipeline, current.key);
  const ahead = pipeline.policy.allow_skip ? active.slice(rank + 1) : active.slice(rank + 1, rank + 2);
  const forward = ahead.map((s) => s.key);
  if (rank === active.length - 1 || pipeline.policy.allow_skip) forward.push(stageOfKind(pipeline, 'won').key);
  const hold = pipeline.stages.find((s) => s.kind === 'on_hold');
  return {
    allowed_stages: [...forward, lost, ...(hold ? [hold.key] : [])],
    allowed_with_reason: pipeline.policy.allow_backward ? active.slice(0, rank).map((s) => s.key) : [],
  };
}

function create(
  command: Extract<OpportunityCommand, { type: 'CreateOpportunity' }>,
  state: OpportunityState,
  ctx: DecideContext,
): OpportunityEvent[] {
  if (state.exists) throw new DomainError(ErrorCode.AlreadyExists, 'Opportunity already exists');
  const input = command.input;
  const errors: FieldErrors = {};
  const stageKey = input.stage ?? activeStages(ctx.pipeline)[0].key;
  const stage = findStage(ctx.pipeline, stageKey);
  if (!stage || stage.kind !== 'active') {
    addError(
      errors,
      'stage',
      `stage must be one of: ${activeStages(ctx.pipeline)
        .map((s) => s.key)
        .join(', ')}`,
    );
  }
  if (!input.name?.trim()) addError(errors, 'name', 'name is required');
  const isProspect = !input.customer_id && !!input.prospect_name;
  if (!input.customer_id && !input.prospect_name) {
    addError(errors, 'customer_id', 'customer_id is required (or prospect_name for a prospect without a customer record)');
  }
  if (!isProspect && !input.expected_close_date) addError(errors, 'expected_close_date', 'expected_close_date is required');
  collectDetailErrors(input, errors);
  if (input.probability !== undefined) checkProbability(input.probability, errors);
  checkStakeholders(input, errors);
  if (ctx.custom_fields) customFieldErrors(ctx.custom_fields, ctx.pipeline.id, input.custom_fields ?? {}, true, errors);
  throwIfAny(errors);

  const override = input.probability ?? null;
  const details: OpportunityDetails = {
    name: input.name.trim(),
    description: input.description ?? null,
    customer_id: input.customer_id ?? null,
    lead_id: input.lead_id ?? null,
    value_minor: input.value_minor,
    expected_revenue_minor: input.expected_revenue_minor ?? null,
    currency: input.currency ?? 'USD',
    expected_close_date: input.expected_close_date ?? null,
    source: input.source ?? null,
    priority: input.priority ?? null,
    campaign_id: input.campaign_id ?? null,
    territory: input.territory ?? null,
    competitor: input.competitor ?? null,
    decision_maker: input.decision_maker ?? null,
    budget_confirmed: input.budget_confirmed ?? false,
    authority_confirmed: input.authority_confirmed ?? false,
    need_confirmed: input.need_confirmed ?? false,
    timeline_confirmed: input.timeline_confirmed ?? false,
    next_step: input.next_step ?? null,
    discovery_notes: input.discovery_notes ?? null,
    proposal_notes: input.proposal_notes ?? null,
    demo_date: input.demo_date ?? null,
    proposal_date: input.proposal_date ?? null,
    prospect_name: input.prospect_name ?? null,
    prospect_email: input.prospect_email ?? null,
    prospect_phone: input.prospect_phone ?? null,
    category_id: input.category_id ?? null,
    follow_up_date: input.follow_up_date ?? null,
    tags: dedupe(input.tags ?? []),
    custom_fields: input.custom_fields ?? {},
  };
  const added: OpportunityEvent[] = initialStakeholders(input).map((s) => ({
    type: 'StakeholderAdded',
    data: { contact_id: s.contact_id, role: s.role, added_at: ctx.now },
  }));
  return [
    {
      type: 'OpportunityCreated',
      data: {
        ...details,
        opportunity_id: command.opportunity_id,
        pipeline_id: ctx.pipeline.id,
        stage: stage!.key,
        probability: override ?? stage!.probability,
        probability_override: override,
        assigned_user_id: input.assigned_user_id ?? ctx.actor_id,
        created_by: ctx.actor_id,
        created_at: ctx.now,
      },
    },
    ...added,
  ];
}

/** At most this many contacts on one deal. */
export const MAX_STAKEHOLDERS = 50;

function checkStakeholderRole(role: unknown, field: string, errors: FieldErrors): void {
  if (!(STAKEHOLDER_ROLES as readonly unknown[]).includes(role)) {
    addError(errors, field, `${field.split('.').at(-1)} must be one of: ${STAKEHOLDER_ROLES.join(', ')}`);
  }
}

/** A create's stakeholders: `stakeholders` with their roles, then `stakeholder_ids` as role `other`. */
export function initialStakeholders(input: CreateOpportunityInput): (StakeholderInput & { field: string })[] {
  return [
    ...(input.stakeholders ?? []).map((s, i) => ({ ...s, field: `stakeholders.${i}.contact_id` })),
    ...(input.stakeholder_ids ?? []).map((contact_id, i) => ({ contact_id, role: 'other' as const, field: `stakeholder_ids.${i}` })),
  ];
}

function checkStakeholders(input: CreateOpportunityInput, errors: FieldErrors): void {
  const all = initialStakeholders(input);
  if (all.length > MAX_STAKEHOLDERS) addError(errors, 'stakeholders', `a deal has at most ${MAX_STAKEHOLDERS} stakeholders`);
  const seen = new Set<string>();
  for (const s of all) {
    if (!s.contact_id?.trim()) addError(errors, s.field, 'contact_id is required');
    else if (seen.has(s.contact_id)) addError(errors, s.field, `contact ${s.contact_id} is listed more than once`);
    seen.add(s.contact_id);
  }
  (input.stakeholders ?? []).forEach((s, i) => checkStakeholderRole(s.role, `stakeholders.${i}.role`, errors));
}

function addStakeholder(
  command: Extract<OpportunityCommand, { type: 'AddStakeholder' }>,
  state: OpportunityState,
  ctx: DecideContext,
): OpportunityEvent[] {
  const contactId = requireText(command.contact_id, 'contact_id');
  const errors: FieldErrors = {};
  checkStakeholderRole(command.role, 'role', errors);
  const current = stakeholdersOf(state);
  const existing = current.find((s) => s.contact_id === contactId);
  if (!existing && current.length >= MAX_STAKEHOLDERS)
    addError(errors, 'contact_id', `a deal has at most ${MAX_STAKEHOLDERS} stakeholders`);
  throwIfAny(errors);
  if (existing?.role === command.role) return [];
  if (existing) {
    return [
      {
        type: 'StakeholderRoleChanged',
        data: { contact_id: contactId, role: command.role, previous_role: existing.role, changed_at: ctx.now },
      },
    ];
  }
  return [{ type: 'StakeholderAdded', data: { contact_id: contactId, role: command.role, added_at: ctx.now } }];
}

function update(
  command: Extract<OpportunityCommand, { type: 'UpdateOpportunity' }>,
  state: OpportunityState,
  ctx: DecideContext,
): OpportunityEvent[] {
  const errors: FieldErrors = {};
  const changes = command.changes;
  if (changes.name !== undefined && !changes.name?.trim()) addError(errors, 'name', 'name must not be empty');
  const customerAfter = changes.customer_id === undefined ? state.customer_id : changes.customer_id;
  const prospectAfter = changes.prospect_name === undefined ? state.prospect_name : changes.prospect_name;
  if (!customerAfter && !prospectAfter) {
    addError(errors, 'customer_id', 'a deal needs a customer_id or a prospect_name; this change would remove both');
  }
  if (changes.expected_close_date === null && customerAfter) {
    addError(errors, 'expected_close_date', 'expected_close_date cannot be removed from a customer deal');
  }
  collectDetailErrors(changes, errors);
  if (typeof command.probability === 'number') checkProbability(command.probability, errors);
  if (ctx.custom_fields && changes.custom_fields)
    customFieldErrors(ctx.custom_fields, ctx.pipeline.id, changes.custom_fields, false, errors);
  throwIfAny(errors);

  const effective = diff(state, changes);
  const events: OpportunityEvent[] = [];
  const overrideChanged = command.probability !== undefined && command.probability !== state.probability_override;
  const notes = command.notes ?? null;
  if (Object.keys(effective).length > 0 || overrideChanged || notes) {
    const stageDefault = requireStage(ctx.pipeline, state.stage).probability;
    events.push({
      type: 'OpportunityUpdated',
      data: {
        changes: effective,
        ...(overrideChanged ? { probability_override: command.probability ?? null, probability: command.probability ?? stageDefault } : {}),
        ...(notes ? { notes } : {}),
        updated_at: ctx.now,
      },
    });
  }
  if (command.assigned_user_id !== undefined) {
    events.push(...decide({ type: 'Assign', user_id: command.assigned_user_id }, state, ctx));
  }
  return events;
}

function changeStage(
  command: Extract<OpportunityCommand, { type: 'ChangeStage' }>,
  state: OpportunityState,
  current: StageDefinition,
  ctx: DecideContext,
): OpportunityEvent[] {
  const target = requireStage(ctx.pipeline, command.stage);
  if (target.key === current.key) throw invalidTransition(state, ctx.pipeline, target.key, `already in ${target.key}`);
  switch (target.kind) {
    case 'won':
      return [win(state, current, { type: 'Win', close_reason: command.notes ?? null }, ctx)];
    case 'lost':
      if (!command.loss_reason) {
        throw DomainError.validation({ loss_reason: ['loss_reason is required when moving to a lost stage'] });
      }
      return [lose(state, current, { type: 'Lose', loss_reason: command.loss_reason, loss_notes: command.notes }, ctx)];
    case 'on_hold':
      return [putOnHold(state, current, command.reason ?? null, command.notes ?? null, ctx)];
    case 'active':
      break;
    default: {
      const unreachable: never = target.kind;
      throw new Error(`Unknown stage kind ${String(unreachable)}`);
    }
  }
  if (current.kind === 'on_hold') return [resume(state, current, target, command.notes ?? null, ctx)];
  const from = activeRank(ctx.pipeline, current.key);
  const to = activeRank(ctx.pipeline, target.key);
  if (to === from + 1 || (to > from && ctx.pipeline.policy.allow_skip)) {
    return [stageChanged(state, target, 'forward', null, command.notes ?? null, ctx)];
  }
  if (to > from) throw invalidTransition(state, ctx.pipeline, target.key, 'stages cannot be skipped');
  if (!command.reason?.trim()) {
    throw invalidTransition(state, ctx.pipeline, target.key, 'moving backward requires a reason');
  }
  return [moveBackward(state, target, command.reason, command.notes ?? null, ctx)];
}

function logActivity(
  command: Extract<OpportunityCommand, { type: 'LogActivity' }>,
  state: OpportunityState,
  ctx: DecideContext,
): OpportunityEvent {
  if (state.activities[command.activity_id]) throw new DomainError(ErrorCode.AlreadyExists, 'Activity already exists');
  if (command.scheduled_at) checkInstant(command.scheduled_at, 'scheduled_at');
  if (command.completed_at) checkInstant(command.completed_at, 'completed_at');
  return {
    type: 'ActivityLogged',
    data: {
      activity_id: command.activity_id,
      activity_type: command.activity_type,
      subject: command.subject ?? null,
      description: command.description ?? null,
      outcome: command.outcome ?? null,
      priority: command.priority ?? null,
      scheduled_at: command.scheduled_at ?? null,
      // Neither scheduled nor completed: an interaction that just happened.
      completed_at: command.completed_at ?? (command.scheduled_at ? null : ctx.now),
      logged_at: ctx.now,
    },
  };
}

function checkInstant(value: string, field: string): void {
  if (parseInstant(value) === null) {
    throw DomainError.validation({ [field]: [`${field} must be an ISO-8601 date-time ${DATE_BOUNDS}`] });
  }
}

function moveBackward(
  state: OpportunityState,
  target: StageDefinition,
  reason: string,
  notes: string | null,
  ctx: DecideContext,
): OpportunityEvent {
  if (!ctx.pipeline.policy.allow_backward) {
    throw invalidTransition(state, ctx.pipeline, target.key, 'this pipeline does not allow backward moves');
  }
  return stageChanged(state, target, 'backward', reason.trim(), notes, ctx);
}

function putOnHold(
  state: OpportunityState,
  current: StageDefinition,
  reason: string | null,
  notes: string | null,
  ctx: DecideContext,
): OpportunityEvent {
  const hold = ctx.pipeline.stages.find((s) => s.kind === 'on_hold');
  if (!hold) throw invalidTransition(state, ctx.pipeline, null, 'this pipeline has no on-hold stage');
  if (current.kind !== 'active') throw invalidTransition(state, ctx.pipeline, hold.key, `already ${current.key}`);
  return stageChanged(state, hold, 'on_hold', reason, notes, ctx);
}

function resume(
  state: OpportunityState,
  current: StageDefinition,
  target: StageDefinition | undefined,
  notes: string | null,
  ctx: DecideContext,
): OpportunityEvent {
  if (current.kind !== 'on_hold') throw invalidTransition(state, ctx.pipeline, target?.key ?? null, 'the deal is not on hold');
  const stage = target ?? findStage(ctx.pipeline, state.held_from_stage ?? '');
  if (!stage || stage.kind !== 'active' || !state.reached_stages.includes(stage.key)) {
    throw invalidTransition(state, ctx.pipeline, stage?.key ?? null, 'a deal on hold resumes only to a stage it had reached');
  }
  return stageChanged(state, stage, 'resumed', null, notes, ctx);
}

function win(
  state: OpportunityState,
  current: StageDefinition,
  command: Extract<OpportunityCommand, { type: 'Win' }>,
  ctx: DecideContext,
): OpportunityEvent {
  const won = stageOfKind(ctx.pipeline, 'won');
  if (!allowedTransitions(state, ctx.pipeline).allowed_stages.includes(won.key)) {
    throw invalidTransition(state, ctx.pipeline, won.key, 'a deal is won from the last active stage');
  }
  const errors: FieldErrors = {};
  if (command.close_date !== undefined && !isValidDate(command.close_date)) {
    addError(errors, 'close_date', invalidDateMessage('close_date'));
  }
  if (command.actual_value_minor !== undefined) checkAmount(command.actual_value_minor, 'actual_value', errors);
  const reference = command.transaction_id?.trim() || null;
  if (command.transaction_id != null && !isExternalReference(command.transaction_id)) {
    addError(errors, 'transaction_id', 'transaction_id must be 1 to 200 characters, without control characters');
  }
  throwIfAny(errors);
  return {
    type: 'OpportunityWon',
    data: {
      from_stage: current.key,
      to_stage: won.key,
      actual_value_minor: command.actual_value_minor ?? state.value_minor,
      close_date: command.close_date ?? dateOf(ctx.now),
      close_reason: command.close_reason ?? null,
      won_at: ctx.now,
      ...(reference !== null ? { transaction_id: reference } : {}),
    },
  };
}

/** A reference another system made: any printable text up to 200 characters (trimmed, not blank). */
function isExternalReference(value: string): boolean {
  const trimmed = value.trim();
  return trimmed.length >= 1 && trimmed.length <= 200 && !/[\u0000-\u001f\u007f]/.test(trimmed);
}

function lose(
  state: OpportunityState,
  current: StageDefinition,
  command: Extract<OpportunityCommand, { type: 'Lose' }>,
  ctx: DecideContext,
): OpportunityEvent {
  const lost = stageOfKind(ctx.pipeline, 'lost');
  const errors: FieldErrors = {};
  if (!command.loss_reason) addError(errors, 'loss_reason', 'loss_reason is required');
  else if (!ctx.pipeline.loss_reasons.includes(command.loss_reason)) {
    addError(errors, 'loss_reason', `loss_reason must be one of: ${ctx.pipeline.loss_reasons.join(', ')}`);
  }
  if (command.close_date !== undefined && !isValidDate(command.close_date)) {
    addError(errors, 'close_date', invalidDateMessage('close_date'));
  }
  throwIfAny(errors);
  return {
    type: 'OpportunityLost',
    data: {
      from_stage: current.key,
      to_stage: lost.key,
      loss_reason: command.loss_reason,
      competitor: command.competitor ?? null,
      loss_notes: command.loss_notes ?? null,
      lessons_learned: command.lessons_learned ?? null,
      close_date: command.close_date ?? dateOf(ctx.now),
      lost_at: ctx.now,
    },
  };
}

function stageChanged(
  state: OpportunityState,
  target: StageDefinition,
  movement: StageMovement,
  reason: string | null,
  notes: string | null,
  ctx: DecideContext,
): OpportunityEvent {
  return {
    type: 'OpportunityStageChanged',
    data: {
      from_stage: state.stage,
      to_stage: target.key,
      movement,
      probability: target.probability,
      reason,
      notes,
      changed_at: ctx.now,
    },
  };
}

function invalidTransition(state: OpportunityState, pipeline: Pipeline, to: string | null, why: string): DomainError {
  return new DomainError(ErrorCode.InvalidStageTransition, 'Invalid stage transition', {
    current_stage: state.stage,
    requested_stage: to,
    reason: why,
    ...allowedTransitions(state, pipeline),
  });
}

function requireReason(reason: string | undefined): void {
  if (!reason?.trim()) throw DomainError.validation({ reason: ['reason is required to move an opportunity backward'] });
}

function requireText(value: string | undefined, field: string): string {
  if (!value?.trim()) throw DomainError.validation({ [field]: [`${field} is required`] });
  return value.trim();
}

const DATE_FIELDS = ['expected_close_date', 'demo_date', 'proposal_date', 'follow_up_date'] as const;

function collectDetailErrors(input: DetailChanges, errors: FieldErrors): void {
  if (input.value_minor !== undefined) checkAmount(input.value_minor, 'value', errors);
  if (input.expected_revenue_minor != null) checkAmount(input.expected_revenue_minor, 'expected_revenue', errors);
  for (const field of DATE_FIELDS) {
    const value = input[field];
    if (value != null && !isValidDate(value)) addError(errors, field, invalidDateMessage(field));
  }
  if (input.tags?.some((tag) => tag.trim() === '')) addError(errors, 'tags', 'tags must not contain an empty tag');
  if (input.currency !== undefined && !/^[A-Z]{3}$/.test(input.currency)) {
    addError(errors, 'currency', 'currency must be a 3-letter ISO 4217 code');
  }
}

function checkAmount(minor: number, field: string, errors: FieldErrors): void {
  if (!Number.isSafeInteger(minor) || minor < 0) addError(errors, field, `${field} must not be negative`);
  else if (minor > MAX_AMOUNT_MINOR) addError(errors, field, `${field} must be at most ${MAX_AMOUNT}`);
}

function checkProbability(p: number, errors: FieldErrors): void {
  if (!Number.isInteger(p) || p < 0 || p > 100) addError(errors, 'probability', 'probability must be an integer from 0 to 100');
}

function addError(errors: FieldErrors, field: string, message: string): void {
  (errors[field] ??= []).push(message);
}

function throwIfAny(errors: FieldErrors): void {
  if (Object.keys(errors).length > 0) throw DomainError.validation(errors);
}

/** Only the fields that really change; custom_fields merge key by key (null removes a key). */
function diff(state: OpportunityState, changes: DetailChanges): DetailChanges {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(changes) as [keyof OpportunityDetails, unknown][]) {
    if (value === undefined) continue;
    if (key === 'custom_fields') {
      const merged = mergeCustomFields(state.custom_fields, value as Record<string, unknown>);
      if (JSON.stringify(merged) !== JSON.stringify(state.custom_fields)) out.custom_fields = merged;
    } else if (key === 'tags') {
      const tags = dedupe(value as string[]);
      if (JSON.stringify(tags) !== JSON.stringify(state.tags)) out.tags = tags;
    } else {
      const normalised = key === 'name' ? (value as string).trim() : value;
      if (JSON.stringify(normalised) !== JSON.stringify(state[key])) out[key] = normalised;
    }
  }
  return out as DetailChanges;
}

function mergeCustomFields(current: Record<string, unknown>, patch: Record<string, unknown>): Record<string, unknown> {
  const merged = { ...current };
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete merged[k];
    else merged[k] = v;
  }
  return merged;
}

function dedupe(tags: string[]): string[] {
  return [...new Set(tags.map((t) => t.trim()).filter(Boolean))];
}
