import { Logger } from '@nestjs/common';
import {
  ANY,
  BACKWARDS,
  END,
  EventStoreDBClient,
  FORWARDS,
  NO_STREAM,
  START,
  STREAM_EXISTS,
  StreamNotFoundError,
  WrongExpectedVersionError,
  jsonEvent,
  streamNameFilter,
} from '@eventstore/db-client';
import type {
  AllStreamSubscription,
  AppendExpectedRevision,
  CurrentRevision,
  EventData,
  Filter,
  JSONType,
  Position,
  ReadPosition,
  RecordedEvent as EsdbRecordedEvent,
  StreamingRead,
} from '@eventstore/db-client';
import {
  type AppendResult,
  ConcurrencyError,
  type EventMetadata,
  EventStore,
  type ExpectedVersion,
  type NewEvent,
  type ReadAllFilter,
  type ReadAllResult,
  type ReadStreamOptions,
  type RecordedEvent,
} from '../event-store.port';
import { WakeUp } from '../wake-up';

export interface EventStoreDBEventStoreOptions {
  /** Shorthand for a single entry of `streamPrefixes`. */
  streamPrefix?: string;
  /**
   * Stream-name prefixes that belong to this application: readAll and the wake-up
   * subscription only deliver events of streams starting with one of them.
   * Default ['opportunity-']. An empty list means every non-system ($-prefixed) stream.
   */
  streamPrefixes?: string[];
  /**
   * How far append() looks for already-stored event ids before writing:
   * - 'stream' (default): the whole target stream, newest first (stops at the first id found).
   * - 'tail': for a numeric/no_stream expected version only the events after that version
   *   (the usual retry of the same append); 'any'/'stream_exists' still scan the whole stream.
   */
  duplicateCheck?: 'stream' | 'tail';
}

const DEFAULT_PREFIXES = ['opportunity-'];
/** Metadata key that carries NewEvent.schemaVersion; stripped again on read. */
const SCHEMA_VERSION_KEY = 'schema_version';
const MIN_PAGE = 256;
const MAX_PAGE = 4096;
const MAX_SCAN_HINTS = 256;
const RESUBSCRIBE_MIN_MS = 500;
const RESUBSCRIBE_MAX_MS = 30_000;
const SUBSCRIBE_CONFIRM_TIMEOUT_MS = 10_000;
/** Servers before 22.6 report "no position" for stream reads as 0 or as ulong max. */
const UNKNOWN_POSITION_FLOOR = 2n ** 63n;

type AnyRecorded = EsdbRecordedEvent & { position?: Position };

/**
 * EventStoreDB / KurrentDB adapter (gRPC client @eventstore/db-client 6.x).
 *
 * Versions: ours are 1-based, ESDB revisions 0-based (version = revision + 1).
 * Positions: `position` is the $all commit position, `checkpoint` is `${commit}:${prepare}`.
 * readAll filters by stream-name prefix on the client side, because readAll in
 * @eventstore/db-client 6.2.1 has no `filter` option (it always sends NoFilter).
 */
export class EventStoreDBEventStore extends EventStore {
  readonly name = 'eventstoredb';
  private readonly logger = new Logger(EventStoreDBEventStore.name);
  private readonly wake = new WakeUp();
  private readonly prefixes: string[];
  private readonly duplicateCheck: 'stream' | 'tail';
  /**
   * readAll resume hints: returned checkpoint → last $all position already scanned after it
   * (trailing events of other streams), so idle polling does not rescan them every time.
   */
  private readonly scanHints = new Map<string, Position>();
  private subscription: AllStreamSubscription | null = null;
  private resubscribeTimer: NodeJS.Timeout | null = null;
  private resubscribeDelay = RESUBSCRIBE_MIN_MS;
  private closed = false;

  constructor(
    private readonly client: EventStoreDBClient,
    options: EventStoreDBEventStoreOptions = {},
  ) {
    super();
    this.prefixes = options.streamPrefixes ?? (options.streamPrefix !== undefined ? [options.streamPrefix] : DEFAULT_PREFIXES);
    this.duplicateCheck = options.duplicateCheck ?? 'stream';
  }

  /** e.g. `esdb://localhost:2113?tls=false`. The store owns (and disposes) the client. */
  static fromConnectionString(url: string, options?: EventStoreDBEventStoreOptions): EventStoreDBEventStore {
    return new EventStoreDBEventStore(EventStoreDBClient.connectionString(url), options);
  }

  /**
   * Cross-process wake-ups: a filtered live subscription to $all from END signals on every
   * event of our streams. Resolves once the server confirmed the subscription; afterwards a
   * dropped subscription is re-opened in the background (polling stays the fallback).
   */
  async start(): Promise<void> {
    if (this.closed || this.subscription) return;
    await this.subscribe(true);
  }

  async append(streamId: string, events: NewEvent[], expected: ExpectedVersion): Promise<AppendResult> {
    if (events.length === 0) throw new RangeError('append needs at least one event');
    const expectedRevision = toExpectedRevision(expected);
    const ids = events.map((e) => e.eventId.toLowerCase());

    const known = await this.findDuplicate(streamId, ids, expected);
    if (known) return known;

    let result;
    try {
      result = await this.client.appendToStream(streamId, events.map(toEventData), { expectedRevision });
    } catch (error) {
      if (error instanceof WrongExpectedVersionError) {
        // Same ids already stored (e.g. a retry that raced the first attempt) → duplicate, not conflict.
        const duplicate = await this.scanForDuplicate(streamId, ids);
        if (duplicate) return duplicate;
        throw new ConcurrencyError(streamId, expected, versionOf(error.actualVersion));
      }
      throw error;
    }
    if (!result.success) {
      // Only when the client was built with throwOnAppendFailure=false; its revision is unreliable then.
      const duplicate = await this.scanForDuplicate(streamId, ids);
      if (duplicate) return duplicate;
      throw new ConcurrencyError(streamId, expected, await this.currentVersion(streamId));
    }
    this.wake.signal();
    return {
      streamVersion: Number(result.nextExpectedRevision) + 1,
      position: result.position ? positionString(result.position) : '0',
      duplicate: false,
    };
  }

  async readStream(streamId: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
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
        if (resolved.event) events.push(toRecorded(resolved.event));
      }
    } catch (error) {
      if (error instanceof StreamNotFoundError) return [];
      throw error;
    }
    return events;
  }

  async readAll(after: string | null, limit: number, filter: ReadAllFilter = {}): Promise<ReadAllResult> {
    if (filter.orgId !== undefined) return this.readAllForOrg(after, limit, filter.orgId);
    if (!Number.isInteger(limit) || limit <= 0) return { events: [], checkpoint: after };
    const start = after === null ? null : parseCheckpoint(after);
    // Scan from the hint when we already know the events between `after` and it are not ours.
    let from: Position | null = this.scanHints.get(after ?? '') ?? start;
    const pageSize = Math.min(Math.max(limit + 1, MIN_PAGE), MAX_PAGE);
    const events: RecordedEvent[] = [];
    let lastScanned: Position | null = from;
    let reachedEnd = false;

    while (events.length < limit) {
      const fromPosition: ReadPosition = from ?? START;
      let count = 0;
      for await (const resolved of drain(this.client.readAll({ fromPosition, direction: FORWARDS, maxCount: pageSize }))) {
        count++;
        const event = resolved.event;
        if (!event) continue;
        // Reads of $all start *at* fromPosition: the event there was returned (or skipped) before.
        if (from && samePosition(event.position, from)) continue;
        lastScanned = event.position;
        if (!this.isOurs(event.streamId) || event.type.startsWith('$')) continue;
        events.push(toRecorded(event));
        if (events.length >= limit) break;
      }
      if (events.length >= limit) break;
      if (count < pageSize) {
        reachedEnd = true;
        break;
      }
      from = lastScanned;
    }

    const checkpoint = events.length ? events[events.length - 1].checkpoint : after;
    if (reachedEnd && lastScanned) {
      const returned = checkpoint === null ? null : parseCheckpoint(checkpoint);
      // Trailing events of other streams after the returned checkpoint: skip them next time.
      if (!returned || isAfter(lastScanned, returned)) this.rememberScan(checkpoint ?? '', lastScanned);
    }
    return { events, checkpoint };
  }

  onAppended(listener: () => void): () => void {
    return this.wake.subscribe(listener);
  }

  /** $all has no metadata filter: page through our streams and keep the org's events. */
  private async readAllForOrg(after: string | null, limit: number, orgId: string): Promise<ReadAllResult> {
    const events: RecordedEvent[] = [];
    let checkpoint = after;
    while (events.length < limit) {
      const page = await this.readAll(checkpoint, Math.max(limit, 256));
      for (const event of page.events) {
        if (event.metadata?.org_id !== orgId) continue;
        events.push(event);
        if (events.length === limit) break;
      }
      if (page.events.length === 0) break;
      checkpoint = page.checkpoint;
      if (events.length === limit) break;
    }
    return { events, checkpoint: events.length ? events[events.length - 1].checkpoint : after };
  }

  /** An append reports its commit position; every event of that commit shares it. */
  async checkpointAt(position: string): Promise<string | null> {
    return /^\d{1,20}$/.test(position) ? `${position}:0` : null;
  }

  /** Commit order is the commit position; the prepare position only breaks ties. */
  compareCheckpoints(a: string | null, b: string | null): number {
    const pa = a ? parseCheckpoint(a) : { commit: -1n, prepare: -1n };
    const pb = b ? parseCheckpoint(b) : { commit: -1n, prepare: -1n };
    if (pa.commit !== pb.commit) return pa.commit < pb.commit ? -1 : 1;
    return pa.prepare === pb.prepare ? 0 : pa.prepare < pb.prepare ? -1 : 1;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.resubscribeTimer) clearTimeout(this.resubscribeTimer);
    this.resubscribeTimer = null;
    const subscription = this.subscription;
    this.subscription = null;
    if (subscription) {
      subscription.removeAllListeners('data');
      await subscription.unsubscribe().catch(() => undefined);
      subscription.destroy();
    }
    await this.client.dispose();
  }

  // ---- duplicates ------------------------------------------------------------------------

  /** Before appending: is the first event id of this batch already in the stream? */
  private async findDuplicate(streamId: string, ids: string[], expected: ExpectedVersion): Promise<AppendResult | null> {
    if (this.duplicateCheck === 'tail' && typeof expected === 'number') return this.scanTail(streamId, ids, expected);
    if (this.duplicateCheck === 'tail' && expected === 'no_stream') return this.scanTail(streamId, ids, 0);
    return this.scanForDuplicate(streamId, ids);
  }

  /** The events after `version` (normally none): a retry of the same append finds its batch there. */
  private async scanTail(streamId: string, ids: string[], version: number): Promise<AppendResult | null> {
    const found: AnyRecorded[] = [];
    const wanted = new Set(ids);
    let first = false;
    try {
      const read = this.client.readStream(streamId, { fromRevision: BigInt(version), direction: FORWARDS });
      for await (const resolved of drain(read)) {
        const event = resolved.event;
        if (!event) continue;
        const id = event.id.toLowerCase();
        if (id === ids[0]) first = true;
        if (wanted.has(id)) found.push(event);
      }
    } catch (error) {
      if (error instanceof StreamNotFoundError) return null;
      throw error;
    }
    return first ? duplicateResult(found) : null;
  }

  /** Whole stream, newest first, until the batch's first id shows up. */
  private async scanForDuplicate(streamId: string, ids: string[]): Promise<AppendResult | null> {
    const found: AnyRecorded[] = [];
    const wanted = new Set(ids);
    try {
      const read = this.client.readStream(streamId, { fromRevision: END, direction: BACKWARDS });
      for await (const resolved of drain(read)) {
        const event = resolved.event;
        if (!event) continue;
        const id = event.id.toLowerCase();
        if (!wanted.has(id)) continue;
        found.push(event);
        if (id === ids[0]) return duplicateResult(found);
      }
    } catch (error) {
      if (error instanceof StreamNotFoundError) return null;
      throw error;
    }
    return null;
  }

  private async currentVersion(streamId: string): Promise<number> {
    try {
      const read = this.client.readStream(streamId, { fromRevision: END, direction: BACKWARDS, maxCount: 1 });
      for await (const resolved of drain(read)) {
        if (resolved.event) return Number(resolved.event.revision) + 1;
      }
    } catch (error) {
      if (error instanceof StreamNotFoundError) return 0;
      throw error;
    }
    return 0;
  }

  // ---- readAll helpers -------------------------------------------------------------------

  private isOurs(streamId: string): boolean {
    if (this.prefixes.length === 0) return !streamId.startsWith('$');
    return this.prefixes.some((prefix) => streamId.startsWith(prefix));
  }

  private filter(): Filter {
    return this.prefixes.length ? streamNameFilter({ prefixes: this.prefixes }) : streamNameFilter({ regex: '^[^\\$]' });
  }

  private rememberScan(key: string, scanned: Position): void {
    this.scanHints.delete(key);
    this.scanHints.set(key, scanned);
    if (this.scanHints.size > MAX_SCAN_HINTS) {
      const oldest = this.scanHints.keys().next().value;
      if (oldest !== undefined) this.scanHints.delete(oldest);
    }
  }

  // ---- wake-up subscription --------------------------------------------------------------

  private subscribe(initial: boolean): Promise<void> {
    const subscription = this.client.subscribeToAll({ fromPosition: END, filter: this.filter() });
    this.subscription = subscription;
    return new Promise<void>((resolve, reject) => {
      let confirmed = false;
      const timer = setTimeout(
        () => onFailure(new Error('EventStoreDB subscription was not confirmed in time')),
        SUBSCRIBE_CONFIRM_TIMEOUT_MS,
      );
      timer.unref();

      const onFailure = (error: unknown) => {
        clearTimeout(timer);
        if (this.closed) return resolve();
        if (this.subscription !== subscription) return;
        this.subscription = null;
        subscription.removeAllListeners('data');
        subscription.unsubscribe().catch(() => undefined);
        if (initial && !confirmed) return reject(error);
        this.logger.warn(`$all subscription dropped (${describe(error)}); re-subscribing in ${this.resubscribeDelay} ms`);
        this.scheduleResubscribe();
        resolve();
      };

      subscription.on('confirmation', () => {
        confirmed = true;
        clearTimeout(timer);
        this.resubscribeDelay = RESUBSCRIBE_MIN_MS;
        // Anything appended while we were not subscribed: let followers poll once.
        if (!initial) this.wake.signal();
        resolve();
      });
      subscription.on('data', () => this.wake.signal());
      subscription.on('error', (error: Error) => onFailure(error));
      subscription.on('end', () => onFailure(new Error('subscription ended')));
      subscription.on('close', () => onFailure(new Error('subscription closed')));
    });
  }

  private scheduleResubscribe(): void {
    if (this.closed || this.resubscribeTimer) return;
    const delay = this.resubscribeDelay;
    this.resubscribeDelay = Math.min(delay * 2, RESUBSCRIBE_MAX_MS);
    this.resubscribeTimer = setTimeout(() => {
      this.resubscribeTimer = null;
      if (this.closed || this.subscription) return;
      this.subscribe(false).catch((error) => {
        this.logger.warn(`$all re-subscription failed (${describe(error)})`);
        this.scheduleResubscribe();
      });
    }, delay);
    this.resubscribeTimer.unref();
  }
}

// ---- mapping -------------------------------------------------------------------------------

function toExpectedRevision(expected: ExpectedVersion): AppendExpectedRevision {
  switch (expected) {
    case 'no_stream':
      return NO_STREAM;
    case 'any':
      return ANY;
    case 'stream_exists':
      return STREAM_EXISTS;
    default:
      if (!Number.isInteger(expected) || expected < 0) throw new RangeError(`Bad expected version ${expected}`);
      return expected === 0 ? NO_STREAM : BigInt(expected - 1);
  }
}

/** ESDB current revision (bigint, -1n or 'no_stream' when the stream does not exist) → our 1-based version. */
function versionOf(current: CurrentRevision): number {
  return typeof current === 'bigint' ? Math.max(0, Number(current) + 1) : 0;
}

function toEventData(event: NewEvent): EventData {
  return jsonEvent({
    id: event.eventId,
    type: event.type,
    // JSON.stringify(undefined) would fail inside the client; store null instead.
    data: (event.data ?? null) as JSONType,
    metadata: { ...event.metadata, [SCHEMA_VERSION_KEY]: event.schemaVersion ?? 1 },
  });
}

function toRecorded(event: AnyRecorded): RecordedEvent {
  const raw = isPlainObject(event.metadata) ? { ...event.metadata } : {};
  const schemaVersion = Number(raw[SCHEMA_VERSION_KEY] ?? 1);
  delete raw[SCHEMA_VERSION_KEY];
  const position = knownPosition(event.position);
  return {
    streamId: event.streamId,
    streamVersion: Number(event.revision) + 1,
    eventId: event.id.toLowerCase(),
    type: event.type,
    schemaVersion: Number.isInteger(schemaVersion) ? schemaVersion : 1,
    data: event.isJson ? event.data : parseBinary(event.data),
    metadata: raw as EventMetadata,
    position: position ? positionString(position) : '0',
    checkpoint: position ? checkpointString(position) : '0:0',
    recordedAt: toDate(event.created),
  };
}

function duplicateResult(found: AnyRecorded[]): AppendResult {
  let revision = -1n;
  let commit: bigint | null = null;
  for (const event of found) {
    if (event.revision > revision) revision = event.revision;
    const position = knownPosition(event.position);
    if (position && (commit === null || position.commit > commit)) commit = position.commit;
  }
  return { streamVersion: Number(revision) + 1, position: commit === null ? '0' : commit.toString(), duplicate: true };
}

function knownPosition(position: Position | undefined): Position | null {
  if (!position) return null;
  if (position.commit < 0n || position.commit >= UNKNOWN_POSITION_FLOOR) return null;
  return position;
}

function positionString(position: Position): string {
  return position.commit.toString();
}

function checkpointString(position: Position): string {
  return `${position.commit}:${position.prepare}`;
}

function parseCheckpoint(checkpoint: string): Position {
  const match = /^(\d+):(\d+)$/.exec(checkpoint);
  if (!match) throw new RangeError(`Bad checkpoint ${checkpoint}`);
  return { commit: BigInt(match[1]), prepare: BigInt(match[2]) };
}

function samePosition(a: Position, b: Position): boolean {
  return a.commit === b.commit && a.prepare === b.prepare;
}

function isAfter(a: Position, b: Position): boolean {
  return a.commit > b.commit || (a.commit === b.commit && a.prepare > b.prepare);
}

/** v6 already converts the server's "created" (.NET ticks since the Unix epoch) to a Date. */
function toDate(created: unknown): Date {
  if (created instanceof Date) return created;
  if (typeof created === 'bigint') return new Date(Number(created / 10_000n));
  if (typeof created === 'number') return new Date(created > 1e14 ? Math.floor(created / 10_000) : created);
  return new Date(String(created));
}

function parseBinary(data: unknown): unknown {
  if (!(data instanceof Uint8Array)) return data;
  try {
    return JSON.parse(Buffer.from(data).toString('utf8'));
  } catch {
    return data;
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
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
