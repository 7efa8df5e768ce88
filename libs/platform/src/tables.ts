import type { ColumnType, JSONColumnType } from 'kysely';
import type { Role } from './auth/actor';

/*
 * The platform's tables as both drivers return them (libs/platform/src/database/database.ts sets
 * the parsers): int8 and numeric as strings, date as 'YYYY-MM-DD', timestamptz as Date, jsonb
 * parsed. jsonb is written as JSON text.
 */

/** timestamptz the database fills in (default now()). */
type CreatedAt = ColumnType<Date, Date | string | undefined, Date | string>;

export interface OrgsTable {
  id: string;
  name: string;
  created_at: CreatedAt;
}

export interface ApiTokensTable {
  id: string;
  org_id: string;
  user_id: string;
  role: Role;
  /** SHA-256 of the token (hex); the clear token is never stored. */
  token_hash: string;
  label: string | null;
  created_at: CreatedAt;
  revoked_at: Date | null;
}

export interface IdempotencyKeysTable {
  org_id: string;
  key: string;
  request_hash: string;
  /** null while the request holds the key. */
  status_code: number | null;
  response_headers: JSONColumnType<Record<string, string> | null, string | null, string | null>;
  /** The response body as sent (JSON); null while the request holds the key. */
  response_body: JSONColumnType<object | null, string | null, string | null>;
  created_at: CreatedAt;
  /** Until when the request in progress holds the key. */
  locked_until: Date | null;
}

/** Requests per rate-limit key (a token id) and window, summed over every API process. */
export interface RateLimitCountersTable {
  key: string;
  /** Start of the window, milliseconds since the epoch (int8: a string when read). */
  window_start: ColumnType<string, number, number>;
  count: ColumnType<string, number, number>;
}

export interface PlatformTables {
  orgs: OrgsTable;
  api_tokens: ApiTokensTable;
  idempotency_keys: IdempotencyKeysTable;
  rate_limit_counters: RateLimitCountersTable;
}
