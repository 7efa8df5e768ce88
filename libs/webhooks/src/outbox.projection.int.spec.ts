import { randomUUID } from 'node:crypto';
import { type Kysely, sql } from 'kysely';
import { PostgresEventStore, type RecordedEvent } from '@app/event-store';
import type { Database } from '@app/platform';
import type { ReadModelTables } from '@app/read-models';
import { DealWriter } from '../../../test/read-models/fixtures';
import { testBackends } from '../../../test/support/test-database';
import { createEndpoint } from './endpoints';
import { WebhookOutboxProjection } from './outbox.projection';
import type { WebhookTables } from './tables';

/*
 * The cut-off of a webhook endpoint: it receives the events appended after it was created and
 * none before, decided by the event store's own checkpoint order (head() at creation), so it
 * holds on any event store and whatever the clocks say.
 */

for (const backend of testBackends()) {
  describe(`webhook outbox cut-off on ${backend.name}`, () => {
    let database: Database;
    let store: PostgresEventStore;
    let deals: DealWriter;
    /** The handle the projector gives its projections. */
    let projector: Kysely<ReadModelTables>;

    beforeAll(async () => {
      database = await backend.open();
      store = new PostgresEventStore(database);
      projector = database.tables<ReadModelTables>();
    });
    afterAll(() => database?.close());
    beforeEach(() => {
      deals = new DealWriter(store);
    });

    const subscribe = () =>
      createEndpoint(database.tables<WebhookTables>(), store, deals.orgId, {
        url: 'https://example.com/hook',
        event_types: ['opportunity.created'],
      });

    /** Feeds every event of the log to the outbox in one projector transaction. */
    async function project(): Promise<RecordedEvent[]> {
      const { events } = await store.readAll(null, 10_000);
      await projector.transaction().execute((trx) => new WebhookOutboxProjection(store).applyBatch(trx, events));
      return events;
    }

    async function queued(endpointId: string): Promise<string[]> {
      const rows = await database
        .tables<WebhookTables>()
        .selectFrom('webhook_messages')
        .select('stream_id')
        .where('endpoint_id', '=', endpointId)
        .execute();
      return rows.map((r) => String(r.stream_id));
    }

    const streamOf = (events: RecordedEvent[], id: string) => events.find((e) => e.streamId.endsWith(id))!.streamId;

    it('an event appended before the endpoint was created is not delivered to it; one appended after is', async () => {
      const [before, after] = [randomUUID(), randomUUID()];
      await deals.create(before);
      const endpoint = await subscribe();
      await deals.create(after);

      const events = await project();
      expect(await queued(endpoint.id)).toEqual([streamOf(events, after)]);
    });

    it('records the head of the log at creation', async () => {
      await deals.create(randomUUID());
      const head = await store.head();
      const endpoint = await subscribe();
      const row = await database
        .tables<WebhookTables>()
        .selectFrom('webhook_endpoints')
        .select('created_checkpoint')
        .where('id', '=', endpoint.id)
        .executeTakeFirstOrThrow();
      expect(row.created_checkpoint).toBe(head);
      expect(endpoint).not.toHaveProperty('created_checkpoint'); // not part of the API's answer
    });

    it('goes by the checkpoint, not by the clock: an endpoint dated in the past still gets nothing from before it', async () => {
      const [before, after] = [randomUUID(), randomUUID()];
      await deals.create(before);
      const endpoint = await subscribe();
      await database
        .tables<WebhookTables>()
        .updateTable('webhook_endpoints')
        .set({ created_at: new Date('2000-01-01T00:00:00Z') })
        .where('id', '=', endpoint.id)
        .execute();
      await deals.create(after);

      const events = await project();
      expect(await queued(endpoint.id)).toEqual([streamOf(events, after)]);
    });

    it.each([
      ['created before the checkpoint was recorded (NULL)', null],
      ['that recorded the head of another event store', 'esdb:100:100'],
    ])('an endpoint %s keeps the created_at rule', async (_, checkpoint) => {
      const [before, after] = [randomUUID(), randomUUID()];
      await deals.create(before);
      const endpoint = await subscribe();
      // The event before is dated by its commit (created_at = now()): put the endpoint between the two.
      await sql`select pg_sleep(0.01)`.execute(database.db);
      await database
        .tables<WebhookTables>()
        .updateTable('webhook_endpoints')
        .set({ created_checkpoint: checkpoint, created_at: sql`now()` })
        .where('id', '=', endpoint.id)
        .execute();
      await sql`select pg_sleep(0.01)`.execute(database.db);
      await deals.create(after);

      const events = await project();
      expect(await queued(endpoint.id)).toEqual([streamOf(events, after)]);
    });
  });
}
