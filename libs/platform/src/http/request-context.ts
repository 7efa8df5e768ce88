import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import type { Actor } from '../auth/actor';

export interface RequestContext {
  correlationId: string;
  requestId: string;
  actor?: Actor;
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
