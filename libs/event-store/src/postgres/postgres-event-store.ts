import { randomUUID } from 'node:crypto';
import { type Kysely, type Selectable, sql } from 'kysely';
import type { Database } from '@app/platform';
import {
  type AppendResult,
  type BehindByOptions,
  checkpointStore,
  ConcurrencyError,
  EventStore,
  type EventStoreHealth,
  type ExpectedVersion,
  ForeignCheckpointError,
  type NewEvent,
  type ReadAllFilter,
  type ReadAllResult,
  type ReadStreamOptions,
  type RecordedEvent,
  type AppendOptions,
  ReferenceChangedError,
  type StreamRead,
} from '../event-store.port';
import type { EventsTable, EventStoreTables } from '../tables';
import { WakeUp } from '../wake-up';

const NOTIFY_CHANNEL = 'events_appended';
const MAX_BIGINT = 9223372036854775807n;
const NOTIFY_DEBOUNCE_MS = 10;
/** Checkpoints are `pg:<transaction id>:<global position>`; the unprefixed `<xid>:<position>` of older releases is read too. */
const PREFIX = 'pg';
const START: [string, string] = ['0', '0'];
const DEFAULT_MAX_BEHIND = 100_000;

/** One event at version $2 + 1, written only if version $2 exists (or $2 = 0): see appendAt. */
const APPEND_ONE = `
  insert into events (stream_id, stream_version, event_id, type, schema_version, data, metadata)
  select $1::text, $2::bigint + 1, $3::uuid, $4::text, $5::int, $6::jsonb, $7::jsonb
  where $2::bigint = 0 or exists (select 1 from events where stream_id = $1::text and stream_version = $2::bigint)
  returning true as fresh, global_position::text`;

/**
 * The events of $3 (a JSON array) at versions $2 + 1 …, written only if version $2 exists (or
 * $2 = 0) and no stream of $4 has an event past the version at the same index of $5 (the
 * streams the decision read): see appendAt. One statement, so one round trip and no transaction.
 */
const APPEND_AT = `
  with fresh as (
    select not exists (
      select 1 from unnest($4::text[], $5::bigint[]) as r(stream_id, version)
      join events e on e.stream_id = r.stream_id and e.stream_version > r.version
    ) as ok
  ), appended as (
    insert into events (stream_id, stream_version, event_id, type, schema_version, data, metadata)
    select $1::text, $2::bigint + t.ord, (t.x->>'event_id')::uuid, t.x->>'type', (t.x->>'schema_version')::int, t.x->'data', t.x->'metadata'
    from fresh, jsonb_array_elements($3::jsonb) with ordinality as t(x, ord)
    where fresh.ok and ($2::bigint = 0 or exists (select 1 from events where stream_id = $1::text and stream_version = $2::bigint))
    order by t.ord
    returning global_position
  )
  select (select ok from fresh) as fresh, (select max(global_position)::text from appended) as global_position`;

interface AppendRow {
  status: 'appended' | 'duplicate' | 'conflict';
  stream_version: string;
  global_position: string | null;
}

/** An events row as COLUMNS selects it (every column, int8 and xid8 as text). */
type EventRow = Selectable<EventsTable>;

function expectedCode(expected: ExpectedVersion): number {
  switch (expected) {
    case 'no_stream':
      return -1;
    case 'any':
      return -2;
    case 'stream_exists':
      return -3;
    default:
      if (!Number.isInteger(expected) || expected < 0) throw new RangeError(`Bad expected version ${expected}`);
      return expected;
  }
}

/**
 * PostgreSQL (server or PGlite) event store.
 * Appends are one call to append_events(); readers page by (transaction_id, global_position)
 * below the oldest running transaction, so a slow writer's events are never skipped.
 */
export class PostgresEventStore extends EventStore {
  readonly name: string;
  private readonly db: Kysely<EventStoreTables>;
  private readonly wake = new WakeUp();
  private notifyTimer: NodeJS.Timeout | null = null;
  private unlisten: (() => Promise<void>) | null = null;
  /** Names this store's announcements, so it does not wake its own followers twice. */
  private readonly processTag = randomUUID();

  constructor(private readonly database: Database) {
    super();
    this.name = database.kind;
    this.db = database.tables<EventStoreTables>();
  }

  /** Cross-process wake-ups (other API processes appending) via LISTEN. */
  async start(): Promise<void> {
    // Its own announcements come back too: this process signalled itself when it appended.
    this.unlisten = await this.database.listen(NOTIFY_CHANNEL, (from) => from !== this.processTag && this.wake.signal());
  }

  async append(streamId: string, events: NewEvent[], expected: ExpectedVersion, options: AppendOptions = {}): Promise<AppendResult> {
    if (events.length === 0) throw new RangeError('append needs at least one event');
    const references = options.references ?? [];
    if (expected === 'no_stream' || typeof expected === 'number') {
      const appended = await this.appendAt(streamId, events, expected === 'no_stream' ? 0 : expectedCode(expected), references);
      if (appended) return appended;
      // The version check failed or an event id was seen before: append_events() tells which
      // (a version that did not match never matches later, so it appends nothing).
    } else if (references.length > 0) {
      throw new RangeError(`references need an exact expected version, not '${expected}'`);
    }
    const payload = JSON.stringify(
      events.map((e) => ({
        event_id: e.eventId,
        type: e.type,
        schema_version: e.schemaVersion ?? 1,
        data: e.data,
        metadata: e.metadata,
      })),
    );
    for (let attempt = 0; ; attempt++) {
      try {
        const { rows } = await sql<AppendRow>`
          select status, stream_version::text, global_position::text
          from append_events(${streamId}, ${expectedCode(expected)}, ${payload}::jsonb)`.execute(this.db);
        return await this.toResult(streamId, events, expected, rows[0]);
      } catch (error: any) {
        if (error?.code !== '23505') throw error;
        // An event id of the batch is stored already: a re-sent batch, or a conflict if it only partly matches.
        if (error.constraint === 'events_event_id_key') return await this.duplicateOf(streamId, events, expected);
        // Same version taken by a concurrent append: with 'any' take the next one, else it is a conflict.
        if (expected === 'any' && attempt < 10) continue;
        throw new ConcurrencyError(streamId, expected, await this.currentVersion(streamId));
      }
    }
  }

  /**
   * The common append (at an exact version, or a new stream) as a single INSERT: the primary key
   * (stream_id, stream_version) refuses version expected + 1 if it is taken, and the
   * version-expected probe refuses a gap, so the stream's version was exactly `expected`; the
   * references are checked in the same statement. Returns null when the rows were not written for
   * a reason append_events() reports (conflict, duplicate).
   */
  private async appendAt(streamId: string, events: NewEvent[], expected: number, references: StreamRead[]): Promise<AppendResult | null> {
    type Row = { fresh: boolean; global_position: string | null };
    let row: Row | undefined;
    try {
      // One event and no references (the common append outside commands): the plainer statement.
      [row] =
        events.length === 1 && references.length === 0
          ? await this.database.prepared<Row>('events_append_one', APPEND_ONE, [
              streamId,
              expected,
              events[0].eventId,
              events[0].type,
              events[0].schemaVersion ?? 1,
              JSON.stringify(events[0].data),
              JSON.stringify(events[0].metadata ?? {}),
            ])
          : await this.database.prepared<Row>('events_append_at', APPEND_AT, [
              streamId,
              expected,
              JSON.stringify(
                events.map((e) => ({
                  event_id: e.eventId,
                  type: e.type,
                  schema_version: e.schemaVersion ?? 1,
                  data: e.data,
                  metadata: e.metadata ?? {},
                })),
              ),
              references.map((r) => r.streamId),
              references.map((r) => r.version),
            ]);
    } catch (error: any) {
      if (error?.code === '23505') return null;
      throw error;
    }
    // APPEND_ONE returns no row when it wrote nothing (its references, none, are fresh).
    if (!row) return null;
    if (!row.fresh) throw await this.changedReference(references);
    if (row.global_position === null) return null;
    this.announce();
    return { streamVersion: expected + events.length, position: row.global_position, duplicate: false };
  }

  /** Which of the references has moved on (the first, in the order given). */
  private async changedReference(references: StreamRead[]): Promise<ReferenceChangedError> {
    for (const reference of references) {
      if ((await this.currentVersion(reference.streamId)) > reference.version) {
        return new ReferenceChangedError(reference.streamId, reference.version);
      }
    }
    // Moved and checked again in between cannot un-move: versions only grow.
    return new ReferenceChangedError(references[0]?.streamId ?? '', references[0]?.version ?? 0);
  }

  private async toResult(streamId: string, events: NewEvent[], expected: ExpectedVersion, row: AppendRow): Promise<AppendResult> {
    if (row.status === 'conflict') throw new ConcurrencyError(streamId, expected, Number(row.stream_version));
    // append_events() calls it a duplicate as soon as the first id is stored: check the whole batch.
    if (row.status === 'duplicate') return this.duplicateOf(streamId, events, expected);
    this.announce();
    return { streamVersion: Number(row.stream_version), position: row.global_position ?? '0', duplicate: false };
  }

  /**
   * The first result of a re-sent batch: every id stored, in this stream, at consecutive versions
   * in the batch's order. Anything less (some ids new, or stored elsewhere) is a conflict: the
   * rest of the batch is never dropped silently.
   */
  private async duplicateOf(streamId: string, events: NewEvent[], expected: ExpectedVersion): Promise<AppendResult> {
    const ids = events.map((e) => e.eventId.toLowerCase());
    const { rows } = await sql<{ event_id: string; stream_id: string; stream_version: string; global_position: string }>`
      select event_id::text as event_id, stream_id, stream_version::text as stream_version, global_position::text as global_position
      from events
      where event_id in (select value::uuid from jsonb_array_elements_text(${JSON.stringify(ids)}::jsonb))`.execute(this.db);
    const byId = new Map(rows.map((r) => [r.event_id.toLowerCase(), r]));
    const first = byId.get(ids[0]);
    const whole =
      first !== undefined &&
      ids.every((id, i) => {
        const row = byId.get(id);
        return row !== undefined && row.stream_id === streamId && Number(row.stream_version) === Number(first.stream_version) + i;
      });
    if (!whole) throw new ConcurrencyError(streamId, expected, await this.currentVersion(streamId));
    const last = byId.get(ids[ids.length - 1])!;
    return { streamVersion: Number(last.stream_version), position: last.global_position, duplicate: true };
  }

  async readStream(streamId: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    const { rows } = await sql<EventRow>`
      select ${sql.raw(COLUMNS)} from events
      where stream_id = ${streamId}
        and stream_version > ${options.afterVersion ?? 0}
        and stream_version <= ${options.toVersion ?? Number.MAX_SAFE_INTEGER}
      order by events.stream_version`.execute(this.db);
    return rows.map(toRecorded);
  }

  async readAll(after: string | null, limit: number, filter: ReadAllFilter = {}): Promise<ReadAllResult> {
    const [xid, position] = parseCheckpoint(after);
    const org = filter.orgId === undefined ? sql`` : sql`and metadata->>'org_id' = ${filter.orgId}`;
    const { rows } = await sql<EventRow>`
      select ${sql.raw(COLUMNS)} from events
      where (transaction_id, global_position) > (${xid}::text::xid8, ${position}::bigint)
        and transaction_id < pg_snapshot_xmin(pg_current_snapshot())
        ${org}
      order by events.transaction_id, events.global_position
      limit ${limit}`.execute(this.db);
    const events = rows.map(toRecorded);
    return { events, checkpoint: events.length ? events[events.length - 1].checkpoint : after };
  }

  async checkpointAt(position: string): Promise<string | null> {
    if (!/^\d{1,19}$/.test(position) || BigInt(position) > MAX_BIGINT) return null;
    const { rows } = await sql<{ x: string }>`
      select transaction_id::text as x from events where global_position = ${position}::bigint`.execute(this.db);
    return rows[0] ? checkpointOf(rows[0].x, position) : null;
  }

  compareCheckpoints(a: string | null, b: string | null): number {
    const [ax, ap] = parseCheckpoint(a).map(BigInt);
    const [bx, bp] = parseCheckpoint(b).map(BigInt);
    return ax !== bx ? (ax < bx ? -1 : 1) : ap === bp ? 0 : ap < bp ? -1 : 1;
  }

  /** The last event readers can see: everything appended later (or still in flight) comes after it. */
  async head(): Promise<string | null> {
    const { rows } = await sql<{ x: string; p: string }>`
      select transaction_id::text as x, global_position::text as p from events
      where transaction_id < pg_snapshot_xmin(pg_current_snapshot())
      order by transaction_id desc, global_position desc
      limit 1`.execute(this.db);
    return rows[0] ? checkpointOf(rows[0].x, rows[0].p) : null;
  }

  /**
   * Committed events after the checkpoint (up to `upTo`), counted on the (transaction_id,
   * global_position) index and at most `max`. Events of a transaction readers cannot see yet count
   * too: they are appended, not yet applied.
   */
  async behindBy(checkpoint: string | null, options: BehindByOptions = {}): Promise<number> {
    const [xid, position] = parseCheckpoint(checkpoint);
    const max = Math.max(0, Math.floor(options.max ?? DEFAULT_MAX_BEHIND));
    if (max === 0) return 0;
    let upTo = sql``;
    if (options.upTo !== undefined && options.upTo !== null) {
      const [ux, up] = parseCheckpoint(options.upTo);
      upTo = sql`and (transaction_id, global_position) <= (${ux}::text::xid8, ${up}::bigint)`;
    }
    const { rows } = await sql<{ n: string }>`
      select count(*)::text as n from (
        select 1 from events
        where (transaction_id, global_position) > (${xid}::text::xid8, ${position}::bigint) ${upTo}
        limit ${max}
      ) behind`.execute(this.db);
    return Number(rows[0]?.n ?? 0);
  }

  async health(): Promise<EventStoreHealth> {
    try {
      await sql`select 1`.execute(this.db);
      return { up: true };
    } catch (error) {
      return { up: false, reason: error instanceof Error ? error.message : String(error) };
    }
  }

  assertOwnCheckpoint(checkpoint: string | null): void {
    parseCheckpoint(checkpoint);
  }

  onAppended(listener: () => void): () => void {
    return this.wake.subscribe(listener);
  }

  async close(): Promise<void> {
    if (this.notifyTimer) clearTimeout(this.notifyTimer);
    await this.unlisten?.();
  }

  private async currentVersion(streamId: string): Promise<number> {
    const { rows } = await sql<{ v: string | null }>`
      select max(stream_version)::text as v from events where stream_id = ${streamId}`.execute(this.db);
    return Number(rows[0]?.v ?? 0);
  }

  /**
   * NOTIFY inside the append would take the global notify-queue lock at every commit and
   * serialise writers, so it is sent after the append, debounced, outside its transaction.
   */
  private announce(): void {
    this.wake.signal();
    if (this.database.kind !== 'postgres' || this.notifyTimer) return;
    this.notifyTimer = setTimeout(() => {
      this.notifyTimer = null;
      this.database.notify(NOTIFY_CHANNEL, this.processTag).catch(() => undefined);
    }, NOTIFY_DEBOUNCE_MS);
    this.notifyTimer.unref();
  }
}

// Aliased to text for exact transport; ORDER BY must name events.<column>, not these aliases.
const COLUMNS = `stream_id, stream_version::text as stream_version, event_id::text as event_id, type, schema_version,
  data, metadata, global_position::text as global_position, transaction_id::text as transaction_id, created_at`;

function toRecorded(row: EventRow): RecordedEvent {
  return {
    streamId: row.stream_id,
    streamVersion: Number(row.stream_version),
    eventId: row.event_id,
    type: row.type,
    schemaVersion: row.schema_version,
    data: row.data,
    metadata: row.metadata,
    position: row.global_position,
    checkpoint: checkpointOf(row.transaction_id, row.global_position),
    recordedAt: row.created_at,
  };
}

function checkpointOf(transactionId: string, position: string): string {
  return `${PREFIX}:${transactionId}:${position}`;
}

/** [transaction id, global position] of one of our checkpoints (null = the start); refuses another store's. */
function parseCheckpoint(checkpoint: string | null): [string, string] {
  if (checkpoint === null) return START;
  const store = checkpointStore(checkpoint);
  if (store !== null && store !== PREFIX) throw new ForeignCheckpointError(checkpoint, store, PREFIX);
  const match = /^(?:pg:)?(\d{1,20}):(\d{1,19})$/.exec(checkpoint);
  if (!match) throw new RangeError(`Bad checkpoint ${checkpoint}`);
  return [match[1], match[2]];
}
