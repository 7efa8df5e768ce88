import { randomUUID } from 'node:crypto';
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
  req.context = { correlationId, requestId: randomUUID() };
  res.setHeader('X-Correlation-Id', correlationId);
  next();
}
