import { randomUUID } from 'node:crypto';
import { ConcurrencyError, type EventStore, type NewEvent, type RecordedEvent } from '@app/event-store';

export interface ContractSubject {
  store: EventStore;
  /** Stream ids this store's readAll follows start with this prefix. */
  streamPrefix: string;
  close(): Promise<void>;
}

function event(type = 'OpportunityUpdated', data: unknown = { n: 1 }): NewEvent {
  return {
    eventId: randomUUID(),
    type,
    data,
    metadata: {
      org_id: 'contract',
      actor_id: 'tester',
      correlation_id: randomUUID(),
      causation_id: randomUUID(),
      occurred_at: new Date().toISOString(),
    },
  };
}

async function readAllFrom(store: EventStore, checkpoint: string | null, pageSize = 100): Promise<RecordedEvent[]> {
  const out: RecordedEvent[] = [];
  for (;;) {
    const page = await store.readAll(checkpoint, pageSize);
    out.push(...page.events);
    if (page.events.length === 0) return out;
    checkpoint = page.checkpoint;
  }
}

/** The behaviour every EventStore adapter must show; run once per adapter. */
export function eventStoreContract(name: string, open: () => Promise<ContractSubject>): void {
  describe(`EventStore contract: ${name}`, () => {
    let subject: ContractSubject;
    let stream: (label: string) => string;

    beforeAll(async () => {
      subject = await open();
      stream = (label) => `${subject.streamPrefix}${label}-${randomUUID()}`;
    });
    afterAll(() => subject?.close());

    it('appends to a new stream and reads it back in order with versions 1..n', async () => {
      const id = stream('order');
      const events = [event('A', { i: 1 }), event('B', { i: 2 }), event('C', { i: 3 })];
      const result = await subject.store.append(id, events, 'no_stream');
      expect(result).toMatchObject({ streamVersion: 3, duplicate: false });
      expect(BigInt(result.position)).toBeGreaterThan(0n);
      const read = await subject.store.readStream(id);
      expect(read.map((e) => [e.streamVersion, e.type, e.data, e.eventId])).toEqual(
        events.map((e, i) => [i + 1, e.type, e.data, e.eventId]),
      );
      expect(read[0].metadata).toEqual(events[0].metadata);
      expect(read[2].position).toBe(result.position);
    });

    it('keeps numeric order past ten events, in a stream and globally', async () => {
      const id = stream('long');
      const start = (await subject.store.readAll(null, 1_000_000)).checkpoint;
      const ids: string[] = [];
      for (let i = 0; i < 25; i++) {
        const e = event('Step', { i });
        ids.push(e.eventId);
        await subject.store.append(id, [e], i);
      }
      const read = await subject.store.readStream(id);
      expect(read.map((e) => e.streamVersion)).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
      expect(read.map((e) => e.eventId)).toEqual(ids);
      expect((await readAllFrom(subject.store, start, 7)).map((e) => e.eventId)).toEqual(ids);
    });

    it('reads a slice of a stream and an empty list for a stream that does not exist', async () => {
      const id = stream('slice');
      await subject.store.append(id, [event(), event(), event(), event()], 'no_stream');
      const slice = await subject.store.readStream(id, { afterVersion: 1, toVersion: 3 });
      expect(slice.map((e) => e.streamVersion)).toEqual([2, 3]);
      expect(await subject.store.readStream(stream('missing'))).toEqual([]);
    });

    it('checks the expected version: exact, no_stream, stream_exists and any', async () => {
      const id = stream('expected');
      await expect(subject.store.append(id, [event()], 'stream_exists')).rejects.toBeInstanceOf(ConcurrencyError);
      await subject.store.append(id, [event()], 'no_stream');
      await expect(subject.store.append(id, [event()], 'no_stream')).rejects.toBeInstanceOf(ConcurrencyError);
      await expect(subject.store.append(id, [event()], 5)).rejects.toMatchObject({ actual: 1 });
      expect((await subject.store.append(id, [event()], 1)).streamVersion).toBe(2);
      expect((await subject.store.append(id, [event()], 'stream_exists')).streamVersion).toBe(3);
      expect((await subject.store.append(id, [event()], 'any')).streamVersion).toBe(4);
    });

    it('lets exactly one of two appends at the same expected version win', async () => {
      for (let round = 0; round < 5; round++) {
        const id = stream('race');
        await subject.store.append(id, [event()], 'no_stream');
        const results = await Promise.allSettled([subject.store.append(id, [event('X')], 1), subject.store.append(id, [event('Y')], 1)]);
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
        expect(rejected).toHaveLength(1);
        expect(rejected[0].reason).toBeInstanceOf(ConcurrencyError);
        expect((await subject.store.readStream(id)).map((e) => e.streamVersion)).toEqual([1, 2]);
      }
    });

    it('re-appending the same event ids appends nothing and returns the first result', async () => {
      const id = stream('idempotent');
      const batch = [event(), event()];
      const first = await subject.store.append(id, batch, 'no_stream');
      const again = await subject.store.append(id, batch, 'no_stream');
      expect(again).toEqual({ ...first, duplicate: true });
      const retriedLater = await subject.store.append(id, batch, 2);
      expect(retriedLater).toEqual({ ...first, duplicate: true });
      expect(await subject.store.readStream(id)).toHaveLength(2);
    });

    it('reads every stream globally in commit order, resumable from any checkpoint', async () => {
      const start = (await subject.store.readAll(null, 1_000_000)).checkpoint;
      const a = stream('global-a');
      const b = stream('global-b');
      const written: string[] = [];
      for (let i = 0; i < 6; i++) {
        const e = event('Step', { i });
        written.push(e.eventId);
        await subject.store.append(i % 2 ? b : a, [e], 'any');
      }
      const all = await readAllFrom(subject.store, start, 2);
      expect(all.map((e) => e.eventId)).toEqual(written);
      const positions = all.map((e) => BigInt(e.position));
      expect([...positions].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0))).toEqual(positions);
      const resumed = await readAllFrom(subject.store, all[2].checkpoint, 100);
      expect(resumed.map((e) => e.eventId)).toEqual(written.slice(3));
      const end = await subject.store.readAll(all[5].checkpoint, 10);
      expect(end).toEqual({ events: [], checkpoint: all[5].checkpoint });
    });

    it('signals followers after an append', async () => {
      const woke = new Promise<void>((resolve) => {
        const off = subject.store.onAppended(() => {
          off();
          resolve();
        });
      });
      await subject.store.append(stream('wake'), [event()], 'no_stream');
      await expect(woke).resolves.toBeUndefined();
    });
  });
}
