import { randomUUID } from 'node:crypto';
import { opportunityStreamId, parseStreamName, pipelineStreamId } from '@app/domain';
import {
  ConcurrencyError,
  type EventStore,
  ForeignCheckpointError,
  type NewEvent,
  type RecordedEvent,
  ReferenceChangedError,
} from '@app/event-store';

/** What a store asked of its backend since the last reset (a counting proxy of its client or database). */
export interface BackendProbe {
  reset(): void;
  /** Calls to the backend: statements on PostgreSQL, gRPC calls on EventStoreDB. */
  readonly roundTrips: number;
  /** Stored events sent back to the store (rows with an event id; events of stream and $all reads). */
  readonly eventsRead: number;
}

export interface ContractSubject {
  store: EventStore;
  /** Every stream of the run belongs to this org; unique per run where the backend is shared. */
  orgId: string;
  probe: BackendProbe;
  /** A checkpoint of the other kind of store, which this one must refuse. */
  foreignCheckpoint: string;
  close(): Promise<void>;
}

/** The behaviour every EventStore adapter must show; run once per adapter. */
export function eventStoreContract(name: string, open: () => Promise<ContractSubject>): void {
  describe(`EventStore contract: ${name}`, () => {
    let subject: ContractSubject;
    let store: EventStore;
    let stream: (label: string) => string;

    function event(type = 'OpportunityUpdated', data: unknown = { n: 1 }): NewEvent {
      return {
        eventId: randomUUID(),
        type,
        data,
        metadata: {
          org_id: subject.orgId,
          actor_id: 'tester',
          correlation_id: randomUUID(),
          causation_id: randomUUID(),
          occurred_at: new Date().toISOString(),
        },
      };
    }

    /** Pages through readAll from `checkpoint`; keeps this run's events only (a shared server has others). */
    async function readAllFrom(checkpoint: string | null, pageSize = 100, orgId?: string): Promise<RecordedEvent[]> {
      const out: RecordedEvent[] = [];
      for (;;) {
        const page = await store.readAll(checkpoint, pageSize, orgId === undefined ? {} : { orgId });
        out.push(...page.events.filter((e) => parseStreamName(e.streamId)?.orgId === subject.orgId));
        if (page.events.length === 0) return out;
        expect(page.events.length).toBeLessThanOrEqual(pageSize);
        checkpoint = page.checkpoint;
      }
    }

    beforeAll(async () => {
      subject = await open();
      store = subject.store;
      stream = (label) => opportunityStreamId(subject.orgId, `${label}-${randomUUID()}`);
    });
    afterAll(() => subject?.close());

    it('appends to a new stream and reads it back in order with versions 1..n', async () => {
      const id = stream('order');
      const events = [event('A', { i: 1 }), event('B', { i: 2 }), event('C', { i: 3 })];
      const result = await store.append(id, events, 'no_stream');
      expect(result).toMatchObject({ streamVersion: 3, duplicate: false });
      expect(BigInt(result.position)).toBeGreaterThan(0n);
      const read = await store.readStream(id);
      expect(read.map((e) => [e.streamVersion, e.type, e.data, e.eventId])).toEqual(
        events.map((e, i) => [i + 1, e.type, e.data, e.eventId]),
      );
      expect(read[0].metadata).toEqual(events[0].metadata);
      expect(read[2].position).toBe(result.position);
    });

    it('keeps metadata keys that look like its own (schema_version, $-keys) and the schema version apart', async () => {
      const id = stream('metadata');
      const e = event();
      e.schemaVersion = 3;
      e.metadata = { ...e.metadata, schema_version: 'app', $schema_version: 'app too', $$x: 1, $correlationId: 'c' };
      await store.append(id, [e], 'no_stream');
      const [read] = await store.readStream(id);
      expect(read.schemaVersion).toBe(3);
      expect(read.metadata).toEqual(e.metadata);
    });

    it('keeps numeric order past ten events, in a stream and globally', async () => {
      const id = stream('long');
      const start = await store.head();
      const ids: string[] = [];
      for (let i = 0; i < 25; i++) {
        const e = event('Step', { i });
        ids.push(e.eventId);
        await store.append(id, [e], i);
      }
      const read = await store.readStream(id);
      expect(read.map((e) => e.streamVersion)).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
      expect(read.map((e) => e.eventId)).toEqual(ids);
      expect((await readAllFrom(start, 7)).map((e) => e.eventId)).toEqual(ids);
    });

    it('reads a slice of a stream and an empty list for a stream that does not exist', async () => {
      const id = stream('slice');
      await store.append(id, [event(), event(), event(), event()], 'no_stream');
      const slice = await store.readStream(id, { afterVersion: 1, toVersion: 3 });
      expect(slice.map((e) => e.streamVersion)).toEqual([2, 3]);
      expect(await store.readStream(stream('missing'))).toEqual([]);
    });

    it('checks the expected version: exact, no_stream, stream_exists and any', async () => {
      const id = stream('expected');
      await expect(store.append(id, [event()], 'stream_exists')).rejects.toBeInstanceOf(ConcurrencyError);
      await store.append(id, [event()], 'no_stream');
      await expect(store.append(id, [event()], 'no_stream')).rejects.toBeInstanceOf(ConcurrencyError);
      await expect(store.append(id, [event()], 5)).rejects.toMatchObject({ actual: 1 });
      expect((await store.append(id, [event()], 1)).streamVersion).toBe(2);
      expect((await store.append(id, [event()], 'stream_exists')).streamVersion).toBe(3);
      expect((await store.append(id, [event()], 'any')).streamVersion).toBe(4);
    });

    it('lets exactly one of two appends at the same expected version win', async () => {
      for (let round = 0; round < 5; round++) {
        const id = stream('race');
        await store.append(id, [event()], 'no_stream');
        const results = await Promise.allSettled([store.append(id, [event('X')], 1), store.append(id, [event('Y')], 1)]);
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
        expect(rejected).toHaveLength(1);
        expect(rejected[0].reason).toBeInstanceOf(ConcurrencyError);
        expect((await store.readStream(id)).map((e) => e.streamVersion)).toEqual([1, 2]);
      }
    });

    it('re-appending the same event ids with the same expected version appends nothing and returns the first result', async () => {
      const id = stream('idempotent');
      const batch = [event(), event()];
      const first = await store.append(id, batch, 'no_stream');
      expect(await store.append(id, batch, 'no_stream')).toEqual({ ...first, duplicate: true });
      const next = [event()];
      const second = await store.append(id, next, 2);
      expect(await store.append(id, next, 2)).toEqual({ ...second, duplicate: true });
      expect(await store.append(id, batch, 'any')).toEqual({ ...first, duplicate: true });
      expect(await store.readStream(id)).toHaveLength(3);
    });

    it('an append at an exact version reads nothing first: one round trip; a re-send is recognised without reading the stream', async () => {
      const id = stream('count');
      await store.append(
        id,
        Array.from({ length: 20 }, () => event()),
        'no_stream',
      );
      const batch = [event(), event()];
      subject.probe.reset();
      const first = await store.append(id, batch, 20);
      expect({ roundTrips: subject.probe.roundTrips, eventsRead: subject.probe.eventsRead }).toEqual({ roundTrips: 1, eventsRead: 0 });
      const single = [event()];
      subject.probe.reset();
      await store.append(id, single, 22);
      expect({ roundTrips: subject.probe.roundTrips, eventsRead: subject.probe.eventsRead }).toEqual({ roundTrips: 1, eventsRead: 0 });

      subject.probe.reset();
      expect(await store.append(id, batch, 20)).toEqual({ ...first, duplicate: true });
      // At most the batch's own events come back (a full read would be 23).
      expect(subject.probe.eventsRead).toBeLessThanOrEqual(batch.length);
      expect(subject.probe.roundTrips).toBeLessThanOrEqual(3);
      expect(await store.readStream(id)).toHaveLength(23);
    });

    it('an append with references happens only while none of them has moved past the version read', async () => {
      const id = stream('with-refs');
      const pipeline = pipelineStreamId(subject.orgId, `p${randomUUID().slice(0, 8)}`);
      const absent = pipelineStreamId(subject.orgId, `q${randomUUID().slice(0, 8)}`);
      await store.append(pipeline, [event('PipelineCreated')], 'no_stream');
      // Unchanged references (one at version 1, one that does not exist: version 0): appended.
      const first = await store.append(id, [event(), event()], 'no_stream', {
        references: [
          { streamId: pipeline, version: 1 },
          { streamId: absent, version: 0 },
        ],
      });
      expect(first).toMatchObject({ streamVersion: 2, duplicate: false });
      // The pipeline moves on: an append that read version 1 is refused, and writes nothing.
      await store.append(pipeline, [event('PipelineUpdated')], 1);
      for (const batch of [[event()], [event(), event()]]) {
        const error = await store.append(id, batch, 2, { references: [{ streamId: pipeline, version: 1 }] }).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(ReferenceChangedError);
        expect(error).toMatchObject({ streamId: pipeline, readVersion: 1 });
      }
      expect(await store.readStream(id)).toHaveLength(2);
      // A stream that did not exist when read, and exists now, has changed too.
      await store.append(absent, [event('PipelineCreated')], 'no_stream');
      await expect(store.append(id, [event()], 2, { references: [{ streamId: absent, version: 0 }] })).rejects.toBeInstanceOf(
        ReferenceChangedError,
      );
      // Read again at the versions they are at now: appended.
      expect(
        await store.append(id, [event()], 2, {
          references: [
            { streamId: pipeline, version: 2 },
            { streamId: absent, version: 1 },
          ],
        }),
      ).toMatchObject({ streamVersion: 3 });
      expect((await store.readStream(id)).map((e) => e.streamVersion)).toEqual([1, 2, 3]);
    });

    it('references are checked along with the expected version: a stale version is still a ConcurrencyError', async () => {
      const id = stream('refs-conflict');
      const pipeline = pipelineStreamId(subject.orgId, `p${randomUUID().slice(0, 8)}`);
      await store.append(id, [event(), event()], 'no_stream');
      const error = await store.append(id, [event()], 1, { references: [{ streamId: pipeline, version: 0 }] }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConcurrencyError);
      expect(await store.readStream(id)).toHaveLength(2);
    });

    it('a batch that only partly matches stored events is a conflict, never a silent drop', async () => {
      const id = stream('partial');
      const a = event();
      const b = event();
      await store.append(id, [a, b], 'no_stream');
      // The stored batch with one event more, or with its second event replaced.
      await expect(store.append(id, [a, b, event()], 'no_stream')).rejects.toBeInstanceOf(ConcurrencyError);
      await expect(store.append(id, [a, event()], 'no_stream')).rejects.toBeInstanceOf(ConcurrencyError);
      await expect(store.append(id, [a, event()], 'any')).rejects.toBeInstanceOf(ConcurrencyError);
      expect((await store.readStream(id)).map((e) => e.eventId)).toEqual([a.eventId, b.eventId]);
    });

    it('positions of idempotent appends are the first append’s (never 0) and lead back to its last event', async () => {
      const id = stream('positions');
      const batch = [event(), event(), event()];
      const first = await store.append(id, batch, 'no_stream');
      const read = await store.readStream(id);
      expect(first.position).toBe(read[2].position);
      const again = await store.append(id, batch, 'no_stream');
      expect(again.position).toBe(first.position);
      expect(BigInt(again.position)).toBeGreaterThan(0n);
      expect(await store.checkpointAt(again.position)).toBe(read[2].checkpoint);
      const single = [event()];
      const one = await store.append(id, single, 3);
      const oneAgain = await store.append(id, single, 3);
      expect(oneAgain).toEqual({ ...one, duplicate: true });
      expect(await store.checkpointAt(oneAgain.position)).toBe((await store.readStream(id, { afterVersion: 3 }))[0].checkpoint);
    });

    it('reads every stream globally in commit order, resumable from any checkpoint', async () => {
      const start = await store.head();
      const a = stream('global-a');
      const b = stream('global-b');
      const written: string[] = [];
      for (let i = 0; i < 6; i++) {
        const e = event('Step', { i });
        written.push(e.eventId);
        await store.append(i % 2 ? b : a, [e], 'any');
      }
      const all = await readAllFrom(start, 2);
      expect(all.map((e) => e.eventId)).toEqual(written);
      const positions = all.map((e) => BigInt(e.position));
      expect([...positions].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0))).toEqual(positions);
      const resumed = await readAllFrom(all[2].checkpoint, 100);
      expect(resumed.map((e) => e.eventId)).toEqual(written.slice(3));
      const end = await store.readAll(all[5].checkpoint, 10);
      expect(end).toEqual({ events: [], checkpoint: all[5].checkpoint });
    });

    it('readAll returns every stream category the app writes (opportunities and pipelines)', async () => {
      const start = await store.head();
      const deal = event('OpportunityCreated');
      const pipeline = event('PipelineCreated');
      await store.append(stream('category'), [deal], 'no_stream');
      await store.append(pipelineStreamId(subject.orgId, `p-${randomUUID()}`), [pipeline], 'no_stream');
      const all = await readAllFrom(start);
      expect(all.map((e) => [parseStreamName(e.streamId)?.category, e.eventId])).toEqual([
        ['opportunity', deal.eventId],
        ['pipeline', pipeline.eventId],
      ]);
      // The audit feed (one org) too.
      const feed = await readAllFrom(start, 100, subject.orgId);
      expect(feed.map((e) => e.eventId)).toEqual([deal.eventId, pipeline.eventId]);
    });

    it('checkpointAt(position of an event), then reading after it skips exactly that event; a forged position is refused', async () => {
      const id = stream('checkpoint');
      const [e1, e2, e3] = [event(), event(), event()];
      const r1 = await store.append(id, [e1], 'no_stream');
      await store.append(id, [e2], 1);
      const r3 = await store.append(id, [e3], 2);
      const read = await store.readStream(id);
      const at1 = await store.checkpointAt(r1.position);
      expect(at1).toBe(read[0].checkpoint);
      expect((await readAllFrom(at1)).map((e) => e.eventId)).toEqual([e2.eventId, e3.eventId]);
      // Pages of one move on, with and without the org filter (the audit feed with limit=1).
      for (const filter of [{}, { orgId: subject.orgId }]) {
        const page1 = await store.readAll(at1, 1, filter);
        expect(page1.events.map((e) => e.eventId)).toEqual([e2.eventId]);
        const page2 = await store.readAll(page1.checkpoint, 1, filter);
        expect(page2.events.map((e) => e.eventId)).toEqual([e3.eventId]);
        expect(await store.readAll(page2.checkpoint, 1, filter)).toEqual({ events: [], checkpoint: page2.checkpoint });
      }
      const forged = [
        `${BigInt(r3.position) + 1n}`,
        '99999999999999999',
        '99999999999999999999',
        '-1',
        'abc',
        '',
        `${r1.position}:0`,
        read[0].checkpoint,
      ];
      for (const position of forged) expect([position, await store.checkpointAt(position)]).toEqual([position, null]);
    });

    it('checkpoints name their store, and a checkpoint of another store is refused loudly', async () => {
      const id = stream('foreign');
      await store.append(id, [event()], 'no_stream');
      const [read] = await store.readStream(id);
      expect(read.checkpoint).toMatch(/^(pg|esdb):\d+:\d+$/);
      expect(() => store.assertOwnCheckpoint(read.checkpoint)).not.toThrow();
      expect(() => store.assertOwnCheckpoint(null)).not.toThrow();
      const foreign = subject.foreignCheckpoint;
      expect(() => store.assertOwnCheckpoint(foreign)).toThrow(ForeignCheckpointError);
      await expect(store.readAll(foreign, 10)).rejects.toBeInstanceOf(ForeignCheckpointError);
      await expect(store.readAll(foreign, 10)).rejects.toThrow(/made by the .* event store, not by .*npm run replay/);
      await expect(store.behindBy(foreign)).rejects.toBeInstanceOf(ForeignCheckpointError);
      expect(() => store.compareCheckpoints(foreign, read.checkpoint)).toThrow(ForeignCheckpointError);
    });

    it('head(): readAll after it returns exactly what is appended later; behindBy counts events, not positions', async () => {
      const head = await store.head();
      expect(await readAllFrom(head)).toEqual([]);
      const id = stream('lag');
      const events = [event(), event(), event()];
      await store.append(id, [events[0]], 'no_stream');
      await store.append(id, [events[1], events[2]], 1);
      const read = await store.readStream(id);
      expect((await readAllFrom(head)).map((e) => e.eventId)).toEqual(events.map((e) => e.eventId));
      expect(await store.behindBy(head, { upTo: read[2].checkpoint })).toBe(3);
      expect(await store.behindBy(read[0].checkpoint, { upTo: read[2].checkpoint })).toBe(2);
      expect(await store.behindBy(read[2].checkpoint, { upTo: read[2].checkpoint })).toBe(0);
      expect(await store.behindBy(head, { upTo: read[2].checkpoint, max: 2 })).toBe(2);
      expect(await store.behindBy(head)).toBeGreaterThanOrEqual(3);
      expect(store.compareCheckpoints(head, read[0].checkpoint)).toBe(-1);
    });

    it('reports itself healthy', async () => {
      expect(await store.health()).toEqual({ up: true });
    });

    it('signals followers after an append', async () => {
      const woke = new Promise<void>((resolve) => {
        const off = store.onAppended(() => {
          off();
          resolve();
        });
      });
      await store.append(stream('wake'), [event()], 'no_stream');
      await expect(woke).resolves.toBeUndefined();
    });
  });
}
