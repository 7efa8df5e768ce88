import type { Response } from 'supertest';
import { bearer, dealBody, OPPS, readStream, type TestApp } from '../support/test-app';

export { API, bearer, dealBody, OPPS, readStream, uniqueOrg } from '../support/test-app';

/** An ISO 8601 instant in UTC, as the API writes timestamps. */
export const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

/** ETag header "n" → n. */
export function etagVersion(res: Response): number {
  const raw = res.headers.etag;
  expect(raw).toMatch(/^"\d+"$/);
  return Number(raw.slice(1, -1));
}

export function globalPosition(res: Response): bigint {
  const raw = res.headers['x-global-position'];
  expect(raw).toMatch(/^\d+$/);
  return BigInt(raw);
}

export async function createDeal(
  t: TestApp,
  token: string,
  overrides: Record<string, unknown> = {},
): Promise<{ id: string; res: Response }> {
  const res = await t.http().post(OPPS).set(bearer(token)).send(dealBody(overrides));
  expect(res.status).toBe(201);
  return { id: res.body.data.id as string, res };
}

export async function getDeal(t: TestApp, token: string, id: string): Promise<Response> {
  return t.http().get(`${OPPS}/${id}`).set(bearer(token));
}

/** How many events a deal's stream holds. */
export async function streamLength(t: TestApp, orgId: string, id: string): Promise<number> {
  return (await readStream(t, orgId, id)).length;
}

/**
 * Whole days from date a to date b ('YYYY-MM-DD'), b − a, by plain calendar arithmetic
 * (days-from-civil), independent of the product's date helpers.
 */
export function calendarDaysBetween(a: string, b: string): number {
  return dayNumber(b) - dayNumber(a);
}

function dayNumber(date: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date);
  if (!m) throw new Error(`not a date: ${date}`);
  let y = Number(m[1]);
  const month = Number(m[2]);
  const d = Number(m[3]);
  // Howard Hinnant's days_from_civil.
  y -= month <= 2 ? 1 : 0;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}
