import { TransformationType } from 'class-transformer';
import { defaultMetadataStorage } from 'class-transformer/cjs/storage';
import { getMetadataStorage, IS_OPTIONAL } from 'class-validator';
import { validationMetadatasToSchemas } from 'class-validator-jsonschema';
import type { ValidationMetadata } from 'class-validator/types/metadata/ValidationMetadata';
import type { OpenAPIObject } from '@nestjs/swagger';
import { toIdString } from '../opportunities/dto/validators';

type Schema = Record<string, unknown>;
/** A DTO class (the key class-validator and class-transformer keep metadata under). */
// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
type Class = Function;

/** An amount as the server parses it (a JSON number or a decimal string, at most two decimals, never negative). */
const AMOUNT: Schema = {
  anyOf: [
    { type: 'number', minimum: 0, maximum: 9999999999999.99 },
    { type: 'string', pattern: '^\\s*\\d{1,13}(\\.\\d{1,2})?\\s*$' },
  ],
  description: 'A non-negative amount with at most two decimals: a JSON number or a decimal string ("150000.50")',
};

/** Our own validators (ValidateBy names) as JSON Schema. */
const CONVERTERS: Record<string, Schema> = {
  isAmount: AMOUNT,
  isDateOnly: { type: 'string', format: 'date' },
  isInstant: { type: 'string', format: 'date-time' },
  // Any http(s) URL, private hosts included (WEBHOOK_ALLOWED_HOSTS decides those): JSON Schema's `uri`,
  // not ajv's `url`, which refuses private addresses.
  isUrl: { type: 'string', format: 'uri' },
};

/** Reference ids are strings; a JSON integer is accepted and read as its decimal string. */
function widenToInteger(schema: Schema): Schema {
  if (schema.type === 'array' && schema.items) return { ...schema, items: widenToInteger(schema.items as Schema) };
  return { anyOf: [schema, { type: 'integer' }] };
}

/** Every class the validation pipe checks, as it checks it: the metadata class-validator decorators left. */
function validatedClasses(): Map<Class, ValidationMetadata[]> {
  return (getMetadataStorage() as unknown as { validationMetadatas: Map<Class, ValidationMetadata[]> }).validationMetadatas;
}

function ancestry(target: Class): Class[] {
  const chain: Class[] = [];
  for (let c: unknown = target; typeof c === 'function' && c !== Function.prototype; c = Object.getPrototypeOf(c)) chain.push(c as Class);
  return chain;
}

/**
 * Request-body schemas made from the same class-validator metadata the validation pipe checks
 * bodies with, so the document cannot say other than the server: required properties, types,
 * lengths, enums, nested bodies, no unknown properties (the pipe forbids them), `null` where
 * `@IsOptional()` lets it through, and `string | integer` for reference ids.
 */
export function requestBodySchemas(): Record<string, Schema> {
  const schemas = validationMetadatasToSchemas({
    refPointerPrefix: '#/components/schemas/',
    classTransformerMetadataStorage: defaultMetadataStorage,
    additionalConverters: CONVERTERS as never,
  }) as Record<string, Schema>;
  const byName = new Map<string, Class>();
  for (const target of validatedClasses().keys()) byName.set(target.name, target);
  for (const [name, schema] of Object.entries(schemas)) {
    const target = byName.get(name);
    schema.additionalProperties = false;
    if (!target) continue;
    const metas = ancestry(target).flatMap((c) => validatedClasses().get(c) ?? []);
    const properties = (schema.properties ?? {}) as Record<string, Schema>;
    for (const [property, propertySchema] of Object.entries(properties)) {
      let widened = propertySchema;
      const transforms = defaultMetadataStorage.findTransformMetadatas(target, property, TransformationType.PLAIN_TO_CLASS);
      if (transforms.some((t) => t.transformFn === toIdString)) widened = widenToInteger(widened);
      const nullable = metas.some((m) => m.propertyName === property && (m as { name?: string }).name === IS_OPTIONAL);
      if (nullable) widened = { anyOf: [widened, { type: 'null' }] };
      properties[property] = widened;
    }
  }
  return schemas;
}

/**
 * Replaces the empty request-body components Nest derives from the @Body() types with the
 * validation schemas (and adds the nested ones they refer to); a body whose properties are all
 * optional may be left out.
 */
export function describeRequestBodies(document: OpenAPIObject): void {
  const generated = requestBodySchemas();
  const components = (document.components ??= {});
  const schemas = (components.schemas ??= {}) as Record<string, Schema>;
  const pending = Object.keys(schemas).filter((name) => generated[name]);
  while (pending.length > 0) {
    const name = pending.pop()!;
    if (schemas[name] === generated[name]) continue;
    schemas[name] = generated[name];
    for (const [, nested] of JSON.stringify(generated[name]).matchAll(/"#\/components\/schemas\/([^"]+)"/g)) {
      if (generated[nested]) pending.push(nested);
    }
  }
  for (const item of Object.values(document.paths)) {
    for (const operation of Object.values(
      item as Record<string, { requestBody?: { required?: boolean; content?: Record<string, { schema?: { $ref?: string } }> } }>,
    )) {
      const ref = operation?.requestBody?.content?.['application/json']?.schema?.$ref;
      const name = ref?.replace('#/components/schemas/', '');
      if (name && generated[name] && !(generated[name].required as string[] | undefined)?.length) operation.requestBody!.required = false;
    }
  }
}
