import { DATE_BOUNDS, isValidDate } from './dates';
import { DomainError, type FieldErrors } from './errors';
import { PIPELINE_KEY } from './pipeline-aggregate';

/**
 * Typed custom-field definitions, one event-sourced aggregate per org (stream
 * `custom_fields-<org>-definitions`). A definition says what a deal's `custom_fields[key]` holds;
 * the deal decider checks values against the definitions when they are given, never rewrites
 * values recorded earlier.
 */
export const CUSTOM_FIELD_TYPES = ['text', 'number', 'date', 'boolean', 'single_select', 'multi_select'] as const;
export type CustomFieldType = (typeof CUSTOM_FIELD_TYPES)[number];

export interface CustomFieldDefinition {
  key: string;
  label: string;
  type: CustomFieldType;
  /** The choices of a single_select or multi_select (absent for the other types). */
  options?: string[];
  required: boolean;
  display_order: number;
  /** The pipeline whose deals it applies to; null: every pipeline. */
  pipeline_id: string | null;
}

export type CustomFieldEvent =
  | { type: 'CustomFieldDefined'; data: { definition: CustomFieldDefinition; defined_at: string } }
  /** The whole definition after the change, and the one before (an audit reads both). */
  | { type: 'CustomFieldChanged'; data: { definition: CustomFieldDefinition; previous: CustomFieldDefinition; changed_at: string } }
  | { type: 'CustomFieldRemoved'; data: { key: string; removed_at: string } }
  | { type: 'CustomFieldSettingsChanged'; data: { allow_unknown: boolean; changed_at: string } };

export const CUSTOM_FIELD_EVENT_TYPES: readonly CustomFieldEvent['type'][] = [
  'CustomFieldDefined',
  'CustomFieldChanged',
  'CustomFieldRemoved',
  'CustomFieldSettingsChanged',
];

/** What a caller sends to define a field (shapes checked by the DTO; the rules here). */
export interface CustomFieldInput {
  key: string;
  label: string;
  type: CustomFieldType;
  options?: string[] | null;
  required?: boolean;
  display_order?: number;
  pipeline_id?: string | null;
}

export type CustomFieldChanges = Partial<Omit<CustomFieldInput, 'key'>>;

export type CustomFieldCommand =
  | { type: 'DefineCustomField'; input: CustomFieldInput }
  | { type: 'ChangeCustomField'; key: string; changes: CustomFieldChanges }
  | { type: 'RemoveCustomField'; key: string }
  | { type: 'SetCustomFieldSettings'; allow_unknown: boolean };

export interface CustomFieldsState {
  version: number;
  /** Keys without a definition are accepted (true until an admin says otherwise). */
  allow_unknown: boolean;
  definitions: CustomFieldDefinition[];
}

export const INITIAL_CUSTOM_FIELDS_STATE: CustomFieldsState = { version: 0, allow_unknown: true, definitions: [] };

export const CUSTOM_FIELD_KEY = /^[a-z][a-z0-9_]{0,63}$/;
/** Path segments of /custom-fields/… that a key would shadow. */
const RESERVED_KEYS = ['history', 'settings'];
export const MAX_CUSTOM_FIELDS = 200;
export const MAX_CUSTOM_FIELD_OPTIONS = 100;
export const MAX_CUSTOM_FIELD_TEXT = 2000;
const MAX_LABEL = 200;
const MAX_OPTION = 100;

const isSelect = (type: CustomFieldType) => type === 'single_select' || type === 'multi_select';

function toDefinition(input: CustomFieldInput, errors: FieldErrors): CustomFieldDefinition {
  if (typeof input.key !== 'string' || !CUSTOM_FIELD_KEY.test(input.key)) {
    add(errors, 'key', 'key must be 1–64 lower-case letters, digits and _ (starting with a letter)');
  } else if (RESERVED_KEYS.includes(input.key)) {
    add(errors, 'key', `key must not be one of: ${RESERVED_KEYS.join(', ')} (they name routes under /custom-fields)`);
  }
  const label = typeof input.label === 'string' ? input.label.trim() : '';
  if (!label) add(errors, 'label', 'label is required');
  else if (label.length > MAX_LABEL) add(errors, 'label', `label must be at most ${MAX_LABEL} characters`);
  if (!(CUSTOM_FIELD_TYPES as readonly unknown[]).includes(input.type)) {
    add(errors, 'type', `type must be one of: ${CUSTOM_FIELD_TYPES.join(', ')}`);
  }
  const options = input.options ?? undefined;
  if (isSelect(input.type)) {
    if (!Array.isArray(options) || options.length === 0) add(errors, 'options', `a ${input.type} field needs at least one option`);
    else {
      if (options.length > MAX_CUSTOM_FIELD_OPTIONS) add(errors, 'options', `at most ${MAX_CUSTOM_FIELD_OPTIONS} options`);
      if (options.some((o) => typeof o !== 'string' || !o.trim() || o.length > MAX_OPTION || o !== o.trim())) {
        add(errors, 'options', `options are non-empty strings of at most ${MAX_OPTION} characters without surrounding spaces`);
      }
      if (new Set(options).size !== options.length) add(errors, 'options', 'options must be distinct');
    }
  } else if (options !== undefined) {
    add(errors, 'options', 'options are only for single_select and multi_select fields');
  }
  const required = input.required ?? false;
  if (typeof required !== 'boolean') add(errors, 'required', 'required must be a boolean');
  const displayOrder = input.display_order ?? 0;
  if (!Number.isSafeInteger(displayOrder) || displayOrder < 0 || displayOrder > 1_000_000) {
    add(errors, 'display_order', 'display_order must be a whole number from 0 to 1000000');
  }
  const pipelineId = input.pipeline_id ?? null;
  if (pipelineId !== null && (typeof pipelineId !== 'string' || !PIPELINE_KEY.test(pipelineId))) {
    add(errors, 'pipeline_id', 'pipeline_id must be lower-case letters, digits and _');
  }
  return {
    key: input.key,
    label,
    type: input.type,
    ...(isSelect(input.type) && Array.isArray(options) ? { options: [...options] } : {}),
    required,
    display_order: displayOrder,
    pipeline_id: pipelineId,
  };
}

export function decideCustomFields(command: CustomFieldCommand, state: CustomFieldsState, now: string): CustomFieldEvent[] {
  const errors: FieldErrors = {};
  switch (command.type) {
    case 'DefineCustomField': {
      const definition = toDefinition(command.input, errors);
      throwIf(errors);
      if (state.definitions.some((d) => d.key === definition.key)) {
        throw DomainError.validation({ key: [`a custom field ${definition.key} is already defined`] });
      }
      if (state.definitions.length >= MAX_CUSTOM_FIELDS) {
        throw DomainError.validation({ key: [`an organisation has at most ${MAX_CUSTOM_FIELDS} custom fields`] });
      }
      return [{ type: 'CustomFieldDefined', data: { definition, defined_at: now } }];
    }
    case 'ChangeCustomField': {
      const previous = requireDefinition(state, command.key);
      const given = Object.fromEntries(Object.entries(command.changes).filter(([, v]) => v !== undefined)) as CustomFieldChanges;
      const type = given.type ?? previous.type;
      // A change of type away from a select drops its options; one to a select needs them given or kept.
      const options = 'options' in given ? given.options : isSelect(type) ? previous.options : undefined;
      const definition = toDefinition(
        {
          key: previous.key,
          label: given.label ?? previous.label,
          type,
          options,
          required: given.required ?? previous.required,
          display_order: given.display_order ?? previous.display_order,
          pipeline_id: 'pipeline_id' in given ? given.pipeline_id : previous.pipeline_id,
        },
        errors,
      );
      throwIf(errors);
      if (JSON.stringify(definition) === JSON.stringify(previous)) return [];
      return [{ type: 'CustomFieldChanged', data: { definition, previous, changed_at: now } }];
    }
    case 'RemoveCustomField':
      requireDefinition(state, command.key);
      return [{ type: 'CustomFieldRemoved', data: { key: command.key, removed_at: now } }];
    case 'SetCustomFieldSettings':
      if (typeof command.allow_unknown !== 'boolean') throw DomainError.validation({ allow_unknown: ['allow_unknown must be a boolean'] });
      if (command.allow_unknown === state.allow_unknown) return [];
      return [{ type: 'CustomFieldSettingsChanged', data: { allow_unknown: command.allow_unknown, changed_at: now } }];
    default: {
      const unreachable: never = command;
      throw new Error(`Unknown command ${(unreachable as { type: string }).type}`);
    }
  }
}

/** An org's custom-field definitions from their stored events. */
export function foldStoredCustomFields(stored: readonly { type: string; data: unknown }[]): CustomFieldsState {
  return stored.reduce(
    (state, e) => evolveCustomFields(state, { type: e.type, data: e.data } as CustomFieldEvent),
    INITIAL_CUSTOM_FIELDS_STATE,
  );
}

export function evolveCustomFields(state: CustomFieldsState, event: CustomFieldEvent): CustomFieldsState {
  const next = { ...state, version: state.version + 1 };
  switch (event.type) {
    case 'CustomFieldDefined':
      return { ...next, definitions: [...state.definitions, event.data.definition] };
    case 'CustomFieldChanged':
      return { ...next, definitions: state.definitions.map((d) => (d.key === event.data.definition.key ? event.data.definition : d)) };
    case 'CustomFieldRemoved':
      return { ...next, definitions: state.definitions.filter((d) => d.key !== event.data.key) };
    case 'CustomFieldSettingsChanged':
      return { ...next, allow_unknown: event.data.allow_unknown };
    default: {
      const unreachable: never = event;
      throw new Error(`Unknown event ${(unreachable as { type: string }).type}`);
    }
  }
}

function requireDefinition(state: CustomFieldsState, key: string): CustomFieldDefinition {
  const found = state.definitions.find((d) => d.key === key);
  if (!found) throw DomainError.notFound('Custom field');
  return found;
}

/** The definitions a deal of this pipeline follows, in display order (then by key). */
export function definitionsFor(state: CustomFieldsState, pipelineId: string): CustomFieldDefinition[] {
  return state.definitions
    .filter((d) => d.pipeline_id === null || d.pipeline_id === pipelineId)
    .sort((a, b) => a.display_order - b.display_order || a.key.localeCompare(b.key));
}

/** Why a value does not fit its definition (a sentence naming the expected type), or null when it fits. */
export function customFieldMismatch(definition: CustomFieldDefinition, value: unknown): string | null {
  switch (definition.type) {
    case 'text':
      return typeof value === 'string' && value.length <= MAX_CUSTOM_FIELD_TEXT
        ? null
        : `expected text (a string of at most ${MAX_CUSTOM_FIELD_TEXT} characters)`;
    case 'number':
      return typeof value === 'number' && Number.isFinite(value) ? null : 'expected a number (a finite JSON number)';
    case 'date':
      return typeof value === 'string' && isValidDate(value) ? null : `expected a date in the form YYYY-MM-DD, ${DATE_BOUNDS}`;
    case 'boolean':
      return typeof value === 'boolean' ? null : 'expected a boolean (true or false)';
    case 'single_select':
      return typeof value === 'string' && (definition.options ?? []).includes(value)
        ? null
        : `expected a single_select value, one of: ${(definition.options ?? []).join(', ')}`;
    case 'multi_select':
      return Array.isArray(value) &&
        value.every((v) => typeof v === 'string' && (definition.options ?? []).includes(v)) &&
        new Set(value).size === value.length
        ? null
        : `expected a multi_select value, an array of distinct options of: ${(definition.options ?? []).join(', ')}`;
    default: {
      const unreachable: never = definition.type;
      return `unknown type ${String(unreachable)}`;
    }
  }
}

/**
 * Field errors (`custom_fields.<key>`) of custom field values given by a create (all of them,
 * `creating`) or an update (the patch; null removes a key). Keys of another pipeline's fields or
 * without a definition are refused only when the org does not allow unknown keys.
 */
export function customFieldErrors(
  state: CustomFieldsState,
  pipelineId: string,
  given: Record<string, unknown>,
  creating: boolean,
  errors: FieldErrors,
): void {
  const applicable = new Map(definitionsFor(state, pipelineId).map((d) => [d.key, d]));
  for (const [key, value] of Object.entries(given)) {
    const field = `custom_fields.${key}`;
    const definition = applicable.get(key);
    if (!definition) {
      if (!state.allow_unknown)
        add(errors, field, `custom field ${key} is not defined for pipeline ${pipelineId} (GET /custom-fields lists them)`);
      continue;
    }
    if (value === null) {
      if (definition.required) add(errors, field, `custom field ${key} is required`);
      continue;
    }
    const reason = customFieldMismatch(definition, value);
    if (reason) add(errors, field, `custom_fields.${key}: ${reason}`);
  }
  if (creating) {
    for (const definition of applicable.values()) {
      if (definition.required && (given[definition.key] === undefined || given[definition.key] === null)) {
        add(errors, `custom_fields.${definition.key}`, `custom field ${definition.key} is required`);
      }
    }
  }
}

/** A deal's stored values that no longer fit the current definitions of its pipeline. */
export function customFieldMismatches(
  state: CustomFieldsState,
  pipelineId: string,
  values: Record<string, unknown>,
): { key: string; reason: string }[] {
  const out: { key: string; reason: string }[] = [];
  const applicable = definitionsFor(state, pipelineId);
  const known = new Set(applicable.map((d) => d.key));
  for (const definition of applicable) {
    const value = values[definition.key];
    if (value === undefined || value === null) {
      if (definition.required) out.push({ key: definition.key, reason: 'required but missing' });
      continue;
    }
    const reason = customFieldMismatch(definition, value);
    if (reason) out.push({ key: definition.key, reason });
  }
  if (!state.allow_unknown) {
    for (const key of Object.keys(values).sort()) {
      if (!known.has(key)) out.push({ key, reason: 'no definition for this key' });
    }
  }
  return out;
}

function add(errors: FieldErrors, field: string, message: string): void {
  (errors[field] ??= []).push(message);
}

function throwIf(errors: FieldErrors): void {
  if (Object.keys(errors).length) throw DomainError.validation(errors);
}
