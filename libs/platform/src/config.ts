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
  };
}

function intFrom(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got "${value}"`);
  return n;
}
