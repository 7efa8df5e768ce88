import {
  type CustomFieldCommand,
  type CustomFieldDefinition,
  type CustomFieldEvent,
  customFieldErrors,
  customFieldMismatches,
  decideCustomFields,
  definitionsFor,
  DomainError,
  ErrorCode,
  evolveCustomFields,
  type FieldErrors,
  INITIAL_CUSTOM_FIELDS_STATE,
} from '@app/domain';

/* decideCustomFields / evolveCustomFields as Given (the org's past events) / When (a command) / Then (events or error). */

const NOW = '2026-01-15T10:00:00.000Z';
const EARLIER = '2026-01-02T09:00:00.000Z';

function given(...events: CustomFieldEvent[]) {
  const state = events.reduce(evolveCustomFields, INITIAL_CUSTOM_FIELDS_STATE);
  return {
    state,
    when(command: CustomFieldCommand) {
      const run = () => decideCustomFields(command, state, NOW);
      return {
        then: (...expected: CustomFieldEvent[]) => expect(run()).toEqual(expected),
        thenThrows(code: ErrorCode, fields?: string[]) {
          let error: unknown;
          try {
            run();
          } catch (err) {
            error = err;
          }
          expect(error).toBeInstanceOf(DomainError);
          expect((error as DomainError).code).toBe(code);
          if (fields) expect(Object.keys(((error as DomainError).details.errors ?? {}) as FieldErrors).sort()).toEqual([...fields].sort());
        },
      };
    },
  };
}

const def = (overrides: Partial<CustomFieldDefinition> = {}): CustomFieldDefinition => ({
  key: 'seats',
  label: 'Seats',
  type: 'number',
  required: false,
  display_order: 1,
  pipeline_id: null,
  ...overrides,
});
const defined = (d: CustomFieldDefinition): CustomFieldEvent => ({
  type: 'CustomFieldDefined',
  data: { definition: d, defined_at: EARLIER },
});

describe('custom-field definitions', () => {
  it('defines a field with defaults', () => {
    given()
      .when({ type: 'DefineCustomField', input: { key: 'seats', label: ' Seats ', type: 'number', display_order: 1 } })
      .then({ type: 'CustomFieldDefined', data: { definition: def(), defined_at: NOW } });
  });

  it('keeps the options of a select field', () => {
    given()
      .when({
        type: 'DefineCustomField',
        input: { key: 'tier', label: 'Tier', type: 'single_select', options: ['gold', 'silver'], required: true },
      })
      .then({
        type: 'CustomFieldDefined',
        data: {
          definition: def({
            key: 'tier',
            label: 'Tier',
            type: 'single_select',
            options: ['gold', 'silver'],
            required: true,
            display_order: 0,
          }),
          defined_at: NOW,
        },
      });
  });

  it.each([
    [{ key: 'Bad-Key', label: 'x', type: 'text' }, ['key']],
    [{ key: 'history', label: 'x', type: 'text' }, ['key']],
    [{ key: 'k'.repeat(65), label: 'x', type: 'text' }, ['key']],
    [{ key: 'ok', label: '  ', type: 'text' }, ['label']],
    [{ key: 'ok', label: 'x', type: 'colour' }, ['type']],
    [{ key: 'ok', label: 'x', type: 'single_select' }, ['options']],
    [{ key: 'ok', label: 'x', type: 'multi_select', options: ['a', 'a'] }, ['options']],
    [{ key: 'ok', label: 'x', type: 'number', options: ['a'] }, ['options']],
    [{ key: 'ok', label: 'x', type: 'text', display_order: -1 }, ['display_order']],
    [{ key: 'ok', label: 'x', type: 'text', pipeline_id: 'Not Valid' }, ['pipeline_id']],
  ])('refuses %j', (input, fields) => {
    given()
      .when({ type: 'DefineCustomField', input: input as never })
      .thenThrows(ErrorCode.ValidationFailed, fields);
  });

  it('refuses a key defined already', () => {
    given(defined(def()))
      .when({ type: 'DefineCustomField', input: { key: 'seats', label: 'Seats', type: 'text' } })
      .thenThrows(ErrorCode.ValidationFailed, ['key']);
  });

  it('records a change with the whole definition before and after', () => {
    given(defined(def()))
      .when({ type: 'ChangeCustomField', key: 'seats', changes: { type: 'text', label: 'Seat count' } })
      .then({
        type: 'CustomFieldChanged',
        data: { definition: def({ type: 'text', label: 'Seat count' }), previous: def(), changed_at: NOW },
      });
  });

  it('records nothing when nothing changes; a change of an unknown key is a 404', () => {
    given(defined(def()))
      .when({ type: 'ChangeCustomField', key: 'seats', changes: { label: 'Seats' } })
      .then();
    given().when({ type: 'ChangeCustomField', key: 'seats', changes: {} }).thenThrows(ErrorCode.NotFound);
    given().when({ type: 'RemoveCustomField', key: 'seats' }).thenThrows(ErrorCode.NotFound);
  });

  it('a change to a select type needs options', () => {
    given(defined(def()))
      .when({ type: 'ChangeCustomField', key: 'seats', changes: { type: 'single_select' } })
      .thenThrows(ErrorCode.ValidationFailed, ['options']);
  });

  it('removes a field and sets allow_unknown (only when it changes)', () => {
    given(defined(def()))
      .when({ type: 'RemoveCustomField', key: 'seats' })
      .then({ type: 'CustomFieldRemoved', data: { key: 'seats', removed_at: NOW } });
    given().when({ type: 'SetCustomFieldSettings', allow_unknown: true }).then();
    given()
      .when({ type: 'SetCustomFieldSettings', allow_unknown: false })
      .then({ type: 'CustomFieldSettingsChanged', data: { allow_unknown: false, changed_at: NOW } });
  });

  it('evolves: defined, changed, removed, settings', () => {
    const { state } = given(
      defined(def()),
      defined(def({ key: 'tier', type: 'text', display_order: 0, pipeline_id: 'enterprise' })),
      { type: 'CustomFieldChanged', data: { definition: def({ label: 'Licences' }), previous: def(), changed_at: NOW } },
      { type: 'CustomFieldSettingsChanged', data: { allow_unknown: false, changed_at: NOW } },
    );
    expect(state.version).toBe(4);
    expect(state.allow_unknown).toBe(false);
    expect(definitionsFor(state, 'enterprise').map((d) => [d.key, d.label])).toEqual([
      ['tier', 'Seats'],
      ['seats', 'Licences'],
    ]);
    expect(definitionsFor(state, 'default').map((d) => d.key)).toEqual(['seats']);
    const removed = evolveCustomFields(state, { type: 'CustomFieldRemoved', data: { key: 'seats', removed_at: NOW } });
    expect(removed.definitions.map((d) => d.key)).toEqual(['tier']);
  });
});

describe('custom field values', () => {
  const { state } = given(
    defined(def()),
    defined(def({ key: 'renewal', type: 'date', display_order: 2 })),
    defined(def({ key: 'signed', type: 'boolean', display_order: 3 })),
    defined(def({ key: 'tier', type: 'single_select', options: ['gold', 'silver'], required: true, display_order: 4 })),
    defined(def({ key: 'modules', type: 'multi_select', options: ['crm', 'erp'], display_order: 5 })),
    defined(def({ key: 'notes', type: 'text', display_order: 6 })),
    defined(def({ key: 'region', type: 'text', pipeline_id: 'enterprise', display_order: 7 })),
  );
  const errorsOf = (s: typeof state, values: Record<string, unknown>, creating = true, pipeline = 'default') => {
    const errors: FieldErrors = {};
    customFieldErrors(s, pipeline, values, creating, errors);
    return errors;
  };

  it('accepts values of the right types', () => {
    expect(
      errorsOf(state, { seats: 12.5, renewal: '2027-02-28', signed: false, tier: 'gold', modules: ['crm', 'erp'], notes: 'x', other: [1] }),
    ).toEqual({});
  });

  it.each([
    ['seats', '12', 'number'],
    ['seats', true, 'number'],
    ['renewal', '2027-02-30', 'date'],
    ['renewal', '0001-01-01', 'date'],
    ['signed', 'yes', 'boolean'],
    ['tier', 'bronze', 'single_select'],
    ['modules', ['crm', 'crm'], 'multi_select'],
    ['modules', 'crm', 'multi_select'],
    ['notes', 'x'.repeat(2001), 'text'],
    ['notes', 5, 'text'],
  ])('refuses %s = %j, naming %s', (key, value, expected) => {
    const errors = errorsOf(state, { tier: 'gold', [key]: value });
    expect(Object.keys(errors)).toEqual([`custom_fields.${key}`]);
    expect(errors[`custom_fields.${key}`][0]).toContain(expected);
  });

  it('a required field is needed on create and cannot be removed by an update; another pipeline’s key is unknown', () => {
    expect(Object.keys(errorsOf(state, {}))).toEqual(['custom_fields.tier']);
    expect(Object.keys(errorsOf(state, { tier: null }, false))).toEqual(['custom_fields.tier']);
    expect(errorsOf(state, { seats: 3 }, false)).toEqual({});
    expect(errorsOf(state, { tier: 'gold', region: 5 })).toEqual({});
    expect(Object.keys(errorsOf(state, { tier: 'gold', region: 5 }, true, 'enterprise'))).toEqual(['custom_fields.region']);
  });

  it('refuses unknown keys only when allow_unknown is false', () => {
    const strict = evolveCustomFields(state, { type: 'CustomFieldSettingsChanged', data: { allow_unknown: false, changed_at: NOW } });
    expect(Object.keys(errorsOf(strict, { tier: 'gold', other: 1, region: 'x' }))).toEqual(['custom_fields.other', 'custom_fields.region']);
  });

  it('reports stored values that no longer fit', () => {
    expect(customFieldMismatches(state, 'default', { seats: 'twelve', tier: 'gold', modules: ['crm'], other: 1 })).toEqual([
      { key: 'seats', reason: 'expected a number (a finite JSON number)' },
    ]);
    expect(customFieldMismatches(state, 'default', {}).map((m) => m.key)).toEqual(['tier']);
  });
});
