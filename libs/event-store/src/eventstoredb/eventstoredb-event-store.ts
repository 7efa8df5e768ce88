import { EventEmitter } from 'node:events';
import { Logger } from '@nestjs/common';
import {
  BACKWARDS,
  CancelledError,
  convertToCommandError,
  DeadlineExceededError,
  END,
  EventStoreDBClient,
  FORWARDS,
  MaxAppendSizeExceededError,
  NotLeaderError,
  START,
  StreamDeletedError as EsdbStreamDeletedError,
  StreamNotFoundError,
  streamNameFilter,
  TimeoutError,
  UnavailableError,
  WrongExpectedVersionError,
} from '@eventstore/db-client';
import type {
  AllStreamResolvedEvent,
  AllStreamSubscription,
  AppendExpectedRevision,
  AppendResult as EsdbAppendResult,
  Position,
  StreamingRead,
} from '@eventstore/db-client';
import {
  type AppendOptions,
  AppendTooLargeError,
  ReferenceChangedError,
  type StreamRead,
  type AppendResult,
  type BehindByOptions,
  ConcurrencyError,
  EventStore,
  type EventStoreHealth,
  EventStoreUnavailableError,
  type ExpectedVersion,
  type NewEvent,
  type ReadAllFilter,
  type ReadAllResult,
  type ReadStreamOptions,
  type RecordedEvent,
  StreamDeletedError,
} from '../event-store.port';
import { WakeUp } from '../wake-up';
import {
  type AnyRecorded,
  checkpointString,
  comparePositions,
  defaultStreamPrefixes,
  isAfter,
  knownPosition,
  matchBatch,
  orgPrefixes,
  parseCheckpoint,
  parsePosition,
  revisionAfter,
  startsWithAny,
  toEventData,
  toExpectedRevision,
  toRecorded,
  versionOf,
} from './mapping';

export interface EventStoreDBEventStoreOptions {
  /**
   * Stream-name prefixes that belong to this application: readAll, the lag, checkpointAt and the
   * wake-up subscription only see events of streams starting with one of them. Default: one per
   * stream category of libs/domain/src/streams.ts ('opportunity-', 'pipeline-', 'custom_fields-'). Tests narrow it
   * to one org ('opportunity-<org>-', …) to share a server.
   */
  streamPrefixes?: string[];
  /** How often an append the server did not confirm (unavailable, deadline) is sent again. Default 3. */
  appendRetries?: number;
  /** First wait before sending an append again or re-subscribing; doubled each time. Default 200 ms. */
  retryDelayMs?: number;
  /**
   * Longest silence of the server while a read catches up (no event, checkpoint or caught-up
   * signal) before the read gives back what it has, or fails if it has nothing. Default 10 s.
   */
  readIdleTimeoutMs?: number;
}

const RESUBSCRIBE_MAX_MS = 30_000;
const SUBSCRIBE_CONFIRM_TIMEOUT_MS = 10_000;
/** 'any' / 'stream_exists' appends that lost a race are re-read and sent again this often. */
const ANY_RETRIES = 10;
/** Filtered reads: a checkpoint every CHECKPOINT_INTERVAL search windows keeps a long scan from looking idle. */
const CHECKPOINT_INTERVAL = 4;
const DEFAULT_MAX_BEHIND = 100_000;

/**
 * EventStoreDB / KurrentDB adapter (gRPC client @eventstore/db-client 6.x, server 23.10 or later:
 * catch-up reads end on the server's caught-up signal).
 *
 * - Appends are one round trip. Exact and `no_stream` expected versions rely on the server's own
 *   idempotency (the same ids at the revisions after the expected one are recognised as written);
 *   `any` and `stream_exists`, which the server only checks against an in-memory cache, read the
 *   stream once and append at the exact revision they found.
 * - readAll, behindBy and the wake-up use `$all` subscriptions with a server-side stream-prefix
 *   filter (the 6.2.1 readAll sends no filter): a read subscribes from the checkpoint (exclusive)
 *   and stops at the limit or when the server says it caught up.
 * - Nothing here needs the server at boot: start() returns at once, the wake-up subscription is
 *   retried in the background and health() reports whether it is up.
 */
export class EventStoreDBEventStore extends EventStore {
  readonly name = 'eventstoredb';
  private readonly logger = new Logger(EventStoreDBEventStore.name);
  private readonly wake = new WakeUp();
  private readonly state = new EventEmitter().setMaxListeners(0);
  private readonly prefixes: string[];
  private readonly appendRetries: number;
  private readonly retryDelayMs: number;
  private readonly readIdleTimeoutMs: number;
  private subscription: AllStreamSubscription | null = null;
  private resubscribeTimer: NodeJS.Timeout | null = null;
  private resubscribeDelay: number;
  private failedSubscriptions = 0;
  private connected = false;
  private lastError: string | null = null;
  private started = false;
  private closed = false;
  /** Highest commit position of our events seen so far (appends, reads, the wake-up): tells a re-sent append. */
  private highestSeen = -1n;

  constructor(
    private readonly client: EventStoreDBClient,
    options: EventStoreDBEventStoreOptions = {},
  ) {
    super();
    this.prefixes = options.streamPrefixes ?? defaultStreamPrefixes();
    if (this.prefixes.length === 0 || this.prefixes.some((p) => p === '' || p.startsWith('$'))) {
      throw new RangeError('streamPrefixes must name non-system stream prefixes');
    }
    this.appendRetries = options.appendRetries ?? 3;
    this.retryDelayMs = options.retryDelayMs ?? 200;
    this.readIdleTimeoutMs = options.readIdleTimeoutMs ?? 10_000;
    this.resubscribeDelay = this.retryDelayMs;
  }

  /** e.g. `esdb://localhost:2113?tls=false`. The store owns (and disposes) the client. */
  static fromConnectionString(url: string, options?: EventStoreDBEventStoreOptions): EventStoreDBEventStore {
    return new EventStoreDBEventStore(EventStoreDBClient.connectionString(url), options);
  }

  /**
   * Opens the wake-up subscription (a filtered live subscription to $all from END) in the
   * background and returns at once: an absent server is retried with backoff (up to 30 s apart)
   * until it answers, and health() is down until then.
   */
  async start(): Promise<void> {
    if (this.closed || this.started) return;
    this.started = true;
    this.subscribeLive();
  }

  /** Resolves true once the wake-up subscription is confirmed, false after `timeoutMs` (tests, tools). */
  whenConnected(timeoutMs: number): Promise<boolean> {
    if (this.connected) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (value: boolean) => {
        clearTimeout(timer);
        this.state.off('connected', onConnected);
        resolve(value);
      };
      const onConnected = () => done(true);
      const timer = setTimeout(() => done(false), timeoutMs);
      this.state.on('connected', onConnected);
    });
  }

  async health(): Promise<EventStoreHealth> {
    if (this.connected) return { up: true };
    if (this.closed) return { up: false, reason: 'closed' };
    return { up: false, reason: this.lastError ?? (this.started ? 'connecting to EventStoreDB' : 'not started') };
  }

  // ---- appends ---------------------------------------------------------------------------

  async append(streamId: string, events: NewEvent[], expected: ExpectedVersion, options: AppendOptions = {}): Promise<AppendResult> {
    if (events.length === 0) throw new RangeError('append needs at least one event');
    await this.assertReferences(options.references ?? []);
    if (expected === 'any' || expected === 'stream_exists') return this.appendChecked(streamId, events, expected);
    return this.appendAt(streamId, events, expected, toExpectedRevision(expected));
  }

  /**
   * EventStoreDB has no condition across streams: each stream the decision read is read once
   * more just before the append, past the version it was read at. A change in between is not
   * caught (PostgreSQL checks in the append's own statement).
   */
  private async assertReferences(references: StreamRead[]): Promise<void> {
    for (const reference of references) {
      const newer = await this.readEvents(reference.streamId, { afterVersion: reference.version, toVersion: reference.version + 1 }, true);
      if (newer.length > 0) throw new ReferenceChangedError(reference.streamId, reference.version);
    }
  }

  /**
   * One append at an exact revision (or no_stream). Sent again with the same ids when the answer
   * is lost (unavailable, deadline): the server recognises a batch it already wrote at these
   * revisions and answers with the first result.
   */
  private async appendAt(
    streamId: string,
    events: NewEvent[],
    expected: ExpectedVersion,
    revision: AppendExpectedRevision,
  ): Promise<AppendResult> {
    const data = events.map(toEventData);
    const seenBefore = this.highestSeen;
    let unconfirmed = false;
    for (let attempt = 0; ; attempt++) {
      let result: EsdbAppendResult;
      try {
        result = await this.client.appendToStream(streamId, data, { expectedRevision: revision });
      } catch (raw) {
        // The client leaves some failures unconverted (its server-features probe), so convert here.
        const error = commandError(raw);
        if (isTransient(error) && attempt < this.appendRetries) {
          unconfirmed = true;
          await delay(this.retryDelayMs * 2 ** attempt);
          continue;
        }
        throw this.appendError(streamId, expected, error, attempt + 1);
      }
      // Only with throwOnAppendFailure=false (not ours) does a conflict come back as a result.
      if (!result.success) throw new ConcurrencyError(streamId, expected, versionOf(result.nextExpectedRevision));
      return this.appended(streamId, events, expected, result, seenBefore, unconfirmed);
    }
  }

  /**
   * The server answers a new write and a recognised re-send alike (the revision after the batch
   * and the last event's position), except that a re-send may come without a position. So:
   * no position → stored before (its position is read: one event); a position this store had
   * already seen before sending → stored before; else appended now. (An earlier attempt of this
   * same call that was not confirmed counts as this call's append.)
   */
  private async appended(
    streamId: string,
    events: NewEvent[],
    expected: ExpectedVersion,
    result: EsdbAppendResult,
    seenBefore: bigint,
    unconfirmed: boolean,
  ): Promise<AppendResult> {
    const streamVersion = Number(result.nextExpectedRevision) + 1;
    let position = knownPosition(result.position);
    let stored = false;
    if (!position) {
      const last = await this.eventAt(streamId, result.nextExpectedRevision);
      if (!last || last.id.toLowerCase() !== events[events.length - 1].eventId.toLowerCase()) {
        throw new ConcurrencyError(streamId, expected, last ? Number(last.revision) + 1 : 0);
      }
      position = knownPosition(last.position);
      if (!position)
        throw new Error(`EventStoreDB reported no position for ${streamId}@${streamVersion}: version 23.10 or later is required`);
      stored = true;
    } else {
      stored = position.commit <= seenBefore;
    }
    const duplicate = stored && !unconfirmed;
    this.see(position);
    if (!duplicate) this.wake.signal();
    return { streamVersion, position: position.commit.toString(), duplicate };
  }

  /**
   * `any` / `stream_exists`: the server checks re-sent ids only against an in-memory cache (lost
   * on restart), so read the stream, answer a re-sent batch from it, and append at the exact
   * revision found: a concurrent append makes that a conflict, and the stream is read again.
   */
  private async appendChecked(streamId: string, events: NewEvent[], expected: 'any' | 'stream_exists'): Promise<AppendResult> {
    const ids = events.map((e) => e.eventId);
    for (let attempt = 0; ; attempt++) {
      const stored = await this.readEvents(streamId, {}, false);
      const version = stored.length ? stored[stored.length - 1].streamVersion : 0;
      const match = matchBatch(
        stored.map((e) => e.eventId),
        ids,
      );
      if (match.kind === 'all') {
        const last = stored[match.index + ids.length - 1];
        return { streamVersion: last.streamVersion, position: last.position, duplicate: true };
      }
      if (match.kind === 'partial') throw new ConcurrencyError(streamId, expected, version);
      if (expected === 'stream_exists' && version === 0) throw new ConcurrencyError(streamId, expected, 0);
      try {
        return await this.appendAt(streamId, events, expected, revisionAfter(version));
      } catch (error) {
        if (!(error instanceof ConcurrencyError) || attempt >= ANY_RETRIES) throw error;
      }
    }
  }

  private appendError(streamId: string, expected: ExpectedVersion, error: unknown, attempts: number): unknown {
    if (error instanceof WrongExpectedVersionError) return new ConcurrencyError(streamId, expected, versionOf(error.actualVersion));
    if (error instanceof EsdbStreamDeletedError) return new StreamDeletedError(streamId);
    if (error instanceof MaxAppendSizeExceededError) return new AppendTooLargeError(streamId, error.maxAppendSize ?? null);
    if (isTransient(error)) {
      return new EventStoreUnavailableError(
        `EventStoreDB did not confirm the append to ${streamId} (${attempts} attempts): ${describe(error)}`,
        {
          cause: error,
        },
      );
    }
    return error;
  }

  // ---- stream reads ----------------------------------------------------------------------

  async readStream(streamId: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    return this.readEvents(streamId, options, true);
  }

  /** A deleted (tombstoned) stream reads as empty for readStream, and is an error for an append. */
  private async readEvents(streamId: string, options: ReadStreamOptions, deletedAsEmpty: boolean): Promise<RecordedEvent[]> {
    const after = Math.max(0, options.afterVersion ?? 0);
    const to = options.toVersion;
    if (to !== undefined && to <= after) return [];
    // version > after ⇔ revision ≥ after.
    const read = this.client.readStream(streamId, {
      fromRevision: BigInt(after),
      direction: FORWARDS,
      ...(to !== undefined ? { maxCount: to - after } : {}),
    });
    const events: RecordedEvent[] = [];
    try {
      for await (const resolved of drain(read)) {
        if (!resolved.event) continue;
        this.see(resolved.event.position);
        events.push(toRecorded(resolved.event));
      }
    } catch (raw) {
      const error = commandError(raw);
      if (error instanceof StreamNotFoundError) return [];
      if (error instanceof EsdbStreamDeletedError) {
        if (deletedAsEmpty) return [];
        throw new StreamDeletedError(streamId);
      }
      throw readError(error);
    }
    return events;
  }

  /** The event at a revision (one event read), or null. */
  private async eventAt(streamId: string, revision: bigint): Promise<AnyRecorded | null> {
    try {
      for await (const resolved of drain(this.client.readStream(streamId, { fromRevision: revision, direction: FORWARDS, maxCount: 1 }))) {
        if (resolved.event && resolved.event.revision === revision) return resolved.event;
      }
    } catch (raw) {
      const error = commandError(raw);
      if (error instanceof StreamNotFoundError) return null;
      throw readError(error);
    }
    return null;
  }

  // ---- the global log --------------------------------------------------------------------

  async readAll(after: string | null, limit: number, filter: ReadAllFilter = {}): Promise<ReadAllResult> {
    const from = parseCheckpoint(after);
    if (!Number.isInteger(limit) || limit <= 0) return { events: [], checkpoint: after };
    const orgId = filter.orgId;
    // The audit feed: the org's streams only, filtered by the server ('<category>-<org>-').
    const prefixes = orgId === undefined ? this.prefixes : orgPrefixes(this.prefixes, orgId);
    const events: RecordedEvent[] = [];
    await this.scan(from, prefixes, (event) => {
      const recorded = toRecorded(event);
      if (orgId !== undefined && recorded.metadata?.org_id !== orgId) return true;
      events.push(recorded);
      return events.length < limit;
    });
    return { events, checkpoint: events.length ? events[events.length - 1].checkpoint : after };
  }

  onAppended(listener: () => void): () => void {
    return this.wake.subscribe(listener);
  }

  /**
   * The event whose commit position this is (positions are what commands return): read $all at
   * exactly that position. Anything else (a position inside a record, past the end, of another
   * application's or a system event) is no position of ours: null.
   */
  async checkpointAt(position: string): Promise<string | null> {
    const commit = parsePosition(position);
    if (commit === null) return null;
    let found: AnyRecorded | null = null;
    try {
      const read = this.client.readAll({ fromPosition: { commit, prepare: commit }, direction: FORWARDS, maxCount: 1 });
      for await (const resolved of drain(read)) if (resolved.event) found = resolved.event;
    } catch (raw) {
      const error = commandError(raw);
      if (isTransient(error)) throw readError(error);
      return null; // e.g. the server's "invalid position" for a position inside a record
    }
    if (!found?.position || found.position.commit !== commit || found.position.prepare !== commit) return null;
    if (found.type.startsWith('$') || !startsWithAny(found.streamId, this.prefixes)) return null;
    this.see(found.position);
    return checkpointString(found.position);
  }

  /** Commit order is the commit position; the prepare position only breaks ties. */
  compareCheckpoints(a: string | null, b: string | null): number {
    return comparePositions(parseCheckpoint(a), parseCheckpoint(b));
  }

  /** The last record of $all, of any stream: every event appended later comes after it. */
  async head(): Promise<string | null> {
    try {
      for await (const resolved of drain(this.client.readAll({ fromPosition: END, direction: BACKWARDS, maxCount: 1 }))) {
        const position = knownPosition(resolved.event?.position);
        if (position) return checkpointString(position);
      }
    } catch (error) {
      throw readError(error);
    }
    return null;
  }

  /**
   * Our events after the checkpoint (up to `upTo`), counted through the same filtered
   * subscription as readAll: it transfers each counted event, so `max` bounds the cost
   * (readiness asks for READINESS_MAX_LAG + 1 at most).
   */
  async behindBy(checkpoint: string | null, options: BehindByOptions = {}): Promise<number> {
    const from = parseCheckpoint(checkpoint);
    const upTo = options.upTo === undefined || options.upTo === null ? null : parseCheckpoint(options.upTo);
    const max = Math.max(0, Math.floor(options.max ?? DEFAULT_MAX_BEHIND));
    if (max === 0 || (upTo && from && !isAfter(upTo, from))) return 0;
    let count = 0;
    await this.scan(from, this.prefixes, (event) => {
      if (upTo && event.position && isAfter(event.position, upTo)) return false;
      count++;
      return count < max;
    });
    return count;
  }

  assertOwnCheckpoint(checkpoint: string | null): void {
    parseCheckpoint(checkpoint);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.setConnected(false, 'closed');
    if (this.resubscribeTimer) clearTimeout(this.resubscribeTimer);
    this.resubscribeTimer = null;
    const subscription = this.subscription;
    this.subscription = null;
    if (subscription) await discard(subscription);
    await this.client.dispose();
  }

  // ---- filtered catch-up reads -----------------------------------------------------------

  /**
   * Our events after `from` (exclusive; null = the start), in commit order, through a $all
   * subscription filtered on the server by stream prefix: `onEvent` returns false to stop.
   * Ends when the server reports it caught up (everything up to the live end was delivered), or
   * after a silence of readIdleTimeoutMs with what was delivered so far (an error if nothing was).
   */
  private scan(from: Position | null, prefixes: string[], onEvent: (event: AnyRecorded) => boolean): Promise<void> {
    if (prefixes.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      let delivered = 0;
      let idle: NodeJS.Timeout | undefined;
      const armIdle = () => {
        clearTimeout(idle);
        idle = setTimeout(() => {
          take();
          if (delivered > 0) return settle();
          settle(
            new EventStoreUnavailableError(
              `EventStoreDB sent nothing for ${this.readIdleTimeoutMs} ms while catching up on $all (the caught-up signal needs EventStoreDB 23.10 or later)`,
            ),
          );
        }, this.readIdleTimeoutMs);
      };
      const filter = streamNameFilter({ prefixes, checkpointInterval: CHECKPOINT_INTERVAL, checkpointReached: () => armIdle() });
      const subscription = this.client.subscribeToAll({ fromPosition: from ?? START, filter });
      const settle = (error?: unknown) => {
        if (settled) return;
        settled = true;
        clearTimeout(idle);
        void discard(subscription);
        if (error === undefined) resolve();
        else reject(error);
      };
      // Paused mode: every event the client pushed before it emitted 'caughtUp' is in the buffer
      // then, so draining it there delivers all of them before the read ends.
      const take = () => {
        let resolved: AllStreamResolvedEvent | null;
        while (!settled && (resolved = subscription.read() as AllStreamResolvedEvent | null) !== null) {
          armIdle();
          const event = resolved.event;
          if (!event?.position) continue;
          // Subscriptions start after their position; the check costs nothing and keeps reads exclusive.
          if (from && !isAfter(event.position, from)) continue;
          if (event.type.startsWith('$') || !startsWithAny(event.streamId, prefixes)) continue;
          this.see(event.position);
          delivered++;
          let more: boolean;
          try {
            more = onEvent(event);
          } catch (error) {
            settle(error);
            return;
          }
          if (!more) settle();
        }
      };
      subscription.on('readable', take);
      subscription.on('confirmation', armIdle);
      subscription.on('caughtUp', () => {
        take();
        settle();
      });
      subscription.on('error', (error: Error) => settle(readError(error)));
      subscription.on('end', () => {
        take();
        settle(delivered > 0 ? undefined : new EventStoreUnavailableError('the $all read ended before catching up'));
      });
      subscription.on('close', () =>
        settle(delivered > 0 ? undefined : new EventStoreUnavailableError('the $all read closed before catching up')),
      );
      armIdle();
    });
  }

  // ---- wake-up subscription --------------------------------------------------------------

  private subscribeLive(): void {
    if (this.closed || this.subscription) return;
    const subscription = this.client.subscribeToAll({ fromPosition: END, filter: streamNameFilter({ prefixes: this.prefixes }) });
    this.subscription = subscription;
    let failed = false;
    const confirm = setTimeout(
      () => fail(new Error('EventStoreDB did not confirm the $all subscription in time')),
      SUBSCRIBE_CONFIRM_TIMEOUT_MS,
    );
    confirm.unref();

    const fail = (error: unknown) => {
      if (failed) return;
      failed = true;
      clearTimeout(confirm);
      if (this.subscription === subscription) this.subscription = null;
      // A dropped subscription is cancelled and destroyed, never left to hold its gRPC call.
      void discard(subscription);
      if (this.closed) return;
      const wasConnected = this.connected;
      this.setConnected(false, `EventStoreDB unreachable: ${describe(error)}`);
      this.failedSubscriptions++;
      if (wasConnected || this.failedSubscriptions === 1 || this.failedSubscriptions % 10 === 0) {
        this.logger.warn(
          `$all subscription ${wasConnected ? 'dropped' : 'failed'} (${describe(error)}); retrying in ${this.resubscribeDelay} ms, not ready until it is back`,
        );
      }
      this.scheduleResubscribe();
    };

    subscription.on('confirmation', () => {
      clearTimeout(confirm);
      if (failed) return;
      this.resubscribeDelay = this.retryDelayMs;
      if (this.failedSubscriptions > 0) this.logger.log('$all subscription is back');
      this.failedSubscriptions = 0;
      this.setConnected(true);
      // Anything appended while we were not subscribed (or before the first connection): poll now.
      this.wake.signal();
    });
    subscription.on('data', (resolved: AllStreamResolvedEvent) => {
      this.see(resolved.event?.position);
      this.wake.signal();
    });
    subscription.on('error', (error: Error) => fail(error));
    subscription.on('end', () => fail(new Error('subscription ended')));
    subscription.on('close', () => fail(new Error('subscription closed')));
  }

  private scheduleResubscribe(): void {
    if (this.closed || this.resubscribeTimer) return;
    const wait = this.resubscribeDelay;
    this.resubscribeDelay = Math.min(wait * 2, RESUBSCRIBE_MAX_MS);
    this.resubscribeTimer = setTimeout(() => {
      this.resubscribeTimer = null;
      this.subscribeLive();
    }, wait);
    this.resubscribeTimer.unref();
  }

  private setConnected(connected: boolean, reason?: string): void {
    this.connected = connected;
    this.lastError = connected ? null : (reason ?? this.lastError);
    if (connected) this.state.emit('connected');
  }

  private see(position: Position | undefined | null): void {
    const known = knownPosition(position);
    if (known && known.commit > this.highestSeen) this.highestSeen = known.commit;
  }
}

// ---- helpers -------------------------------------------------------------------------------

/** The server is down, unreachable, not the leader, or did not answer in time: worth trying again. */
function isTransient(error: unknown): boolean {
  return (
    error instanceof UnavailableError ||
    error instanceof DeadlineExceededError ||
    error instanceof TimeoutError ||
    error instanceof CancelledError ||
    error instanceof NotLeaderError
  );
}

/** The client's typed error for a raw gRPC error (some paths of client 6.2.1 reject with the raw one). */
function commandError(error: unknown): unknown {
  return error instanceof Error ? convertToCommandError(error) : error;
}

function readError(raw: unknown): unknown {
  if (raw instanceof EventStoreUnavailableError) return raw;
  const error = commandError(raw);
  if (isTransient(error)) return new EventStoreUnavailableError(`EventStoreDB read failed: ${describe(error)}`, { cause: error });
  return error;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message || error.name : String(error);
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Cancels a subscription's gRPC call and destroys it; errors after that are ignored. */
async function discard(subscription: AllStreamSubscription): Promise<void> {
  subscription.removeAllListeners('data');
  subscription.removeAllListeners('readable');
  subscription.removeAllListeners('caughtUp');
  subscription.on('error', () => undefined);
  try {
    await subscription.unsubscribe();
  } catch {
    // the call never started (no server): nothing to cancel
  } finally {
    subscription.destroy();
  }
}

/**
 * Iterate a client read; if the consumer stops early (break/throw), cancel the underlying
 * gRPC call — destroying the Readable alone does not cancel it in client 6.x.
 */
async function* drain<E>(read: StreamingRead<E>): AsyncGenerator<E> {
  let finished = false;
  try {
    for await (const item of read) yield item;
    finished = true;
  } finally {
    if (!finished) await read.cancel().catch(() => undefined);
  }
}
