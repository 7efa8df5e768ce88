import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { EventStoreDBEventStore, PostgresEventStore } from '@app/event-store';
import { testBackends } from '../support/test-database';
import { eventStoreContract } from './event-store.contract';

for (const backend of testBackends()) {
  eventStoreContract(`PostgreSQL adapter on ${backend.name}`, async () => {
    const database = await backend.open();
    const store = new PostgresEventStore(database);
    await store.start();
    return {
      store,
      streamPrefix: 'opportunity-contract-',
      async close() {
        await store.close();
        await database.close();
      },
    };
  });

  describe(`events table on ${backend.name}`, () => {
    it('refuses UPDATE, DELETE and TRUNCATE', async () => {
      const database = await backend.open();
      try {
        const store = new PostgresEventStore(database);
        await store.append(
          'opportunity-x-1',
          [
            {
              eventId: randomUUID(),
              type: 'T',
              data: {},
              metadata: { org_id: 'x', actor_id: 'a', correlation_id: 'c', causation_id: 'c', occurred_at: '' },
            },
          ],
          'no_stream',
        );
        await expect(sql`update events set type = 'Changed'`.execute(database.db)).rejects.toThrow(/append-only/);
        await expect(sql`delete from events`.execute(database.db)).rejects.toThrow(/append-only/);
        await expect(sql`truncate events`.execute(database.db)).rejects.toThrow(/append-only/);
        const { rows } = await sql<{ type: string }>`select type from events`.execute(database.db);
        expect(rows).toEqual([{ type: 'T' }]);
      } finally {
        await database.close();
      }
    });
  });
}

const esdbUrl = process.env.EVENTSTORE_URL;
if (esdbUrl) {
  eventStoreContract('EventStoreDB adapter', async () => {
    const prefix = `opportunity-contract${randomUUID().slice(0, 8)}-`;
    const store = EventStoreDBEventStore.fromConnectionString(esdbUrl, { streamPrefixes: [prefix] });
    await store.start();
    return { store, streamPrefix: prefix, close: () => store.close() };
  });
}
