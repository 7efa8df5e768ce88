import {
  type BeforeApplicationShutdown,
  type CanActivate,
  type ExecutionContext,
  HttpException,
  HttpStatus,
  Inject,
  Injectable,
  Logger,
} from '@nestjs/common';
import type { Request, Response } from 'express';
import { type Kysely, sql } from 'kysely';
import type { AppConfig } from '../config';
import type { Database } from '../database/database';
import type { PlatformTables } from '../tables';
import { APP_CONFIG, DATABASE } from '../tokens';

/** What a request is told about its token's budget (and whether it may go on). */
export interface RateLimitDecision {
  allowed: boolean;
  /** Requests per window. */
  limit: number;
  /** Requests left in this window after this one (an estimate across processes). */
  remaining: number;
  /** Seconds until the window ends and the budget is whole again (at least 1). */
  resetSeconds: number;
  windowSeconds: number;
  /** `<limit>;w=<window seconds>`, as RateLimit-Policy says it. */
  policy: string;
}

/** One key's increments in one window, and the shared count after they were added. */
export interface RateLimitCount {
  key: string;
  /** Start of the window, milliseconds since the epoch. */
  windowStart: number;
  count: number;
}

/** Where the processes on one database add up their counts. */
export interface RateLimitStore {
  /** Adds each entry's count to its key and window; answers the total of each afterwards. */
  add(increments: RateLimitCount[]): Promise<RateLimitCount[]>;
  /** Forgets windows that started before `windowStart`. */
  sweep(windowStart: number): Promise<void>;
}

/** The counts of every API process on a PostgreSQL server, in rate_limit_counters: one statement per sync. */
export class PostgresRateLimitStore implements RateLimitStore {
  constructor(private readonly db: Kysely<PlatformTables>) {}

  async add(increments: RateLimitCount[]): Promise<RateLimitCount[]> {
    const { rows } = await sql<{ key: string; window_start: string; count: string }>`
      insert into rate_limit_counters (key, window_start, count)
      select * from unnest(${increments.map((i) => i.key)}::text[], ${increments.map((i) => i.windowStart)}::int8[],
        ${increments.map((i) => i.count)}::int8[])
      on conflict (key, window_start) do update set count = rate_limit_counters.count + excluded.count
      returning key, window_start, count`.execute(this.db);
    return rows.map((r) => ({ key: r.key, windowStart: Number(r.window_start), count: Number(r.count) }));
  }

  async sweep(windowStart: number): Promise<void> {
    await sql`delete from rate_limit_counters where window_start < ${windowStart}`.execute(this.db);
  }
}

export interface RateLimiterOptions {
  /** Requests per window for every key. */
  limit: number;
  windowMs: number;
  /** How often counts are added to the store (and others' read back). */
  syncMs: number;
  /** Counts shared with other processes; null: this process alone counts (an embedded database). */
  store: RateLimitStore | null;
  now?: () => number;
  onSyncError?: (error: unknown) => void;
}

interface Bucket {
  windowStart: number;
  /** Counted here, not yet sent to the store. */
  pending: number;
  /** Sent to the store, answer not back yet. */
  sending: number;
  /** The store's total for the window at the last sync (this process's sent counts included). */
  shared: number;
}

/**
 * Fixed windows aligned to the epoch (the window of a request is floor(now / window)), counted in
 * memory: deciding a request costs no database round trip. With a store, every syncMs (and at once,
 * at most every syncMs / 10, when a key has a tenth of its budget left) the counts since the last
 * sync are added to the shared ones in one statement, which answers the totals of every process.
 * A process decides with the totals of its last sync plus its own counts since, so the processes
 * together can admit more than the limit by at most what the others admit between two syncs:
 * about (processes − 1) × syncMs × each one's request rate. A refused request is not counted.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly now: () => number;
  private readonly policy: string;
  private readonly nearLimit: number;
  private timer: NodeJS.Timeout | null = null;
  private syncing: Promise<void> | null = null;
  private again = false;
  private scheduled = false;
  private lastSync = 0;
  private lastSweep = 0;
  private stopped = false;

  constructor(private readonly options: RateLimiterOptions) {
    this.now = options.now ?? Date.now;
    this.policy = `${options.limit};w=${Math.round(options.windowMs / 1000)}`;
    this.nearLimit = Math.max(1, Math.ceil(options.limit / 10));
  }

  take(key: string): RateLimitDecision {
    if (!this.timer && !this.stopped) this.start();
    const now = this.now();
    const { limit, windowMs } = this.options;
    const windowStart = Math.floor(now / windowMs) * windowMs;
    let bucket = this.buckets.get(key);
    if (!bucket || bucket.windowStart !== windowStart) {
      bucket = { windowStart, pending: 0, sending: 0, shared: 0 };
      this.buckets.set(key, bucket);
    }
    const used = bucket.shared + bucket.sending + bucket.pending;
    const resetSeconds = Math.max(1, Math.ceil((windowStart + windowMs - now) / 1000));
    const windowSeconds = windowMs / 1000;
    if (used >= limit) return { allowed: false, limit, remaining: 0, resetSeconds, windowSeconds, policy: this.policy };
    bucket.pending++;
    const remaining = limit - used - 1;
    if (this.options.store && remaining < this.nearLimit) this.syncSoon();
    return { allowed: true, limit, remaining, resetSeconds, windowSeconds, policy: this.policy };
  }

  /** Adds the counts since the last sync to the store and takes back the totals; one sync at a time. */
  sync(): Promise<void> {
    if (this.syncing) {
      this.again = true;
      return this.syncing;
    }
    this.syncing = this.syncOnce().finally(() => {
      this.syncing = null;
      if (this.again && !this.stopped) {
        this.again = false;
        this.syncSoon();
      }
    });
    return this.syncing;
  }

  /** Stops the timer and sends what is still counted here. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.syncing;
    await this.syncOnce();
  }

  private start(): void {
    this.timer = setInterval(() => {
      if (!this.syncing) void this.sync();
    }, this.options.syncMs);
    this.timer.unref();
  }

  /** A sync now, or as soon as the last one is syncMs / 10 old (after the one in progress). */
  private syncSoon(): void {
    if (this.syncing) {
      this.again = true;
      return;
    }
    if (this.scheduled) return;
    const wait = this.lastSync + Math.max(5, this.options.syncMs / 10) - this.now();
    if (wait <= 0) {
      void this.sync();
      return;
    }
    this.scheduled = true;
    setTimeout(() => {
      this.scheduled = false;
      void this.sync();
    }, wait).unref();
  }

  private async syncOnce(): Promise<void> {
    this.lastSync = this.now();
    const windowStart = Math.floor(this.lastSync / this.options.windowMs) * this.options.windowMs;
    const sent: Array<[Bucket, RateLimitCount]> = [];
    for (const [key, bucket] of this.buckets) {
      // A window that is over is of no use to anyone: dropped, with what it counted.
      if (bucket.windowStart < windowStart) {
        if (bucket.sending === 0) this.buckets.delete(key);
        continue;
      }
      if (bucket.pending === 0) continue;
      sent.push([bucket, { key, windowStart: bucket.windowStart, count: bucket.pending }]);
      bucket.sending += bucket.pending;
      bucket.pending = 0;
    }
    const store = this.options.store;
    if (!store) return;
    if (sent.length > 0) {
      try {
        const totals = new Map((await store.add(sent.map(([, c]) => c))).map((t) => [`${t.windowStart}:${t.key}`, t.count]));
        for (const [bucket, count] of sent) {
          bucket.sending -= count.count;
          bucket.shared = Math.max(bucket.shared, totals.get(`${count.windowStart}:${count.key}`) ?? 0);
        }
      } catch (error) {
        // Counted again with the next sync; until then this process decides with its own counts.
        for (const [bucket, count] of sent) {
          bucket.sending -= count.count;
          bucket.pending += count.count;
        }
        this.options.onSyncError?.(error);
      }
    }
    if (this.lastSync - this.lastSweep >= 60_000) {
      this.lastSweep = this.lastSync;
      await store.sweep(windowStart - this.options.windowMs).catch(() => undefined);
    }
  }
}

/** The response headers of the IETF draft (RateLimit-Limit, -Remaining, -Reset, -Policy). */
export const RATE_LIMIT_HEADERS = ['RateLimit-Limit', 'RateLimit-Remaining', 'RateLimit-Reset', 'RateLimit-Policy'];

/**
 * Requests per token (RATE_LIMIT_PER_MINUTE, counted in windows of RATE_LIMIT_WINDOW_SECONDS):
 * after the auth guard, so the key is the caller's token id. Every authenticated response carries
 * RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset (seconds) and RateLimit-Policy; past the
 * limit the request is a 429 problem (`too_many_requests`) with Retry-After, before any handler,
 * interceptor or idempotency key. Requests without a token (health, OPTIONS) are not counted.
 * On PostgreSQL the API processes share each token's budget through rate_limit_counters.
 */
@Injectable()
export class RateLimitGuard implements CanActivate, BeforeApplicationShutdown {
  private readonly limiter: RateLimiter | null;
  private readonly logger = new Logger('RateLimit');
  private lastWarning = 0;

  constructor(@Inject(APP_CONFIG) config: AppConfig, @Inject(DATABASE) database: Database) {
    const windowSeconds = config.rateLimitWindowSeconds;
    this.limiter =
      config.rateLimitPerMinute === 0
        ? null
        : new RateLimiter({
            limit: Math.max(1, Math.round((config.rateLimitPerMinute * windowSeconds) / 60)),
            windowMs: windowSeconds * 1000,
            syncMs: config.rateLimitSyncMs,
            store: database.kind === 'postgres' ? new PostgresRateLimitStore(database.db) : null,
            onSyncError: (error) => {
              if (Date.now() - this.lastWarning < 60_000) return;
              this.lastWarning = Date.now();
              this.logger.warn(`Rate-limit counts not shared (this process counts alone until it can): ${String(error)}`);
            },
          });
  }

  canActivate(context: ExecutionContext): boolean {
    if (!this.limiter) return true;
    const tokenId = context.switchToHttp().getRequest<Request>().context?.actor?.tokenId;
    if (!tokenId) return true;
    const decision = this.limiter.take(tokenId);
    const res = context.switchToHttp().getResponse<Response>();
    res.setHeader('RateLimit-Limit', String(decision.limit));
    res.setHeader('RateLimit-Remaining', String(decision.remaining));
    res.setHeader('RateLimit-Reset', String(decision.resetSeconds));
    res.setHeader('RateLimit-Policy', decision.policy);
    if (decision.allowed) return true;
    res.setHeader('Retry-After', String(decision.resetSeconds));
    throw new HttpException(
      `Rate limit of ${decision.limit} requests per ${decision.windowSeconds} s exceeded for this token; retry after ${decision.resetSeconds} s`,
      HttpStatus.TOO_MANY_REQUESTS,
    );
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.limiter?.stop();
  }
}
