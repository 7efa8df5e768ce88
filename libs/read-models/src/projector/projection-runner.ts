import { Logger } from '@nestjs/common';
import { type ControlledTransaction, type Kysely, sql } from 'kysely';
import { EventEmitter } from 'node:events';
import { parseStreamName } from '@app/domain';
import { Waiter } from '@app/event-store';
import type { EventStore, ReadAllResult, RecordedEvent } from '@app/event-store';
import type { ReadModelTables } from '../tables';
import type { Projection } from './projection';

export interface RunnerOptions {
  batchSize: number;
  /** Fallback polling interval when no wake-up arrives. */
  pollMs: number;
  /** Attempts at a failing event before it is dead-lettered. */
  maxAttempts: number;
  /** Stop the projection at a poison event instead of dead-lettering it. */
  haltOnPoison: boolean;
  /**
   * false: batch commits do not wait for the WAL flush. Used by rebuilds: a crash can only lose
   * whole batches together with their checkpoint, which are then applied again.
   */
  synchronousCommit?: boolean;
  /**
   * After a batch that did not fill a page, wait this long before the next one, so that under a
   * steady stream of appends a batch carries what arrived meanwhile instead of one event per
   * transaction. An idle projection still applies a new event at once (its wait ends on the
   * wake-up); the delay bounds the extra lag under load. Default 0.
   */
  gatherMs?: number;
  /**
   * The schema holding the projections' tables, checkpoints and dead letters (kysely withSchema);
   * default: the connection's. A rebuild runs in a schema of its own (replay.ts).
   */
  schema?: string;
}

export const DEFAULT_RUNNER_OPTIONS: RunnerOptions = { batchSize: 500, pollMs: 500, maxAttempts: 3, haltOnPoison: false };

export interface ProjectionStatus {
  projection: string;
  checkpoint: string | null;
  position: string;
  events_processed: string;
  dead_letters: number;
  running: boolean;
  halted_reason: string | null;
  updated_at: Date | null;
}

const WAKE_FOLLOW_UP_MS = 300;

/**
 * The advisory lock one batch of `projection` holds (and a replay's swap waits for). Per schema, so
 * a rebuild in a schema of its own never waits for the live projector, nor the live one for it.
 */
export function projectionLockKey(projection: string, schema?: string): string {
  return schema === undefined ? `projection:${projection}` : `projection:${schema}.${projection}`;
}

/** Another process holds the projection or moved its checkpoint: nothing was applied. */
class BatchSkipped extends Error {}

/** haltOnPoison: an event failed every attempt, so the projection stops before it. */
export class ProjectionHaltedError extends Error {
  constructor(
    readonly projection: string,
    readonly event: RecordedEvent,
    readonly reason: string,
  ) {
    super(`Projection ${projection} halted at ${event.streamId}@${event.streamVersion}: ${reason}`);
  }
}

/**
 * Follows the global log for each projection. One batch = one transaction holding the
 * projection's advisory lock, the read-model writes and a compare-and-set of the checkpoint,
 * so two workers never apply the same batch and a crash leaves nothing half-written.
 */
export class ProjectionRunner {
  private readonly logger = new Logger('Projections');
  private readonly progress = new EventEmitter().setMaxListeners(0);
  private readonly loops = new Map<string, Promise<void>>();
  private readonly halted = new Map<string, string>();
  private stopping = false;
  private readonly waiter = new Waiter();
  private lastWake = 0;
  private unsubscribe: (() => void) | null = null;
  deadLettered = 0;
  /** Called for each event set aside (metrics). */
  onDeadLetter: ((projection: string) => void) | null = null;
  private readonly db: Kysely<ReadModelTables>;

  constructor(
    db: Kysely<ReadModelTables>,
    private readonly store: EventStore,
    readonly projections: Projection[],
    private readonly options: RunnerOptions = DEFAULT_RUNNER_OPTIONS,
  ) {
    this.db = options.schema === undefined ? db : db.withSchema(options.schema);
  }

  async start(): Promise<void> {
    await this.ensureCheckpoints();
    // Read models built from another event store's log must be rebuilt, not continued: refuse loudly.
    const rows = await this.db
      .selectFrom('projection_checkpoints')
      .select('checkpoint')
      .where(
        'projection',
        'in',
        this.projections.map((p) => p.name),
      )
      .execute();
    for (const row of rows) this.store.assertOwnCheckpoint(row.checkpoint);
    // A halt is re-recorded if the poison event is still there.
    for (const projection of this.projections) await this.recordHalt(projection.name, null);
    this.stopping = false;
    this.unsubscribe = this.store.onAppended(() => {
      this.lastWake = Date.now();
      this.waiter.wake();
    });
    for (const projection of this.projections) this.loops.set(projection.name, this.loop(projection));
  }

  /** Finishes the batch in flight, then stops. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.waiter.wake();
    this.unsubscribe?.();
    await Promise.all(this.loops.values());
    this.loops.clear();
  }

  /** Called after each committed batch (read-your-writes waits on it). */
  onProgress(listener: () => void): () => void {
    this.progress.on('progress', listener);
    return () => this.progress.off('progress', listener);
  }

  async ensureCheckpoints(): Promise<void> {
    for (const projection of this.projections) {
      await this.db
        .insertInto('projection_checkpoints')
        .values({ projection: projection.name, checkpoint: null })
        .onConflict((oc) => oc.column('projection').doNothing())
        .execute();
    }
  }

  /** Kept in the checkpoint row (readiness reads it from any process) until a runner starts it again. */
  private async recordHalt(projection: string, halt: { reason: string; streamId: string } | null): Promise<void> {
    await this.db
      .updateTable('projection_checkpoints')
      .set({
        halted_reason: halt?.reason.slice(0, 2000) ?? null,
        halted_stream_id: halt?.streamId ?? null,
        halted_at: halt === null ? null : sql<Date>`now()`,
      })
      .where('projection', '=', projection)
      .execute()
      .catch((error: unknown) => this.logger.error(`Could not record the halt of ${projection}: ${String(error)}`));
  }

  async processedCount(projection: Projection): Promise<number> {
    const row = await this.db
      .selectFrom('projection_checkpoints')
      .select('events_processed')
      .where('projection', '=', projection.name)
      .executeTakeFirst();
    return Number(row?.events_processed ?? 0);
  }

  /** Process until the log is drained (tests, the demo seed). Returns events applied. */
  async catchUp(projection: Projection): Promise<number> {
    let total = 0;
    for (;;) {
      const n = await this.runBatch(projection);
      if (n === 0) return total;
      total += n;
    }
  }

  /**
   * One batch; returns how many events it applied (0 when there was nothing to do).
   * `stopAt`: apply nothing past this checkpoint (verify rebuilds to the live checkpoint).
   */
  async runBatch(projection: Projection, stopAt?: string | null): Promise<number> {
    const cached = this.committed.has(projection.name);
    // Nothing applied on a remembered checkpoint: once more, from the table's checkpoint.
    const fromTable = () => {
      this.committed.delete(projection.name);
      return this.runBatch(projection, stopAt);
    };
    const from = await this.currentCheckpoint(projection);
    // The log is read before the transaction: PGlite has one connection, and a long-held
    // transaction should not wait on the event store.
    // (A page may be shared with other projections: never changed in place.)
    let page = await this.readPage(projection, from);
    if (stopAt !== undefined) {
      const events = page.events.filter((e) => this.store.compareCheckpoints(e.checkpoint, stopAt) <= 0);
      page = { events, checkpoint: events.length ? events[events.length - 1].checkpoint : from };
    }
    if (page.events.length === 0) return cached && this.tableCheckDue(projection) ? fromTable() : 0;
    try {
      try {
        await this.commitBatch(projection, from, page, (trx) => projection.applyBatch(trx, page.events));
      } catch (error) {
        if (error instanceof BatchSkipped) throw error;
        // Something in the page failed and the whole transaction rolled back: again, event by
        // event, so one bad event cannot block the rest.
        await this.commitBatch(projection, from, page, (trx) => this.applyOneByOne(trx, projection, page.events));
      }
    } catch (error) {
      this.committed.delete(projection.name);
      if (error instanceof BatchSkipped) return cached ? fromTable() : 0;
      throw error;
    }
    this.committed.set(projection.name, page.checkpoint);
    this.progress.emit('progress');
    // A full page means the projection is catching up: read the next page while this one is
    // being reported and the next transaction starts, so reading overlaps writing.
    if (page.events.length === this.options.batchSize && stopAt === undefined) this.prefetch(projection, page.checkpoint);
    return page.events.length;
  }

  /**
   * Per projection: the checkpoint this runner last committed, so a busy batch does not read it
   * back. Anyone else may move it (another worker, a replay's swap): when a batch on it finds no
   * event, or its compare-and-set in commitBatch fails, the entry is dropped and the batch runs
   * again from the table's checkpoint (so an idle runner checks the table on every poll).
   */
  private readonly committed = new Map<string, string | null>();
  /** When each projection's checkpoint was last read from the table. */
  private readonly tableChecked = new Map<string, number>();

  /**
   * An idle runner looks at the table's checkpoint once per poll interval, not on every empty
   * batch (after a wake-up it looks for new events every few milliseconds).
   */
  private tableCheckDue(projection: Projection): boolean {
    return Date.now() - (this.tableChecked.get(projection.name) ?? 0) >= this.options.pollMs;
  }

  private async currentCheckpoint(projection: Projection): Promise<string | null> {
    if (this.committed.has(projection.name)) return this.committed.get(projection.name)!;
    this.tableChecked.set(projection.name, Date.now());
    const row = await this.db
      .selectFrom('projection_checkpoints')
      .select('checkpoint')
      .where('projection', '=', projection.name)
      .executeTakeFirstOrThrow();
    return row.checkpoint;
  }

  /**
   * One transaction: take the projection's advisory lock and move its checkpoint from `from` to
   * the page's end in one statement (nothing is applied when another worker holds the lock or
   * the checkpoint has moved), then apply the page.
   */
  private async commitBatch(
    projection: Projection,
    from: string | null,
    page: ReadAllResult,
    apply: (trx: ControlledTransaction<ReadModelTables>) => Promise<void>,
  ): Promise<void> {
    const last = page.events[page.events.length - 1];
    const lock = projectionLockKey(projection.name, this.options.schema);
    const trx = await this.db.startTransaction().execute();
    try {
      if (this.options.synchronousCommit === false) await sql`set local synchronous_commit = off`.execute(trx);
      const moved = await trx
        .updateTable('projection_checkpoints')
        .set({
          checkpoint: page.checkpoint,
          position: last.position,
          events_processed: sql<string>`events_processed + ${page.events.length}`,
          updated_at: sql<Date>`now()`,
        })
        .where('projection', '=', projection.name)
        .where(sql<boolean>`checkpoint is not distinct from ${from}`)
        .where(sql<boolean>`pg_try_advisory_xact_lock(hashtext(${lock}))`)
        .executeTakeFirst();
      if (Number(moved.numUpdatedRows) !== 1) throw new BatchSkipped();
      await apply(trx);
      await trx.commit().execute();
    } catch (error) {
      await trx.rollback().execute();
      throw error;
    }
  }

  /** Per projection: the page read ahead and the checkpoint it starts after. */
  private readonly prefetched = new Map<string, { after: string | null; page: Promise<ReadAllResult> }>();

  private prefetch(projection: Projection, after: string | null): void {
    const page = this.store.readAll(after, this.options.batchSize);
    page.catch(() => undefined); // a failed read surfaces when the page is used
    this.prefetched.set(projection.name, { after, page });
  }

  /**
   * The page after `after`, prefetched when possible. Events below the snapshot horizon are
   * final, so a page read early is still a correct prefix of the log after `after`.
   */
  private readPage(projection: Projection, after: string | null): Promise<ReadAllResult> {
    const hit = this.prefetched.get(projection.name);
    this.prefetched.delete(projection.name);
    if (hit && hit.after === after) return hit.page;
    // Projections that are level read the same page: one read serves them all.
    const key = after ?? '';
    const shared = this.reading.get(key);
    if (shared) return shared;
    const read = this.store.readAll(after, this.options.batchSize).finally(() => this.reading.delete(key));
    this.reading.set(key, read);
    return read;
  }

  /** Page reads in flight, by the checkpoint they read after. */
  private readonly reading = new Map<string, Promise<ReadAllResult>>();

  /** Each event under its own savepoint, retried, then dead-lettered (or the projection halts). */
  private async applyOneByOne(trx: ControlledTransaction<ReadModelTables>, projection: Projection, events: RecordedEvent[]): Promise<void> {
    for (const event of events) {
      let lastError: unknown;
      for (let attempt = 1; attempt <= this.options.maxAttempts; attempt++) {
        const attemptTrx = await trx.savepoint('event').execute();
        try {
          await projection.applyBatch(attemptTrx, [event]);
          await attemptTrx.releaseSavepoint('event').execute();
          lastError = undefined;
          break;
        } catch (error) {
          await attemptTrx.rollbackToSavepoint('event').execute();
          lastError = error;
        }
      }
      if (lastError === undefined) continue;
      const reason = lastError instanceof Error ? lastError.message : String(lastError);
      if (this.options.haltOnPoison) throw new ProjectionHaltedError(projection.name, event, reason);
      this.deadLettered++;
      this.onDeadLetter?.(projection.name);
      this.logger.error(`Dead-lettered ${event.type} ${event.streamId}@${event.streamVersion} in ${projection.name}: ${reason}`);
      await trx
        .insertInto('projection_dead_letters')
        .values({
          projection: projection.name,
          event_id: event.eventId,
          stream_id: event.streamId,
          stream_version: event.streamVersion,
          position: event.position,
          event_type: event.type,
          error: reason.slice(0, 2000),
          attempts: this.options.maxAttempts,
        })
        .onConflict((oc) => oc.columns(['projection', 'event_id']).doNothing())
        .execute();
    }
  }

  /**
   * Each projection's progress. For one org's admin (`orgId`): dead letters of that org's streams
   * only, and a halt's reason only when the event is theirs. Stream ids are '<category>-<org>-<id>'.
   */
  async status(orgId?: string): Promise<ProjectionStatus[]> {
    const rows = await this.db.selectFrom('projection_checkpoints').selectAll().orderBy('projection').execute();
    let dead = this.db
      .selectFrom('projection_dead_letters')
      .select(['projection', (eb) => eb.fn.countAll<string>().as('n')])
      .groupBy('projection');
    if (orgId !== undefined) dead = dead.where(sql`split_part(stream_id, '-', 2)`, '=', orgId);
    const deadBy = new Map((await dead.execute()).map((d) => [d.projection, Number(d.n)]));
    const ownStream = (streamId: string | null) => orgId === undefined || (streamId !== null && parseStreamName(streamId)?.orgId === orgId);
    return rows
      .filter((r) => this.projections.some((p) => p.name === r.projection))
      .map((r) => {
        const reason: string | null = this.halted.get(r.projection) ?? r.halted_reason ?? null;
        return {
          projection: r.projection,
          checkpoint: r.checkpoint,
          position: String(r.position),
          events_processed: String(r.events_processed),
          dead_letters: deadBy.get(r.projection) ?? 0,
          running: this.loops.has(r.projection) && !this.halted.has(r.projection),
          halted_reason: reason === null || ownStream(r.halted_stream_id) ? reason : 'halted at an event of another organisation',
          updated_at: r.updated_at,
        };
      });
  }

  private async loop(projection: Projection): Promise<void> {
    let failures = 0;
    while (!this.stopping) {
      let applied = 0;
      try {
        applied = await this.runBatch(projection);
        failures = 0;
      } catch (error) {
        failures++;
        const message = error instanceof Error ? error.message : String(error);
        if (error instanceof ProjectionHaltedError) {
          this.halted.set(projection.name, message);
          this.logger.error(message);
          await this.recordHalt(projection.name, { reason: message, streamId: error.event.streamId });
          return;
        }
        this.logger.warn(`Projection ${projection.name} batch failed (retrying): ${message}`);
        await this.sleep(Math.min(5000, 100 * 2 ** failures));
        continue;
      }
      // An append just committed may stay invisible for a moment (a concurrent transaction holds
      // back pg_snapshot_xmin): right after a wake-up, look again soon rather than a full poll later.
      if (applied === 0) await this.sleep(Date.now() - this.lastWake < WAKE_FOLLOW_UP_MS ? 10 : this.options.pollMs);
      else if (applied < this.options.batchSize && this.options.gatherMs) await this.gather(this.options.gatherMs);
    }
  }

  /** Waits `ms` whatever is appended meanwhile (a stop ends it). */
  private async gather(ms: number): Promise<void> {
    const until = Date.now() + ms;
    while (!this.stopping && Date.now() < until) await this.sleep(until - Date.now());
  }

  /** Waits for a wake-up (append or stop) or the timeout, whichever comes first. */
  private sleep(ms: number): Promise<void> {
    return this.waiter.sleep(ms);
  }
}
