import type { INestApplication } from '@nestjs/common';
import request, { type Response } from 'supertest';
import { sql } from 'kysely';
import type { App } from 'supertest/types';
import { createApp } from '../../apps/api/src/bootstrap';
import { SCHEMA_MIGRATIONS } from '../../apps/api/src/database-schema';
import { type Database, loadConfig, migrateToLatest, openPostgres, PROBLEM_CONTENT_TYPE, TokenService } from '@app/platform';
import { postgresUrl } from '../support/test-database';
import { describeEachBackend, useTestApp, useTokens } from '../support/test-app';
import { API, bearer, dealBody, OPPS, uniqueOrg } from './helpers';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits for the next window when less than `needMs` of this one is left (windows are aligned to the epoch). */
async function freshWindow(windowMs: number, needMs: number): Promise<void> {
  const left = windowMs - (Date.now() % windowMs);
  if (left < needMs) await sleep(left + 30);
}

function rateHeaders(res: Response) {
  return {
    limit: res.headers['ratelimit-limit'],
    remaining: res.headers['ratelimit-remaining'],
    reset: res.headers['ratelimit-reset'],
    policy: res.headers['ratelimit-policy'],
  };
}

describeEachBackend('rate limits (%s)', (backend) => {
  // 150 a minute in windows of 2 s: 5 requests per window.
  const WINDOW_MS = 2000;
  const t = useTestApp(backend, { RATE_LIMIT_PER_MINUTE: '150', RATE_LIMIT_WINDOW_SECONDS: '2' });
  const org = uniqueOrg('rate');
  const tok = useTokens(t, {
    headers: [org, 'mgr_1', 'manager'],
    burst: [org, 'mgr_2', 'manager'],
    other: [org, 'mgr_2', 'manager'],
    reset: [org, 'mgr_3', 'manager'],
  });
  const http = () => t.http();

  it('every authenticated response carries RateLimit-Limit, -Remaining, -Reset and -Policy, errors too', async () => {
    await freshWindow(WINDOW_MS, 1500);
    const first = await http().get(`${OPPS}?per_page=1`).set(bearer(tok.headers));
    expect(first.status).toBe(200);
    expect(rateHeaders(first)).toEqual({ limit: '5', remaining: '4', reset: expect.stringMatching(/^[12]$/), policy: '5;w=2' });
    const missing = await http().get(`${OPPS}/3f6c2b1e-9a4d-4c1b-8e2f-0a1b2c3d4e5f`).set(bearer(tok.headers));
    expect(missing.status).toBe(404);
    expect(rateHeaders(missing)).toMatchObject({ limit: '5', remaining: '3', policy: '5;w=2' });
  });

  it('requests without a token are not counted and carry no RateLimit headers', async () => {
    for (const res of [await http().get(`${API}/health`), await http().get(`${OPPS}?per_page=1`), await http().options(OPPS)]) {
      expect(res.headers['ratelimit-limit']).toBeUndefined();
    }
  });

  it('past the limit: 429 problem with Retry-After and the headers, the command is not run, the idempotency key not taken; another token goes on', async () => {
    await freshWindow(WINDOW_MS, 1500);
    for (let i = 0; i < 5; i++) {
      const res = await http()
        .post(OPPS)
        .set(bearer(tok.burst))
        .send(dealBody({ name: `Burst ${i}` }));
      expect(res.status).toBe(201);
      expect(res.headers['ratelimit-remaining']).toBe(String(4 - i));
    }
    const before = await t.countEvents(org);
    const refused = await http()
      .post(OPPS)
      .set(bearer(tok.burst))
      .set('Idempotency-Key', `rate-${org}`)
      .send(dealBody({ name: 'Refused' }));
    expect(refused.status).toBe(429);
    expect(refused.headers['content-type']).toBe(PROBLEM_CONTENT_TYPE);
    expect(refused.body).toMatchObject({ type: 'about:blank', title: 'Too Many Requests', status: 429, code: 'too_many_requests' });
    expect(refused.body.detail).toBe(refused.body.message);
    expect(refused.body.message).toMatch(/^Rate limit of 5 requests per 2 s exceeded for this token; retry after [12] s$/);
    expect(refused.headers['retry-after']).toMatch(/^[12]$/);
    expect(rateHeaders(refused)).toEqual({ limit: '5', remaining: '0', reset: refused.headers['retry-after'], policy: '5;w=2' });
    // Reads are refused as well, and a refusal is not counted.
    expect((await http().get(`${OPPS}?per_page=1`).set(bearer(tok.burst))).status).toBe(429);
    expect(await t.countEvents(org)).toBe(before);

    // Another token of the same user has its own budget.
    const other = await http().get(`${OPPS}?per_page=1`).set(bearer(tok.other));
    expect(other.status).toBe(200);

    // Once the window is over, the key that was refused runs the command (it was never taken).
    await sleep(Number(refused.headers['retry-after']) * 1000 + 50);
    const retried = await http()
      .post(OPPS)
      .set(bearer(tok.burst))
      .set('Idempotency-Key', `rate-${org}`)
      .send(dealBody({ name: 'Refused' }));
    expect(retried.status).toBe(201);
    expect(retried.headers['idempotent-replayed']).toBeUndefined();
    expect(await t.countEvents(org)).toBe(before + 1);
  });

  it('a new window gives the whole budget back', async () => {
    await freshWindow(WINDOW_MS, 1500);
    let last: Response | undefined;
    for (let i = 0; i < 6; i++) last = await http().get(`${OPPS}?per_page=1`).set(bearer(tok.reset));
    expect(last!.status).toBe(429);
    await sleep(Number(last!.headers['retry-after']) * 1000 + 50);
    const again = await http().get(`${OPPS}?per_page=1`).set(bearer(tok.reset));
    expect(again.status).toBe(200);
    expect(again.headers['ratelimit-remaining']).toBe('4');
  });
});

describeEachBackend('rate limits turned off (%s)', (backend) => {
  const t = useTestApp(backend, { RATE_LIMIT_PER_MINUTE: '0' });
  const org = uniqueOrg('rate_off');
  const tok = useTokens(t, { manager: [org, 'mgr_1', 'manager'] });

  it('RATE_LIMIT_PER_MINUTE=0: no limit, no RateLimit headers', async () => {
    for (let i = 0; i < 30; i++) {
      const res = await t.http().get(`${OPPS}?per_page=1`).set(bearer(tok.manager));
      expect(res.status).toBe(200);
      expect(res.headers['ratelimit-limit']).toBeUndefined();
      expect(res.headers['ratelimit-policy']).toBeUndefined();
    }
  });
});

describe('rate-limit settings', () => {
  it('6000 a minute in windows of 60 s, synced every 250 ms, unless set', () => {
    expect(loadConfig({})).toMatchObject({ rateLimitPerMinute: 6000, rateLimitWindowSeconds: 60, rateLimitSyncMs: 250 });
    expect(loadConfig({ RATE_LIMIT_PER_MINUTE: '0' }).rateLimitPerMinute).toBe(0);
  });

  it.each([
    ['RATE_LIMIT_PER_MINUTE', '-1', /^RATE_LIMIT_PER_MINUTE must be a non-negative integer/],
    ['RATE_LIMIT_PER_MINUTE', 'lots', /^RATE_LIMIT_PER_MINUTE must be a non-negative integer/],
    ['RATE_LIMIT_WINDOW_SECONDS', '0', /^RATE_LIMIT_WINDOW_SECONDS must be an integer from 1 to 3600/],
    ['RATE_LIMIT_SYNC_MS', '5', /^RATE_LIMIT_SYNC_MS must be an integer from 10 to 60000/],
  ])('%s=%s stops the start with a clear message', (name, value, message) => {
    expect(() => loadConfig({ [name]: value })).toThrow(message);
  });
});

const url = postgresUrl();

describe('two app instances on one PostgreSQL database share a token’s budget', () => {
  if (!url) {
    it('needs a PostgreSQL server', () => {
      process.stdout.write('skipped: rate limits shared by two app instances need a PostgreSQL server (set TEST_DATABASE_URL)\n');
    });
    return;
  }

  // 120 a minute in windows of 30 s: 60 requests per window, synced every 50 ms.
  const WINDOW_MS = 30_000;
  const LIMIT = 60;
  const env = { RATE_LIMIT_PER_MINUTE: '120', RATE_LIMIT_WINDOW_SECONDS: '30', RATE_LIMIT_SYNC_MS: '50', RUN_PROJECTORS: 'false' };
  const schema = `test_rate_${Date.now().toString(36)}`;
  const databases: Database[] = [];
  const apps: INestApplication[] = [];
  let token = '';
  let tokenId = '';

  beforeAll(async () => {
    for (let i = 0; i < 2; i++) {
      const database = await openPostgres({ connectionString: url, schema, max: 4 });
      databases.push(database);
      if (i === 0) await migrateToLatest(database.db, SCHEMA_MIGRATIONS, schema);
      const app = await createApp({ config: loadConfig(env), database, logger: false });
      await app.init();
      apps.push(app);
    }
    const minted = await apps[0].get(TokenService).mint({ orgId: uniqueOrg('rate_shared'), userId: 'mgr_1', role: 'manager' });
    token = minted.token;
    tokenId = minted.id;
  });

  afterAll(async () => {
    for (const app of apps) await app.close();
    await databases[0]?.db.schema.dropSchema(schema).ifExists().cascade().execute();
    for (const database of databases) await database.close();
  });

  /** Sends to one instance until it refuses (at most `max`); how many it admitted. */
  async function admitted(app: INestApplication, max: number): Promise<number> {
    for (let n = 0; n < max; n++) {
      const res = await request(app.getHttpServer() as App)
        .get(`${OPPS}?per_page=1`)
        .set(bearer(token));
      if (res.status === 429) return n;
      expect(res.status).toBe(200);
    }
    return max;
  }

  it('what one instance admitted counts against the other; the shared table holds every admitted request', async () => {
    await freshWindow(WINDOW_MS, 20_000);
    expect(await admitted(apps[0], 50)).toBe(50);
    await sleep(300);
    // The second instance knows nothing of this token until its first sync: it admits what it
    // counts before that, then decides with the total of both (10 left), far from a budget of its own (60).
    const second = await admitted(apps[1], LIMIT);
    expect(second).toBeGreaterThanOrEqual(10);
    expect(second).toBeLessThan(30);
    await sleep(300);
    // The first instance learns the second's count with its next sync.
    const firstAgain = await admitted(apps[0], LIMIT);
    expect(firstAgain).toBeLessThan(10);
    await sleep(300);
    const { rows } = await sql<{
      n: string;
    }>`select coalesce(sum(count), 0)::text as n from rate_limit_counters where key = ${tokenId}`.execute(databases[0].db);
    expect(Number(rows[0].n)).toBe(50 + second + firstAgain);
    expect(Number(rows[0].n)).toBeGreaterThanOrEqual(LIMIT);
  });
});
