import { type CallHandler, createParamDecorator, type ExecutionContext, Injectable, type NestInterceptor } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { type Observable, tap } from 'rxjs';
import type { NextFunction, Request, Response } from 'express';
import type { Actor } from '../auth/actor';

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

/** The headers the handler asked for (`@ResponseHeaders()`), on the response it returns. */
@Injectable()
export class ResponseHeadersInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const req = context.switchToHttp().getRequest<Request>();
    const res = context.switchToHttp().getResponse<Response>();
    return next.handle().pipe(
      tap(() => {
        if (res.headersSent) return;
        for (const [name, value] of Object.entries(req.context?.responseHeaders ?? {})) res.setHeader(name, value);
        if (req.context?.responseStatus !== undefined) res.status(req.context.responseStatus);
      }),
    );
  }
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
