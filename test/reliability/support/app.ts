import { opportunityStreamId } from '@app/domain';
import { randomBytes } from 'node:crypto';
import type { Response } from 'supertest';
import { EventStore, type RecordedEvent } from '@app/event-store';
import type { TestApp } from '../../support/test-app';

export { startTestApp, API } from '../../support/test-app';
export type { TestApp } from '../../support/test-app';
export { testBackends, postgresUrl } from '../../support/test-database';
export type { TestBackend } from '../../support/test-database';

export const OPPS = '/api/v1/crm/opportunities';
export const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

/** Tokens accept a-z, 0-9 and _: every suite gets orgs of its own. */
export function uniqueOrg(prefix = 'rel'): string {
  return `${prefix}_${randomBytes(5).toString('hex')}`;
}

/** A valid create body (seed 000 style). */
export function dealBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: 'Reliability deal',
    customer_id: 568,
    value: 1234.56,
    expected_close_date: '2027-04-30',
    stage: 'prospecting',
    ...overrides,
  };
}

export async function createDeal(t: TestApp, token: string, overrides: Record<string, unknown> = {}): Promise<string> {
  const res = await t.http().post(OPPS).set(bearer(token)).send(dealBody(overrides));
  if (res.status !== 201) throw new Error(`create failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.data.id as string;
}

export function streamIdOf(orgId: string, id: string): string {
  return opportunityStreamId(orgId, id);
}

export function readStream(t: TestApp, orgId: string, id: string): Promise<RecordedEvent[]> {
  return t.app.get(EventStore).readStream(streamIdOf(orgId, id));
}

/** Every event of the org (or of everyone), in commit order, straight from the event store. */
export async function allEvents(t: TestApp, orgId?: string): Promise<RecordedEvent[]> {
  const store = t.app.get(EventStore);
  const out: RecordedEvent[] = [];
  let checkpoint: string | null = null;
  for (;;) {
    const page = await store.readAll(checkpoint, 1000, orgId ? { orgId } : {});
    out.push(...page.events);
    if (page.events.length < 1000) return out;
    checkpoint = page.checkpoint;
  }
}

/** Small deterministic PRNG (mulberry32) for fixed-seed request mixes. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function describeResponse(res: Response): string {
  return `${res.status} ${JSON.stringify(res.body).slice(0, 400)}`;
}
