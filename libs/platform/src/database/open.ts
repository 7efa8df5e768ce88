import { join } from 'node:path';
import type { AppConfig } from '../config';
import { type Database, openPGlite, openPostgres } from './database';
import { migrateToLatest } from './migrate';

/** Opens the configured database (server or embedded) and brings its schema up to date. */
export async function openDatabase(config: Pick<AppConfig, 'databaseUrl' | 'dataDir'>): Promise<Database> {
  const database = config.databaseUrl
    ? await openPostgres({ connectionString: config.databaseUrl })
    : await openPGlite({ dataDir: join(config.dataDir, 'pglite') });
  await migrateToLatest(database.db, database.schema);
  return database;
}
