import { randomUUID } from 'node:crypto';
import { DomainError, ErrorCode, opportunityStreamId } from '@app/domain';
import { type NewEvent, PostgresEventStore } from '@app/event-store';
import type { Database } from '@app/platform';
import { testBackends } from '../../../test/support/test-database';
import { ConsistencyService } from './consistency';
import type { Projection } from './projector/projection';
import { ProjectionRunner } from './projector/projection-runner';
import type { ReadModelTables } from './tables';

/*
 * Read-your-writes: waitFor holds a query until every named read model has applied the position a
 * command returned (or the org's last write remembered in this process), for at most the timeout.
 */

const OPTIONS = { batchSize: 1, pollMs: 20, maxAttempts: 1, haltOnPoison: false };
const LONG = 10_000;

/** A read model that keeps nothing: only its checkpoint moves. */
const probe = (name: string): Projection => ({ name, applyBatch: async () => undefined });

function newEvent(orgId: string): NewEvent {
  return {
    eventId: randomUUID(),
    type: 'NoteAdded',
    data: {},
    metadata: { org_id: orgId, actor_id: 'u', correlation_id: 'c', causation_id: 'c', occurred_at: new Date().toISOString() },
  };
}

async function validationOf(promise: Promise<unknown>): Promise<string[]> {
  const error: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DomainError);
  expect((error as DomainError).code).toBe(ErrorCode.ValidationFailed);
  return (error as DomainError & { details: { errors: Record<string, string[]> } }).details.errors.consistency;
}

for (const backend of testBackends()) {
  describe(`ConsistencyService on ${backend.name}`, () => {
    let database: Database;
    let store: PostgresEventStore;
    let runner: ProjectionRunner;
    const a = probe('probe_a');
    const b = probe('probe_b');
    const BOTH = [a.name, b.name];

    /** Appends one event to a new stream; its global position. */
    async function write(orgId = 'acme'): Promise<string> {
      return (await store.append(opportunityStreamId(orgId, randomUUID()), [newEvent(orgId)], 'no_stream')).position;
    }

    const service = (timeoutMs = LONG, withRunner = true) =>
      new ConsistencyService(database.tables<ReadModelTables>(), store, withRunner ? runner : null, timeoutMs);

    beforeEach(async () => {
      database = await backend.open();
      store = new PostgresEventStore(database);
      runner = new ProjectionRunner(database.tables<ReadModelTables>(), store, [a, b], OPTIONS);
      await runner.ensureCheckpoints();
    });
    afterEach(() => database.close());

    it('with nothing to wait for, answers at once with the lowest applied position', async () => {
      const report = await service().waitFor(undefined, undefined, BOTH);
      expect(report).toEqual({
        requested_position: null,
        reached: true,
        projection_position: '0',
        behind_by: 0,
        waited_ms: expect.any(Number),
      });
      expect(report.waited_ms).toBeLessThan(1000);
    });

    it('a position already applied is reached at once', async () => {
      const position = await write();
      await runner.catchUp(a);
      await runner.catchUp(b);
      const report = await service().waitFor(position, undefined, BOTH);
      expect(report).toMatchObject({ requested_position: position, reached: true, projection_position: position, behind_by: 0 });
      expect(report.waited_ms).toBeLessThan(1000);
    });

    it('waits until the in-process runner applies the position', async () => {
      const position = await write();
      const waiting = service().waitFor(position, undefined, [a.name]);
      await new Promise((resolve) => setTimeout(resolve, 100));
      await runner.catchUp(a);
      const report = await waiting;
      expect(report).toMatchObject({ requested_position: position, reached: true, projection_position: position, behind_by: 0 });
      expect(report.waited_ms).toBeGreaterThanOrEqual(90);
      expect(report.waited_ms).toBeLessThan(LONG);
    });

    it('without an in-process runner it polls the checkpoints another process moves', async () => {
      const position = await write();
      const waiting = service(LONG, false).waitFor(position, undefined, [a.name]);
      await new Promise((resolve) => setTimeout(resolve, 100));
      const elsewhere = new ProjectionRunner(database.tables<ReadModelTables>(), store, [a], OPTIONS);
      await elsewhere.catchUp(a);
      const report = await waiting;
      expect(report).toMatchObject({ reached: true, projection_position: position, behind_by: 0 });
      expect(report.waited_ms).toBeLessThan(LONG);
    });

    it('gives up after the timeout: not reached, how many events behind, how long it waited', async () => {
      const position = await write();
      const report = await service(150).waitFor(position, undefined, BOTH);
      expect(report).toMatchObject({ requested_position: position, reached: false, projection_position: '0', behind_by: 1 });
      expect(report.waited_ms).toBeGreaterThanOrEqual(150);
      expect(report.waited_ms).toBeLessThan(LONG);
    });

    it('waits for the slowest read model: reached only when every one has applied the position', async () => {
      const first = await write();
      const second = await write();
      await runner.catchUp(a);
      await runner.runBatch(b); // one event (batch size 1)
      const report = await service(100).waitFor(second, undefined, BOTH);
      expect(report).toMatchObject({ reached: false, projection_position: first, behind_by: 1 });
      expect(await service(100).waitFor(second, undefined, [a.name])).toMatchObject({ reached: true, projection_position: second });
      expect(await service(100).waitFor(first, undefined, BOTH)).toMatchObject({ reached: true, projection_position: first });
    });

    it("remembers the org's last write: a later read in the org waits for it", async () => {
      const position = await write();
      const consistency = service(150);
      consistency.remember('acme', position);
      expect(await consistency.waitFor(undefined, 'acme', [a.name])).toMatchObject({ requested_position: position, reached: false });
      await runner.catchUp(a);
      expect(await consistency.waitFor(undefined, 'acme', [a.name])).toMatchObject({ requested_position: position, reached: true });
    });

    it("another org does not wait for this org's write", async () => {
      const consistency = service(150);
      consistency.remember('acme', await write());
      expect(await consistency.waitFor(undefined, 'globex', [a.name])).toMatchObject({ requested_position: null, reached: true });
      expect(await consistency.waitFor(undefined, undefined, [a.name])).toMatchObject({ requested_position: null, reached: true });
    });

    it('the last write remembered replaces the one before', async () => {
      const first = await write();
      const second = await write();
      const consistency = service(100);
      consistency.remember('acme', first);
      consistency.remember('acme', second);
      expect((await consistency.waitFor(undefined, 'acme', [a.name])).requested_position).toBe(second);
    });

    it('behind_by counts the events still to apply up to the position asked for, not the ones after it', async () => {
      await write();
      await write();
      const third = await write();
      await write(); // after the position asked for: not counted
      await runner.runBatch(a); // the first event applied (batch size 1)
      const report = await service(100).waitFor(third, undefined, [a.name]);
      expect(report).toMatchObject({ requested_position: third, reached: false, behind_by: 2 });
    });

    it('a position remembered after a later one does not move the remembered write back', async () => {
      const first = await write();
      const second = await write();
      await runner.runBatch(a); // the first event applied, not the second
      const consistency = service(100);
      consistency.remember('acme', second);
      consistency.remember('acme', first); // the older command's answer arrives last
      const report = await consistency.waitFor(undefined, 'acme', [a.name]);
      expect(report).toMatchObject({ requested_position: second, reached: false, behind_by: 1 });
    });

    it('an explicit position wins over the remembered one', async () => {
      const first = await write();
      const second = await write();
      await runner.runBatch(a);
      const consistency = service(100);
      consistency.remember('acme', second);
      expect(await consistency.waitFor(first, 'acme', [a.name])).toMatchObject({ requested_position: first, reached: true });
    });

    it('a remembered position no event has (another store, a rebuilt database) is not waited for', async () => {
      const consistency = service();
      consistency.remember('acme', '987654321');
      const report = await consistency.waitFor(undefined, 'acme', [a.name]);
      expect(report).toMatchObject({ requested_position: '987654321', reached: true, behind_by: 0 });
      expect(report.waited_ms).toBeLessThan(1000);
    });

    it('an explicit position no event has is refused (400)', async () => {
      await write();
      expect(await validationOf(service().waitFor('987654321', undefined, [a.name]))).toEqual(['no event has this position']);
      expect(await validationOf(service().waitFor('99999999999999999999', undefined, [a.name]))).toEqual(['no event has this position']);
    });

    it.each(['', 'abc', '-1', '1.5', ' 12', '0x10', '123456789012345678901'])(
      'refuses the malformed position %j (400)',
      async (explicit) => {
        expect(await validationOf(service().waitFor(explicit, undefined, [a.name]))).toEqual([
          'consistency must be a position returned in X-Global-Position',
        ]);
      },
    );

    it('keeps the last writes of at most 10,000 orgs, forgetting the least recently written', async () => {
      const consistency = service();
      consistency.remember('org_first', '900000001');
      consistency.remember('org_kept', '900000002');
      for (let i = 0; i < 9_998; i++) consistency.remember(`org_${i}`, '900000003');
      consistency.remember('org_kept', '900000004'); // written again: now the most recent
      consistency.remember('org_one_more', '900000005'); // 10,001st org: the oldest goes
      expect((await consistency.waitFor(undefined, 'org_first', [a.name])).requested_position).toBeNull();
      expect((await consistency.waitFor(undefined, 'org_kept', [a.name])).requested_position).toBe('900000004');
      expect((await consistency.waitFor(undefined, 'org_0', [a.name])).requested_position).toBe('900000003');
      expect((await consistency.waitFor(undefined, 'org_one_more', [a.name])).requested_position).toBe('900000005');
    });
  });
}
