import { randomUUID } from 'node:crypto';
import { DomainError, ErrorCode, opportunityStreamId } from '@app/domain';
import { type NewEvent, PostgresEventStore, type RecordedEvent } from '@app/event-store';
import { type Actor, type Database, nameBasedUuid, PlatformError, PlatformErrorCode } from '@app/platform';
import { testBackends } from '../../../../test/support/test-database';
import { type CommandMeta, handleCommand, type StreamCommand } from './handle-command';

/*
 * The one command loop against a real event store: load → guard → If-Match → decide → append at the
 * loaded version; lost races decided again on fresh state; keyed requests recovered.
 * The aggregate here is a counter: every event adds `by` to it.
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

function metaOf(overrides: Partial<CommandMeta> = {}): CommandMeta {
  return { actor: ACTOR, correlationId: 'corr-1', commandId: randomUUID(), ...overrides };
}

function otherWriter(by: number): NewEvent {
  return {
    eventId: randomUUID(),
    type: 'Added',
    data: { by },
    metadata: { org_id: 'acme', actor_id: 'user-9', correlation_id: 'other', causation_id: 'other', occurred_at: new Date().toISOString() },
  };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    (value) => {
      throw new Error(`expected a rejection, got ${JSON.stringify(value)}`);
    },
    (error: unknown) => error,
  );
}

for (const backend of testBackends()) {
  describe(`handleCommand on ${backend.name}`, () => {
    let database: Database;
    let store: PostgresEventStore;
    let streamId: string;

    beforeAll(async () => {
      database = await backend.open();
      store = new PostgresEventStore(database);
    });
    afterAll(() => database?.close());
    beforeEach(() => {
      streamId = opportunityStreamId('acme', randomUUID());
    });
    afterEach(() => jest.restoreAllMocks());

    /** A command whose decide is a jest mock (default: add 1). */
    function counterCommand(
      decide: (state: Counter, now: string) => Promise<Added[]> = async () => [added(1)],
      extra: Partial<StreamCommand<Counter, Added>> = {},
    ) {
      const mock = jest.fn(decide);
      const command: StreamCommand<Counter, Added> = { streamId, noun: 'counter', fold, evolve, decide: mock, ...extra };
      return { command, decide: mock };
    }

    async function seed(...bys: number[]): Promise<void> {
      for (const by of bys) await store.append(streamId, [otherWriter(by)], 'any');
    }

    it('appends to a new stream as no_stream and reports version, position and the evolved state', async () => {
      const append = jest.spyOn(store, 'append');
      const { command, decide } = counterCommand(async () => [added(5), added(2)]);
      const meta = metaOf();
      const outcome = await handleCommand(store, 3, command, meta);

      expect(append).toHaveBeenCalledTimes(1);
      expect(append.mock.calls[0][2]).toBe('no_stream');
      expect(decide).toHaveBeenCalledWith(ZERO, expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/), expect.anything());
      const stored = await store.readStream(streamId);
      expect(outcome).toEqual({ state: { total: 7, events: 2 }, events: [added(5), added(2)], version: 2, position: stored[1].position });
      const now = decide.mock.calls[0][1];
      expect(stored.map((e) => ({ type: e.type, data: e.data, metadata: e.metadata }))).toEqual(
        [added(5), added(2)].map((e) => ({
          ...e,
          metadata: {
            org_id: 'acme',
            actor_id: 'user-7',
            actor_role: 'rep',
            correlation_id: 'corr-1',
            causation_id: meta.commandId,
            occurred_at: now,
          },
        })),
      );
    });

    it('appends at the loaded version and decides on the folded stream', async () => {
      await seed(10, 20);
      const append = jest.spyOn(store, 'append');
      const { command, decide } = counterCommand();
      const outcome = await handleCommand(store, 3, command, metaOf());
      expect(decide.mock.calls[0][0]).toEqual({ total: 30, events: 2 });
      expect(append.mock.calls[0][2]).toBe(2);
      expect(outcome).toMatchObject({ state: { total: 31, events: 3 }, version: 3 });
      expect(outcome.position).toBe((await store.readStream(streamId))[2].position);
    });

    it('a decide returning [] appends nothing: the current version, no position', async () => {
      await seed(4);
      const append = jest.spyOn(store, 'append');
      const { command } = counterCommand(async () => []);
      const outcome = await handleCommand(store, 3, command, metaOf());
      expect(append).not.toHaveBeenCalled();
      expect(outcome).toEqual({ state: { total: 4, events: 1 }, events: [], version: 1, position: null });
      expect(await store.readStream(streamId)).toHaveLength(1);
    });

    it('a refusal from decide propagates and appends nothing', async () => {
      const { command } = counterCommand(async () => {
        throw DomainError.validation({ by: ['too big'] });
      });
      const error = await rejection(handleCommand(store, 3, command, metaOf()));
      expect(error).toBeInstanceOf(DomainError);
      expect((error as DomainError).code).toBe(ErrorCode.ValidationFailed);
      expect(await store.readStream(streamId)).toEqual([]);
    });

    describe('If-Match', () => {
      it('the version given is the version loaded: appended', async () => {
        await seed(1, 1);
        const { command } = counterCommand();
        expect(await handleCommand(store, 3, command, metaOf({ expectedVersion: 2 }))).toMatchObject({ version: 3 });
      });

      it('another version: precondition_failed with the expected and current versions, decide never runs', async () => {
        await seed(1, 1);
        const { command, decide } = counterCommand();
        const error = await rejection(handleCommand(store, 3, command, metaOf({ expectedVersion: 1 })));
        expect(error).toBeInstanceOf(PlatformError);
        expect(error).toMatchObject({
          code: PlatformErrorCode.PreconditionFailed,
          message: 'The counter has changed since the version given in If-Match',
          details: { expected_version: 1, current_version: 2 },
        });
        expect(decide).not.toHaveBeenCalled();
        expect(await store.readStream(streamId)).toHaveLength(2);
      });

      it('a version ahead of the stream is refused the same way', async () => {
        const { command } = counterCommand();
        const error = await rejection(handleCommand(store, 3, command, metaOf({ expectedVersion: 5 })));
        expect(error).toMatchObject({ code: 'precondition_failed', details: { expected_version: 5, current_version: 0 } });
      });

      it('a race lost after the check is a precondition failure too (never decided again), with the version that won', async () => {
        await seed(1);
        const { command, decide } = counterCommand(async () => {
          await seed(100, 100);
          return [added(1)];
        });
        const error = await rejection(handleCommand(store, 3, command, metaOf({ expectedVersion: 1 })));
        expect(error).toMatchObject({ code: 'precondition_failed', details: { expected_version: 1, current_version: 3 } });
        expect(decide).toHaveBeenCalledTimes(1);
      });
    });

    describe('guard', () => {
      it('runs on the folded state before If-Match is compared: its refusal wins over a 412', async () => {
        await seed(1);
        const guard = jest.fn((state: Counter) => {
          if (state.total < 10) throw DomainError.notFound('Counter');
        });
        const { command, decide } = counterCommand(undefined, { guard });
        const error = await rejection(handleCommand(store, 3, command, metaOf({ expectedVersion: 7 })));
        expect(error).toBeInstanceOf(DomainError);
        expect((error as DomainError).code).toBe(ErrorCode.NotFound);
        expect(guard).toHaveBeenCalledWith({ total: 1, events: 1 });
        expect(decide).not.toHaveBeenCalled();
      });

      it('when it lets the command through, If-Match is compared next', async () => {
        await seed(1);
        const { command } = counterCommand(undefined, { guard: () => undefined });
        expect(await rejection(handleCommand(store, 3, command, metaOf({ expectedVersion: 7 })))).toMatchObject({
          code: 'precondition_failed',
        });
      });
    });

    describe('lost races', () => {
      it('a lost race is decided again on fresh state and appended at the new version', async () => {
        await seed(1);
        let first = true;
        const { command, decide } = counterCommand(async (state) => {
          if (first) {
            first = false;
            await seed(100); // another writer gets there first
          }
          return [added(state.total)]; // depends on the state: doubles the counter
        });
        const append = jest.spyOn(store, 'append');
        const outcome = await handleCommand(store, 3, command, metaOf());

        expect(decide.mock.calls.map(([state]) => state)).toEqual([
          { total: 1, events: 1 },
          { total: 101, events: 2 },
        ]);
        // Ours at the loaded versions (the other writer appends with 'any').
        expect(append.mock.calls.map(([, , expected]) => expected).filter((v) => v !== 'any')).toEqual([1, 2]);
        expect(outcome).toMatchObject({ state: { total: 202, events: 3 }, events: [added(101)], version: 3 });
        expect((await store.readStream(streamId)).map((e) => (e.data as { by: number }).by)).toEqual([1, 100, 101]);
      });

      it('a lost race on a new stream (no_stream) is retried too when the command is not a create', async () => {
        let first = true;
        const { command, decide } = counterCommand(async () => {
          if (first) {
            first = false;
            await seed(100);
          }
          return [added(1)];
        });
        expect(await handleCommand(store, 3, command, metaOf())).toMatchObject({ state: { total: 101, events: 2 }, version: 2 });
        expect(decide).toHaveBeenCalledTimes(2);
      });

      it.each([0, 1, 3])('after %i retries all lost: concurrency_conflict, nothing of ours appended', async (retries) => {
        const { command, decide } = counterCommand(async () => {
          await seed(100); // always beaten
          return [added(1)];
        });
        const error = await rejection(handleCommand(store, retries, command, metaOf()));
        expect(error).toBeInstanceOf(PlatformError);
        expect(error).toMatchObject({
          code: PlatformErrorCode.ConcurrencyConflict,
          message: 'The counter is being changed concurrently; retry the request',
        });
        expect(decide).toHaveBeenCalledTimes(retries + 1);
        const stored = await store.readStream(streamId);
        expect(stored.map((e) => (e.data as { by: number }).by)).toEqual(Array(retries + 1).fill(100));
      });

      it('a create that loses the race for the new stream: already_exists (not retried)', async () => {
        const { command, decide } = counterCommand(
          async () => {
            await seed(100);
            return [added(1)];
          },
          { creates: true },
        );
        const error = await rejection(handleCommand(store, 3, command, metaOf()));
        expect(error).toBeInstanceOf(DomainError);
        expect(error).toMatchObject({ code: ErrorCode.AlreadyExists, message: 'Counter already exists' });
        expect(decide).toHaveBeenCalledTimes(1);
        expect(await store.readStream(streamId)).toHaveLength(1);
      });

      it('any other append failure propagates at once', async () => {
        jest.spyOn(store, 'append').mockRejectedValueOnce(new Error('disk full'));
        const { command, decide } = counterCommand();
        await expect(handleCommand(store, 3, command, metaOf())).rejects.toThrow('disk full');
        expect(decide).toHaveBeenCalledTimes(1);
      });
    });

    describe('idempotency key', () => {
      it('event ids derive from org, key and index', async () => {
        const { command } = counterCommand(async () => [added(1), added(2)]);
        await handleCommand(store, 3, command, metaOf({ idempotencyKey: 'key-ids' }));
        expect((await store.readStream(streamId)).map((e) => e.eventId)).toEqual([
          nameBasedUuid('acme:key-ids:0'),
          nameBasedUuid('acme:key-ids:1'),
        ]);
      });

      it('the same command twice appends once; the second returns the first outcome without deciding', async () => {
        const key = `key-${randomUUID()}`;
        const { command, decide } = counterCommand(async () => [added(3), added(4)]);
        const first = await handleCommand(store, 3, command, metaOf({ idempotencyKey: key }));
        const second = await handleCommand(store, 3, command, metaOf({ idempotencyKey: key }));

        expect(decide).toHaveBeenCalledTimes(1);
        expect(await store.readStream(streamId)).toHaveLength(2);
        expect(first).toEqual({ state: { total: 7, events: 2 }, events: [added(3), added(4)], version: 2, position: expect.any(String) });
        expect(second).toEqual(first);
      });

      it('the outcome is the first one even after later writes (not a decision on today’s state)', async () => {
        const key = `key-${randomUUID()}`;
        await seed(1);
        const { command, decide } = counterCommand();
        const first = await handleCommand(store, 3, command, metaOf({ idempotencyKey: key }));
        await seed(50, 50);
        const again = await handleCommand(store, 3, command, metaOf({ idempotencyKey: key }));
        expect(decide).toHaveBeenCalledTimes(1);
        expect(again).toEqual({ state: { total: 2, events: 2 }, events: [added(1)], version: 2, position: first.position });
      });

      it('already applied comes before the guard and If-Match (a retried request whose first attempt moved the version)', async () => {
        const key = `key-${randomUUID()}`;
        const { command } = counterCommand(undefined, {
          guard: (state) => {
            if (state.events > 0) throw new DomainError(ErrorCode.InvalidStageTransition, 'only once');
          },
        });
        const first = await handleCommand(store, 3, command, metaOf({ idempotencyKey: key, expectedVersion: 0 }));
        const again = await handleCommand(store, 3, command, metaOf({ idempotencyKey: key, expectedVersion: 0 }));
        expect(again).toEqual(first);
      });

      it('another key is another request', async () => {
        const { command, decide } = counterCommand();
        await handleCommand(store, 3, command, metaOf({ idempotencyKey: `a-${randomUUID()}` }));
        const second = await handleCommand(store, 3, command, metaOf({ idempotencyKey: `b-${randomUUID()}` }));
        expect(decide).toHaveBeenCalledTimes(2);
        expect(second).toMatchObject({ version: 2, state: { total: 2 } });
      });

      it('without a key, the same command twice is two requests', async () => {
        const { command } = counterCommand();
        const meta = metaOf();
        await handleCommand(store, 3, command, meta);
        expect(await handleCommand(store, 3, command, meta)).toMatchObject({ version: 2 });
        expect(await store.readStream(streamId)).toHaveLength(2);
      });

      it('a twin that appends the same keyed events while this one decides: reported as the twin’s append', async () => {
        const key = `key-${randomUUID()}`;
        let twin: Awaited<ReturnType<typeof handleCommand<Counter, Added>>> | undefined;
        let nested = false;
        const { command, decide } = counterCommand(async () => {
          if (!nested) {
            nested = true;
            twin = await handleCommand(store, 3, command, metaOf({ idempotencyKey: key }));
          }
          return [added(1)];
        });
        const outcome = await handleCommand(store, 3, command, metaOf({ idempotencyKey: key }));
        expect(decide).toHaveBeenCalledTimes(2);
        expect(await store.readStream(streamId)).toHaveLength(1);
        expect(outcome).toMatchObject({ state: { total: 1, events: 1 }, version: 1, position: twin!.position });
      });

      it('a twin’s append followed by other writes: the outcome is the twin’s, as of its version', async () => {
        await seed(10);
        const key = `key-${randomUUID()}`;
        let twin: Awaited<ReturnType<typeof handleCommand<Counter, Added>>> | undefined;
        let nested = false;
        const { command } = counterCommand(async () => {
          if (!nested) {
            nested = true;
            twin = await handleCommand(store, 3, command, metaOf({ idempotencyKey: key }));
            await seed(100); // another writer after the twin, before this one appends
          }
          return [added(1)];
        });
        const outcome = await handleCommand(store, 3, command, metaOf({ idempotencyKey: key }));
        expect(await store.readStream(streamId)).toHaveLength(3);
        expect(twin).toMatchObject({ state: { total: 11, events: 2 }, version: 2 });
        expect(outcome).toMatchObject({ state: { total: 11, events: 2 }, events: [added(1)], version: 2, position: twin!.position });
      });
    });
  });
}
