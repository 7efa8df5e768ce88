import { randomUUID } from 'node:crypto';
import { DomainError, ErrorCode, opportunityStreamId, pipelineStreamId } from '@app/domain';
import { type NewEvent, PostgresEventStore, type RecordedEvent } from '@app/event-store';
import { type Actor, type Database, PlatformError, PlatformErrorCode } from '@app/platform';
import { testBackends } from '../../../../test/support/test-database';
import { type CommandMeta, handleCommand, type StreamCommand } from './handle-command';
import { type StreamReads, StreamStateCache } from './stream-state-cache';

/*
 * Commands decided on cached state: no read when the cache is right, and when it is behind the
 * stream (another process appended) the same outcome as a fresh read would give: the append at
 * the cached version is refused and the command is decided again. A reference stream read for
 * the decision (a pipeline) is a condition of the append.
 */

interface Added {
  type: 'Added';
  data: { by: number };
}
interface Counter {
  total: number;
  events: number;
}

const ZERO: Counter = { total: 0, events: 0 };
const evolve = (state: Counter, events: Added[]): Counter =>
  events.reduce((s, e) => ({ total: s.total + e.data.by, events: s.events + 1 }), state);
const fold = (recorded: RecordedEvent[]): Counter => evolve(ZERO, recorded as unknown as Added[]);
const added = (by: number): Added => ({ type: 'Added', data: { by } });
const ACTOR: Actor = { orgId: 'acme', userId: 'user-7', role: 'rep', tokenId: 'tok-1' };
const metaOf = (overrides: Partial<CommandMeta> = {}): CommandMeta => ({
  actor: ACTOR,
  correlationId: 'corr-1',
  commandId: randomUUID(),
  ...overrides,
});

function otherWriter(by: number): NewEvent {
  return {
    eventId: randomUUID(),
    type: 'Added',
    data: { by },
    metadata: { org_id: 'acme', actor_id: 'user-9', correlation_id: 'other', causation_id: 'other', occurred_at: new Date().toISOString() },
  };
}

for (const backend of testBackends()) {
  describe(`commands on cached state, ${backend.name}`, () => {
    let database: Database;
    let store: PostgresEventStore;
    let streamId: string;
    let cache: StreamStateCache;

    beforeAll(async () => {
      database = await backend.open();
      store = new PostgresEventStore(database);
    });
    afterAll(() => database?.close());
    beforeEach(() => {
      streamId = opportunityStreamId('acme', randomUUID());
      cache = new StreamStateCache();
    });
    afterEach(() => jest.restoreAllMocks());

    const command = (
      decide: StreamCommand<Counter, Added>['decide'] = async () => [added(1)],
      extra: Partial<StreamCommand<Counter, Added>> = {},
    ): StreamCommand<Counter, Added> => ({ streamId, noun: 'counter', fold, evolve, decide, ...extra });

    it('decides the next command on the state the last one left, without reading the stream', async () => {
      await handleCommand(store, 3, command(), metaOf(), cache);
      const read = jest.spyOn(store, 'readStream');
      const seen: Counter[] = [];
      const outcome = await handleCommand(
        store,
        3,
        command(async (state) => {
          seen.push(state);
          return [added(10)];
        }),
        metaOf(),
        cache,
      );
      expect(read).not.toHaveBeenCalled();
      expect(seen).toEqual([{ total: 1, events: 1 }]);
      expect(outcome).toMatchObject({ state: { total: 11, events: 2 }, version: 2 });
      expect(fold(await store.readStream(streamId))).toEqual({ total: 11, events: 2 });
    });

    it('a create starts from the empty stream without reading it; one that exists is refused as without the cache', async () => {
      const read = jest.spyOn(store, 'readStream');
      const creates = () =>
        command(
          async (state) => {
            if (state.events > 0) throw new DomainError(ErrorCode.AlreadyExists, 'Counter already exists');
            return [added(1)];
          },
          { creates: true },
        );
      expect(await handleCommand(store, 3, creates(), metaOf(), cache)).toMatchObject({ version: 1 });
      expect(read).not.toHaveBeenCalled();
      // Another process's cache knows nothing of it: its create appends nothing and is refused.
      const error = await handleCommand(store, 3, creates(), metaOf(), new StreamStateCache()).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DomainError);
      expect(error).toMatchObject({ code: ErrorCode.AlreadyExists });
      expect(await store.readStream(streamId)).toHaveLength(1);
    });

    it('a cache behind the stream (another process appended) costs a refused append and a fresh read, never a lost update', async () => {
      await handleCommand(store, 3, command(), metaOf(), cache); // cached at version 1
      await store.append(streamId, [otherWriter(100)], 1); // another process: version 2
      const seen: Counter[] = [];
      const outcome = await handleCommand(
        store,
        3,
        command(async (state) => {
          seen.push(state);
          return [added(5)];
        }),
        metaOf(),
        cache,
      );
      // Decided first on the cached state (refused at append), then on the stream as it is.
      expect(seen).toEqual([
        { total: 1, events: 1 },
        { total: 101, events: 2 },
      ]);
      expect(outcome).toMatchObject({ state: { total: 106, events: 3 }, version: 3 });
      expect((await store.readStream(streamId)).map((e) => e.streamVersion)).toEqual([1, 2, 3]);
      expect(cache.get(streamId)).toEqual({ state: { total: 106, events: 3 }, version: 3 });
    });

    it('If-Match is compared with the stream, not with a cache that is behind it', async () => {
      await handleCommand(store, 3, command(), metaOf(), cache); // cached at 1
      await store.append(streamId, [otherWriter(2)], 1); // stream at 2
      expect(await handleCommand(store, 3, command(), metaOf({ expectedVersion: 2 }), cache)).toMatchObject({ version: 3 });
      const error = await handleCommand(store, 3, command(), metaOf({ expectedVersion: 2 }), cache).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PlatformError);
      expect(error).toMatchObject({ code: PlatformErrorCode.PreconditionFailed, details: { expected_version: 2, current_version: 3 } });
    });

    it('a refusal decided on cached state is decided again on the stream before it is answered', async () => {
      await handleCommand(store, 3, command(), metaOf(), cache); // cached total 1
      await store.append(streamId, [otherWriter(50)], 1); // total 51 in the stream
      // Refuses below 10: the cached total would refuse, the stream's does not.
      const outcome = await handleCommand(
        store,
        3,
        command(async (state) => {
          if (state.total < 10) throw DomainError.validation({ total: ['too small'] });
          return [added(1)];
        }),
        metaOf(),
        cache,
      );
      expect(outcome).toMatchObject({ state: { total: 52 }, version: 3 });
    });

    it('a no-op decided on cached state is checked on the stream too (the outcome shows the stream as it is)', async () => {
      await handleCommand(store, 3, command(), metaOf(), cache);
      await store.append(streamId, [otherWriter(4)], 1);
      const outcome = await handleCommand(
        store,
        3,
        command(async () => []),
        metaOf(),
        cache,
      );
      expect(outcome).toMatchObject({ state: { total: 5, events: 2 }, version: 2, position: null });
    });

    it('a reference stream the decision read is a condition: changed since, the command is decided again on it', async () => {
      const pipeline = pipelineStreamId('acme', `p${randomUUID().slice(0, 8)}`);
      await store.append(pipeline, [otherWriter(1)], 'no_stream');
      const referenceVersions: number[] = [];
      const reading = command(async (_state, _now, reads: StreamReads) => {
        const version = (await store.readStream(pipeline)).length;
        // The first decision saw version 1; another process moves the pipeline before the append.
        if (referenceVersions.push(version) === 1) await store.append(pipeline, [otherWriter(1)], 1);
        reads.add(pipeline, version, false);
        return [added(1)];
      });
      const outcome = await handleCommand(store, 3, reading, metaOf(), cache);
      expect(referenceVersions).toEqual([1, 2]);
      expect(outcome).toMatchObject({ version: 1 });
      expect(await store.readStream(streamId)).toHaveLength(1);
    });

    it('a reference that keeps changing ends in a concurrency conflict after the retries, with nothing appended', async () => {
      const pipeline = pipelineStreamId('acme', `p${randomUUID().slice(0, 8)}`);
      const moving = command(async (_state, _now, reads: StreamReads) => {
        const version = (await store.readStream(pipeline)).length;
        await store.append(pipeline, [otherWriter(1)], version === 0 ? 'no_stream' : version);
        reads.add(pipeline, version, false);
        return [added(1)];
      });
      const error = await handleCommand(store, 2, moving, metaOf(), cache).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PlatformError);
      expect(error).toMatchObject({ code: PlatformErrorCode.ConcurrencyConflict });
      expect(await store.readStream(streamId)).toHaveLength(0);
    });

    it('a keyed request reads its stream (its first attempt may have appended) even with a cached state', async () => {
      await handleCommand(store, 3, command(), metaOf(), cache);
      const read = jest.spyOn(store, 'readStream');
      await handleCommand(store, 3, command(), metaOf({ idempotencyKey: `k-${randomUUID()}` }), cache);
      expect(read).toHaveBeenCalledWith(streamId);
    });

    it('keeps the newest state of a stream and drops the least recently used beyond its capacity', () => {
      const small = new StreamStateCache({ stateCacheEntries: 2 });
      small.set('a', { state: 1, version: 3 });
      small.set('a', { state: 0, version: 2 }); // an older read arriving late
      expect(small.get('a')).toEqual({ state: 1, version: 3 });
      small.set('b', { state: 1, version: 1 });
      small.get('a');
      small.set('c', { state: 1, version: 1 });
      expect(small.get('b')).toBeUndefined();
      expect(small.get('a')).toBeDefined();
      expect(small.size).toBe(2);
    });
  });
}
