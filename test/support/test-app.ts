import { randomBytes } from 'node:crypto';
import { type INestApplication } from '@nestjs/common';
import request from 'supertest';
import { sql } from 'kysely';
import type { App } from 'supertest/types';
import { createApp } from '../../apps/api/src/bootstrap';
import { opportunityStreamId } from '@app/domain';
import { EventStore, EventStoreDBEventStore, type EventStoreTables, PostgresEventStore, type RecordedEvent } from '@app/event-store';
import { DATABASE, type Database, loadConfig, type Role, TokenService } from '@app/platform';
import type { ReadModelTables } from '@app/read-models';
import { serviceProjections } from '@app/webhooks';
import { eventStoreUrl, type TestBackend, testBackends } from './test-database';
import { openApiDocumentOf } from '../../apps/api/src/openapi/openapi';
import { checkedAgent } from './checked-agent';
import { TEST_RATE_LIMIT } from './api-process';

export const API = '/api/v1/crm';
export const OPPS = `${API}/opportunities`;

export const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

/** A fresh org id (tokens accept a-z, 0-9 and _): suites that share a database or an event store never share an org. */
export function uniqueOrg(prefix: string): string {
  return `${prefix}_${randomBytes(5).toString('hex')}`;
}

/** A valid create body (customer_id as a JSON integer, as clients send it); `overrides` replace or add fields. */
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

export interface TestApp {
  app: INestApplication;
  database: Database;
  /** Where the app keeps its events: the test database, or EventStoreDB (EVENTSTORE_URL). */
  eventStore: 'database' | 'eventstoredb';
  http: () => ReturnType<typeof request>;
  /** How many events the org's streams hold, from the event store itself (works on every store). */
  countEvents(orgId: string): Promise<number>;
  /** Mints a token for a user in an org (created on demand). */
  token(orgId: string, userId: string, role?: Role): Promise<string>;
  /** Stops the app (projector, dispatcher, HTTP), runs `whileDown`, starts a new one on the same database. */
  restart(whileDown?: () => Promise<void>): Promise<void>;
  close(): Promise<void>;
}

/**
 * The real HTTP app (same bootstrap as `npm start`) on an isolated test database. With
 * EVENTSTORE_URL set (and not overridden in `env`), its events go to that EventStoreDB server.
 */
export async function startTestApp(
  backend: TestBackend,
  env: NodeJS.ProcessEnv = {},
  databaseOptions: { maxConnections?: number } = {},
): Promise<TestApp> {
  const database = await backend.open(databaseOptions);
  const esdb = eventStoreUrl();
  const config = {
    // Suites send thousands of requests with one token: a rate limit none reaches, unless `env` sets one.
    ...loadConfig({ RATE_LIMIT_PER_MINUTE: TEST_RATE_LIMIT, ...(esdb ? { EVENTSTORE_URL: esdb } : {}), ...env }),
    commandRetries: Number(env.COMMAND_RETRIES ?? 20),
  };
  if (config.eventstoreUrl) await startProjectionsAtHead(database, config.eventstoreUrl);
  const boot = async () => {
    const app = await createApp({ config, database, logger: false });
    await app.init();
    return app;
  };
  let app = await boot();
  const harness: TestApp = {
    app,
    database,
    eventStore: config.eventstoreUrl ? 'eventstoredb' : 'database',
    http: () => checkedAgent(request(harness.app.getHttpServer() as App), openApiDocumentOf(harness.app)),
    async countEvents(orgId) {
      const store = harness.app.get(EventStore);
      if (store instanceof PostgresEventStore) {
        // Every committed event, also those readAll still holds back behind a running transaction.
        const { rows } = await sql<{ n: string }>`select count(*)::text as n from events where metadata->>'org_id' = ${orgId}`.execute(
          harness.app.get<Database>(DATABASE).tables<EventStoreTables>(),
        );
        return Number(rows[0].n);
      }
      let count = 0;
      let checkpoint: string | null = null;
      for (;;) {
        const page = await store.readAll(checkpoint, 1000, { orgId });
        count += page.events.length;
        if (page.events.length === 0) return count;
        checkpoint = page.checkpoint;
      }
    },
    async token(orgId, userId, role = 'admin') {
      return (await harness.app.get(TokenService).mint({ orgId, userId, role })).token;
    },
    async restart(whileDown) {
      await harness.app.close();
      await whileDown?.();
      app = await boot();
      harness.app = app;
    },
    async close() {
      await harness.app.close();
      await database.close();
    },
  };
  return harness;
}

/**
 * One EventStoreDB server serves a whole test run, and every suite's org is unique: a new test
 * database's projections start at the server's head instead of replaying every earlier suite's
 * events (which would hold back each suite's first reads). Rebuilds still read the whole log.
 */
async function startProjectionsAtHead(database: Database, url: string): Promise<void> {
  const store = EventStoreDBEventStore.fromConnectionString(url);
  try {
    const head = await store.head();
    if (head === null) return;
    const position = head.split(':')[1];
    await database
      .tables<ReadModelTables>()
      .insertInto('projection_checkpoints')
      .values(serviceProjections(store).map((p) => ({ projection: p.name, checkpoint: head, position })))
      .onConflict((oc) => oc.column('projection').doNothing())
      .execute();
  } finally {
    await store.close();
  }
}

/** A deal's events, straight from the event store. */
export function readStream(t: TestApp, orgId: string, id: string): Promise<RecordedEvent[]> {
  return t.app.get(EventStore).readStream(opportunityStreamId(orgId, id));
}

/**
 * The suite once per test backend (PGlite; the PostgreSQL server too with TEST_DATABASE_URL).
 * `%s` in the title is the backend's name.
 */
export function describeEachBackend(title: string, suite: (backend: TestBackend) => void): void {
  describe.each(testBackends().map((b) => [b.name, b] as const))(title, (_name, backend) => suite(backend));
}

/**
 * The suite's own app: started in the beforeAll and closed in the afterAll of the describe block
 * this is called in. The object returned stands for the started app, so use it inside hooks and
 * tests (not while the describe block is being defined).
 */
export function useTestApp(backend: TestBackend, env: NodeJS.ProcessEnv = {}, databaseOptions: { maxConnections?: number } = {}): TestApp {
  let started: TestApp | undefined;
  let failure: unknown;
  beforeAll(async () => {
    try {
      started = await startTestApp(backend, env, databaseOptions);
    } catch (error) {
      failure = error;
      throw error;
    }
  });
  afterAll(async () => {
    await started?.close();
  });
  const current = (): TestApp => {
    if (failure) throw new Error(`the suite's test app did not start: ${failure instanceof Error ? failure.message : String(failure)}`);
    if (!started) throw new Error("the suite's test app starts in beforeAll: use it inside hooks and tests");
    return started;
  };
  return {
    get app() {
      return current().app;
    },
    get database() {
      return current().database;
    },
    get eventStore() {
      return current().eventStore;
    },
    http: () => current().http(),
    countEvents: (orgId) => current().countEvents(orgId),
    token: (orgId, userId, role) => current().token(orgId, userId, role),
    restart: (whileDown) => current().restart(whileDown),
    close: () => current().close(),
  };
}

/**
 * Tokens minted in a beforeAll once the suite's app is up (call it after useTestApp), one after
 * another: `useTokens(t, { manager: [org, 'mgr_1', 'manager'] })` → `{ manager: '…' }`.
 */
export function useTokens<K extends string>(
  t: TestApp,
  users: Record<K, readonly [orgId: string, userId: string, role: Role]>,
): Record<K, string> {
  const tokens = {} as Record<K, string>;
  beforeAll(async () => {
    for (const key of Object.keys(users) as K[]) {
      const [orgId, userId, role] = users[key];
      tokens[key] = await t.token(orgId, userId, role);
    }
  });
  return tokens;
}
