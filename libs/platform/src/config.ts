import { resolve } from 'node:path';

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
  };
}

function intFrom(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got "${value}"`);
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
