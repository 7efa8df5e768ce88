/**
 * The domain's rules, one code each; the HTTP layer maps every code to a status. Codes of the
 * transport (authentication, idempotency keys, If-Match, write races) are the platform's.
 */
export enum ErrorCode {
  ValidationFailed = 'validation_failed',
  Forbidden = 'forbidden',
  NotFound = 'not_found',
  AlreadyExists = 'already_exists',
  InvalidStageTransition = 'invalid_stage_transition',
  /** A stage that still holds deals cannot be removed. */
  StageInUse = 'stage_in_use',
  /** A pipeline that still holds deals cannot be deleted. */
  PipelineInUse = 'pipeline_in_use',
  DefaultPipelineProtected = 'default_pipeline_protected',
  /** The pipeline lacks the won, lost or on-hold stage the command needs. */
  StageKindMissing = 'stage_kind_missing',
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
