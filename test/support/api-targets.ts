import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { type Database, loadConfig, openDatabase } from '@app/platform';
import { SCHEMA_MIGRATIONS } from '../../apps/api/src/database-schema';

/**
 * Where a real API process (api-process.ts) keeps its data: a fresh embedded data directory, or a
 * fresh database on a PostgreSQL server. Plain Node, no Jest: the bench build compiles this file too.
 */
export interface Target {
  name: 'pglite' | 'postgres';
  env: Record<string, string>;
  /** The server database's name (postgres). */
  database?: string;
  /** Creates the database (server) before the first start. */
  prepare(): Promise<void>;
  /** The same opening as the API's (migrated), for checks from the test. */
  open(): Promise<Database>;
  cleanup(): Promise<void>;
}

export function pgliteTarget(prefix = 'reliability-'): Target {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return {
    name: 'pglite',
    env: { DATA_DIR: dir },
    async prepare() {},
    open: () => openDatabase(loadConfig({ DATA_DIR: dir }), SCHEMA_MIGRATIONS),
    async cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function postgresTarget(url: string, prefix = 'rel_'): Target {
  const name = `${prefix}${randomBytes(5).toString('hex')}`;
  const dbUrl = new URL(url);
  dbUrl.pathname = `/${name}`;
  const admin = async (statement: string) => {
    const client = new Client({ connectionString: url });
    await client.connect();
    try {
      await client.query(statement);
    } finally {
      await client.end();
    }
  };
  return {
    name: 'postgres',
    env: { DATABASE_URL: dbUrl.toString() },
    database: name,
    prepare: () => admin(`create database "${name}"`),
    open: () => openDatabase(loadConfig({ DATABASE_URL: dbUrl.toString() }), SCHEMA_MIGRATIONS),
    cleanup: () => admin(`drop database if exists "${name}" with (force)`),
  };
}
