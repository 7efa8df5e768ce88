/** What every event store adapter offers; the contract suite in test/contract proves it. */

export type ExpectedVersion = number | 'no_stream' | 'any' | 'stream_exists';

export interface EventMetadata {
  org_id: string;
  actor_id: string;
  correlation_id: string;
  causation_id: string;
  occurred_at: string;
  [key: string]: unknown;
}

export interface NewEvent<T = unknown> {
  eventId: string;
  type: string;
  data: T;
  metadata: EventMetadata;
  schemaVersion?: number;
}

export interface RecordedEvent<T = unknown> {
  streamId: string;
  /** 1-based version of the event in its stream. */
  streamVersion: number;
  eventId: string;
  type: string;
  schemaVersion: number;
  data: T;
  metadata: EventMetadata;
  /** Global position, monotonic per store, as a decimal string (it may exceed 2^53). */
  position: string;
  /**
   * Opaque resume token for readAll, ordered in commit order. It names the store that made it
   * (`pg:…`, `esdb:…`): a store refuses another store's checkpoint with a ForeignCheckpointError.
   */
  checkpoint: string;
  recordedAt: Date;
}

export interface AppendResult {
  /** Version of the stream after the append (the ETag). */
  streamVersion: number;
  /** Global position of the last event of the append. */
  position: string;
  /** True when the event ids were already stored: nothing was appended. */
  duplicate: boolean;
}

/** A stream a decision read, at the version it read. */
export interface StreamRead {
  streamId: string;
  version: number;
}

export interface AppendOptions {
  /**
   * Streams the decision read besides its own (reference data such as the deal's pipeline): the
   * append happens only if none of them has an event past the version given, else it throws a
   * ReferenceChangedError and nothing is written. PostgreSQL checks this in the append's own
   * statement; EventStoreDB, which has no condition across streams, reads their last revisions
   * just before the append.
   */
  references?: StreamRead[];
}

export interface ReadStreamOptions {
  /** Include events with streamVersion > afterVersion. */
  afterVersion?: number;
  /** Stop at this version (inclusive). */
  toVersion?: number;
}

export interface ReadAllFilter {
  /** Only events whose metadata.org_id is this org (the audit feed). */
  orgId?: string;
}

export interface ReadAllResult {
  events: RecordedEvent[];
  /** Pass back to continue after the last event returned (unchanged when nothing was read). */
  checkpoint: string | null;
}

export interface BehindByOptions {
  /** Count only events up to this checkpoint (inclusive); default: up to the head of the log. */
  upTo?: string | null;
  /** Stop counting here (the answer is then `max`, meaning "at least"). Default 100 000. */
  max?: number;
}

export interface EventStoreHealth {
  /** The store answers: appends and reads can be served. */
  up: boolean;
  /** What is wrong, when it is not up. */
  reason?: string;
}

export abstract class EventStore {
  abstract readonly name: string;
  /**
   * Starts cross-process wake-ups. Never fails because the backend is unreachable: an adapter
   * that needs a server keeps retrying in the background and reports it in health().
   */
  abstract start(): Promise<void>;
  /**
   * Appends at an expected version. Re-sent event ids (the same events sent again with the same
   * expected version, e.g. a retry) append nothing and return the first result with
   * duplicate: true; a batch that only partly matches stored events is a ConcurrencyError.
   */
  abstract append(streamId: string, events: NewEvent[], expected: ExpectedVersion, options?: AppendOptions): Promise<AppendResult>;
  abstract readStream(streamId: string, options?: ReadStreamOptions): Promise<RecordedEvent[]>;
  /** Every committed event after `after` (null → from the start), in commit order. */
  abstract readAll(after: string | null, limit: number, filter?: ReadAllFilter): Promise<ReadAllResult>;
  /** Wake-up hint after appends; polling remains the fallback. Returns an unsubscribe. */
  abstract onAppended(listener: () => void): () => void;
  /** The readAll checkpoint of the event at a global position (null if no event of this store has it). */
  abstract checkpointAt(position: string): Promise<string | null>;
  /** Orders two checkpoints of this store (null = before everything). */
  abstract compareCheckpoints(a: string | null, b: string | null): number;
  /**
   * A checkpoint every event appended from now on comes after (null: the log is empty). What
   * readAll(head()) returns is exactly what is appended later.
   */
  abstract head(): Promise<string | null>;
  /** How many events readAll has still to return after `checkpoint` (the lag of a follower), in events. */
  abstract behindBy(checkpoint: string | null, options?: BehindByOptions): Promise<number>;
  /** Whether the store can serve now (readiness); cheap, no round trip where it can be avoided. */
  abstract health(): Promise<EventStoreHealth>;
  /** Throws ForeignCheckpointError if `checkpoint` was made by another event store. */
  abstract assertOwnCheckpoint(checkpoint: string | null): void;
  abstract close(): Promise<void>;
}

export class ConcurrencyError extends Error {
  constructor(
    readonly streamId: string,
    readonly expected: ExpectedVersion,
    readonly actual: number,
  ) {
    super(`Stream ${streamId} is at version ${actual}, expected ${String(expected)}`);
    this.name = 'ConcurrencyError';
  }
}

/** A stream the decision read (AppendOptions.references) has changed since: nothing was appended. */
export class ReferenceChangedError extends Error {
  constructor(
    readonly streamId: string,
    readonly readVersion: number,
  ) {
    super(`Stream ${streamId} has changed since version ${readVersion} was read`);
    this.name = 'ReferenceChangedError';
  }
}

const STORE_NAMES: Record<string, string> = { pg: 'PostgreSQL', esdb: 'EventStoreDB' };

/**
 * A checkpoint made by another event store: the read models were built from a different log
 * (e.g. EVENTSTORE_URL was set on a database whose projections followed the events table).
 */
export class ForeignCheckpointError extends Error {
  constructor(
    readonly checkpoint: string,
    readonly madeBy: string,
    readonly store: string,
  ) {
    super(
      `Checkpoint ${checkpoint} was made by the ${STORE_NAMES[madeBy] ?? madeBy} event store, not by ${STORE_NAMES[store] ?? store}: ` +
        `these read models follow another log. Rebuild them from this one (npm run replay -- --projection all --restart) ` +
        `or go back to the event store that made them.`,
    );
    this.name = 'ForeignCheckpointError';
  }
}

/** The event store cannot be reached or did not answer in time (HTTP 503: try again later). */
export class EventStoreUnavailableError extends Error {
  /** For the HTTP error filter (libs/platform/src/http/error.filter.ts maps it). */
  readonly httpStatus = 503;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'EventStoreUnavailableError';
  }
}

/** The stream was deleted (tombstoned) in the event store: nothing can be appended to it again. */
export class StreamDeletedError extends Error {
  readonly httpStatus = 410;
  constructor(readonly streamId: string) {
    super(`Stream ${streamId} was deleted`);
    this.name = 'StreamDeletedError';
  }
}

/** The events of one append are larger than the event store accepts. */
export class AppendTooLargeError extends Error {
  readonly httpStatus = 413;
  constructor(
    readonly streamId: string,
    readonly maxBytes: number | null,
  ) {
    super(`The events appended to ${streamId} exceed the event store's largest append${maxBytes ? ` (${maxBytes} bytes)` : ''}`);
    this.name = 'AppendTooLargeError';
  }
}

/** The store a checkpoint names ('pg', 'esdb'), or null for the unprefixed form (PostgreSQL before prefixes). */
export function checkpointStore(checkpoint: string): string | null {
  const match = /^([a-z]+):/.exec(checkpoint);
  return match ? match[1] : null;
}
