import { opportunityStreamId } from '@app/domain';
import { randomBytes } from 'node:crypto';
import type { Response } from 'supertest';
import { EventStore, type RecordedEvent } from '@app/event-store';
import type { TestApp } from '../support/test-app';

export { API } from '../support/test-app';
export const OPPS = '/api/v1/crm/opportunities';

/** A fresh org id (tokens accept a-z, 0-9 and _): tests that share an app never share an org. */
export function uniqueOrg(prefix = 'org'): string {
  return `${prefix}_${randomBytes(5).toString('hex')}`;
}

export const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

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

/** A valid create body in the seed 000 style (customer_id as JSON integer). */
export function dealBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: 'BigCorp - Platform Deployment',
    customer_id: 568,
    value: 200000.0,
    expected_close_date: '2026-04-30',
    stage: 'prospecting',
    ...overrides,
  };
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

export function readStream(t: TestApp, orgId: string, id: string): Promise<RecordedEvent[]> {
  return t.app.get(EventStore).readStream(opportunityStreamId(orgId, id));
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
