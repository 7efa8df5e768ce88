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
  /** Opaque resume token for readAll: store-specific and ordered in commit order. */
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

export abstract class EventStore {
  abstract readonly name: string;
  abstract append(streamId: string, events: NewEvent[], expected: ExpectedVersion): Promise<AppendResult>;
  abstract readStream(streamId: string, options?: ReadStreamOptions): Promise<RecordedEvent[]>;
  /** Every committed event after `after` (null → from the start), in commit order. */
  abstract readAll(after: string | null, limit: number, filter?: ReadAllFilter): Promise<ReadAllResult>;
  /** Wake-up hint after appends; polling remains the fallback. Returns an unsubscribe. */
  abstract onAppended(listener: () => void): () => void;
  /** The readAll checkpoint of the event at a global position (null if there is none). */
  abstract checkpointAt(position: string): Promise<string | null>;
  /** Orders two checkpoints of this store (null = before everything). */
  abstract compareCheckpoints(a: string | null, b: string | null): number;
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
