import { resolve } from 'node:path';
import type { CorsPolicy } from './http/cors';

export interface AppConfig {
  port: number;
  /** Embedded database directory (used when databaseUrl is unset). */
  dataDir: string;
  databaseUrl: string | null;
  eventstoreUrl: string | null;
  /** Fixed admin token for automation; otherwise one is generated on first start. */
  adminToken: string | null;
  /** Run projectors and the webhook dispatcher inside the API process. */
  runProjectors: boolean;
  /** Largest accepted JSON body. */
  bodyLimit: string;
  /** Retries of a command that lost an optimistic-concurrency race. */
  commandRetries: number;
  /** How long a query waits for the read models to reach the caller's last write. */
  consistencyTimeoutMs: number;
  projectionBatchSize: number;
  /** Polling interval of projectors when no wake-up arrives. */
  projectionPollMs: number;
  /** After a batch under load, how long a projection gathers appends before the next batch. */
  projectionGatherMs: number;
  /** Stop a projection at a poison event instead of dead-lettering it. */
  projectionHaltOnPoison: boolean;
  /** Deliver webhooks from this process (the API by default; workers always). */
  runWebhookDispatcher: boolean;
  /** Hosts or IPs webhooks may reach even though they are private (e.g. 127.0.0.1 in tests). */
  webhookAllowedHosts: string[];
  webhookTimeoutMs: number;
  /** Seconds to wait after each failed attempt; the last entry exhausts the schedule. */
  webhookRetrySchedule: number[];
  /** How long the previous secret stays valid after a rotation. */
  webhookSecretOverlapSeconds: number;
  webhookPollMs: number;
  /** Days without activity after which an open deal is stale, for stages without rotting_days. */
  staleAfterDays: number;
  /** How long an Idempotency-Key and its stored response are kept. */
  idempotencyKeyTtlSeconds: number;
  /** How long a request holds its key; a key whose request died is run again after that. */
  idempotencyLeaseSeconds: number;
  /** Folded streams kept in memory for commands (0 = every command reads its streams). */
  stateCacheEntries: number;
  /** Resolved API tokens kept in memory (0 = every request looks its token up). */
  tokenCacheEntries: number;
  /** PostgreSQL settings of the embedded database (PGLITE_SETTINGS="name=value,…" adds to or replaces them). */
  pgliteSettings: Record<string, string>;
  /** Browser origins allowed to call the API (CORS_ORIGINS): `*`, a list of exact origins, or null (no CORS). */
  corsOrigins: CorsPolicy | null;
  /** Requests a token may make per minute (0 = no limit). */
  rateLimitPerMinute: number;
  /** The window requests are counted in; its budget is rateLimitPerMinute × window / 60. */
  rateLimitWindowSeconds: number;
  /** How often a process adds its counts to the shared ones (PostgreSQL) and reads theirs back. */
  rateLimitSyncMs: number;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  return {
    port: intFrom(env.PORT, 3000, 'PORT'),
    dataDir: resolve(env.DATA_DIR ?? './data'),
    databaseUrl: env.DATABASE_URL || null,
    eventstoreUrl: env.EVENTSTORE_URL || null,
    adminToken: env.ADMIN_TOKEN || null,
    runProjectors: (env.RUN_PROJECTORS ?? 'true') !== 'false',
    bodyLimit: env.BODY_LIMIT ?? '256kb',
    commandRetries: intFrom(env.COMMAND_RETRIES, 8, 'COMMAND_RETRIES'),
    consistencyTimeoutMs: intFrom(env.CONSISTENCY_TIMEOUT_MS, 2000, 'CONSISTENCY_TIMEOUT_MS'),
    projectionBatchSize: Math.max(1, intFrom(env.PROJECTION_BATCH_SIZE, 500, 'PROJECTION_BATCH_SIZE')),
    projectionPollMs: Math.max(10, intFrom(env.PROJECTION_POLL_MS, 500, 'PROJECTION_POLL_MS')),
    projectionGatherMs: intFrom(env.PROJECTION_GATHER_MS, 20, 'PROJECTION_GATHER_MS'),
    projectionHaltOnPoison: env.PROJECTION_HALT_ON_POISON === 'true',
    runWebhookDispatcher: (env.RUN_WEBHOOK_DISPATCHER ?? env.RUN_PROJECTORS ?? 'true') !== 'false',
    webhookAllowedHosts: (env.WEBHOOK_ALLOWED_HOSTS ?? '')
      .split(',')
      .map((h) => h.trim())
      .filter(Boolean),
    webhookTimeoutMs: Math.max(100, intFrom(env.WEBHOOK_TIMEOUT_MS, 15_000, 'WEBHOOK_TIMEOUT_MS')),
    webhookRetrySchedule: scheduleFrom(env.WEBHOOK_RETRY_SCHEDULE),
    webhookSecretOverlapSeconds: intFrom(env.WEBHOOK_SECRET_OVERLAP_SECONDS, 86_400, 'WEBHOOK_SECRET_OVERLAP_SECONDS'),
    webhookPollMs: Math.max(10, intFrom(env.WEBHOOK_POLL_MS, 500, 'WEBHOOK_POLL_MS')),
    staleAfterDays: Math.max(1, intFrom(env.STALE_AFTER_DAYS, 30, 'STALE_AFTER_DAYS')),
    idempotencyKeyTtlSeconds: Math.max(1, intFrom(env.IDEMPOTENCY_KEY_TTL_SECONDS, 86_400, 'IDEMPOTENCY_KEY_TTL_SECONDS')),
    idempotencyLeaseSeconds: Math.max(1, intFrom(env.IDEMPOTENCY_LEASE_SECONDS, 60, 'IDEMPOTENCY_LEASE_SECONDS')),
    stateCacheEntries: intFrom(env.STATE_CACHE_ENTRIES, 10_000, 'STATE_CACHE_ENTRIES'),
    tokenCacheEntries: intFrom(env.TOKEN_CACHE_ENTRIES, 10_000, 'TOKEN_CACHE_ENTRIES'),
    pgliteSettings: { ...PGLITE_SETTINGS, ...settingsFrom(env.PGLITE_SETTINGS) },
    corsOrigins: originsFrom(env.CORS_ORIGINS),
    rateLimitPerMinute: intFrom(env.RATE_LIMIT_PER_MINUTE, 6000, 'RATE_LIMIT_PER_MINUTE'),
    rateLimitWindowSeconds: rangeFrom(env.RATE_LIMIT_WINDOW_SECONDS, 60, 'RATE_LIMIT_WINDOW_SECONDS', 1, 3600),
    rateLimitSyncMs: rangeFrom(env.RATE_LIMIT_SYNC_MS, 250, 'RATE_LIMIT_SYNC_MS', 10, 60_000),
  };
}

/**
 * CORS_ORIGINS: unset or empty is no CORS at all; `*` is every origin; otherwise a comma list of
 * exact origins (scheme, host and port as a browser sends them in Origin: no path, no trailing slash).
 */
function originsFrom(value: string | undefined): CorsPolicy | null {
  const text = value?.trim();
  if (!text) return null;
  if (text === '*') return '*';
  const origins = text
    .split(',')
    .map((o) => o.trim())
    .filter(Boolean);
  for (const origin of origins) {
    let parsed: URL | null = null;
    try {
      parsed = new URL(origin);
    } catch {
      // reported below
    }
    if (!parsed || !['http:', 'https:'].includes(parsed.protocol) || parsed.origin !== origin) {
      throw new Error(
        `CORS_ORIGINS must be * or comma-separated origins such as https://app.example.com (scheme, host and port only), got "${origin}"`,
      );
    }
  }
  return origins;
}

/**
 * The embedded database's settings unless PGLITE_SETTINGS says otherwise. PGlite's own default
 * shared_buffers (128MB) is memory the WebAssembly heap touches and never gives back: 16MB keeps
 * the API process under 300 MB idle (docs/BENCHMARKS.md, memory), while the operating system
 * still caches the data files.
 */
const PGLITE_SETTINGS: Record<string, string> = { shared_buffers: '16MB' };

/** "shared_buffers=32MB,work_mem=2MB" → { shared_buffers: '32MB', work_mem: '2MB' }. */
function settingsFrom(value: string | undefined): Record<string, string> {
  if (!value) return {};
  const entries = value.split(',').map((part) => part.trim().split('='));
  if (entries.some((kv) => kv.length !== 2 || !/^[a-z_]+$/.test(kv[0]) || !/^[\w.]+$/.test(kv[1]))) {
    throw new Error(`PGLITE_SETTINGS must be name=value pairs separated by commas, got "${value}"`);
  }
  return Object.fromEntries(entries);
}

function intFrom(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got "${value}"`);
  return n;
}

function rangeFrom(value: string | undefined, fallback: number, name: string, min: number, max: number): number {
  const n = intFrom(value, fallback, name);
  if (n < min || n > max) throw new Error(`${name} must be an integer from ${min} to ${max}, got "${value}"`);
  return n;
}

/** Standard Webhooks' reference schedule unless WEBHOOK_RETRY_SCHEDULE gives seconds, e.g. "5,300,1800". */
function scheduleFrom(value: string | undefined): number[] {
  if (!value) return [5, 300, 1800, 7200, 18000, 36000, 36000];
  const parts = value.split(',').map((p) => Number(p.trim()));
  if (parts.length === 0 || parts.some((n) => !Number.isFinite(n) || n < 0)) {
    throw new Error(`WEBHOOK_RETRY_SCHEDULE must be comma-separated seconds, got "${value}"`);
  }
  return parts;
}
