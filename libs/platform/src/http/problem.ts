import { STATUS_CODES } from 'node:http';
import type { Response } from 'express';

/** The media type of every error response (RFC 9457 problem details). */
export const PROBLEM_MEDIA_TYPE = 'application/problem+json';
/** The Content-Type header every error response is sent with. */
export const PROBLEM_CONTENT_TYPE = `${PROBLEM_MEDIA_TYPE}; charset=utf-8`;
/** No problem type of our own: `title` is the status's reason phrase and `code` tells the cases apart. */
export const PROBLEM_TYPE = 'about:blank' as const;

/**
 * The body of every error response: the RFC 9457 members first, then the API's own `message`
 * (the same text as `detail`), `code` (stable, machine-readable) and whatever else the error
 * carries (`errors` of a 400, `expected_version` of a 412, `current_stage` of a 422 …).
 */
export interface ProblemDetails {
  type: typeof PROBLEM_TYPE;
  /** The reason phrase of the status (RFC 9110), e.g. "Unprocessable Content". */
  title: string;
  status: number;
  detail: string;
  message: string;
  code: string;
  [member: string]: unknown;
}

/** RFC 9110's reason phrases where Node's table still has the older ones. */
const RFC_9110_TITLES: Record<number, string> = {
  413: 'Content Too Large',
  416: 'Range Not Satisfiable',
  422: 'Unprocessable Content',
};

/** The reason phrase of an HTTP status, as RFC 9110 names it. */
export function reasonPhrase(status: number): string {
  return RFC_9110_TITLES[status] ?? STATUS_CODES[status] ?? (status >= 500 ? 'Server Error' : 'Client Error');
}

/**
 * An error body as a problem document: `{type, title, status, detail, message, code, ...rest}`.
 * The four RFC 9457 members are the problem's own, whatever members of the same name `body` has.
 */
export function problemBody(status: number, body: { message: string; code: string; [member: string]: unknown }): ProblemDetails {
  const own = { type: PROBLEM_TYPE, title: reasonPhrase(status), status, detail: body.message };
  return Object.assign({ ...own, message: body.message, code: body.code }, body, own);
}

/** Sends `body` as a problem document with `status`. */
export function sendProblem(res: Response, status: number, body: { message: string; code: string; [member: string]: unknown }): void {
  res.status(status).setHeader('Content-Type', PROBLEM_CONTENT_TYPE);
  res.json(problemBody(status, body));
}
