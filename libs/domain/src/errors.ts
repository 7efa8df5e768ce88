/** The one coded error type of the domain; the HTTP layer maps each code to a status. */
export enum ErrorCode {
  ValidationFailed = 'validation_failed',
  Unauthenticated = 'unauthenticated',
  Forbidden = 'forbidden',
  NotFound = 'not_found',
  AlreadyExists = 'already_exists',
  ConcurrencyConflict = 'concurrency_conflict',
  PreconditionFailed = 'precondition_failed',
  InvalidStageTransition = 'invalid_stage_transition',
  IdempotencyKeyReused = 'idempotency_key_reused',
}

export type FieldErrors = Record<string, string[]>;

export class DomainError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'DomainError';
  }

  static validation(errors: FieldErrors, message = 'The given data was invalid.'): DomainError {
    return new DomainError(ErrorCode.ValidationFailed, message, { errors });
  }

  static notFound(what: string): DomainError {
    return new DomainError(ErrorCode.NotFound, `${what} not found`);
  }
}
