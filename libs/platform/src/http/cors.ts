import type { NextFunction, Request, Response } from 'express';

/** Which browser origins may call the API (CORS_ORIGINS): every origin, or these exact ones. */
export type CorsPolicy = '*' | readonly string[];

/** The methods a preflight allows. */
export const CORS_ALLOWED_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'];
/** The request headers the API reads (beyond the CORS-safelisted ones), allowed by a preflight. */
export const CORS_ALLOWED_HEADERS = [
  'Authorization',
  'Content-Type',
  'Idempotency-Key',
  'If-Match',
  'If-None-Match',
  'X-Consistency-Token',
  'X-Correlation-Id',
];
/** The response headers the API sends that a browser script may read. */
export const CORS_EXPOSED_HEADERS = [
  'ETag',
  'Location',
  'X-Global-Position',
  'X-Stream-Version',
  'X-Consistency',
  'X-Projection-Position',
  'X-Correlation-Id',
  'Idempotent-Replayed',
  'Retry-After',
  'WWW-Authenticate',
  'Allow',
  'RateLimit-Limit',
  'RateLimit-Remaining',
  'RateLimit-Reset',
  'RateLimit-Policy',
];
/** How long a browser may keep a preflight's answer. */
export const CORS_MAX_AGE_SECONDS = 600;

/**
 * CORS for the origins of `policy`. A preflight (OPTIONS with Origin and
 * Access-Control-Request-Method) from an allowed origin is answered here: 204 with the allowed
 * origin, methods and headers and Access-Control-Max-Age. Any other request from an allowed origin
 * goes on with Access-Control-Allow-Origin and Access-Control-Expose-Headers on its response, errors
 * included. A request from another origin, or without one, gets no CORS header: a browser then
 * refuses the response to the page. With a list of origins every response says `Vary: Origin`,
 * since what it carries depends on the request's Origin.
 */
export function corsMiddleware(policy: CorsPolicy) {
  const anyOrigin = policy === '*';
  const origins = new Set(anyOrigin ? [] : policy);
  const methods = CORS_ALLOWED_METHODS.join(', ');
  const allowedHeaders = CORS_ALLOWED_HEADERS.join(', ');
  const exposedHeaders = CORS_EXPOSED_HEADERS.join(', ');
  return (req: Request, res: Response, next: NextFunction): void => {
    if (!anyOrigin) res.vary('Origin');
    const origin = req.headers.origin;
    if (origin === undefined || (!anyOrigin && !origins.has(origin))) return next();
    res.setHeader('Access-Control-Allow-Origin', anyOrigin ? '*' : origin);
    if (req.method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined) {
      res.setHeader('Access-Control-Allow-Methods', methods);
      res.setHeader('Access-Control-Allow-Headers', allowedHeaders);
      res.setHeader('Access-Control-Max-Age', String(CORS_MAX_AGE_SECONDS));
      res.setHeader('Content-Length', '0');
      res.status(204).end();
      return;
    }
    res.setHeader('Access-Control-Expose-Headers', exposedHeaders);
    next();
  };
}
