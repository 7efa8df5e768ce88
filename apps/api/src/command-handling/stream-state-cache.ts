import { Inject, Injectable, Optional } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@app/platform';

/** A stream folded up to a version: what a command decides on. */
export interface CachedState<S = unknown> {
  state: S;
  version: number;
}

const DEFAULT_ENTRIES = 10_000;

/**
 * The last folded state of the streams this process decided on or read for a decision (deals,
 * pipelines, custom-field definitions), keyed by stream, least recently used dropped first.
 *
 * An entry is never trusted for an answer on its own: a command appends at the cached version,
 * so a stream another process has moved on makes the append a conflict, and the command is
 * decided again on a fresh read; a reference (the deal's pipeline) is appended with as a
 * condition on its version (AppendOptions.references). A refusal decided on cached state is
 * decided again on fresh state before it is answered. So the cache saves reads, never changes
 * an outcome. Every stream's state has one shape: the fold of its aggregate.
 */
@Injectable()
export class StreamStateCache {
  private readonly entries = new Map<string, CachedState>();
  private readonly capacity: number;

  constructor(@Optional() @Inject(APP_CONFIG) config?: Pick<AppConfig, 'stateCacheEntries'>) {
    this.capacity = Math.max(0, config?.stateCacheEntries ?? DEFAULT_ENTRIES);
  }

  get<S>(streamId: string): CachedState<S> | undefined {
    const entry = this.entries.get(streamId);
    if (!entry) return undefined;
    // Most recently used last: re-insert.
    this.entries.delete(streamId);
    this.entries.set(streamId, entry);
    return entry as CachedState<S>;
  }

  /** Keeps the newer of what is cached and `entry` (a slower reader must not put an older state back). */
  set<S>(streamId: string, entry: CachedState<S>): void {
    if (this.capacity === 0) return;
    const current = this.entries.get(streamId);
    if (current && current.version > entry.version) return;
    this.entries.delete(streamId);
    this.entries.set(streamId, entry);
    if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value!);
  }

  evict(streamId: string): void {
    this.entries.delete(streamId);
  }

  get size(): number {
    return this.entries.size;
  }
}

/** The streams a decision read besides its own, at the versions read: the append's condition. */
export class StreamReads {
  private readonly read = new Map<string, { version: number; cached: boolean }>();

  /** false once a decision on cached state is being decided again: every stream is read afresh. */
  constructor(readonly mayUseCache = true) {}

  add(streamId: string, version: number, cached: boolean): void {
    const seen = this.read.get(streamId);
    // The same stream read twice: the lower version is the stricter condition.
    if (!seen || version < seen.version) this.read.set(streamId, { version, cached: cached || (seen?.cached ?? false) });
  }

  get references(): { streamId: string; version: number }[] {
    return [...this.read].map(([streamId, { version }]) => ({ streamId, version }));
  }

  /** Streams whose version came from the cache. */
  get cached(): string[] {
    return [...this.read].filter(([, r]) => r.cached).map(([streamId]) => streamId);
  }
}
