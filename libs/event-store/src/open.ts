import type { AppConfig, Database } from '@app/platform';
import { EventStoreDBEventStore } from './eventstoredb/eventstoredb-event-store';
import type { EventStore } from './event-store.port';
import { PostgresEventStore } from './postgres/postgres-event-store';

/** The configured event store: EventStoreDB when EVENTSTORE_URL is set, else the database's events table. */
export async function openEventStore(config: Pick<AppConfig, 'eventstoreUrl'>, database: Database): Promise<EventStore> {
  const store = config.eventstoreUrl ? EventStoreDBEventStore.fromConnectionString(config.eventstoreUrl) : new PostgresEventStore(database);
  await store.start();
  return store;
}
