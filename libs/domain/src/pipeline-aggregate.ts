import { DomainError, ErrorCode, type FieldErrors } from './errors';
import {
  DEFAULT_LOSS_REASONS,
  DEFAULT_PIPELINE,
  DEFAULT_PIPELINE_ID,
  type Pipeline,
  type PipelinePolicy,
  type StageDefinition,
  type StageKind,
} from './pipeline';

/** Pipeline events: every change to an org's pipelines is recorded (audited like deals). */
export type PipelineEvent =
  | { type: 'PipelineCreated'; data: { pipeline: Pipeline; created_at: string } }
  | { type: 'PipelineUpdated'; data: { name?: string; policy?: PipelinePolicy; updated_at: string } }
  | { type: 'StageAdded'; data: { stage: StageDefinition; added_at: string } }
  | {
      type: 'StageUpdated';
      /** `rotting_days: null` clears the stage's rotting rule; an absent field keeps its value. */
      data: {
        key: string;
        changes: Partial<Omit<StageDefinition, 'key' | 'kind' | 'rotting_days'>> & { rotting_days?: number | null };
        updated_at: string;
      };
    }
  | { type: 'StageRemoved'; data: { key: string; removed_at: string } }
  | { type: 'LossReasonsSet'; data: { loss_reasons: string[]; set_at: string } }
  | { type: 'PipelineDeleted'; data: { deleted_at: string } };

export const PIPELINE_EVENT_TYPES: readonly PipelineEvent['type'][] = [
  'PipelineCreated',
  'PipelineUpdated',
  'StageAdded',
  'StageUpdated',
  'StageRemoved',
  'LossReasonsSet',
  'PipelineDeleted',
];

export interface StageInput {
  key?: string;
  name: string;
  display_order: number;
  probability?: number;
  is_won?: boolean;
  is_lost?: boolean;
  is_on_hold?: boolean;
  rotting_days?: number | null;
}

export type PipelineCommand =
  | {
      type: 'CreatePipeline';
      pipeline_id: string;
      name: string;
      stages: StageInput[];
      loss_reasons?: string[];
      policy?: Partial<PipelinePolicy>;
    }
  | { type: 'UpdatePipeline'; name?: string; policy?: Partial<PipelinePolicy> }
  | { type: 'AddStage'; stage: StageInput }
  | { type: 'UpdateStage'; key: string; changes: Partial<Pick<StageInput, 'name' | 'display_order' | 'probability' | 'rotting_days'>> }
  | { type: 'RemoveStage'; key: string }
  | { type: 'SetLossReasons'; loss_reasons: string[] }
  | { type: 'DeletePipeline' };

export interface PipelineState {
  version: number;
  exists: boolean;
  deleted: boolean;
  pipeline: Pipeline | null;
}

export const INITIAL_PIPELINE_STATE: PipelineState = { version: 0, exists: false, deleted: false, pipeline: null };

/** The default pipeline exists for every org before anyone changes it. */
export function initialPipelineState(pipelineId: string): PipelineState {
  return pipelineId === DEFAULT_PIPELINE_ID
    ? { version: 0, exists: true, deleted: false, pipeline: DEFAULT_PIPELINE }
    : INITIAL_PIPELINE_STATE;
}

/** Pipeline ids, stage keys and loss-reason codes: lower-case letters, digits and _, starting with a letter. */
export const PIPELINE_KEY = /^[a-z][a-z0-9_]{0,62}$/;

export function slugOf(name: string): string {
  const slug = name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '');
  return /^[a-z]/.test(slug) ? slug.slice(0, 63) : `stage_${slug}`.slice(0, 63);
}

function toStage(input: StageInput, errors: FieldErrors, path: string): StageDefinition {
  const flags = [input.is_won, input.is_lost, input.is_on_hold].filter(Boolean).length;
  if (flags > 1) add(errors, path, 'a stage is at most one of is_won, is_lost, is_on_hold');
  const kind: StageKind = input.is_won ? 'won' : input.is_lost ? 'lost' : input.is_on_hold ? 'on_hold' : 'active';
  const key = input.key ?? slugOf(input.name);
  if (!PIPELINE_KEY.test(key)) add(errors, `${path}.key`, 'key must be lower-case letters, digits and _ (starting with a letter)');
  if (!input.name?.trim()) add(errors, `${path}.name`, 'name is required');
  if (!Number.isInteger(input.display_order) || input.display_order < 1)
    add(errors, `${path}.display_order`, 'display_order must be a whole number ≥ 1');
  const probability = input.probability ?? (kind === 'won' ? 100 : kind === 'active' ? 50 : 0);
  if (!Number.isInteger(probability) || probability < 0 || probability > 100)
    add(errors, `${path}.probability`, 'probability must be a whole number from 0 to 100');
  if (kind === 'won' && probability !== 100) add(errors, `${path}.probability`, 'a won stage has probability 100');
  if ((kind === 'lost' || kind === 'on_hold') && probability !== 0) add(errors, `${path}.probability`, `a ${kind} stage has probability 0`);
  if (input.rotting_days != null && (!Number.isInteger(input.rotting_days) || input.rotting_days < 1)) {
    add(errors, `${path}.rotting_days`, 'rotting_days must be a whole number ≥ 1 (or null)');
  }
  return {
    key,
    name: input.name?.trim(),
    display_order: input.display_order,
    probability,
    kind,
    ...(input.rotting_days != null ? { rotting_days: input.rotting_days } : {}),
  };
}

/** A pipeline needs active stages, exactly one won and one lost stage, unique keys and orders. */
function checkShape(stages: StageDefinition[], errors: FieldErrors, field = 'stages'): void {
  const count = (kind: StageKind) => stages.filter((s) => s.kind === kind).length;
  if (count('active') === 0) add(errors, field, 'a pipeline needs at least one active stage');
  if (count('won') !== 1) add(errors, field, 'a pipeline needs exactly one stage with is_won');
  if (count('lost') !== 1) add(errors, field, 'a pipeline needs exactly one stage with is_lost');
  if (count('on_hold') > 1) add(errors, field, 'a pipeline has at most one on-hold stage');
  const keys = stages.map((s) => s.key);
  if (new Set(keys).size !== keys.length) add(errors, field, 'stage keys must be unique');
  const orders = stages.map((s) => s.display_order);
  if (new Set(orders).size !== orders.length) add(errors, field, 'display_order values must be unique');
}

function checkLossReasons(reasons: string[], errors: FieldErrors): void {
  if (reasons.length === 0) add(errors, 'loss_reasons', 'at least one loss reason is needed');
  if (reasons.some((r) => !PIPELINE_KEY.test(r))) add(errors, 'loss_reasons', 'loss reason codes are lower-case letters, digits and _');
  if (new Set(reasons).size !== reasons.length) add(errors, 'loss_reasons', 'loss reason codes must be unique');
}

export const defaultPipelineProtected = () => new DomainError(ErrorCode.DefaultPipelineProtected, 'The default pipeline cannot be deleted');

export function decidePipeline(command: PipelineCommand, state: PipelineState, now: string): PipelineEvent[] {
  const errors: FieldErrors = {};
  if (command.type === 'CreatePipeline') {
    if (state.exists && !state.deleted) throw new DomainError(ErrorCode.AlreadyExists, 'Pipeline already exists');
    if (!command.name?.trim()) add(errors, 'name', 'name is required');
    const stages = (command.stages ?? []).map((s, i) => toStage(s, errors, `stages.${i}`));
    checkShape(stages, errors);
    const lossReasons = command.loss_reasons ?? DEFAULT_LOSS_REASONS;
    checkLossReasons(lossReasons, errors);
    throwIf(errors);
    const pipeline: Pipeline = {
      id: command.pipeline_id,
      name: command.name.trim(),
      stages,
      loss_reasons: lossReasons,
      policy: { allow_skip: command.policy?.allow_skip ?? false, allow_backward: command.policy?.allow_backward ?? true },
    };
    return [{ type: 'PipelineCreated', data: { pipeline, created_at: now } }];
  }
  if (!state.exists || state.deleted || !state.pipeline) throw DomainError.notFound('Pipeline');
  const current = state.pipeline;
  switch (command.type) {
    case 'UpdatePipeline': {
      if (command.name !== undefined && !command.name.trim()) add(errors, 'name', 'name must not be empty');
      throwIf(errors);
      // Only the flags given change (an absent or undefined flag keeps its value).
      const given = Object.fromEntries(Object.entries(command.policy ?? {}).filter(([, v]) => v !== undefined));
      const policy = { ...current.policy, ...given };
      const name = command.name?.trim();
      const renamed = name !== undefined && name !== current.name;
      const policyChanged = policy.allow_skip !== current.policy.allow_skip || policy.allow_backward !== current.policy.allow_backward;
      // Nothing would change: nothing is recorded (the response still carries the current version).
      if (!renamed && !policyChanged) return [];
      return [
        {
          type: 'PipelineUpdated',
          data: { ...(renamed ? { name } : {}), ...(policyChanged ? { policy } : {}), updated_at: now },
        },
      ];
    }
    case 'AddStage': {
      const stage = toStage(command.stage, errors, 'stage');
      checkShape([...current.stages, stage], errors, 'stage');
      throwIf(errors);
      return [{ type: 'StageAdded', data: { stage, added_at: now } }];
    }
    case 'UpdateStage': {
      const existing = current.stages.find((s) => s.key === command.key);
      if (!existing) throw DomainError.notFound('Stage');
      const merged = toStage(
        {
          key: existing.key,
          name: command.changes.name ?? existing.name,
          display_order: command.changes.display_order ?? existing.display_order,
          probability: command.changes.probability ?? existing.probability,
          rotting_days: command.changes.rotting_days === undefined ? existing.rotting_days : command.changes.rotting_days,
          is_won: existing.kind === 'won',
          is_lost: existing.kind === 'lost',
          is_on_hold: existing.kind === 'on_hold',
        },
        errors,
        'stage',
      );
      checkShape(
        current.stages.map((s) => (s.key === existing.key ? merged : s)),
        errors,
        'stage',
      );
      throwIf(errors);
      const { key: _k, kind: _kind, ...changes } = merged;
      // A rule being cleared is said in the event; toStage leaves an absent rule out.
      const cleared = changes.rotting_days === undefined && existing.rotting_days !== undefined ? { rotting_days: null } : {};
      return [{ type: 'StageUpdated', data: { key: existing.key, changes: { ...changes, ...cleared }, updated_at: now } }];
    }
    case 'RemoveStage': {
      if (!current.stages.some((s) => s.key === command.key)) throw DomainError.notFound('Stage');
      checkShape(
        current.stages.filter((s) => s.key !== command.key),
        errors,
        'stage',
      );
      throwIf(errors);
      return [{ type: 'StageRemoved', data: { key: command.key, removed_at: now } }];
    }
    case 'SetLossReasons':
      checkLossReasons(command.loss_reasons, errors);
      throwIf(errors);
      return [{ type: 'LossReasonsSet', data: { loss_reasons: command.loss_reasons, set_at: now } }];
    case 'DeletePipeline':
      if (current.id === DEFAULT_PIPELINE_ID) {
        throw defaultPipelineProtected();
      }
      return [{ type: 'PipelineDeleted', data: { deleted_at: now } }];
    default: {
      const unreachable: never = command;
      throw new Error(`Unknown command ${(unreachable as { type: string }).type}`);
    }
  }
}

/** A pipeline from its stored events (type and data as the log keeps them). */
export function foldStoredPipeline(
  pipelineId: string,
  stored: readonly { type: string; data: unknown }[],
  from: PipelineState = initialPipelineState(pipelineId),
): PipelineState {
  return stored.reduce((state, e) => evolvePipeline(state, { type: e.type, data: e.data } as PipelineEvent), from);
}

export function evolvePipeline(state: PipelineState, event: PipelineEvent): PipelineState {
  const next = { ...state, version: state.version + 1 };
  const p = state.pipeline;
  switch (event.type) {
    case 'PipelineCreated':
      return { ...next, exists: true, deleted: false, pipeline: event.data.pipeline };
    case 'PipelineUpdated':
      return {
        ...next,
        pipeline: {
          ...p!,
          ...(event.data.name ? { name: event.data.name } : {}),
          ...(event.data.policy ? { policy: event.data.policy } : {}),
        },
      };
    case 'StageAdded':
      return { ...next, pipeline: { ...p!, stages: [...p!.stages, event.data.stage] } };
    case 'StageUpdated':
      return {
        ...next,
        pipeline: { ...p!, stages: p!.stages.map((s) => (s.key === event.data.key ? updatedStage(s, event.data.changes) : s)) },
      };
    case 'StageRemoved':
      return { ...next, pipeline: { ...p!, stages: p!.stages.filter((s) => s.key !== event.data.key) } };
    case 'LossReasonsSet':
      return { ...next, pipeline: { ...p!, loss_reasons: event.data.loss_reasons } };
    case 'PipelineDeleted':
      return { ...next, deleted: true };
    default: {
      const unreachable: never = event;
      throw new Error(`Unknown event ${(unreachable as { type: string }).type}`);
    }
  }
}

function updatedStage(
  stage: StageDefinition,
  changes: Extract<PipelineEvent, { type: 'StageUpdated' }>['data']['changes'],
): StageDefinition {
  const { rotting_days, ...rest } = changes;
  const { rotting_days: current, ...kept } = { ...stage, ...rest };
  const rule = rotting_days === undefined ? current : rotting_days;
  return rule == null ? kept : { ...kept, rotting_days: rule };
}

function add(errors: FieldErrors, field: string, message: string): void {
  (errors[field] ??= []).push(message);
}

function throwIf(errors: FieldErrors): void {
  if (Object.keys(errors).length) throw DomainError.validation(errors);
}
