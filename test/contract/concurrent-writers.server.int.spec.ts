import { randomUUID } from 'node:crypto';
import { PostgresEventStore, type RecordedEvent } from '@app/event-store';
import { testBackends } from '../support/test-database';

const WRITERS = 24;
const APPENDS_PER_WRITER = 60;

/**
 * The failure this guards against: a follower checkpointing on global_position alone skips
 * events whose transaction committed after a later position was already visible.
 */
for (const backend of testBackends().filter((b) => b.name === 'postgres')) {
  describe(`follower under ${WRITERS} concurrent writers on ${backend.name}`, () => {
    it('sees every event exactly once while writers run', async () => {
      const database = await backend.open({ maxConnections: WRITERS + 2 });
      const store = new PostgresEventStore(database);
      try {
        const written = new Set<string>();
        const seen: RecordedEvent[] = [];
        let writing = true;
        const follower = (async () => {
          let checkpoint: string | null = null;
          for (;;) {
            const page = await store.readAll(checkpoint, 500);
            seen.push(...page.events);
            checkpoint = page.checkpoint;
            if (page.events.length === 0) {
              if (!writing) return;
              await new Promise((r) => setTimeout(r, 2));
            }
          }
        })();
        await Promise.all(
          Array.from({ length: WRITERS }, async (_, w) => {
            for (let i = 0; i < APPENDS_PER_WRITER; i++) {
              const stream = `opportunity-load-${w}-${i % 5}`;
              const events = Array.from({ length: 1 + (i % 3) }, () => ({
                eventId: randomUUID(),
                type: 'Load',
                data: { w, i },
                metadata: { org_id: 'load', actor_id: 'w', correlation_id: 'c', causation_id: 'c', occurred_at: '' },
              }));
              events.forEach((e) => written.add(e.eventId));
              await store.append(stream, events, 'any');
            }
          }),
        );
        writing = false;
        await follower;
        const ids = seen.map((e) => e.eventId);
        expect(new Set(ids).size).toBe(ids.length);
        expect(ids.length).toBe(written.size);
        expect(new Set(ids)).toEqual(written);
      } finally {
        await store.close();
        await database.close();
      }
    });
  });
}
