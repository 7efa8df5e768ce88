import { PGlite } from '@electric-sql/pglite';
import { CompiledQuery, Kysely, PostgresDialect, sql } from 'kysely';
import { mkdirSync } from 'node:fs';
import { Client, Pool, types } from 'pg';
import { lockDataDirectory } from './data-directory-lock';
import { PGliteDialect } from './pglite-dialect';
import type { PlatformTables } from '../tables';

export { DataDirectoryInUseError, reserveDataDirectory } from './data-directory-lock';

// int8 and numeric arrive as strings from both drivers: money and positions stay exact.
const PGLITE_PARSERS = { 20: (v: string) => v, 1700: (v: string) => v };
// date columns stay 'YYYY-MM-DD' strings on both drivers (no timezone shift).
types.setTypeParser(1082, (v) => v);
const PGLITE_DATE_PARSER = { 1082: (v: string) => v };

export type DatabaseKind = 'pglite' | 'postgres';

/** One handle for either backend: Kysely for queries, plus the wake-up channel. */
export interface Database {
  readonly kind: DatabaseKind;
  /** Queries on the platform's own tables (tokens, idempotency keys); other libraries use tables(). */
  readonly db: Kysely<PlatformTables>;
  /**
   * The same connections typed with a library's tables, e.g. `tables<ReadModelTables>()`. Each
   * library declares the tables it owns (next to their migrations); Kysely's table types are
   * invariant, so a handle is narrowed to the tables a caller uses rather than one union type.
   */
  tables<T>(): Kysely<T>;
  /** The schema every connection is confined to, if any. */
  readonly schema?: string;
  /** Subscribe to a NOTIFY channel; returns an unsubscribe function. */
  listen(channel: string, onNotify: () => void): Promise<() => Promise<void>>;
  notify(channel: string): Promise<void>;
  /**
   * A hot statement, parsed and planned once per connection: a named prepared statement on a
   * PostgreSQL server (at 16 writers planning was ~40 % of a single-event append), a plain
   * parameterised query on PGlite. `text` must be the same for every call with `name`.
   */
  prepared<R>(name: string, text: string, values: unknown[]): Promise<R[]>;
  close(): Promise<void>;
}

export interface PostgresOptions {
  connectionString: string;
  /** Confines every connection to one schema (tests use a fresh schema each). */
  schema?: string;
  max?: number;
}

export async function openPostgres(options: PostgresOptions): Promise<Database> {
  const connOptions = {
    connectionString: options.connectionString,
    ...(options.schema ? { options: `-c search_path=${options.schema}` } : {}),
  };
  if (options.schema) {
    const admin = new Client({ connectionString: options.connectionString });
    await admin.connect();
    await admin.query(`create schema if not exists "${options.schema}"`);
    await admin.end();
  }
  const pool = new Pool({ ...connOptions, max: options.max ?? 20 });
  pool.on('error', () => undefined); // idle client errors surface on next checkout
  const db = new Kysely<PlatformTables>({ dialect: new PostgresDialect({ pool }) });
  const listeners: Client[] = [];
  return {
    kind: 'postgres',
    db,
    tables: <T>() => db as unknown as Kysely<T>,
    schema: options.schema,
    async listen(channel, onNotify) {
      const client = new Client(connOptions);
      client.on('error', () => undefined);
      await client.connect();
      client.on('notification', (msg) => msg.channel === channel && onNotify());
      await client.query(`listen "${channel}"`);
      listeners.push(client);
      return async () => {
        listeners.splice(listeners.indexOf(client), 1);
        await client.end().catch(() => undefined);
      };
    },
    async notify(channel) {
      await sql`select pg_notify(${channel}, '')`.execute(db);
    },
    async prepared<R>(name: string, text: string, values: unknown[]) {
      return (await pool.query({ name, text, values })).rows as R[];
    },
    async close() {
      await Promise.all(listeners.splice(0).map((c) => c.end().catch(() => undefined)));
      await db.destroy();
    },
  };
}

export interface PGliteOptions {
  /** Directory for the data files; omitted → in memory. */
  dataDir?: string;
  /** A dumpDataDir() image to start from (tests clone one migrated template). */
  loadDataDir?: Blob;
}

/** On disk, the directory belongs to this process until close(): a second one gets DataDirectoryInUseError. */
export async function openPGlite(options: PGliteOptions = {}): Promise<Database & { pglite: PGlite }> {
  const lock = options.dataDir ? lockDataDirectory(options.dataDir) : null;
  let pglite: PGlite;
  try {
    if (options.dataDir) mkdirSync(options.dataDir, { recursive: true });
    pglite = await PGlite.create({
      ...(options.dataDir ? { dataDir: options.dataDir } : {}),
      ...(options.loadDataDir ? { loadDataDir: options.loadDataDir } : {}),
      parsers: { ...PGLITE_PARSERS, ...PGLITE_DATE_PARSER },
    });
  } catch (error) {
    lock?.release();
    throw error;
  }
  const db = new Kysely<PlatformTables>({ dialect: new PGliteDialect(pglite) });
  return {
    kind: 'pglite',
    db,
    tables: <T>() => db as unknown as Kysely<T>,
    pglite,
    // One process owns an embedded database, so in-process signals are enough.
    async listen() {
      return async () => undefined;
    },
    async notify() {},
    async prepared<R>(_name: string, text: string, values: unknown[]) {
      return (await db.executeQuery<R>(CompiledQuery.raw(text, values))).rows;
    },
    async close() {
      try {
        await db.destroy();
        await pglite.close();
      } finally {
        lock?.release();
      }
    },
  };
}
