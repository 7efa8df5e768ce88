import { PGlite } from '@electric-sql/pglite';
import { Kysely, PostgresDialect, sql } from 'kysely';
import { mkdirSync } from 'node:fs';
import { Client, Pool, types } from 'pg';
import { from as copyFromStdin } from 'pg-copy-streams';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { lockDataDirectory } from './data-directory-lock';
import { copyQuery, PGliteDialect, preparedQuery } from './pglite-dialect';
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
  /**
   * Subscribe to a NOTIFY channel; returns an unsubscribe function. `onLost` is told when the
   * listening connection fails (notifications sent after that are not delivered).
   */
  listen(
    channel: string,
    onNotify: (payload: string) => void,
    onLost?: (error: Error) => void,
    options?: { applicationName?: string },
  ): Promise<() => Promise<void>>;
  notify(channel: string, payload?: string): Promise<void>;
  /**
   * A hot statement, parsed and planned once per connection: a named prepared statement on a
   * PostgreSQL server (at 16 writers planning was ~40 % of a single-event append), a plain
   * parameterised query on PGlite. `text` must be the same for every call with `name`.
   */
  prepared<R>(name: string, text: string, values: unknown[]): Promise<R[]>;
  /**
   * Runs `statement`, a `COPY … FROM STDIN` in text format, with `data` as its input (each chunk
   * whole lines), read as the server takes it. In its own transaction: a row the table refuses
   * fails the statement and nothing of it is written. Values TOAST compresses are compressed with
   * lz4 where the server has it (several times cheaper than pglz; read back the same either way).
   * On PGlite the input goes through its `/dev/blob` device (the statement's `STDIN` is rewritten
   * to it).
   */
  copyFrom(statement: string, data: Iterable<string>): Promise<void>;
  close(): Promise<void>;
}

export interface PostgresOptions {
  connectionString: string;
  /** Confines every connection to one schema (tests use a fresh schema each). */
  schema?: string;
  max?: number;
}

/** For this session only (reset before the connection goes back to the pool). */
const LZ4_WHERE_AVAILABLE =
  "select set_config('default_toast_compression', 'lz4', false) from pg_settings " +
  "where name = 'default_toast_compression' and 'lz4' = any(enumvals)";

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
  let closing = false;
  return {
    kind: 'postgres',
    db,
    tables: <T>() => db as unknown as Kysely<T>,
    schema: options.schema,
    async listen(channel, onNotify, onLost, listenOptions = {}) {
      const client = new Client({
        ...connOptions,
        ...(listenOptions.applicationName ? { application_name: listenOptions.applicationName } : {}),
      });
      let ended = false;
      const lost = (error: Error) => {
        if (ended || closing) return;
        ended = true;
        onLost?.(error);
      };
      client.on('error', lost);
      client.on('end', () => lost(new Error('the listening connection closed')));
      await client.connect();
      client.on('notification', (msg) => msg.channel === channel && onNotify(msg.payload ?? ''));
      await client.query(`listen "${channel}"`);
      listeners.push(client);
      return async () => {
        ended = true;
        if (listeners.includes(client)) listeners.splice(listeners.indexOf(client), 1);
        await client.end().catch(() => undefined);
      };
    },
    async notify(channel, payload = '') {
      await sql`select pg_notify(${channel}, ${payload})`.execute(db);
    },
    async prepared<R>(name: string, text: string, values: unknown[]) {
      return (await pool.query({ name, text, values })).rows as R[];
    },
    async copyFrom(statement: string, data: Iterable<string>) {
      const client = await pool.connect();
      try {
        await client.query(LZ4_WHERE_AVAILABLE);
        await pipeline(Readable.from(data), client.query(copyFromStdin(statement)));
      } finally {
        await client.query('reset default_toast_compression').catch(() => undefined);
        client.release();
      }
    },
    async close() {
      closing = true;
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
  /** PostgreSQL settings the embedded server starts with, e.g. { shared_buffers: '32MB' }. */
  settings?: Record<string, string>;
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
      ...(options.settings && Object.keys(options.settings).length > 0
        ? { startParams: [...PGlite.defaultStartParams, ...Object.entries(options.settings).flatMap(([k, v]) => ['-c', `${k}=${v}`])] }
        : {}),
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
    async prepared<R>(name: string, text: string, values: unknown[]) {
      return (await db.executeQuery<R>(preparedQuery(name, text, values))).rows;
    },
    async copyFrom(statement: string, data: Iterable<string>) {
      await db.executeQuery(copyQuery(statement.replace(/\bstdin\b/i, `'/dev/blob'`), new Blob([...data])));
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
