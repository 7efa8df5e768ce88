import { ValidationError, ValidationPipe } from '@nestjs/common';
import { DomainError, FieldErrors } from '@app/domain';

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

function flatten(errors: ValidationError[], prefix = '', out: FieldErrors = {}): FieldErrors {
  for (const error of errors) {
    const path = prefix ? `${prefix}.${error.property}` : error.property;
    if (error.constraints) {
      out[path] = Object.values(error.constraints).map((m) =>
        m.startsWith('property ') && m.endsWith(' should not exist') ? `${path} is not an allowed field` : m,
      );
    }
    if (error.children?.length) flatten(error.children, path, out);
  }
  return out;
}
