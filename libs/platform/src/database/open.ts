import { join } from 'node:path';
import type { AppConfig } from '../config';
import { type Database, openPGlite, openPostgres, reserveDataDirectory } from './database';
import { migrateToLatest, type Migrations } from './migrate';

/** Where the embedded database lives under DATA_DIR. */
function embeddedDir(config: Pick<AppConfig, 'dataDir'>): string {
  return join(config.dataDir, 'pglite');
}

/**
 * For an entry point, before anything else: with the embedded database, takes its directory's lock
 * now (the openDatabase that follows uses it), so a directory in use by another process stops this
 * one with DataDirectoryInUseError before it starts anything. Nothing to do with DATABASE_URL.
 */
export function reserveDatabase(config: Pick<AppConfig, 'databaseUrl' | 'dataDir'>): void {
  if (!config.databaseUrl) reserveDataDirectory(embeddedDir(config));
}

/**
 * Opens the configured database (server or embedded) and brings its schema up to date with
 * `migrations`, the application's merged list.
 */
export async function openDatabase(
  config: Pick<AppConfig, 'databaseUrl' | 'dataDir'> & Partial<Pick<AppConfig, 'pgliteSettings'>>,
  migrations: Migrations,
): Promise<Database> {
  const database = config.databaseUrl
    ? await openPostgres({ connectionString: config.databaseUrl })
    : await openPGlite({ dataDir: embeddedDir(config), settings: config.pgliteSettings });
  try {
    await migrateToLatest(database.db, migrations, database.schema);
  } catch (error) {
    await database.close().catch(() => undefined);
    throw error;
  }
  return database;
}
