import { type Kysely } from 'kysely';
import { type Migration, Migrator } from 'kysely/migration';

/** Migrations by name; the name is what the database records as applied. */
export type Migrations = Record<string, Migration>;

/**
 * One list from every library's migrations, sorted by name (the order they run in). Throws if
 * two libraries use the same name: one of them would silently never run.
 */
export function mergeMigrations(...sets: Migrations[]): Migrations {
  const entries = sets.flatMap((set) => Object.entries(set)).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const twice = entries.find(([name], i) => i > 0 && entries[i - 1][0] === name);
  if (twice) throw new Error(`Migration ${twice[0]} is listed twice`);
  return Object.fromEntries(entries);
}

/**
 * Runs the migrations not applied yet, in name order. `migrations` is the application's merged
 * list (a library never lists another's). `schema`: where the migration bookkeeping lives when
 * the database is confined to one schema (without it Kysely would find another schema's
 * bookkeeping tables and skip creating its own).
 */
export async function migrateToLatest<DB>(db: Kysely<DB>, migrations: Migrations, schema?: string): Promise<void> {
  const migrator = new Migrator({
    db,
    provider: { getMigrations: async () => migrations },
    ...(schema ? { migrationTableSchema: schema } : {}),
  });
  const { error, results } = await migrator.migrateToLatest();
  const failed = results?.find((r) => r.status === 'Error');
  if (error || failed) {
    const reason = error instanceof Error ? error.message : String(error ?? failed?.migrationName);
    throw new Error(`Database migration failed: ${reason}`);
  }
}
