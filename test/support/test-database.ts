import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Client } from 'pg';
import { type Database, migrateToLatest, openPGlite, openPostgres } from '@app/platform';
import { SCHEMA_MIGRATIONS } from '../../apps/api/src/database-schema';

export interface TestBackend {
  name: 'pglite' | 'postgres';
  /** A fresh, migrated, isolated database (PGlite copy or a new Postgres schema). */
  open(options?: { maxConnections?: number }): Promise<Database>;
  /** A fresh, isolated database with no tables at all (migration tests). */
  openEmpty(): Promise<Database>;
}

const pglite: TestBackend = {
  name: 'pglite',
  async open() {
    const template = process.env.PGLITE_TEMPLATE;
    if (!template) throw new Error('PGLITE_TEMPLATE is not set: run through jest (test/support/global-setup.ts)');
    const database = await openPGlite({ loadDataDir: new Blob([readFileSync(template)]) });
    await migrateToLatest(database.db, SCHEMA_MIGRATIONS);
    return database;
  },
  openEmpty: () => openPGlite(),
};

function postgres(url: string): TestBackend {
  /** A new schema every connection is confined to, dropped on close. */
  async function openSchema(maxConnections = 8): Promise<Database> {
    const schema = `test_${randomBytes(6).toString('hex')}`;
    const database = await openPostgres({ connectionString: url, schema, max: maxConnections });
    const close = database.close.bind(database);
    return {
      ...database,
      async close() {
        await close();
        const admin = new Client({ connectionString: url });
        await admin.connect();
        await admin.query(`drop schema if exists "${schema}" cascade`);
        await admin.end();
      },
    };
  }
  return {
    name: 'postgres',
    async open(options = {}) {
      const database = await openSchema(options.maxConnections);
      await migrateToLatest(database.db, SCHEMA_MIGRATIONS, database.schema);
      return database;
    },
    openEmpty: () => openSchema(),
  };
}

/** PGlite always; a real PostgreSQL server too when TEST_DATABASE_URL is set (jest.config.js says which). */
export function testBackends(): TestBackend[] {
  const url = process.env.TEST_DATABASE_URL;
  return url ? [pglite, postgres(url)] : [pglite];
}

export function postgresUrl(): string | undefined {
  return process.env.TEST_DATABASE_URL || undefined;
}

/**
 * EVENTSTORE_URL (e.g. esdb://localhost:2114?tls=false): the apps of the e2e suites keep their
 * events in that EventStoreDB server instead of the test database (read models stay there).
 */
export function eventStoreUrl(): string | undefined {
  return process.env.EVENTSTORE_URL || undefined;
}

/**
 * For a test that reads the `events` table with SQL: true when the events are there; with
 * EVENTSTORE_URL it prints one line saying why the test does not apply and returns false, e.g.
 * `it('…', async () => { if (!eventsTableHolds('request-edges: counts rows of events')) return; … })`.
 */
export function eventsTableHolds(what: string): boolean {
  if (!eventStoreUrl()) return true;
  process.stdout.write(`skipped on EventStoreDB (EVENTSTORE_URL is set): ${what} reads the events table, which is empty there\n`);
  return false;
}
