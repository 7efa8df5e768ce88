/**
 * W2: event-store appends vs a plain single-row INSERT into a table of the same shape, and vs the
 * Emmett PostgreSQL event store (@event-driven-io/emmett-postgresql) in its own schema of the same
 * database, at 1 and 16 writers, side by side in one process (interleaved, rotating order).
 * Median of RUNS runs. Every side appends one ~300 B JSON event per call; ours and Emmett both
 * with an expected-version check (Emmett: appendToStream with expectedStreamVersion).
 * Usage: BENCH_DATABASE_URL=postgres://… npx tsx bench/append.bench.ts [--seconds 5] [--runs 3]
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { type Kysely, sql } from 'kysely';
import { Pool } from 'pg';
import { getPostgreSQLEventStore, type PostgresEventStore as EmmettEventStore } from '@event-driven-io/emmett-postgresql';
import { PostgresEventStore } from '../libs/event-store/src/postgres/postgres-event-store';
import { openPGlite, openPostgres } from '../libs/platform/src/database/database';
import { SCHEMA_MIGRATIONS } from '../apps/api/src/database-schema';
import { migrateToLatest } from '../libs/platform/src/database/migrate';
import { median } from './stats';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '5' }, runs: { type: 'string', default: '3' } } });
const SECONDS = Number(values.seconds);
const RUNS = Number(values.runs);
const url = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL;

const payload = { name: 'Acme Corp - Enterprise Platform', value_minor: 15000000, stage: 'qualification', notes: 'x'.repeat(180) };
const metadata = {
  org_id: 'bench',
  actor_id: 'u1',
  correlation_id: randomUUID(),
  causation_id: randomUUID(),
  occurred_at: new Date().toISOString(),
};

type Op = (writer: number, i: number) => Promise<unknown>;

async function measure(writers: number, op: Op): Promise<number> {
  let count = 0;
  const deadline = Date.now() + SECONDS * 1000;
  const started = Date.now();
  await Promise.all(
    Array.from({ length: writers }, async (_, w) => {
      for (let i = 0; Date.now() < deadline; i++) {
        await op(w, i);
        count++;
      }
    }),
  );
  return count / ((Date.now() - started) / 1000);
}

type Side = 'raw' | 'rawIndexed' | 'ours' | 'emmett';

/** A plain single-row INSERT into `table` (a copy of the events table) per call. */
function rawInsert<DB>(db: Kysely<DB>, table: string, stream: (w: number, i: number) => string): Op {
  return (w, i) =>
    sql`insert into ${sql.table(table)} (stream_id, stream_version, event_id, type, data, metadata)
        values (${stream(w, i)}, ${i}, ${randomUUID()}, 'OpportunityUpdated', ${JSON.stringify(payload)}, ${JSON.stringify(metadata)})`.execute(
      db,
    );
}

/** Our append of one event at the exact expected version, over 50 streams per writer. */
function oursAppend(store: PostgresEventStore, tag: string): Op {
  const versions = new Map<string, number>();
  return async (w, i) => {
    const stream = `opportunity-bench-${tag}-${w}-${i % 50}`;
    const version = versions.get(stream) ?? 0;
    await store.append(
      stream,
      [{ eventId: randomUUID(), type: 'OpportunityUpdated', data: payload, metadata }],
      version === 0 ? 'no_stream' : version,
    );
    versions.set(stream, version + 1);
  };
}

/**
 * Each side RUNS times at `writers`, rotating the order every run so no side always runs first
 * or on a warmer cache; the median per side.
 */
async function medians<S extends string>(writers: number, sides: Record<S, (tag: string) => Op>, order: S[]): Promise<Record<S, number>> {
  const results = Object.fromEntries(order.map((side) => [side, [] as number[]])) as Record<S, number[]>;
  for (let run = 0; run < RUNS; run++) {
    const tag = randomUUID().slice(0, 8);
    for (let k = 0; k < order.length; k++) {
      const side = order[(run + k) % order.length];
      results[side].push(await measure(writers, sides[side](tag)));
    }
  }
  console.error(`writers=${writers} ${order.map((side) => `${side}=${results[side].map(Math.round)}`).join(' ')}`);
  return Object.fromEntries(order.map((side) => [side, median(results[side])])) as Record<S, number>;
}

/**
 * Emmett in its own schema: a pool of the same size as ours whose connections have
 * search_path = that schema, so Emmett's unqualified emt_* tables, sequence and functions land
 * there. Emmett creates its schema on first use (autoMigration 'CreateOrUpdate' by default);
 * migrate() is called here so that is not timed.
 * Emmett's migration skips each function if a function of that name exists in ANY schema of the
 * database (its checks read pg_proc without the schema), so with an Emmett installed elsewhere
 * in the database (or another run of this benchmark at the same time) our schema would get no
 * functions: that case is detected and Emmett is left out instead of measured wrongly.
 * Note: creating an Emmett store sets process-wide pg type parsers (int8 → BigInt, json(b) →
 * Emmett's parser). Our append reads only ::text columns, so it is not affected here.
 */
async function openEmmett(emmettSchema: string): Promise<{ store: EmmettEventStore; pool: Pool } | null> {
  const pool = new Pool({ connectionString: url, max: 20, options: `-c search_path=${emmettSchema}` });
  pool.on('error', () => undefined);
  const elsewhere = await pool.query<{ nspname: string }>(
    `select n.nspname from pg_proc p join pg_namespace n on n.oid = p.pronamespace where p.proname = 'emt_append_to_stream'`,
  );
  if (elsewhere.rows.length > 0) {
    console.error(`Emmett left out: emt_append_to_stream already exists in schema(s) ${elsewhere.rows.map((r) => r.nspname).join(', ')}`);
    await pool.end();
    return null;
  }
  const store = getPostgreSQLEventStore(url!, { connectionOptions: { pool } });
  await store.schema.migrate();
  const { rows } = await pool.query<{ ns: string | null }>(
    `select n.nspname as ns from pg_proc p join pg_namespace n on n.oid = p.pronamespace where p.oid = to_regproc('emt_append_to_stream')`,
  );
  if (rows[0]?.ns !== emmettSchema) {
    console.error(`Emmett left out: its functions were not created in ${emmettSchema}`);
    await store.close();
    await pool.end();
    return null;
  }
  return { store, pool };
}

/** Ours vs the raw INSERT on embedded PGlite (files in a temp dir, as `npm start` keeps them under ./data). */
async function pglite(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'bench-pglite-'));
  const database = await openPGlite({ dataDir });
  const store = new PostgresEventStore(database);
  const rows: string[] = [];
  try {
    await migrateToLatest(database.db, SCHEMA_MIGRATIONS);
    await sql`create table raw_events (like events including defaults)`.execute(database.db);
    for (const writers of [1, 16]) {
      const m = await medians(
        writers,
        {
          raw: (tag) => rawInsert(database.db, 'raw_events', (w, i) => `raw-${tag}-${w}-${i % 50}`),
          ours: (tag) => oursAppend(store, tag),
        },
        ['raw', 'ours'],
      );
      rows.push(`| ${writers} | ${Math.round(m.raw)} | ${Math.round(m.ours)} | ${(m.ours / m.raw).toFixed(2)} |`);
    }
  } finally {
    await store.close();
    await database.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
  console.log(`PGlite (embedded, one connection: concurrent writers queue), median of ${RUNS} × ${SECONDS}s`);
  console.log('| writers | raw INSERT/s | event store appends/s | ratio |');
  console.log('|---|---|---|---|');
  rows.forEach((r) => console.log(r));
}

async function main(): Promise<void> {
  if (!url) {
    console.log('PostgreSQL: not run (BENCH_DATABASE_URL is not set)\n');
  } else {
    await postgres();
    console.log('');
  }
  await pglite();
}

async function postgres(): Promise<void> {
  const schema = `bench_${Date.now()}`;
  const emmettSchema = `${schema}_emmett`;
  const database = await openPostgres({ connectionString: url!, schema, max: 20 });
  const store = new PostgresEventStore(database);
  let emmett: { store: EmmettEventStore; pool: Pool } | null = null;
  const rows: string[] = [];
  try {
    await migrateToLatest(database.db, SCHEMA_MIGRATIONS, schema);
    await sql`create table raw_events (like events including defaults)`.execute(database.db);
    // Diagnostic side: the same plain INSERT into a copy that keeps the log's indexes (no trigger).
    await sql`create table raw_indexed_events (like events including defaults including indexes)`.execute(database.db);
    await sql.raw(`create schema "${emmettSchema}"`).execute(database.db);
    emmett = await openEmmett(emmettSchema);
    for (const writers of [1, 16]) {
      const sides: Record<Side, (tag: string) => Op> = {
        raw: (tag) => rawInsert(database.db, 'raw_events', (w, i) => `raw-${tag}-${w}-${i % 50}`),
        rawIndexed: (tag) => rawInsert(database.db, 'raw_indexed_events', (w) => `raw-${tag}-${w}`),
        ours: (tag) => oursAppend(store, tag),
        emmett: (tag) => {
          const emmettStore = emmett!.store;
          const versions = new Map<string, bigint>();
          return async (w, i) => {
            const stream = `opportunity-bench-${tag}-${w}-${i % 50}`;
            // 0n = "stream must not exist" (Emmett inserts its emt_streams row; a duplicate is a conflict).
            // STREAM_DOES_NOT_EXIST would not do: Emmett 0.42 maps it to "no check".
            const result = await emmettStore.appendToStream(
              stream,
              [{ type: 'OpportunityUpdated', data: payload, metadata: { ...metadata, messageId: randomUUID() } }],
              { expectedStreamVersion: versions.get(stream) ?? 0n },
            );
            versions.set(stream, result.nextExpectedStreamVersion);
          };
        },
      };
      const m = await medians(writers, sides, emmett ? ['raw', 'rawIndexed', 'ours', 'emmett'] : ['raw', 'rawIndexed', 'ours']);
      const emmettCells = emmett ? `${Math.round(m.emmett)} | ${(m.ours / m.emmett).toFixed(2)}` : '– | –';
      rows.push(
        `| ${writers} | ${Math.round(m.raw)} | ${Math.round(m.ours)} | ${(m.ours / m.raw).toFixed(2)} | ${emmettCells} | ${Math.round(m.rawIndexed)} | ${(m.ours / m.rawIndexed).toFixed(2)} |`,
      );
    }
  } finally {
    await store.close();
    if (emmett) {
      await emmett.store.close();
      await emmett.pool.end();
    }
    await sql.raw(`drop schema if exists "${emmettSchema}" cascade`).execute(database.db);
    await sql.raw(`drop schema "${schema}" cascade`).execute(database.db);
    await database.close();
  }
  console.log(
    `PostgreSQL 15: appends/s, ~300 B JSON event, expected-version append (ours${emmett ? ', Emmett' : '; Emmett not run'}) vs raw single-row INSERT; median of ${RUNS} × ${SECONDS}s`,
  );
  console.log(
    "| writers | raw INSERT/s | event store appends/s | ratio | Emmett appends/s | ours/Emmett | raw INSERT with the log's indexes/s | ours/that |",
  );
  console.log('|---|---|---|---|---|---|---|---|');
  rows.forEach((r) => console.log(r));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
