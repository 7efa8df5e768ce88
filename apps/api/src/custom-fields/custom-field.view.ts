import type { CustomFieldDefinition } from '@app/domain';

/** A definition as clients read it (options null for the types without them). */
export function customFieldView(d: CustomFieldDefinition) {
  return {
    key: d.key,
    label: d.label,
    type: d.type,
    options: d.options ?? null,
    required: d.required,
    display_order: d.display_order,
    pipeline_id: d.pipeline_id,
  };
}
