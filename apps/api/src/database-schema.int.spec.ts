import { sql } from 'kysely';
import { Migrator } from 'kysely/migration';
import { EVENT_STORE_MIGRATIONS } from '@app/event-store';
import { type Database, mergeMigrations, migrateToLatest, type Migrations, PLATFORM_MIGRATIONS } from '@app/platform';
import { READ_MODEL_MIGRATIONS } from '@app/read-models';
import { WEBHOOK_MIGRATIONS } from '@app/webhooks';
import { TEMPLATE_MIGRATIONS } from '../../../test/support/global-setup';
import { testBackends } from '../../../test/support/test-database';
import { SCHEMA_MIGRATIONS } from './database-schema';

/*
 * Each library lists its own migrations now; before, libs/platform/src/migrations/index.ts held
 * one list of all of them (commit 2328405). The files moved unchanged (pure renames), so the old
 * list is these names with today's modules. A database that list migrated must be up to date for
 * the merged list: nothing runs again, nothing applied is missing.
 */
const SINGLE_LIST = [
  '2026_11_21_0001_event_store',
  '2026_11_21_0002_tenancy',
  '2026_11_21_0003_read_models',
  '2026_11_21_0004_audit',
  '2026_11_21_0005_opportunity_intervals',
  '2026_11_21_0006_webhooks',
  '2026_11_21_0007_activities_pipelines',
  '2026_11_21_0008_forecast_at_risk',
  '2026_12_03_0009_projection_halts',
  '2026_12_03_0010_idempotency_leases',
];

const LIBRARY_SETS = { PLATFORM_MIGRATIONS, EVENT_STORE_MIGRATIONS, READ_MODEL_MIGRATIONS, WEBHOOK_MIGRATIONS };

function migratorFor(database: Database, migrations: Migrations): Migrator {
  return new Migrator({
    db: database.db,
    provider: { getMigrations: async () => migrations },
    ...(database.schema ? { migrationTableSchema: database.schema } : {}),
  });
}

describe('SCHEMA_MIGRATIONS', () => {
  it('holds every library’s migrations once, sorted by name', () => {
    const names = Object.values(LIBRARY_SETS).flatMap((set) => Object.keys(set));
    expect(new Set(names).size).toBe(names.length);
    expect(Object.keys(SCHEMA_MIGRATIONS)).toEqual([...names].sort());
  });

  it('keeps every name of the single list, in its order, with the new ones after it', () => {
    const names = Object.keys(SCHEMA_MIGRATIONS);
    expect(names.slice(0, SINGLE_LIST.length)).toEqual(SINGLE_LIST);
    expect(names.slice(SINGLE_LIST.length).every((name) => name > SINGLE_LIST[SINGLE_LIST.length - 1])).toBe(true);
  });

  it('is what the test template is migrated with (test/support/global-setup.ts lists the sets by path)', () => {
    expect(Object.keys(TEMPLATE_MIGRATIONS)).toEqual(Object.keys(SCHEMA_MIGRATIONS));
    for (const name of Object.keys(SCHEMA_MIGRATIONS)) expect(TEMPLATE_MIGRATIONS[name]).toBe(SCHEMA_MIGRATIONS[name]);
  });

  it('mergeMigrations refuses a name two libraries use', () => {
    const migration = { up: async () => undefined };
    expect(() => mergeMigrations({ a_0001: migration }, { a_0002: migration, a_0001: migration })).toThrow(
      'Migration a_0001 is listed twice',
    );
  });
});

for (const backend of testBackends()) {
  describe(`a database migrated by the single list, on ${backend.name}`, () => {
    let database: Database;
    const singleList = () => Object.fromEntries(SINGLE_LIST.map((name) => [name, SCHEMA_MIGRATIONS[name]]));

    beforeAll(async () => {
      database = await backend.openEmpty();
      await migrateToLatest(database.db, singleList(), database.schema);
    });
    afterAll(() => database?.close());

    it('is up to date for the merged list but for the migrations added since', async () => {
      const migrations = await migratorFor(database, SCHEMA_MIGRATIONS).getMigrations();
      expect(migrations.filter((m) => m.executedAt !== undefined).map((m) => m.name)).toEqual(SINGLE_LIST);
      expect(migrations.filter((m) => m.executedAt === undefined).map((m) => m.name)).toEqual(
        Object.keys(SCHEMA_MIGRATIONS).filter((name) => !SINGLE_LIST.includes(name)),
      );
    });

    it('runs only the migrations added since, then nothing', async () => {
      const { error, results } = await migratorFor(database, SCHEMA_MIGRATIONS).migrateToLatest();
      expect(error).toBeUndefined();
      expect(results).toEqual(
        Object.keys(SCHEMA_MIGRATIONS)
          .filter((name) => !SINGLE_LIST.includes(name))
          .map((migrationName) => ({ migrationName, direction: 'Up', status: 'Success' })),
      );
      const again = await migratorFor(database, SCHEMA_MIGRATIONS).migrateToLatest();
      expect(again).toEqual({ results: [] });
      const { rows } = await sql<{ name: string }>`select name from kysely_migration order by name`.execute(database.db);
      expect(rows.map((r) => r.name)).toEqual(Object.keys(SCHEMA_MIGRATIONS));
    });
  });
}
