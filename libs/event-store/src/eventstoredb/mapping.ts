import { ANY, jsonEvent, NO_STREAM, STREAM_EXISTS } from '@eventstore/db-client';
import type {
  AppendExpectedRevision,
  CurrentRevision,
  EventData,
  JSONType,
  Position,
  RecordedEvent as EsdbRecordedEvent,
} from '@eventstore/db-client';
import { categoryPrefix, STREAM_CATEGORIES } from '@app/domain';
import {
  checkpointStore,
  type EventMetadata,
  type ExpectedVersion,
  ForeignCheckpointError,
  type NewEvent,
  type RecordedEvent,
} from '../event-store.port';

/**
 * Pure mapping between the port and EventStoreDB (no I/O), unit-tested on its own
 * (mapping.unit.spec.ts).
 *
 * Versions: ours are 1-based, ESDB revisions 0-based (version = revision + 1).
 * Positions: every event written through gRPC has commit position = prepare position (each is
 * its own implicit transaction record), so `position` is the commit position and the checkpoint
 * is `esdb:<commit>:<prepare>`.
 */

export const CHECKPOINT_PREFIX = 'esdb';
/** Metadata key for NewEvent.schemaVersion; an app key starting with `$` is stored with one more `$`. */
export const SCHEMA_VERSION_KEY = '$schema_version';
const MAX_INT64 = 2n ** 63n - 1n;
/** Servers before 22.6 report "no position" for stream reads as 0 or as ulong max. */
const UNKNOWN_POSITION_FLOOR = 2n ** 63n;

export type AnyRecorded = EsdbRecordedEvent & { position?: Position };

/** The app's streams: one prefix per category of libs/domain/src/streams.ts ('opportunity-', 'pipeline-', 'custom_fields-'). */
export function defaultStreamPrefixes(): string[] {
  return STREAM_CATEGORIES.map(categoryPrefix);
}

/**
 * The prefixes of one org's streams ('<category>-<org>-') within the configured ones: a prefix
 * the org's streams start with, or the configured prefix itself when it is narrower.
 */
export function orgPrefixes(configured: string[], orgId: string): string[] {
  if (!/^[a-z0-9_]+$/.test(orgId)) return [];
  const out = new Set<string>();
  for (const category of STREAM_CATEGORIES) {
    const org = `${categoryPrefix(category)}${orgId}-`;
    for (const prefix of configured) {
      if (org.startsWith(prefix)) out.add(org);
      else if (prefix.startsWith(org)) out.add(prefix);
    }
  }
  return [...out];
}

export function startsWithAny(streamId: string, prefixes: string[]): boolean {
  return prefixes.some((prefix) => streamId.startsWith(prefix));
}

// ---- expected versions -----------------------------------------------------------------------

export function toExpectedRevision(expected: ExpectedVersion): AppendExpectedRevision {
  switch (expected) {
    case 'no_stream':
      return NO_STREAM;
    case 'any':
      return ANY;
    case 'stream_exists':
      return STREAM_EXISTS;
    default:
      if (!Number.isInteger(expected) || expected < 0) throw new RangeError(`Bad expected version ${expected}`);
      return revisionAfter(expected);
  }
}

/** The expected revision of a stream at our version `version` (0 = no stream). */
export function revisionAfter(version: number): AppendExpectedRevision {
  return version === 0 ? NO_STREAM : BigInt(version - 1);
}

/** ESDB current revision (bigint, -1n or 'no_stream' when the stream does not exist) → our 1-based version. */
export function versionOf(current: CurrentRevision | bigint): number {
  return typeof current === 'bigint' ? Math.max(0, Number(current) + 1) : 0;
}

// ---- events ----------------------------------------------------------------------------------

/**
 * Metadata as stored: the app's keys as they are, except that a key starting with `$` gets one
 * more `$` (so no app key can collide with ours), plus `$schema_version`.
 */
export function encodeMetadata(metadata: Record<string, unknown> | undefined, schemaVersion: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  define(out, SCHEMA_VERSION_KEY, schemaVersion);
  for (const [key, value] of Object.entries(metadata ?? {})) define(out, key.startsWith('$') ? `$${key}` : key, value);
  return out;
}

/** The inverse of encodeMetadata; other `$` keys (written by other tools) are kept as they are. */
export function decodeMetadata(stored: unknown): { metadata: Record<string, unknown>; schemaVersion: number } {
  const metadata: Record<string, unknown> = {};
  let schemaVersion = 1;
  if (!isPlainObject(stored)) return { metadata, schemaVersion };
  for (const [key, value] of Object.entries(stored)) {
    if (key === SCHEMA_VERSION_KEY) {
      if (typeof value === 'number' && Number.isInteger(value) && value > 0) schemaVersion = value;
    } else define(metadata, key.startsWith('$$') ? key.slice(1) : key, value);
  }
  return { metadata, schemaVersion };
}

export function toEventData(event: NewEvent): EventData {
  return jsonEvent({
    id: event.eventId,
    type: event.type,
    // JSON.stringify(undefined) would fail inside the client; store null instead.
    data: (event.data ?? null) as JSONType,
    metadata: encodeMetadata(event.metadata, event.schemaVersion ?? 1) as JSONType,
  });
}

export function toRecorded(event: AnyRecorded): RecordedEvent {
  const { metadata, schemaVersion } = decodeMetadata(event.metadata);
  const position = knownPosition(event.position);
  return {
    streamId: event.streamId,
    streamVersion: Number(event.revision) + 1,
    eventId: event.id.toLowerCase(),
    type: event.type,
    schemaVersion,
    data: event.isJson ? event.data : parseBinary(event.data),
    metadata: metadata as EventMetadata,
    position: position ? position.commit.toString() : '0',
    checkpoint: position ? checkpointString(position) : `${CHECKPOINT_PREFIX}:0:0`,
    recordedAt: toDate(event.created),
  };
}

/**
 * Where a batch's ids stand among a stream's ids: 'all' (stored in order from `index`: a re-sent
 * batch), 'none', or 'partial' (some stored, the rest new or elsewhere: a conflict).
 */
export function matchBatch(stored: string[], batch: string[]): { kind: 'all'; index: number } | { kind: 'none' } | { kind: 'partial' } {
  const ids = batch.map((id) => id.toLowerCase());
  const have = stored.map((id) => id.toLowerCase());
  const index = have.indexOf(ids[0]);
  if (index < 0) {
    const known = new Set(have);
    return ids.some((id) => known.has(id)) ? { kind: 'partial' } : { kind: 'none' };
  }
  return ids.every((id, i) => have[index + i] === id) ? { kind: 'all', index } : { kind: 'partial' };
}

// ---- positions and checkpoints ---------------------------------------------------------------

export function knownPosition(position: Position | undefined | null): Position | null {
  if (!position) return null;
  if (position.commit < 0n || position.commit >= UNKNOWN_POSITION_FLOOR) return null;
  return position;
}

export function checkpointString(position: Position): string {
  return `${CHECKPOINT_PREFIX}:${position.commit}:${position.prepare}`;
}

/** The position of one of our checkpoints (null = the start); refuses another store's checkpoint. */
export function parseCheckpoint(checkpoint: string | null): Position | null {
  if (checkpoint === null) return null;
  const store = checkpointStore(checkpoint);
  // Unprefixed checkpoints are the PostgreSQL store's, from before checkpoints named their store.
  if (store !== CHECKPOINT_PREFIX) throw new ForeignCheckpointError(checkpoint, store ?? 'pg', CHECKPOINT_PREFIX);
  const match = /^esdb:(\d{1,19}):(\d{1,19})$/.exec(checkpoint);
  if (!match || BigInt(match[1]) > MAX_INT64 || BigInt(match[2]) > MAX_INT64) throw new RangeError(`Bad checkpoint ${checkpoint}`);
  return { commit: BigInt(match[1]), prepare: BigInt(match[2]) };
}

/** A global position as the API hands it out (decimal commit position), or null if it cannot be one. */
export function parsePosition(position: string): bigint | null {
  if (!/^\d{1,19}$/.test(position)) return null;
  const value = BigInt(position);
  return value <= MAX_INT64 ? value : null;
}

export function isAfter(a: Position, b: Position): boolean {
  return a.commit > b.commit || (a.commit === b.commit && a.prepare > b.prepare);
}

export function comparePositions(a: Position | null, b: Position | null): number {
  const pa = a ?? { commit: -1n, prepare: -1n };
  const pb = b ?? { commit: -1n, prepare: -1n };
  if (pa.commit !== pb.commit) return pa.commit < pb.commit ? -1 : 1;
  return pa.prepare === pb.prepare ? 0 : pa.prepare < pb.prepare ? -1 : 1;
}

// ---- helpers ---------------------------------------------------------------------------------

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

/** Own enumerable property, also for '__proto__'. */
function define(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}
