import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import type { Response } from 'express';
import { DomainError, ErrorCode } from '@app/domain';
import { PlatformError, PlatformErrorCode } from '../errors';
import { bearerChallenge } from '../auth/auth.guard';
import { sendProblem } from './problem';

/** The one error map: every domain and platform code has exactly one status (Records over the enums are exhaustive). */
const DOMAIN_STATUS: Record<ErrorCode, number> = {
  [ErrorCode.ValidationFailed]: HttpStatus.BAD_REQUEST,
  [ErrorCode.Forbidden]: HttpStatus.FORBIDDEN,
  [ErrorCode.NotFound]: HttpStatus.NOT_FOUND,
  [ErrorCode.AlreadyExists]: HttpStatus.CONFLICT,
  [ErrorCode.InvalidStageTransition]: HttpStatus.UNPROCESSABLE_ENTITY,
  [ErrorCode.StageInUse]: HttpStatus.CONFLICT,
  [ErrorCode.PipelineInUse]: HttpStatus.CONFLICT,
  [ErrorCode.DefaultPipelineProtected]: HttpStatus.UNPROCESSABLE_ENTITY,
  [ErrorCode.StageKindMissing]: HttpStatus.UNPROCESSABLE_ENTITY,
};
const PLATFORM_STATUS: Record<PlatformErrorCode, number> = {
  [PlatformErrorCode.Unauthenticated]: HttpStatus.UNAUTHORIZED,
  [PlatformErrorCode.PreconditionFailed]: HttpStatus.PRECONDITION_FAILED,
  [PlatformErrorCode.ConcurrencyConflict]: HttpStatus.CONFLICT,
  [PlatformErrorCode.IdempotencyKeyReused]: HttpStatus.UNPROCESSABLE_ENTITY,
};

export type CodedError = DomainError | PlatformError;

export function isCodedError(error: unknown): error is CodedError {
  return error instanceof DomainError || error instanceof PlatformError;
}

export function statusOf(error: CodedError): number {
  return error instanceof DomainError ? DOMAIN_STATUS[error.code] : PLATFORM_STATUS[error.code];
}

/** What an error response says: its message and code, and any members of its own. */
export type ErrorBody = { message: string; code: string } & Record<string, unknown>;

export function errorBody(error: CodedError): ErrorBody {
  return { message: error.message, code: error.code, ...error.details };
}

/** Body-parser and other framework errors that carry an HTTP status of their own. */
interface StatusError {
  status?: number;
  statusCode?: number;
  type?: string;
  message?: string;
}

/**
 * Every error the app raises, as an RFC 9457 problem document (`application/problem+json`): the
 * status's own members (type, title, status, detail) and the API's (message, code, errors …).
 */
@Catch()
export class ErrorFilter implements ExceptionFilter {
  private readonly logger = new Logger('ErrorFilter');

  catch(exception: unknown, host: ArgumentsHost): void {
    const response = host.switchToHttp().getResponse<Response>();
    const { status, body } = this.describe(exception);
    if (status >= 500) this.logger.error(exception instanceof Error ? exception.stack : String(exception));
    if (response.headersSent) return;
    if (status === 503) response.setHeader('Retry-After', '5');
    // Every 401 says how to authenticate; the auth guard has set the challenge when a token was sent.
    if (status === 401 && !response.hasHeader('WWW-Authenticate')) response.setHeader('WWW-Authenticate', bearerChallenge());
    sendProblem(response, status, body);
  }

  private describe(exception: unknown): { status: number; body: ErrorBody } {
    if (isCodedError(exception)) return { status: statusOf(exception), body: errorBody(exception) };
    const store = storeFailure(exception);
    if (store) return store;
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      const cause = exception.cause as StatusError | undefined;
      if (cause?.type || cause instanceof SyntaxError) {
        return { status, body: { message: describeParserError(cause), code: codeFor(status) } };
      }
      const raw = exception.getResponse();
      // A failed health check (terminus) keeps its report: which check is down, and why.
      if (typeof raw === 'object' && raw !== null && 'details' in raw) {
        return { status, body: { message: 'Service unavailable', code: 'not_ready', ...raw } };
      }
      const message = typeof raw === 'string' ? raw : ((raw as { message?: unknown }).message ?? exception.message);
      return { status, body: { message: Array.isArray(message) ? message.join('; ') : String(message), code: codeFor(status) } };
    }
    const e = exception as StatusError;
    const status = e?.status ?? e?.statusCode;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      return { status, body: { message: describeParserError(e), code: codeFor(status) } };
    }
    return { status: 500, body: { message: 'Internal server error', code: 'internal_error' } };
  }
}

/**
 * Event-store failures carry the status they mean (`httpStatus`: 503 unavailable, 410 stream deleted,
 * 413 append too large); read by shape, so the platform does not depend on the event-store library.
 */
function storeFailure(exception: unknown): { status: number; body: ErrorBody } | null {
  const e = exception as { httpStatus?: unknown; name?: unknown; message?: unknown };
  if (!(exception instanceof Error) || typeof e.httpStatus !== 'number') return null;
  const code: Record<number, string> = { 503: 'event_store_unavailable', 410: 'stream_deleted', 413: 'payload_too_large' };
  return { status: e.httpStatus, body: { message: exception.message, code: code[e.httpStatus] ?? `http_${e.httpStatus}` } };
}

function describeParserError(e: StatusError): string {
  switch (e.type) {
    case 'entity.too.large':
      return 'Request body is too large';
    case 'entity.parse.failed':
    case undefined:
      return 'Request body is not valid JSON';
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return 'Request body encoding is not supported';
    default:
      return e.message ?? 'Bad request';
  }
}

function codeFor(status: number): string {
  switch (status) {
    case 400:
      return ErrorCode.ValidationFailed;
    case 401:
      return PlatformErrorCode.Unauthenticated;
    case 403:
      return ErrorCode.Forbidden;
    case 404:
      return ErrorCode.NotFound;
    case 413:
      return 'payload_too_large';
    case 415:
      return 'unsupported_media_type';
    case 429:
      return 'too_many_requests';
    default:
      return `http_${status}`;
  }
}
