import type { Migration } from 'kysely/migration';
import * as webhooks from './2026_11_21_0006_webhooks';
import * as createdCheckpoint from './2026_12_03_0011_webhook_created_checkpoint';

/**
 * The webhook tables (endpoints, outbox messages, attempts, the outbox's deal states). Names are
 * what the database records as applied: never rename or edit a landed entry. The application
 * merges every library's list.
 */
export const WEBHOOK_MIGRATIONS: Record<string, Migration> = {
  '2026_11_21_0006_webhooks': webhooks,
  '2026_12_03_0011_webhook_created_checkpoint': createdCheckpoint,
};
