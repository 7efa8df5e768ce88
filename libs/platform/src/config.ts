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
  };
}

function intFrom(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got "${value}"`);
  return n;
}
