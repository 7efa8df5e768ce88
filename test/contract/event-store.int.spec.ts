import { randomBytes, randomUUID } from 'node:crypto';
import { EventStoreDBClient } from '@eventstore/db-client';
import { type Kysely, type KyselyPlugin, sql } from 'kysely';
import { categoryPrefix, opportunityStreamId, STREAM_CATEGORIES } from '@app/domain';
import { ConcurrencyError, EventStoreDBEventStore, type NewEvent, PostgresEventStore } from '@app/event-store';
import type { Database } from '@app/platform';
import { testBackends } from '../support/test-database';
import { type BackendProbe, eventStoreContract } from './event-store.contract';

/** The counters both counting backends keep. */
function newProbe(): BackendProbe & { roundTrips: number; eventsRead: number } {
  const probe = {
    roundTrips: 0,
    eventsRead: 0,
    reset() {
      probe.roundTrips = 0;
      probe.eventsRead = 0;
    },
  };
  return probe;
}

/** Counts statements and the stored events (rows with an event_id) they return. */
function countingDatabase(database: Database): { database: Database; probe: BackendProbe } {
  const probe = newProbe();
  const countRows = (rows: readonly unknown[]) => {
    probe.eventsRead += rows.filter((r) => typeof r === 'object' && r !== null && 'event_id' in r).length;
  };
  const plugin: KyselyPlugin = {
    transformQuery(args) {
      probe.roundTrips++;
      return args.node;
    },
    async transformResult(args) {
      countRows(args.result.rows);
      return args.result;
    },
  };
  const counted = database.db.withPlugin(plugin);
  return {
    database: {
      ...database,
      db: counted,
      tables: <T>() => counted as unknown as Kysely<T>,
      async prepared<R>(name: string, text: string, values: unknown[]): Promise<R[]> {
        probe.roundTrips++;
        const rows = await database.prepared<R>(name, text, values);
        countRows(rows);
        return rows;
      },
    },
    probe,
  };
}

/** Counts the client's calls and the events its stream and $all reads hand back (a proxy of the real client). */
function countingClient(client: EventStoreDBClient): { client: EventStoreDBClient; probe: BackendProbe } {
  const probe = newProbe();
  const counted = <T extends object>(read: T): T =>
    new Proxy(read, {
      get(target, property) {
        if (property === Symbol.asyncIterator) {
          return () => {
            const inner = (target as unknown as AsyncIterable<unknown>)[Symbol.asyncIterator]();
            return {
              async next() {
                const step = await inner.next();
                if (!step.done) probe.eventsRead++;
                return step;
              },
              return: inner.return?.bind(inner),
              [Symbol.asyncIterator]() {
                return this;
              },
            };
          };
        }
        const value = Reflect.get(target, property, target) as unknown;
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
  const proxy = new Proxy(client, {
    get(target, property) {
      const value = Reflect.get(target, property, target) as unknown;
      if (typeof value !== 'function') return value;
      const fn = value as (...a: unknown[]) => unknown;
      if (property === 'readStream' || property === 'readAll') {
        return (...args: unknown[]) => {
          probe.roundTrips++;
          return counted(fn.apply(target, args) as object);
        };
      }
      if (property === 'appendToStream' || property === 'subscribeToAll') {
        return (...args: unknown[]) => {
          probe.roundTrips++;
          return fn.apply(target, args);
        };
      }
      return fn.bind(target);
    },
  });
  return {
    client: proxy,
    probe,
  };
}

function newEvent(orgId: string): NewEvent {
  return {
    eventId: randomUUID(),
    type: 'T',
    data: {},
    metadata: { org_id: orgId, actor_id: 'a', correlation_id: 'c', causation_id: 'c', occurred_at: '' },
  };
}

for (const backend of testBackends()) {
  eventStoreContract(`PostgreSQL adapter on ${backend.name}`, async () => {
    const opened = await backend.open();
    const { database, probe } = countingDatabase(opened);
    const store = new PostgresEventStore(database);
    await store.start();
    return {
      store,
      orgId: 'contract',
      probe,
      foreignCheckpoint: 'esdb:5:5',
      async close() {
        await store.close();
        await opened.close();
      },
    };
  });

  describe(`PostgreSQL adapter on ${backend.name}: what only it does`, () => {
    let database: Database;
    let store: PostgresEventStore;
    beforeAll(async () => {
      database = await backend.open();
      store = new PostgresEventStore(database);
    });
    afterAll(() => database?.close());

    it('refuses UPDATE, DELETE and TRUNCATE on the events table', async () => {
      await store.append('opportunity-x-1', [newEvent('x')], 'no_stream');
      await expect(sql`update events set type = 'Changed'`.execute(database.db)).rejects.toThrow(/append-only/);
      await expect(sql`delete from events`.execute(database.db)).rejects.toThrow(/append-only/);
      await expect(sql`truncate events`.execute(database.db)).rejects.toThrow(/append-only/);
      const { rows } = await sql<{ type: string }>`select type from events`.execute(database.db);
      expect(rows).toEqual([{ type: 'T' }]);
    });

    it('event ids are unique store-wide: a re-send at a later expected version is a duplicate too', async () => {
      const id = opportunityStreamId('x', randomUUID());
      const batch = [newEvent('x'), newEvent('x')];
      const first = await store.append(id, batch, 'no_stream');
      expect(await store.append(id, batch, 2)).toEqual({ ...first, duplicate: true });
      // …but a batch whose first event is new and whose second is stored is a conflict.
      await expect(store.append(id, [newEvent('x'), batch[0]], 2)).rejects.toBeInstanceOf(ConcurrencyError);
      expect(await store.readStream(id)).toHaveLength(2);
    });

    it('reads checkpoints made before they named their store (<xid>:<position>) as its own', async () => {
      const id = opportunityStreamId('x', randomUUID());
      await store.append(id, [newEvent('x'), newEvent('x')], 'no_stream');
      const [first, second] = await store.readStream(id);
      const legacy = first.checkpoint.replace(/^pg:/, '');
      expect(() => store.assertOwnCheckpoint(legacy)).not.toThrow();
      expect((await store.readAll(legacy, 10)).events.map((e) => e.eventId)).toEqual([second.eventId]);
      expect(store.compareCheckpoints(legacy, first.checkpoint)).toBe(0);
      expect(await store.behindBy(legacy, { upTo: second.checkpoint })).toBe(1);
    });
  });
}

const esdbUrl = process.env.EVENTSTORE_URL;
if (esdbUrl) {
  /** One org per run: its streams are the only ones this store follows, so a shared server is fine. */
  const org = `contract${randomBytes(4).toString('hex')}`;
  const orgOnly = STREAM_CATEGORIES.map((c) => `${categoryPrefix(c)}${org}-`);

  eventStoreContract('EventStoreDB adapter', async () => {
    const { client, probe } = countingClient(EventStoreDBClient.connectionString(esdbUrl));
    const store = new EventStoreDBEventStore(client, { streamPrefixes: orgOnly });
    await store.start();
    if (!(await store.whenConnected(15_000)))
      throw new Error(`EventStoreDB at ${esdbUrl} did not answer: ${(await store.health()).reason}`);
    return { store, orgId: org, probe, foreignCheckpoint: 'pg:5:5', close: () => store.close() };
  });

  describe('EventStoreDB adapter: what only it does', () => {
    let store: EventStoreDBEventStore;
    beforeAll(async () => {
      // The defaults: every stream category of libs/domain/src/streams.ts.
      store = EventStoreDBEventStore.fromConnectionString(esdbUrl);
      await store.start();
      await store.whenConnected(15_000);
    });
    afterAll(() => store?.close());

    it('follows every category by default and nothing else: other applications’ streams and system events stay out', async () => {
      const start = await store.head();
      const mine = [opportunityStreamId(org, `d-${randomUUID()}`), `pipeline-${org}-p-${randomUUID()}`];
      await store.append(`foreign-${randomUUID()}`, [newEvent(org)], 'no_stream');
      for (const id of mine) await store.append(id, [newEvent(org)], 'no_stream');
      await store.append(`opportunityish-${randomUUID()}`, [newEvent(org)], 'no_stream');
      const seen: string[] = [];
      let checkpoint = start;
      for (;;) {
        const page = await store.readAll(checkpoint, 100);
        if (page.events.length === 0) break;
        expect(page.events.every((e) => e.streamId.startsWith('opportunity-') || e.streamId.startsWith('pipeline-'))).toBe(true);
        seen.push(...page.events.map((e) => e.streamId).filter((s) => s.includes(`-${org}-`)));
        checkpoint = page.checkpoint;
      }
      expect(seen).toEqual(mine);
    });

    it('a checkpoint without a store prefix is the PostgreSQL store’s, and refused', () => {
      expect(() => store.assertOwnCheckpoint('123:456')).toThrow(/made by the PostgreSQL event store/);
    });

    it('is healthy once its wake-up subscription is confirmed', async () => {
      expect(await store.health()).toEqual({ up: true });
    });
  });
}
