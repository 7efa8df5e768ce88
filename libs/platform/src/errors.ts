/** Refusals of the transport, not of a domain rule; mapped to HTTP beside the domain's codes. */
export enum PlatformErrorCode {
  Unauthenticated = 'unauthenticated',
  /** If-Match named another version. */
  PreconditionFailed = 'precondition_failed',
  /** A write race that retries could not settle, or an idempotent request still in progress. */
  ConcurrencyConflict = 'concurrency_conflict',
  IdempotencyKeyReused = 'idempotency_key_reused',
}

export class PlatformError extends Error {
  constructor(
    readonly code: PlatformErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'PlatformError';
  }
}
