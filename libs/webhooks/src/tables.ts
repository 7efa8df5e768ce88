import type { ColumnType, Generated, GeneratedAlways, JSONColumnType } from 'kysely';
import type { OpportunityState } from '@app/domain';

/*
 * The webhook tables as both drivers return them: int8 as strings, timestamptz as Date, text[]
 * as string arrays, jsonb parsed (written as JSON text).
 */

/** timestamptz the database fills in (default now()). */
type CreatedAt = ColumnType<Date, Date | string | undefined, Date | string>;
/** int8: a string when read, a number or a string when written. */
type Int8 = ColumnType<string, number | string, number | string>;

export interface WebhookEndpointsTable {
  id: string;
  org_id: string;
  url: string;
  description: string | null;
  event_types: string[];
  enabled: Generated<boolean>;
  disabled_reason: string | null;
  /** Needed in clear to sign (HMAC); never returned after creation or rotation. */
  secret: string;
  previous_secret: string | null;
  previous_secret_expires_at: Date | null;
  created_at: CreatedAt;
  updated_at: CreatedAt;
  deleted_at: Date | null;
  /**
   * The event store's head when the endpoint was created: it receives the events after it.
   * NULL when there was none (created before the column existed, or while the log was empty):
   * then it receives the events recorded after created_at.
   */
  created_checkpoint: string | null;
}

export type MessageStatus = 'pending' | 'delivered' | 'failed';

/** The outbox: one message per (endpoint, event), or a test ping (no event). */
export interface WebhookMessagesTable {
  /** The webhook-id header: msg_ + 32 hex digits. */
  id: string;
  org_id: string;
  endpoint_id: string;
  event_type: string;
  event_id: string | null;
  stream_id: string | null;
  stream_version: Int8 | null;
  position: Int8 | null;
  /** The payload, signed and sent byte for byte. */
  body: string;
  status: MessageStatus;
  /** Position in the retry schedule (a manual redelivery starts it again). */
  attempts: Generated<number>;
  /** Every attempt ever made, numbering the delivery log. */
  total_attempts: Generated<number>;
  next_attempt_at: Date | null;
  last_attempt_at: Date | null;
  last_status_code: number | null;
  delivered_at: Date | null;
  created_at: CreatedAt;
}

/** The delivery log: one row per attempt. */
export interface WebhookAttemptsTable {
  id: GeneratedAlways<string>;
  message_id: string;
  attempt: number;
  attempted_at: Date;
  status_code: number | null;
  latency_ms: number;
  response_excerpt: string | null;
  error: string | null;
}

/** The deal states the outbox projection folds to put a snapshot in each payload. */
export interface WebhookDealStatesTable {
  org_id: string;
  id: string;
  state: JSONColumnType<OpportunityState>;
  last_version: Int8;
}

/** A type, not an interface, so that Kysely's withTables() takes it. */
export type WebhookTables = {
  webhook_endpoints: WebhookEndpointsTable;
  webhook_messages: WebhookMessagesTable;
  webhook_attempts: WebhookAttemptsTable;
  webhook_deal_states: WebhookDealStatesTable;
};
