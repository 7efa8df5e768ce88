import { type Kysely, sql } from 'kysely';
import type { EventStore } from '@app/event-store';
import type { Database } from '@app/platform/database/database';
import { OpportunityProjection } from './opportunities/opportunity.projection';
import { PipelinesProjection } from './pipelines/pipelines.projection';
import type { Projection } from './projector/projection';
import { TimelineProjection } from './timeline/timeline.projection';
import { DEFAULT_RUNNER_OPTIONS, ProjectionRunner } from './projector/projection-runner';

/** A projection whose tables can be built beside the live ones under a suffix. */
export interface RebuildableProjection {
  readonly name: string;
  readonly tables: readonly string[];
}

export interface ProjectionKind {
  name: string;
  tables: readonly string[];
  /** The projection writing to the tables with this suffix ('' = live). */
  create(suffix: string): Projection;
}

export const PROJECTION_KINDS: ProjectionKind[] = [
  { name: OpportunityProjection.NAME, tables: OpportunityProjection.TABLES, create: (suffix) => new OpportunityProjection(suffix) },
  { name: TimelineProjection.NAME, tables: TimelineProjection.TABLES, create: (suffix) => new TimelineProjection(suffix) },
  { name: PipelinesProjection.NAME, tables: PipelinesProjection.TABLES, create: (suffix) => new PipelinesProjection(suffix) },
];

export interface Progress {
  processed: number;
  total: number;
}

const REBUILD = '__rebuild';
const VERIFY = '__verify';
/** Events per rebuild batch: large batches amortise each statement over more rows. */
export const REPLAY_BATCH_SIZE = 10_000;

/**
 * Copies of the live tables (columns, defaults, generated columns, storage, primary and unique
 * keys). Secondary indexes are left off: filling a table and then building each index once is
 * several times faster than maintaining a dozen indexes row by row (see buildSecondaryIndexes).
 */
async function createCopies(db: Kysely<any>, kind: ProjectionKind, suffix: string, fresh: boolean): Promise<void> {
  for (const table of kind.tables) {
    if (fresh) await sql`drop table if exists ${sql.table(table + suffix)}`.execute(db);
    const { rows: existing } = await sql<{ oid: number | null }>`select to_regclass(${table + suffix})::oid as oid`.execute(db);
    if (existing[0]?.oid) continue; // resuming an interrupted rebuild
    await sql`create table ${sql.table(table + suffix)} (like ${sql.table(table)} including all)`.execute(db);
    const { rows } = await sql<{ options: string[] | null }>`
      select reloptions as options from pg_class where oid = ${table}::regclass`.execute(db);
    for (const option of rows[0]?.options ?? []) {
      await sql`alter table ${sql.table(table + suffix)} set (${sql.raw(option)})`.execute(db);
    }
    for (const index of await indexNames(db, [table + suffix], { secondaryOnly: true })) {
      await sql`drop index ${sql.table(index.name)}`.execute(db);
    }
  }
}

/**
 * Builds on each copy the secondary indexes its live table has and the copy lacks, each in its
 * own short transaction: on PostgreSQL a transaction holding an xid holds back every reader of
 * the log (they read below the oldest running transaction), so the live projector waits at most
 * one index build, not all of them.
 */
async function buildSecondaryIndexes(db: Kysely<any>, kind: ProjectionKind, suffix: string): Promise<void> {
  await db.connection().execute(async (conn) => {
    await sql`set maintenance_work_mem = '256MB'`.execute(conn);
    try {
      for (const table of kind.tables) {
        const have = new Set((await indexNames(conn, [table + suffix])).map((i) => i.shape));
        for (const index of await indexNames(conn, [table], { secondaryOnly: true })) {
          if (have.has(index.shape)) continue;
          const definition = index.definition.replace(/^CREATE INDEX \S+ ON (ONLY )?\S+ /, `CREATE INDEX ON "${table + suffix}" `);
          await sql.raw(definition).execute(conn);
        }
      }
    } finally {
      await sql`reset maintenance_work_mem`.execute(conn);
    }
  });
}

async function countDeadLetters(db: Kysely<any>, projection: string): Promise<number> {
  const row = await db
    .selectFrom('projection_dead_letters')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('projection', '=', projection)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

async function countEvents(db: Kysely<any>): Promise<number> {
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

/**
 * Rebuilds a projection from the whole log into fresh tables and swaps them in atomically while
 * the live projection keeps serving. Interrupted, it resumes from its own checkpoint next time.
 */
export async function replayProjection(
  db: Kysely<any>,
  store: EventStore,
  kind: ProjectionKind,
  options: { restart?: boolean; onProgress?: (p: Progress) => void; batchSize?: number } = {},
): Promise<{ events: number; seconds: number; deadLettered: number }> {
  const started = Date.now();
  const batchSize = options.batchSize ?? REPLAY_BATCH_SIZE;
  const target = kind.create(REBUILD);
  await createCopies(db, kind, REBUILD, !!options.restart);
  // An event the projection cannot apply is dead-lettered and the rebuild goes on: the log is
  // append-only, so halting there would block every future rebuild at the same event.
  const runner = new ProjectionRunner(db, store, [target], {
    ...DEFAULT_RUNNER_OPTIONS,
    batchSize,
    haltOnPoison: false,
    synchronousCommit: false,
  });
  if (options.restart) {
    await runner.resetCheckpoint(target);
    await db.deleteFrom('projection_dead_letters').where('projection', '=', target.name).execute();
  }
  await runner.ensureCheckpoints();
  const total = await countEvents(db);
  const events = await catchUpWithProgress(runner, target, total, options.onProgress ?? (() => undefined), batchSize);
  await buildSecondaryIndexes(db, kind, REBUILD);

  await db.transaction().execute(async (trx) => {
    // Waits for the live projector's batch in flight; it skips batches until this commits.
    await sql`select pg_advisory_xact_lock(hashtext(${`projection:${kind.name}`}))`.execute(trx);
    const indexes = await indexNames(trx, kind.tables);
    for (const table of kind.tables) {
      await sql`alter table ${sql.table(table)} rename to ${sql.table(`${table}__old`)}`.execute(trx);
      await sql`alter table ${sql.table(table + REBUILD)} rename to ${sql.table(table)}`.execute(trx);
      await sql`drop table ${sql.table(`${table}__old`)}`.execute(trx);
    }
    await restoreIndexNames(trx, indexes);
    // The live projection carries on from where the rebuild stopped.
    const done = await trx.selectFrom('projection_checkpoints').selectAll().where('projection', '=', target.name).executeTakeFirstOrThrow();
    const carried = {
      checkpoint: done.checkpoint,
      position: done.position,
      events_processed: done.events_processed,
      updated_at: sql`now()`,
    };
    await trx
      .insertInto('projection_checkpoints')
      .values({ projection: kind.name, ...carried })
      .onConflict((oc) => oc.column('projection').doUpdateSet(carried))
      .execute();
    await trx.deleteFrom('projection_checkpoints').where('projection', '=', target.name).execute();
    // The rebuilt tables' dead letters become the live projection's.
    await trx.deleteFrom('projection_dead_letters').where('projection', '=', kind.name).execute();
    await trx.updateTable('projection_dead_letters').set({ projection: kind.name }).where('projection', '=', target.name).execute();
  });
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
 * Rebuilds into scratch tables up to exactly the live checkpoint, then compares them row by row.
 * An empty result means the live read model equals a rebuild from the log.
 */
export async function verifyProjection(
  database: Database,
  store: EventStore,
  kind: ProjectionKind,
  options: { onProgress?: (p: Progress) => void } = {},
): Promise<Difference[]> {
  const db = database.db;
  const scratch = kind.create(VERIFY);
  await createCopies(db, kind, VERIFY, true);
  // As in a rebuild, an event that cannot be applied is set aside (the live projection did the same).
  const runner = new ProjectionRunner(db, store, [scratch], {
    ...DEFAULT_RUNNER_OPTIONS,
    batchSize: REPLAY_BATCH_SIZE,
    haltOnPoison: false,
    synchronousCommit: false,
  });
  await db.deleteFrom('projection_dead_letters').where('projection', '=', scratch.name).execute();
  await runner.resetCheckpoint(scratch);
  await runner.ensureCheckpoints();
  const total = await countEvents(db);
  try {
    return await holdingProjection(database, kind.name, async () => {
      const live = await db
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
        live?.checkpoint ?? null,
      );
      const differences: Difference[] = [];
      for (const table of kind.tables) {
        const columns = await comparableColumns(db, table);
        const keyColumns = await primaryKey(db, table);
        const list = sql.join(columns.map((c) => sql.ref(c)));
        const onlyLive = await sql<Record<string, unknown>>`
          select ${list} from ${sql.table(table)} except select ${list} from ${sql.table(table + VERIFY)} limit 1000`.execute(db);
        const onlyRebuild = await sql<Record<string, unknown>>`
          select ${list} from ${sql.table(table + VERIFY)} except select ${list} from ${sql.table(table)} limit 1000`.execute(db);
        differences.push(...pairUp(table, keyColumns, columns, onlyLive.rows, onlyRebuild.rows));
      }
      return differences;
    });
  } finally {
    for (const table of kind.tables) await sql`drop table if exists ${sql.table(table + VERIFY)}`.execute(db);
    await db.deleteFrom('projection_checkpoints').where('projection', '=', scratch.name).execute();
    await db.deleteFrom('projection_dead_letters').where('projection', '=', scratch.name).execute();
  }
}

/**
 * Keeps the live projector of `name` still while fn runs: a session advisory lock on its own
 * connection makes the projector's per-batch try-lock fail. The embedded database belongs to one
 * process, and the API is stopped while the CLI uses it, so there is nothing to hold there.
 */
async function holdingProjection<T>(database: Database, name: string, fn: () => Promise<T>): Promise<T> {
  if (database.kind !== 'postgres') return fn();
  const key = `projection:${name}`;
  return database.db.connection().execute(async (conn) => {
    await sql`select pg_advisory_lock(hashtext(${key}))`.execute(conn);
    try {
      return await fn();
    } finally {
      await sql`select pg_advisory_unlock(hashtext(${key}))`.execute(conn);
    }
  });
}

async function primaryKey(db: Kysely<any>, table: string): Promise<string[]> {
  const { rows } = await sql<{ column: string }>`
    select a.attname as column from pg_index i
    join pg_attribute a on a.attrelid = i.indrelid and a.attnum = any(i.indkey)
    where i.indrelid = ${table}::regclass and i.indisprimary
    order by array_position(i.indkey, a.attnum)`.execute(db);
  return rows.map((r) => r.column);
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

/** Every stored column except generated ones (they follow from the others). */
async function comparableColumns(db: Kysely<any>, table: string): Promise<string[]> {
  const { rows } = await sql<{ column_name: string }>`
    select column_name from information_schema.columns
    where table_schema = current_schema() and table_name = ${table} and is_generated = 'NEVER'
    order by ordinal_position`.execute(db);
  return rows.map((r) => r.column_name);
}

interface IndexName {
  table: string;
  name: string;
  definition: string;
  /** Definition with the index and table names blanked, to match the rebuilt copy's index. */
  shape: string;
}

/** `secondaryOnly`: leave out primary keys and unique indexes (upserts need those). */
async function indexNames(db: Kysely<any>, tables: readonly string[], options: { secondaryOnly?: boolean } = {}): Promise<IndexName[]> {
  const out: IndexName[] = [];
  for (const table of tables) {
    const { rows } = await sql<{ name: string; def: string }>`
      select i.relname as name, pg_get_indexdef(i.oid) as def
      from pg_index x join pg_class i on i.oid = x.indexrelid
      where x.indrelid = ${table}::regclass and (not ${options.secondaryOnly ?? false} or not x.indisunique)
      order by i.relname`.execute(db);
    out.push(...rows.map((r) => ({ table, name: r.name, definition: r.def, shape: shapeOf(r.def, r.name, table) })));
  }
  return out;
}

/** After the swap the rebuilt indexes take the live names (migrations refer to them). */
async function restoreIndexNames(db: Kysely<any>, previous: IndexName[]): Promise<void> {
  const tables = [...new Set(previous.map((p) => p.table))];
  const current = await indexNames(db, tables);
  for (const index of current) {
    const wanted = previous.find((p) => p.table === index.table && p.shape === index.shape);
    if (wanted && wanted.name !== index.name) {
      await sql`alter index ${sql.table(index.name)} rename to ${sql.table(wanted.name)}`.execute(db);
    }
  }
}

function shapeOf(def: string, name: string, table: string): string {
  return def
    .replace(` INDEX ${name} ON `, ' INDEX _ ON ')
    .replace(` INDEX "${name}" ON `, ' INDEX _ ON ')
    .replace(new RegExp(`\\bON (ONLY )?([\\w."]+\\.)?"?${table}(__\\w+)?"?`), 'ON _');
}
