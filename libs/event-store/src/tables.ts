import type { ColumnType, GeneratedAlways } from 'kysely';
import type { EventMetadata } from './event-store.port';

/** Written once, never updated (a trigger refuses UPDATE and DELETE on events). */
type AppendOnly<Select, Insert = Select> = ColumnType<Select, Insert, never>;

/**
 * The PostgreSQL event store's log as both drivers return it: int8 as strings (positions may pass
 * 2^53), xid8 as a string, timestamptz as Date, jsonb parsed (written as JSON text).
 */
export interface EventsTable {
  /** From events_global_position_seq. */
  global_position: GeneratedAlways<string>;
  /** The appending transaction (xid8): readers page by (transaction_id, global_position). */
  transaction_id: GeneratedAlways<string>;
  stream_id: AppendOnly<string>;
  /** 1-based version in the stream. */
  stream_version: AppendOnly<string, number | string>;
  event_id: AppendOnly<string>;
  type: AppendOnly<string>;
  schema_version: AppendOnly<number, number | undefined>;
  data: AppendOnly<object, string>;
  metadata: AppendOnly<EventMetadata, string | undefined>;
  created_at: AppendOnly<Date, Date | string | undefined>;
}

export interface EventStoreTables {
  events: EventsTable;
}
