import { type Kysely, sql } from 'kysely';
import type { EventStore } from '@app/event-store';
import type { Database } from '@app/platform';
import { OpportunityProjection } from './opportunities/opportunity.projection';
import { PipelinesProjection } from './pipelines/pipelines.projection';
import type { Projection } from './projector/projection';
import { DEFAULT_RUNNER_OPTIONS, ProjectionRunner, projectionLockKey } from './projector/projection-runner';
import type { ReadModelTables } from './tables';
import { TimelineProjection } from './timeline/timeline.projection';

type Table = keyof ReadModelTables & string;

export interface ProjectionKind {
  name: string;
  /** The tables the projection writes (and a rebuild builds). */
  tables: readonly Table[];
  create(): Projection;
}

export const PROJECTION_KINDS: ProjectionKind[] = [
  { name: OpportunityProjection.NAME, tables: OpportunityProjection.TABLES, create: () => new OpportunityProjection() },
  { name: TimelineProjection.NAME, tables: TimelineProjection.TABLES, create: () => new TimelineProjection() },
  { name: PipelinesProjection.NAME, tables: PipelinesProjection.TABLES, create: () => new PipelinesProjection() },
];

export interface Progress {
  processed: number;
  total: number;
}

/** Events per rebuild batch: large batches amortise each statement over more rows. */
const REPLAY_BATCH_SIZE = 10_000;

/** Where a runner keeps its progress: a rebuild's schema has its own copies. */
const BOOKKEEPING: readonly Table[] = ['projection_checkpoints', 'projection_dead_letters'];

/**
 * The schema a rebuild of `projection` fills beside the live one `live`; it stays there after an
 * interruption (the next replay resumes it) until it is swapped in.
 */
export function rebuildSchemaName(live: string, projection: string): string {
  return `${live}_rebuild_${projection}`;
}

const verifySchemaName = (live: string, projection: string) => `${live}_verify_${projection}`;
const retiredSchemaName = (live: string, projection: string) => `${live}_retired_${projection}`;

/** The schema the live tables are in: the first of the search path (a test's own schema, or public). */
async function liveSchemaOf(db: Kysely<ReadModelTables>): Promise<string> {
  const { rows } = await sql<{ schema: string }>`select current_schema() as schema`.execute(db);
  return rows[0].schema;
}

const regclass = (schema: string, table: string) => sql`format('%I.%I', ${schema}::text, ${table}::text)::regclass`;

/**
 * Copies of the live tables in `schema` (columns, defaults, generated columns, storage, reloptions,
 * primary and unique keys), with a checkpoint table and a dead-letter table of their own. Secondary
 * indexes are left off: filling a table and then building each index once is several times faster
 * than maintaining a dozen indexes row by row (see buildSecondaryIndexes). Tables already there are
 * kept: an interrupted rebuild resumes into them.
 */
async function createCopies(db: Kysely<ReadModelTables>, live: string, schema: string, tables: readonly Table[], fresh: boolean) {
  if (fresh) await sql`drop schema if exists ${sql.id(schema)} cascade`.execute(db);
  await sql`create schema if not exists ${sql.id(schema)}`.execute(db);
  for (const table of [...tables, ...BOOKKEEPING]) {
    const { rows: existing } = await sql<{ found: boolean }>`
      select exists (select from pg_tables where schemaname = ${schema} and tablename = ${table}) as found`.execute(db);
    if (existing[0].found) continue;
    await sql`create table ${sql.id(schema, table)} (like ${sql.id(live, table)} including all)`.execute(db);
    const { rows } = await sql<{ options: string[] | null }>`
      select reloptions as options from pg_class where oid = ${regclass(live, table)}`.execute(db);
    for (const option of rows[0]?.options ?? []) {
      await sql`alter table ${sql.id(schema, table)} set (${sql.raw(option)})`.execute(db);
    }
    for (const index of await secondaryIndexes(db, schema, table)) {
      await sql`drop index ${sql.id(schema, index.name)}`.execute(db);
    }
  }
}

interface SecondaryIndex {
  name: string;
  /** The definition from USING on: access method, keys, INCLUDE, WHERE (no index or table name). */
  body: string;
}

/** Indexes other than primary keys and unique ones (upserts need those from the start). */
async function secondaryIndexes(db: Kysely<ReadModelTables>, schema: string, table: string): Promise<SecondaryIndex[]> {
  const { rows } = await sql<SecondaryIndex>`
    select i.relname as name, substr(d.def, strpos(d.def, ' USING ') + 1) as body
    from pg_index x join pg_class i on i.oid = x.indexrelid, pg_get_indexdef(x.indexrelid) as d(def)
    where x.indrelid = ${regclass(schema, table)} and not x.indisunique
    order by i.relname`.execute(db);
  return rows;
}

/**
 * Builds on each copy, under the live name, every secondary index its live table has and the copy
 * lacks (a resumed rebuild may have some). Each in its own short transaction: on PostgreSQL a
 * transaction holding an xid holds back every reader of the log (they read below the oldest running
 * transaction), so the live projector waits at most one index build, not all of them.
 */
async function buildSecondaryIndexes(db: Kysely<ReadModelTables>, live: string, schema: string, tables: readonly Table[]) {
  for (const table of tables) {
    const have = new Set((await secondaryIndexes(db, schema, table)).map((i) => i.name));
    for (const index of await secondaryIndexes(db, live, table)) {
      if (have.has(index.name)) continue;
      await db.transaction().execute(async (trx) => {
        await sql`set local maintenance_work_mem = '256MB'`.execute(trx);
        await sql`create index ${sql.id(index.name)} on ${sql.id(schema, table)} ${sql.raw(index.body)}`.execute(trx);
      });
    }
  }
}

/**
 * In one transaction, once the live projector's batch in flight is done: the live tables go to a
 * retired schema and are dropped, the rebuilt ones (indexes, names and all) take their place, and
 * the rebuild's checkpoint and dead letters become the live projection's. Moving tables between
 * schemas keeps every name, so no index is renamed.
 */
async function swapIn(db: Kysely<ReadModelTables>, live: string, schema: string, kind: ProjectionKind): Promise<void> {
  const retired = retiredSchemaName(live, kind.name);
  await db.transaction().execute(async (trx) => {
    // Waits for the live projector's batch in flight; it skips batches until this commits.
    await sql`select pg_advisory_xact_lock(hashtext(${projectionLockKey(kind.name)}))`.execute(trx);
    await sql`drop schema if exists ${sql.id(retired)} cascade`.execute(trx);
    await sql`create schema ${sql.id(retired)}`.execute(trx);
    for (const table of kind.tables) {
      await sql`alter table ${sql.id(live, table)} set schema ${sql.id(retired)}`.execute(trx);
      await sql`alter table ${sql.id(schema, table)} set schema ${sql.id(live)}`.execute(trx);
    }
    await sql`drop schema ${sql.id(retired)} cascade`.execute(trx);

    // The live projection carries on from where the rebuild stopped.
    const rebuilt = trx.withSchema(schema);
    const done = await rebuilt
      .selectFrom('projection_checkpoints')
      .selectAll()
      .where('projection', '=', kind.name)
      .executeTakeFirstOrThrow();
    const carried = {
      checkpoint: done.checkpoint,
      position: done.position,
      events_processed: done.events_processed,
      updated_at: sql<Date>`now()`,
    };
    await trx
      .insertInto('projection_checkpoints')
      .values({ projection: kind.name, ...carried })
      .onConflict((oc) => oc.column('projection').doUpdateSet(carried))
      .execute();
    // The rebuilt tables' dead letters become the live projection's.
    const columns = [
      'projection',
      'event_id',
      'stream_id',
      'stream_version',
      'position',
      'event_type',
      'error',
      'attempts',
      'created_at',
    ] as const;
    await trx.deleteFrom('projection_dead_letters').where('projection', '=', kind.name).execute();
    await trx
      .insertInto('projection_dead_letters')
      .columns(columns)
      .expression(rebuilt.selectFrom('projection_dead_letters').select(columns).where('projection', '=', kind.name))
      .execute();
    await sql`drop schema ${sql.id(schema)} cascade`.execute(trx);
  });
}

async function countDeadLetters(db: Kysely<ReadModelTables>, projection: string): Promise<number> {
  const row = await db
    .selectFrom('projection_dead_letters')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('projection', '=', projection)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

async function countEvents(db: Kysely<ReadModelTables>): Promise<number> {
  try {
    const { rows } = await sql<{ n: string }>`select count(*)::text as n from events`.execute(db);
    return Number(rows[0].n);
  } catch {
    return 0; // the log lives in EventStoreDB: progress without a total
  }
}

/**
 * Applies batches until one comes back short of a full batch: the rebuild has then reached the
 * head of the log as it was a moment ago. Under steady writes it stops there instead of chasing
 * the head; the live projector applies whatever arrives after the swap.
 */
async function catchUpWithProgress(
  runner: ProjectionRunner,
  projection: Projection,
  total: number,
  onProgress: (p: Progress) => void,
  batchSize: number,
  stopAt?: string | null,
) {
  let processed = await runner.processedCount(projection);
  for (;;) {
    const n = await runner.runBatch(projection, stopAt);
    processed += n;
    if (n > 0) onProgress({ processed, total: Math.max(total, processed) });
    if (n < batchSize) return processed;
  }
}

/** A runner writing into `schema`; an event it cannot apply is dead-lettered there and the rebuild goes on. */
function runnerIn(db: Kysely<ReadModelTables>, store: EventStore, projection: Projection, schema: string, batchSize: number) {
  // Halting would block every future rebuild at the same event: the log is append-only.
  return new ProjectionRunner(db, store, [projection], {
    ...DEFAULT_RUNNER_OPTIONS,
    batchSize,
    haltOnPoison: false,
    synchronousCommit: false,
    schema,
  });
}

/**
 * Rebuilds a projection from the whole log into its own schema and swaps the tables in atomically
 * while the live projection keeps serving. Interrupted, it resumes from its own checkpoint next time.
 */
export async function replayProjection(
  db: Kysely<ReadModelTables>,
  store: EventStore,
  kind: ProjectionKind,
  options: { restart?: boolean; onProgress?: (p: Progress) => void; batchSize?: number } = {},
): Promise<{ events: number; seconds: number; deadLettered: number }> {
  const started = Date.now();
  const batchSize = options.batchSize ?? REPLAY_BATCH_SIZE;
  const live = await liveSchemaOf(db);
  const schema = rebuildSchemaName(live, kind.name);
  await createCopies(db, live, schema, kind.tables, !!options.restart);
  const projection = kind.create();
  const runner = runnerIn(db, store, projection, schema, batchSize);
  await runner.ensureCheckpoints();
  const total = await countEvents(db);
  const events = await catchUpWithProgress(runner, projection, total, options.onProgress ?? (() => undefined), batchSize);
  await buildSecondaryIndexes(db, live, schema, kind.tables);
  await swapIn(db, live, schema, kind);
  const deadLettered = await countDeadLetters(db, kind.name);
  return { events, seconds: (Date.now() - started) / 1000, deadLettered };
}

export interface Difference {
  table: string;
  /** Primary-key values of the row. */
  key: Record<string, unknown>;
  /** 'differs' when both have the row; otherwise which side has it. */
  side: 'only in live' | 'only in rebuild' | 'differs';
  /** Column → [live, rebuild] for the columns that differ (all columns for a one-sided row). */
  columns: Record<string, [unknown, unknown]>;
}

/**
 * Rebuilds into a scratch schema up to exactly the live checkpoint, then compares the tables row by
 * row. An empty result means the live read model equals a rebuild from the log.
 */
export async function verifyProjection(
  database: Database,
  store: EventStore,
  kind: ProjectionKind,
  options: { onProgress?: (p: Progress) => void } = {},
): Promise<Difference[]> {
  const db = database.tables<ReadModelTables>();
  const live = await liveSchemaOf(db);
  const schema = verifySchemaName(live, kind.name);
  try {
    await createCopies(db, live, schema, kind.tables, true);
    const scratch = kind.create();
    const runner = runnerIn(db, store, scratch, schema, REPLAY_BATCH_SIZE);
    await runner.ensureCheckpoints();
    const total = await countEvents(db);
    return await holdingProjection(database, kind.name, async () => {
      const applied = await db
        .selectFrom('projection_checkpoints')
        .select('checkpoint')
        .where('projection', '=', kind.name)
        .executeTakeFirst();
      await catchUpWithProgress(
        runner,
        scratch,
        total,
        options.onProgress ?? (() => undefined),
        REPLAY_BATCH_SIZE,
        applied?.checkpoint ?? null,
      );
      const differences: Difference[] = [];
      for (const table of kind.tables) {
        const columns = await comparableColumns(db, live, table);
        const keyColumns = await primaryKey(db, live, table);
        const list = sql.join(columns.map((c) => sql.ref(c)));
        const onlyLive = await sql<Record<string, unknown>>`
          select ${list} from ${sql.id(live, table)} except select ${list} from ${sql.id(schema, table)} limit 1000`.execute(db);
        const onlyRebuild = await sql<Record<string, unknown>>`
          select ${list} from ${sql.id(schema, table)} except select ${list} from ${sql.id(live, table)} limit 1000`.execute(db);
        differences.push(...pairUp(table, keyColumns, columns, onlyLive.rows, onlyRebuild.rows));
      }
      return differences;
    });
  } finally {
    await sql`drop schema if exists ${sql.id(schema)} cascade`.execute(db);
  }
}

/**
 * Keeps the live projector of `name` still while fn runs: a session advisory lock on its own
 * connection makes the projector's per-batch try-lock fail. The embedded database belongs to one
 * process, and the API is stopped while the CLI uses it, so there is nothing to hold there.
 */
async function holdingProjection<T>(database: Database, name: string, fn: () => Promise<T>): Promise<T> {
  if (database.kind !== 'postgres') return fn();
  const key = projectionLockKey(name);
  return database.db.connection().execute(async (conn) => {
    await sql`select pg_advisory_lock(hashtext(${key}))`.execute(conn);
    try {
      return await fn();
    } finally {
      await sql`select pg_advisory_unlock(hashtext(${key}))`.execute(conn);
    }
  });
}

async function primaryKey(db: Kysely<ReadModelTables>, schema: string, table: string): Promise<string[]> {
  const { rows } = await sql<{ column: string }>`
    select a.attname as column from pg_index i
    join pg_attribute a on a.attrelid = i.indrelid and a.attnum = any(i.indkey)
    where i.indrelid = ${regclass(schema, table)} and i.indisprimary
    order by array_position(i.indkey, a.attnum)`.execute(db);
  return rows.map((r) => r.column);
}

/** Every stored column except generated ones (they follow from the others). */
async function comparableColumns(db: Kysely<ReadModelTables>, schema: string, table: string): Promise<string[]> {
  const { rows } = await sql<{ column_name: string }>`
    select column_name from information_schema.columns
    where table_schema = ${schema} and table_name = ${table} and is_generated = 'NEVER'
    order by ordinal_position`.execute(db);
  return rows.map((r) => r.column_name);
}

/** Rows of the two sides with the same key become one 'differs' entry listing only what differs. */
function pairUp(
  table: string,
  keyColumns: string[],
  columns: string[],
  live: Record<string, unknown>[],
  rebuilt: Record<string, unknown>[],
): Difference[] {
  const keyOf = (row: Record<string, unknown>) => JSON.stringify(keyColumns.map((c) => row[c]));
  const pick = (row: Record<string, unknown>) => Object.fromEntries(keyColumns.map((c) => [c, row[c]]));
  const rebuiltByKey = new Map(rebuilt.map((r) => [keyOf(r), r]));
  const out: Difference[] = [];
  for (const row of live) {
    const other = rebuiltByKey.get(keyOf(row));
    rebuiltByKey.delete(keyOf(row));
    const differing = columns.filter((c) => JSON.stringify(row[c]) !== JSON.stringify(other?.[c]));
    out.push({
      table,
      key: pick(row),
      side: other ? 'differs' : 'only in live',
      columns: Object.fromEntries(differing.map((c) => [c, [row[c], other ? other[c] : undefined]])),
    });
  }
  for (const row of rebuiltByKey.values()) {
    out.push({ table, key: pick(row), side: 'only in rebuild', columns: Object.fromEntries(columns.map((c) => [c, [undefined, row[c]]])) });
  }
  return out;
}
