import type { Response } from 'supertest';
import { EventStore, type RecordedEvent } from '@app/event-store';
import { bearer, dealBody, OPPS, type TestApp } from '../../support/test-app';

export {
  API,
  bearer,
  describeEachBackend,
  OPPS,
  readStream,
  startTestApp,
  type TestApp,
  uniqueOrg,
  useTestApp,
  useTokens,
} from '../../support/test-app';
export { testBackends, postgresUrl, type TestBackend } from '../../support/test-database';
/** Small deterministic PRNG (mulberry32) for fixed-seed request mixes: the demo generator's. */
export { rng as seeded } from '../../../apps/api/src/demo/generate-deals';

/** Creates a deal (a valid body, `overrides` on top) and returns its id; any other answer than 201 throws. */
export async function createDeal(t: TestApp, token: string, overrides: Record<string, unknown> = {}): Promise<string> {
  const body = dealBody({ name: 'Reliability deal', value: 1234.56, expected_close_date: '2027-04-30', ...overrides });
  const res = await t.http().post(OPPS).set(bearer(token)).send(body);
  if (res.status !== 201) throw new Error(`create failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.data.id as string;
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

export function describeResponse(res: Response): string {
  return `${res.status} ${JSON.stringify(res.body).slice(0, 400)}`;
}
