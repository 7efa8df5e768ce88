import { createServer, type Server } from 'node:net';
import { randomUUID } from 'node:crypto';
import { EventStoreDBEventStore, EventStoreUnavailableError } from '@app/event-store';

/**
 * The EventStoreDB adapter with no server to talk to: the real gRPC client against a local port
 * nobody listens on (connection refused), the way a process meets an EventStoreDB that is not up
 * yet. Nothing here needs or fakes a server; what a server answers is the contract suite's job
 * (event-store.int.spec.ts, with EVENTSTORE_URL).
 */
describe('EventStoreDB adapter without a server', () => {
  let port: number;
  let store: EventStoreDBEventStore;

  beforeAll(async () => {
    // A port that was free a moment ago and is closed now.
    const server: Server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    store = EventStoreDBEventStore.fromConnectionString(`esdb://127.0.0.1:${port}?tls=false`, {
      appendRetries: 1,
      retryDelayMs: 20,
      readIdleTimeoutMs: 2_000,
    });
  });
  afterAll(() => store?.close());

  it('starts at once, reports itself not ready, and keeps retrying', async () => {
    await expect(store.start()).resolves.toBeUndefined();
    expect(await store.whenConnected(1_500)).toBe(false);
    const health = await store.health();
    expect(health.up).toBe(false);
    expect(health.reason).toMatch(/unreachable|connecting/i);
  });

  it('answers reads and appends with EventStoreUnavailableError (503), not an unmapped error', async () => {
    const event = {
      eventId: randomUUID(),
      type: 'T',
      data: {},
      metadata: { org_id: 'x', actor_id: 'a', correlation_id: 'c', causation_id: 'c', occurred_at: '' },
    };
    const append = store.append('opportunity-x-1', [event], 'no_stream');
    await expect(append).rejects.toBeInstanceOf(EventStoreUnavailableError);
    await expect(append).rejects.toMatchObject({ httpStatus: 503, message: expect.stringMatching(/2 attempts/) });
    await expect(store.readStream('opportunity-x-1')).rejects.toBeInstanceOf(EventStoreUnavailableError);
    await expect(store.readAll(null, 10)).rejects.toBeInstanceOf(EventStoreUnavailableError);
    await expect(store.head()).rejects.toBeInstanceOf(EventStoreUnavailableError);
    await expect(store.checkpointAt('42')).rejects.toBeInstanceOf(EventStoreUnavailableError);
  });

  it('refuses a forged position or a foreign checkpoint before asking the server', async () => {
    await expect(store.checkpointAt('not-a-position')).resolves.toBeNull();
    await expect(store.checkpointAt('99999999999999999999')).resolves.toBeNull();
    await expect(store.readAll('pg:1:2', 10)).rejects.toThrow(/made by the PostgreSQL event store, not by EventStoreDB/);
  });
});
