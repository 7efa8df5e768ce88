import { type CallHandler, createParamDecorator, type ExecutionContext, Injectable, type NestInterceptor } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { map, type Observable } from 'rxjs';
import type { NextFunction, Request, Response } from 'express';
import type { Actor } from '../auth/actor';
import { ifNoneMatchMatches, isConditionalRead } from './conditional-get';
import { PROBLEM_CONTENT_TYPE, problemBody } from './problem';

export interface RequestContext {
  correlationId: string;
  requestId: string;
  actor?: Actor;
  /**
   * Set for a POST with an Idempotency-Key: the key and a digest of the request. Ids derived from it
   * (events, new opportunities) are the same on every retry of that request and differ for any
   * other request under the same key.
   */
  idempotencyScope?: string;
  /** Headers a handler wants on its response (ETag, Location …), set by ResponseHeadersInterceptor. */
  responseHeaders: Record<string, string>;
  /** A status other than the route's default (a bulk action no deal took: 422). */
  responseStatus?: number;
}

declare module 'express-serve-static-core' {
  interface Request {
    context: RequestContext;
  }
}

const SAFE_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Correlation id from X-Correlation-Id (or a new one), echoed on the response. */
export function requestContextMiddleware(req: Request, res: Response, next: NextFunction): void {
  const given = req.header('x-correlation-id');
  const correlationId = given && SAFE_ID.test(given) ? given : randomUUID();
  req.context = { correlationId, requestId: randomUUID(), responseHeaders: {} };
  res.setHeader('X-Correlation-Id', correlationId);
  next();
}

/**
 * The headers the handler asked for (`@ResponseHeaders()`), on the response it returns. A refusal
 * the handler answers itself (`@ResponseStatus()` of 400 or more, a body with message and code) is
 * a problem document like every other error. A GET or HEAD whose If-None-Match matches the ETag
 * the handler set is a 304 with that ETag and no body, whatever the request's Cache-Control says.
 */
@Injectable()
export class ResponseHeadersInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const req = context.switchToHttp().getRequest<Request>();
    const res = context.switchToHttp().getResponse<Response>();
    return next.handle().pipe(
      map((body: unknown) => {
        if (res.headersSent) return body;
        for (const [name, value] of Object.entries(req.context?.responseHeaders ?? {})) res.setHeader(name, value);
        const status = req.context?.responseStatus;
        if (status === undefined) return notModified(req, res) ? undefined : body;
        res.status(status);
        const refusal = body as { message?: unknown; code?: unknown } | null;
        if (status < 400 || typeof refusal?.message !== 'string' || typeof refusal.code !== 'string') return body;
        res.setHeader('Content-Type', PROBLEM_CONTENT_TYPE);
        return problemBody(status, refusal as { message: string; code: string });
      }),
    );
  }
}

/** A successful GET/HEAD with an ETag that the request's If-None-Match names: answered 304 (RFC 9110 §13.1.2). */
function notModified(req: Request, res: Response): boolean {
  const etag = res.getHeader('ETag');
  if (typeof etag !== 'string' || !isConditionalRead(req.method) || res.statusCode < 200 || res.statusCode >= 300) return false;
  if (!ifNoneMatchMatches(req.header('if-none-match'), etag)) return false;
  res.status(304);
  return true;
}

/** `@ResponseStatus() status` then `status.set(422)`: a handler's way to answer with another status. */
export const ResponseStatus = createParamDecorator((_: unknown, ctx: ExecutionContext): { set(code: number): void } => {
  const req = ctx.switchToHttp().getRequest<Request>();
  return { set: (code) => (req.context.responseStatus = code) };
});

/** A handler's way to set response headers without taking the response object. */
export const ResponseHeaders = createParamDecorator(
  (_: unknown, ctx: ExecutionContext): Record<string, string> => ctx.switchToHttp().getRequest<Request>().context.responseHeaders,
);
