import { type Kysely } from 'kysely';
import { Migrator } from 'kysely/migration';
import { StaticMigrationProvider } from '../migrations';

/**
 * `schema`: where the migration bookkeeping lives when the database is confined to one schema
 * (without it Kysely would find another schema's bookkeeping tables and skip creating its own).
 */
export async function migrateToLatest(db: Kysely<any>, schema?: string): Promise<void> {
  const migrator = new Migrator({ db, provider: new StaticMigrationProvider(), ...(schema ? { migrationTableSchema: schema } : {}) });
  const { error, results } = await migrator.migrateToLatest();
  const failed = results?.find((r) => r.status === 'Error');
  if (error || failed) {
    const reason = error instanceof Error ? error.message : String(error ?? failed?.migrationName);
    throw new Error(`Database migration failed: ${reason}`);
  }
}
