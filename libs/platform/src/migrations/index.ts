import type { Migration } from 'kysely/migration';
import * as tenancy from './2026_11_21_0002_tenancy';
import * as idempotencyLeases from './2026_12_03_0010_idempotency_leases';
import * as rateLimitCounters from './2026_12_04_0013_rate_limit_counters';

/**
 * The platform's tables: orgs, api_tokens, idempotency_keys, rate_limit_counters. Every library lists its own
 * migrations; the application merges them (migrateToLatest runs them in name order, whichever
 * library they come from). Static list: `nest build` cannot follow a folder scan. Never edit a
 * landed entry or rename it: the name is what the database records as applied.
 */
export const PLATFORM_MIGRATIONS: Record<string, Migration> = {
  '2026_11_21_0002_tenancy': tenancy,
  '2026_12_03_0010_idempotency_leases': idempotencyLeases,
  '2026_12_04_0013_rate_limit_counters': rateLimitCounters,
};
