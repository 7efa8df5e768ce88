import type { Migration } from 'kysely/migration';
import * as eventStore from './2026_11_21_0001_event_store';
import * as audit from './2026_11_21_0004_audit';

/**
 * The PostgreSQL event store's table (events) and functions. Names are what the database records
 * as applied: never rename or edit a landed entry. The application merges every library's list.
 */
export const EVENT_STORE_MIGRATIONS: Record<string, Migration> = {
  '2026_11_21_0001_event_store': eventStore,
  // An index on events for the org-filtered readAll (the audit feed), so it is the event store's.
  '2026_11_21_0004_audit': audit,
};
