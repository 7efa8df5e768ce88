import { type Kysely, type RawBuilder, sql } from 'kysely';
import { getHeapStatistics } from 'node:v8';
import type { EventStore, RecordedEvent } from '@app/event-store';
import type { Database } from '@app/platform';
import { copyRows, mergeRows, type TableRows } from './projector/copy-rows';
import { OpportunityProjection } from './opportunities/opportunity.projection';
import { PipelinesProjection } from './pipelines/pipelines.projection';
import type { Projection, ProjectionRebuild, SummedTable } from './projector/projection';
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
 * than maintaining a dozen indexes row by row (see buildIndexes). With `keys: false` the primary
 * and unique keys are left off too (a COPY of rows that are final needs none; buildIndexes adds them
 * with one sorted build each). Tables already there are kept: an interrupted rebuild resumes into them.
 */
async function createCopies(
  db: Kysely<ReadModelTables>,
  live: string,
  schema: string,
  tables: readonly Table[],
  options: { fresh: boolean; keys: boolean },
) {
  if (options.fresh) await sql`drop schema if exists ${sql.id(schema)} cascade`.execute(db);
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
    if (!options.keys && !(BOOKKEEPING as readonly string[]).includes(table)) {
      for (const key of await uniqueKeys(db, schema, table)) {
        await sql`alter table ${sql.id(schema, table)} drop constraint ${sql.id(key.name)}`.execute(db);
      }
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

/** The primary and unique key constraints of a table, as `alter table … add constraint` takes them. */
async function uniqueKeys(db: Kysely<ReadModelTables>, schema: string, table: string): Promise<{ name: string; definition: string }[]> {
  const { rows } = await sql<{ name: string; definition: string }>`
    select conname as name, pg_get_constraintdef(oid) as definition from pg_constraint
    where conrelid = ${regclass(schema, table)} and contype in ('p', 'u')
    order by contype, conname`.execute(db);
  return rows;
}

/**
 * Builds on each copy, under the live names, every key constraint and secondary index its live
 * table has and the copy lacks (a resumed rebuild may have some). Each in its own short
 * transaction: on PostgreSQL a transaction holding an xid holds back every reader of the log (they
 * read below the oldest running transaction), so the live projector waits at most one index build,
 * not all of them.
 */
async function buildIndexes(db: Kysely<ReadModelTables>, live: string, schema: string, tables: readonly Table[]) {
  const build = (statement: RawBuilder<unknown>) =>
    db.transaction().execute(async (trx) => {
      await sql`set local maintenance_work_mem = '256MB'`.execute(trx);
      await statement.execute(trx);
    });
  // Keys first (adding one locks its table), the tables side by side.
  await Promise.all(
    tables.map(async (table) => {
      const have = new Set((await uniqueKeys(db, schema, table)).map((k) => k.name));
      for (const key of await uniqueKeys(db, live, table)) {
        if (!have.has(key.name))
          await build(sql`alter table ${sql.id(schema, table)} add constraint ${sql.id(key.name)} ${sql.raw(key.definition)}`);
      }
    }),
  );
  const missing: RawBuilder<unknown>[] = [];
  for (const table of tables) {
    const have = new Set((await secondaryIndexes(db, schema, table)).map((i) => i.name));
    for (const index of await secondaryIndexes(db, live, table)) {
      if (!have.has(index.name)) missing.push(sql`create index ${sql.id(index.name)} on ${sql.id(schema, table)} ${sql.raw(index.body)}`);
    }
  }
  await inParallel(missing, INDEX_BUILDS_AT_ONCE, build);
}

/** Index builds side by side: each is one backend on one core (GIN builds do not parallelise). */
const INDEX_BUILDS_AT_ONCE = 2;

/** Runs fn over items with at most `width` calls in flight. */
async function inParallel<T>(items: T[], width: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]);
    }),
  );
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

/** How a rebuild applied the log. */
export type ReplayMode =
  /** Folded in memory, each final row written once with COPY into tables without secondary indexes. */
  | 'memory'
  /** The live projector's own batches into the copies: resumable, and it sets failing events aside one by one. */
  | 'batches';

export interface ReplayOptions {
  /** Drop what an interrupted rebuild left and start over. */
  restart?: boolean;
  onProgress?: (p: Progress) => void;
  /** Events per page read (and per transaction in 'batches' mode). */
  batchSize?: number;
  /**
   * Default: 'memory' when the projection has an in-memory rebuild and no interrupted 'batches'
   * rebuild is waiting to be resumed. A 'memory' rebuild that fails to fold or write (an event the
   * tables cannot store) starts over in 'batches' mode, which dead-letters exactly that event.
   */
  mode?: ReplayMode;
  /**
   * 'memory' mode: fold the streams in this many passes over the log, each holding only the streams
   * whose name hashes to it, so the state in memory is about 1/partitions of the whole. Default:
   * as many as keep the state within half of the heap (autoPartitions).
   */
  partitions?: number;
}

export interface ReplayResult {
  events: number;
  seconds: number;
  deadLettered: number;
  mode: ReplayMode;
  /** Set when a 'memory' rebuild fell back to 'batches': what failed. */
  fallback?: string;
  /**
   * Seconds per phase: `apply` (reading and applying the log; in memory, split into waiting for
   * the log, folding, waiting for COPY, and the final rows' fold and COPY), `indexes` (keys and
   * secondary indexes), `swap`.
   */
  phases: Record<string, number>;
}

/**
 * Rebuilds a projection from the whole log into its own schema and swaps the tables in atomically
 * while the live projection keeps serving. A 'batches' rebuild that is interrupted resumes from its
 * own checkpoint next time; a 'memory' one starts over (it keeps nothing but the rows it wrote).
 */
export async function replayProjection(
  database: Database,
  store: EventStore,
  kind: ProjectionKind,
  options: ReplayOptions = {},
): Promise<ReplayResult> {
  const started = Date.now();
  const db = database.tables<ReadModelTables>();
  const batchSize = options.batchSize ?? REPLAY_BATCH_SIZE;
  const onProgress = options.onProgress ?? (() => undefined);
  const live = await liveSchemaOf(db);
  const schema = rebuildSchemaName(live, kind.name);
  const projection = kind.create();
  const resumable = !options.restart && (await checkpointIn(db, schema, kind.name)) !== undefined;
  let mode: ReplayMode = options.mode ?? (projection.rebuild && !resumable ? 'memory' : 'batches');
  let events = 0;
  let fallback: string | undefined;
  let phases: Record<string, number> = {};
  let last = started;
  const lap = (phase: string) => {
    const now = Date.now();
    phases[phase] = (phases[phase] ?? 0) + (now - last) / 1000;
    last = now;
  };
  if (mode === 'memory') {
    await createCopies(db, live, schema, kind.tables, { fresh: true, keys: false });
    try {
      const total = await countEvents(db);
      const folded = await rebuildInMemory(database, store, projection, schema, {
        total,
        onProgress,
        pageSize: batchSize,
        partitions: options.partitions ?? autoPartitions(total),
      });
      events = folded.events;
      lap('apply');
      phases = { ...phases, ...folded.phases };
      await buildIndexes(db, live, schema, kind.tables).catch((error: unknown) => {
        throw failed(error); // a key the rows break
      });
    } catch (error) {
      if (!(error instanceof InMemoryRebuildFailed)) throw error;
      fallback = error.message;
      mode = 'batches';
      phases = {};
    }
  }
  if (mode === 'batches') {
    await createCopies(db, live, schema, kind.tables, { fresh: !!options.restart || fallback !== undefined, keys: true });
    const runner = runnerIn(db, store, projection, schema, batchSize);
    await runner.ensureCheckpoints();
    events = await catchUpWithProgress(runner, projection, await countEvents(db), onProgress, batchSize);
    lap('apply');
  }
  await buildIndexes(db, live, schema, kind.tables);
  lap('indexes');
  await swapIn(db, live, schema, kind);
  lap('swap');
  const deadLettered = await countDeadLetters(db, kind.name);
  return { events, seconds: (Date.now() - started) / 1000, deadLettered, mode, ...(fallback ? { fallback } : {}), phases };
}

async function checkpointIn(db: Kysely<ReadModelTables>, schema: string, projection: string) {
  const { rows } = await sql<{ found: boolean }>`
    select exists (select from pg_tables where schemaname = ${schema} and tablename = 'projection_checkpoints') as found`.execute(db);
  if (!rows[0].found) return undefined;
  return db.withSchema(schema).selectFrom('projection_checkpoints').selectAll().where('projection', '=', projection).executeTakeFirst();
}

/** The in-memory fold or its COPY failed: the caller starts over with the live projector's batches. */
class InMemoryRebuildFailed extends Error {}

const failed = (error: unknown) =>
  new InMemoryRebuildFailed(`the in-memory rebuild failed (${error instanceof Error ? error.message : String(error)})`);

/**
 * Heap an in-memory rebuild holds per event of the log, measured at 1M events (deal states, open
 * intervals, activities, and the rows waiting for COPY), with room to spare.
 */
const HEAP_BYTES_PER_EVENT = 2_000;

/** Passes enough that one partition's state fits in half of this process's heap limit. */
export function autoPartitions(events: number, heapLimit = getHeapStatistics().heap_size_limit): number {
  return Math.max(1, Math.ceil((events * HEAP_BYTES_PER_EVENT) / (heapLimit / 2)));
}

/** Rows of one table from which a write is split over two COPYs. */
const COPY_SPLIT_ROWS = 5_000;

/** Rows of summed tables added up by group across the passes of a partitioned rebuild. */
class SummedRows {
  private readonly groups = new Map<string, Map<string, Record<string, unknown>>>();
  constructor(private readonly tables: Readonly<Record<string, SummedTable>>) {}

  /** Keeps the rows of summed tables (added to their groups) and returns the others. */
  absorb(rows: TableRows): TableRows {
    const rest: TableRows = new Map();
    for (const [table, list] of rows) {
      const spec = this.tables[table];
      if (!spec) {
        rest.set(table, list);
        continue;
      }
      let groups = this.groups.get(table);
      if (!groups) this.groups.set(table, (groups = new Map()));
      for (const row of list) {
        const key = JSON.stringify(spec.key.map((c) => row[c]));
        const group = groups.get(key);
        if (!group) groups.set(key, { ...row });
        else for (const c of spec.sums) group[c] = Number(group[c]) + Number(row[c]);
      }
    }
    return rest;
  }

  rows(): TableRows {
    return new Map([...this.groups].map(([table, groups]) => [table, [...groups.values()]]));
  }
}

/** Which of `of` partitions a stream belongs to (FNV-1a of its name). */
export function partitionOf(streamId: string, of: number): number {
  if (of <= 1) return 0;
  let hash = 0x811c9dc5;
  for (let i = 0; i < streamId.length; i++) hash = Math.imul(hash ^ streamId.charCodeAt(i), 0x01000193);
  return (hash >>> 0) % of;
}

/**
 * Reads the log page by page (the next page is read while this one is folded), up to a short page
 * (the head as it was a moment ago) or up to `stopAt`, and feeds each partition's streams to a
 * fresh in-memory rebuild; rows come out as they become final and are written with COPY while the
 * fold goes on (one write in flight). Ends with the checkpoint row in the rebuild's schema. Returns
 * the events read in one pass.
 */
async function rebuildInMemory(
  database: Database,
  store: EventStore,
  projection: Projection,
  schema: string,
  options: { total: number; onProgress: (p: Progress) => void; pageSize: number; partitions: number; stopAt?: string | null },
): Promise<{ events: number; phases: Record<string, number> }> {
  const { pageSize, partitions } = options;
  const spent = { log_wait: 0, fold: 0, copy_wait: 0, final_rows: 0 };
  const timed = async <T>(phase: keyof typeof spent, fn: () => T | Promise<T>): Promise<T> => {
    const t = Date.now();
    try {
      return await fn();
    } finally {
      spent[phase] += (Date.now() - t) / 1000;
    }
  };
  let read = 0;
  let last: RecordedEvent | undefined;
  let writing: Promise<void> = Promise.resolve();
  const write = (rows: TableRows) => {
    const previous = writing;
    // COPYs side by side (a large table's rows split in two): on a server each is its own
    // connection and backend, so both cores work; PGlite runs them one after another.
    writing = previous.then(async () => {
      const parts: [string, Record<string, unknown>[]][] = [];
      for (const [table, list] of rows) {
        const half = Math.ceil(list.length / 2);
        if (list.length < 2 * COPY_SPLIT_ROWS) parts.push([table, list]);
        else parts.push([table, list.slice(0, half)], [table, list.slice(half)]);
      }
      await Promise.all(parts.map(([table, list]) => copyRows(database, schema, table, list)));
    });
    writing.catch(() => undefined); // awaited below
  };
  const awaitWrites = async () => {
    try {
      await writing;
    } catch (error) {
      throw failed(error);
    }
  };
  // Sums of one group can come from several partitions: added up here, written after the last pass.
  const summed = partitions > 1 ? new SummedRows(projection.summedTables ?? {}) : null;
  const take = (into: TableRows, rows: TableRows) => mergeRows(into, summed ? summed.absorb(rows) : rows);
  for (let partition = 0; partition < partitions; partition++) {
    const rebuild: ProjectionRebuild = projection.rebuild!();
    let pending = new Map() as TableRows;
    let next = store.readAll(null, pageSize);
    let passRead = 0;
    // Every pass after the first stops where the first did, so all partitions see the same log.
    const stopAt = partition === 0 ? options.stopAt : (last?.checkpoint ?? null);
    for (;;) {
      const page = await timed('log_wait', () => next);
      let events = page.events;
      if (stopAt !== undefined) events = events.filter((e) => store.compareCheckpoints(e.checkpoint, stopAt) <= 0);
      const full = events.length === pageSize;
      if (full) next = store.readAll(page.checkpoint, pageSize);
      if (events.length > 0) {
        if (partition === 0) last = events[events.length - 1];
        const mine = partitions === 1 ? events : events.filter((e) => partitionOf(e.streamId, partitions) === partition);
        await timed('fold', () => {
          try {
            take(pending, rebuild.add(mine));
          } catch (error) {
            throw failed(error);
          }
        });
        passRead += events.length;
        if (partition === 0) read = passRead;
        const size = [...pending.values()].reduce((n, rows) => n + rows.length, 0);
        if (size >= pageSize) {
          await timed('copy_wait', awaitWrites); // one write in flight at most
          write(pending);
          pending = new Map();
        }
        options.onProgress({ processed: partition * read + passRead, total: Math.max(options.total, read) * partitions });
      }
      if (!full) break;
    }
    await timed('copy_wait', awaitWrites);
    await timed('final_rows', async () => {
      try {
        take(pending, rebuild.finish());
        if (summed && partition === partitions - 1) mergeRows(pending, summed.rows());
      } catch (error) {
        throw failed(error);
      }
      write(pending);
      await awaitWrites();
    });
  }
  const db = database.tables<ReadModelTables>().withSchema(schema);
  await db.deleteFrom('projection_checkpoints').where('projection', '=', projection.name).execute();
  await db
    .insertInto('projection_checkpoints')
    .values({
      projection: projection.name,
      checkpoint: last?.checkpoint ?? null,
      position: last?.position ?? '0',
      events_processed: String(read),
    })
    .execute();
  return { events: read, phases: spent };
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
    const scratch = kind.create();
    await createCopies(db, live, schema, kind.tables, { fresh: true, keys: scratch.rebuild === undefined });
    const total = await countEvents(db);
    const onProgress = options.onProgress ?? (() => undefined);
    return await holdingProjection(database, kind.name, async () => {
      const applied = await db
        .selectFrom('projection_checkpoints')
        .select('checkpoint')
        .where('projection', '=', kind.name)
        .executeTakeFirst();
      const stopAt = applied?.checkpoint ?? null;
      let inMemory = scratch.rebuild !== undefined;
      if (inMemory) {
        try {
          await rebuildInMemory(database, store, scratch, schema, {
            total,
            onProgress,
            pageSize: REPLAY_BATCH_SIZE,
            partitions: 1,
            stopAt,
          });
        } catch (error) {
          if (!(error instanceof InMemoryRebuildFailed)) throw error;
          inMemory = false;
          await createCopies(db, live, schema, kind.tables, { fresh: true, keys: true });
        }
      }
      if (!inMemory) {
        const runner = runnerIn(db, store, scratch, schema, REPLAY_BATCH_SIZE);
        await runner.ensureCheckpoints();
        await catchUpWithProgress(runner, scratch, total, onProgress, REPLAY_BATCH_SIZE, stopAt);
      }
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
