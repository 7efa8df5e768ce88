import { PassThrough } from 'node:stream';
// The client's own Subscription class (what subscribeToAll returns), fed responses by hand.
import { Subscription } from '@eventstore/db-client/dist/streams/utils/Subscription';
import type { EventStoreDBClient } from '@eventstore/db-client';
import { EventStoreUnavailableError } from '../event-store.port';
import { EventStoreDBEventStore } from './eventstoredb-event-store';
import { encodeMetadata } from './mapping';

/**
 * How readAll and behindBy consume a catch-up subscription: the client's real Subscription
 * (a Transform over the gRPC stream) with the gRPC stream replaced by hand-written responses in
 * the server's order (confirmation, events, caught-up). This checks our reading of the client's
 * stream (buffered events before 'caughtUp', the limit, the exclusive start), not the server,
 * whose answers only the contract suite with EVENTSTORE_URL can check.
 */
type Response = { confirmation?: true; caughtUp?: true; checkpoint?: bigint; event?: ReturnType<typeof recorded> };

function recorded(position: bigint, streamId = 'opportunity-acme-1', type = 'T') {
  return {
    event: {
      streamId,
      id: `00000000-0000-4000-8000-${position.toString().padStart(12, '0')}`,
      revision: position,
      type,
      data: { position: Number(position) },
      metadata: encodeMetadata({ org_id: 'acme' }, 1),
      isJson: true,
      created: new Date(0),
      position: { commit: position, prepare: position },
    },
  };
}

function grpcResponse(r: Response) {
  return {
    hasConfirmation: () => r.confirmation === true,
    getConfirmation: () => ({ getSubscriptionId: () => 'sub' }),
    hasCaughtUp: () => r.caughtUp === true,
    hasFellBehind: () => false,
    hasCheckpoint: () => r.checkpoint !== undefined,
    getCheckpoint: () => ({ getCommitPosition: () => String(r.checkpoint), getPreparePosition: () => String(r.checkpoint) }),
    hasEvent: () => r.event !== undefined,
    getEvent: () => r.event,
  };
}

/** A client whose subscribeToAll answers every call with the next script. */
function scriptedClient(scripts: Response[][]) {
  const calls: { fromPosition: unknown; prefixes: string[] }[] = [];
  const client = {
    subscribeToAll(options: { fromPosition: unknown; filter: { prefixes: string[]; checkpointReached?: never } }) {
      calls.push({ fromPosition: options.fromPosition, prefixes: options.filter.prefixes });
      const grpc = Object.assign(new PassThrough({ objectMode: true }), { cancel: () => undefined });
      for (const response of scripts.shift() ?? []) grpc.write(grpcResponse(response));
      return new Subscription(
        async () => grpc as never,
        (e: unknown) => e as never,
        {},
        options.filter.checkpointReached,
      );
    },
    dispose: async () => undefined,
  };
  return { client: client as unknown as EventStoreDBClient, calls };
}

const events = (from: number, to: number): Response[] =>
  Array.from({ length: to - from + 1 }, (_, i) => ({ event: recorded(BigInt(from + i)) }));

describe('EventStoreDB catch-up reads over the client Subscription stream', () => {
  it('delivers every event buffered before caught-up (more than the stream buffer holds), in order', async () => {
    const { client } = scriptedClient([[{ confirmation: true }, ...events(1, 40), { caughtUp: true }, ...events(41, 45)]]);
    const store = new EventStoreDBEventStore(client);
    const page = await store.readAll(null, 1000);
    expect(page.events.map((e) => e.position)).toEqual(Array.from({ length: 40 }, (_, i) => String(i + 1)));
    expect(page.checkpoint).toBe('esdb:40:40');
  });

  it('stops at the limit, starts after the checkpoint, and skips other streams and system events', async () => {
    const { client, calls } = scriptedClient([
      [
        { confirmation: true },
        { event: recorded(7n) }, // at the checkpoint itself: never returned
        { event: recorded(8n, 'foreign-1') },
        { event: recorded(9n, 'opportunity-acme-2', '$metadata') },
        ...events(10, 30),
        { caughtUp: true },
      ],
    ]);
    const store = new EventStoreDBEventStore(client);
    const page = await store.readAll('esdb:7:7', 3);
    expect(page.events.map((e) => e.position)).toEqual(['10', '11', '12']);
    expect(calls[0]).toEqual({ fromPosition: { commit: 7n, prepare: 7n }, prefixes: ['opportunity-', 'pipeline-', 'custom_fields-'] });
  });

  it("filters the audit feed on the server by the org's stream prefixes", async () => {
    const { client, calls } = scriptedClient([[{ confirmation: true }, ...events(1, 2), { caughtUp: true }]]);
    const store = new EventStoreDBEventStore(client);
    expect((await store.readAll(null, 10, { orgId: 'acme' })).events).toHaveLength(2);
    expect(calls[0].prefixes).toEqual(['opportunity-acme-', 'pipeline-acme-', 'custom_fields-acme-']);
  });

  it('an empty log after the checkpoint: no events, the checkpoint unchanged', async () => {
    const { client } = scriptedClient([[{ confirmation: true }, { caughtUp: true }]]);
    const store = new EventStoreDBEventStore(client);
    expect(await store.readAll('esdb:5:5', 10)).toEqual({ events: [], checkpoint: 'esdb:5:5' });
  });

  it('counts the lag in events, up to a checkpoint and at most max', async () => {
    const { client } = scriptedClient([
      [{ confirmation: true }, { checkpoint: 3n }, ...events(10, 20), { caughtUp: true }],
      [{ confirmation: true }, ...events(10, 20), { caughtUp: true }],
    ]);
    const store = new EventStoreDBEventStore(client);
    expect(await store.behindBy('esdb:5:5', { upTo: 'esdb:14:14' })).toBe(5);
    expect(await store.behindBy('esdb:5:5', { max: 4 })).toBe(4);
  });

  it('a server that never says it caught up: what arrived is returned after the silence, nothing is an error', async () => {
    const { client } = scriptedClient([[{ confirmation: true }, ...events(1, 2)], [{ confirmation: true }]]);
    const store = new EventStoreDBEventStore(client, { readIdleTimeoutMs: 100 });
    expect((await store.readAll(null, 10)).events).toHaveLength(2);
    await expect(store.readAll('esdb:2:2', 10)).rejects.toBeInstanceOf(EventStoreUnavailableError);
  });
});
