import { type INestApplication } from '@nestjs/common';
import request from 'supertest';
import type { App } from 'supertest/types';
import { createApp } from '../../apps/api/src/bootstrap';
import { EventStore, EventStoreDBEventStore } from '@app/event-store';
import { type Database, loadConfig, type Role, TokenService } from '@app/platform';
import { serviceProjections } from '@app/webhooks';
import { eventStoreUrl, type TestBackend } from './test-database';

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
    ...loadConfig({ ...(esdb ? { EVENTSTORE_URL: esdb } : {}), ...env }),
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
    http: () => request(harness.app.getHttpServer() as App),
    async countEvents(orgId) {
      const store = harness.app.get(EventStore);
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
    await database.db
      .insertInto('projection_checkpoints')
      .values(serviceProjections().map((p) => ({ projection: p.name, checkpoint: head, position })))
      .onConflict((oc) => oc.column('projection').doNothing())
      .execute();
  } finally {
    await store.close();
  }
}

export const API = '/api/v1/crm';
