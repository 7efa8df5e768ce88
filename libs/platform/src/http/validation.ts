import { type ValidationError, ValidationPipe } from '@nestjs/common';
import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import { DomainError, type FieldErrors } from '@app/domain';

/** Whitelisted, unknown fields refused, every message keyed by its (dotted) field path. */
export function createValidationPipe(): ValidationPipe {
  return new ValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    transform: true,
    validationError: { target: false, value: false },
    exceptionFactory: (errors) => DomainError.validation(flatten(errors)),
  });
}

/** Rules about a string's length or pattern, which mean nothing for a value that is not a string. */
const STRING_SHAPE = ['maxLength', 'minLength', 'isLength', 'matches'];

function flatten(errors: ValidationError[], prefix = '', out: FieldErrors = {}): FieldErrors {
  for (const error of errors) {
    const path = prefix ? `${prefix}.${error.property}` : error.property;
    if (error.constraints) {
      const constraints = { ...error.constraints };
      // A value that is not a string (left out, say) has no length or pattern: saying it is too long would be untrue.
      if (constraints.isString) for (const name of STRING_SHAPE) delete constraints[name];
      const messages = Object.values(constraints).map((m) =>
        m.startsWith('property ') && m.endsWith(' should not exist') ? `${path} is not an allowed field` : m,
      );
      // Two rules may say the same thing ("reason is required…" for both the type and the emptiness).
      out[path] = [...new Set(messages)];
    }
    if (error.children?.length) flatten(error.children, path, out);
  }
  return out;
}

/** Validates a query string against a DTO class with the same rules and error shape as bodies. */
export function validateQuery<T extends object>(cls: new () => T, raw: Record<string, unknown>): T {
  for (const [key, value] of Object.entries(raw)) {
    if (Array.isArray(value) || (value !== null && typeof value === 'object')) {
      throw DomainError.validation({ [key]: [`${key} must be given once, as a plain value`] });
    }
  }
  const instance = plainToInstance(cls, raw);
  const errors = validateSync(instance, { whitelist: true, forbidNonWhitelisted: true });
  if (errors.length) throw DomainError.validation(flatten(errors));
  return instance;
}
