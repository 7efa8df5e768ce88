import { randomUUID } from 'node:crypto';
import { type Kysely } from 'kysely';
import { PostgresEventStore, type RecordedEvent } from '@app/event-store';
import { type Database } from '@app/platform';
import {
  OpportunityProjection,
  PROJECTION_KINDS,
  type Projection,
  ProjectionRunner,
  type ReadModelTables,
  replayProjection,
} from '@app/read-models';
import { testBackends } from '../support/test-database';
import { allEvents, DealWriter } from './fixtures';

const OPTIONS = { batchSize: 7, pollMs: 20, maxAttempts: 2, haltOnPoison: false };

async function snapshot(db: Kysely<ReadModelTables>) {
  const list = await db
    .selectFrom('opportunity_list')
    .select([
      'org_id',
      'id',
      'stage',
      'status',
      'value_minor',
      'weighted_value_minor',
      'probability',
      'assigned_user_id',
      'tags',
      'last_version',
      'deleted_at',
    ])
    .orderBy('org_id')
    .orderBy('id')
    .execute();
  const totals = await db
    .selectFrom('pipeline_totals')
    .selectAll()
    .orderBy('org_id')
    .orderBy('stage')
    .orderBy('status')
    .orderBy('assigned_user_id')
    .orderBy('currency')
    .orderBy('close_month')
    .orderBy('probability_band')
    .execute();
  return {
    list: list.map((r) => ({
      ...r,
      value_minor: String(r.value_minor),
      weighted_value_minor: String(r.weighted_value_minor),
      last_version: String(r.last_version),
    })),
    totals: totals.map((t) => JSON.parse(JSON.stringify(t, (_, v) => (typeof v === 'number' ? String(v) : v)))),
  };
}

/** A projection that fails on one event id: a poison event, or a crash mid-batch when halting. */
class FailingOn implements Projection {
  readonly name = 'opportunities';
  private readonly inner = new OpportunityProjection();
  constructor(private readonly poison: Set<string>) {}
  async applyBatch(trx: Kysely<ReadModelTables>, events: RecordedEvent[]) {
    await this.inner.applyBatch(trx, events);
    const bad = events.find((e) => this.poison.has(e.eventId));
    if (bad) throw new Error(`cannot apply ${bad.type}`);
  }
}

for (const backend of testBackends()) {
  describe(`opportunity projection on ${backend.name}`, () => {
    let database: Database;
    let db: Kysely<ReadModelTables>;
    let store: PostgresEventStore;
    let runner: ProjectionRunner;
    const projection = new OpportunityProjection();

    beforeEach(async () => {
      database = await backend.open();
      db = database.tables<ReadModelTables>();
      store = new PostgresEventStore(database);
      runner = new ProjectionRunner(db, store, [projection], OPTIONS);
      await runner.ensureCheckpoints();
    });
    afterEach(() => database.close());

    it('given a deal moved forward, won and another lost, then rows and totals hold their figures', async () => {
      const w = new DealWriter(store);
      const [a, b, c] = [randomUUID(), randomUUID(), randomUUID()];
      await w.create(a, { value_minor: 20_000_000, assigned_user_id: 'u1', tags: ['x'] });
      await w.run(a, [{ type: 'AdvanceStage' }, { type: 'AdvanceStage' }]);
      await w.create(b, { value_minor: 5_000_000, stage: 'verbal_commitment', assigned_user_id: 'u1', expected_close_date: '2030-07-15' });
      await w.run(b, [{ type: 'Win', actual_value_minor: 4_500_000, close_date: '2030-07-01' }]);
      await w.create(c, { value_minor: 1_000_000, assigned_user_id: 'u2' });
      await w.run(c, [{ type: 'Lose', loss_reason: 'price' }]);
      await allEvents(db, store);
      expect(await runner.catchUp(projection)).toBe(7); // a: 3 events, b: 2, c: 2

      const rows = await db
        .selectFrom('opportunity_list')
        .selectAll()
        .where('org_id', '=', w.orgId)
        .orderBy('value_minor', 'desc')
        .execute();
      expect(
        rows.map((r) => [
          r.id,
          r.stage,
          r.status,
          Number(r.value_minor),
          Number(r.weighted_value_minor),
          r.probability,
          Number(r.last_version),
        ]),
      ).toEqual([
        [a, 'needs_analysis', 'open', 20_000_000, 8_000_000, 40, 3], // 200,000.00 × 40 %
        [b, 'won', 'won', 4_500_000, 4_500_000, 100, 2], // actual value replaces value
        [c, 'lost', 'lost', 1_000_000, 0, 0, 2],
      ]);
      const totals = await db.selectFrom('pipeline_totals').selectAll().where('org_id', '=', w.orgId).orderBy('stage').execute();
      expect(
        totals.map((t) => [
          t.stage,
          t.status,
          t.assigned_user_id,
          String(t.close_month).slice(0, 10),
          Number(t.deal_count),
          Number(t.value_minor),
        ]),
      ).toEqual([
        ['lost', 'lost', 'u2', expect.any(String), 1, 1_000_000],
        ['needs_analysis', 'open', 'u1', '2030-06-01', 1, 20_000_000],
        ['won', 'won', 'u1', '2030-07-01', 1, 4_500_000],
      ]);
    });

    it('fed the same events twice, ends exactly as fed once (rows and totals)', async () => {
      const w = new DealWriter(store);
      for (let i = 0; i < 5; i++) {
        const id = randomUUID();
        await w.create(id, { value_minor: 100_000 * (i + 1) });
        await w.run(id, [{ type: 'AdvanceStage' }, { type: 'UpdateOpportunity', changes: { tags: [`t${i}`] }, probability: 33 }]);
      }
      const events = await allEvents(db, store);
      await db.transaction().execute((trx) => projection.applyBatch(trx, events));
      const once = await snapshot(db);
      await db.transaction().execute((trx) => projection.applyBatch(trx, events));
      await db.transaction().execute((trx) => projection.applyBatch(trx, events.slice(3, 9)));
      expect(await snapshot(db)).toEqual(once);
      expect(once.list).toHaveLength(5);
      expect(once.totals.reduce((n: number, t: any) => n + Number(t.deal_count), 0)).toBe(5);
    });

    it('an aborted batch leaves no partial state, and the restarted projector equals a fresh rebuild', async () => {
      const w = new DealWriter(store);
      const ids = Array.from({ length: 4 }, () => randomUUID());
      for (const id of ids) await w.create(id);
      const events = await allEvents(db, store);
      const halting = new ProjectionRunner(db, store, [new FailingOn(new Set([events[2].eventId]))], {
        ...OPTIONS,
        batchSize: 100,
        haltOnPoison: true,
      });
      await expect(halting.runBatch(halting.projections[0])).rejects.toThrow(/halted/);
      expect(await db.selectFrom('opportunity_list').selectAll().execute()).toEqual([]);
      expect(await db.selectFrom('pipeline_totals').selectAll().execute()).toEqual([]);
      const checkpoint = await db
        .selectFrom('projection_checkpoints')
        .selectAll()
        .where('projection', '=', 'opportunities')
        .executeTakeFirstOrThrow();
      expect(checkpoint.checkpoint).toBeNull();

      await w.run(ids[0], [{ type: 'AdvanceStage' }, { type: 'Delete' }]);
      await allEvents(db, store);
      await runner.catchUp(projection);
      const restarted = await snapshot(db);
      await replayProjection(
        database,
        store,
        PROJECTION_KINDS.find((k) => k.name === projection.name)!,
      );
      expect(await snapshot(db)).toEqual(restarted);
      expect(restarted.list.filter((r) => r.deleted_at === null)).toHaveLength(3);
    });

    it('dead-letters a poison event after retries and goes on with the rest', async () => {
      const w = new DealWriter(store);
      const [good, bad] = [randomUUID(), randomUUID()];
      await w.create(bad);
      await w.create(good);
      const events = await allEvents(db, store);
      const poisoned = new ProjectionRunner(db, store, [new FailingOn(new Set([events[0].eventId]))], OPTIONS);
      await poisoned.catchUp(poisoned.projections[0]);
      const ids = (await db.selectFrom('opportunity_list').select('id').execute()).map((r) => r.id);
      expect(ids).toEqual([good]);
      const dead = await db.selectFrom('projection_dead_letters').selectAll().execute();
      expect(dead).toMatchObject([
        { projection: 'opportunities', event_id: events[0].eventId, event_type: 'OpportunityCreated', attempts: 2 },
      ]);
      expect(poisoned.deadLettered).toBe(1);
      expect((await poisoned.status())[0]).toMatchObject({ projection: 'opportunities', dead_letters: 1, events_processed: '2' });
    });

    it('two runners on the same projection apply every event once', async () => {
      const w = new DealWriter(store);
      for (let i = 0; i < 30; i++) await w.create(randomUUID(), { value_minor: 1000 });
      await allEvents(db, store);
      const second = new ProjectionRunner(db, store, [new OpportunityProjection()], OPTIONS);
      await Promise.all([runner.catchUp(projection), second.catchUp(second.projections[0]), runner.catchUp(projection)]);
      const totals = await db
        .selectFrom('pipeline_totals')
        .select((eb) => eb.fn.sum<string>('deal_count').as('n'))
        .executeTakeFirstOrThrow();
      expect(Number(totals.n)).toBe(30);
      const cp = await db.selectFrom('projection_checkpoints').selectAll().executeTakeFirstOrThrow();
      expect(Number(cp.events_processed)).toBe(30);
    });

    it('notices a checkpoint moved by another runner between its own batches', async () => {
      const w = new DealWriter(store);
      const other = new ProjectionRunner(db, store, [new OpportunityProjection()], OPTIONS);
      for (let i = 0; i < 3; i++) await w.create(randomUUID(), { value_minor: 1000 });
      await allEvents(db, store);
      expect(await runner.catchUp(projection)).toBe(3);
      for (let i = 0; i < 4; i++) await w.create(randomUUID(), { value_minor: 1000 });
      await allEvents(db, store);
      expect(await other.catchUp(other.projections[0])).toBe(4);
      for (let i = 0; i < 2; i++) await w.create(randomUUID(), { value_minor: 1000 });
      await allEvents(db, store);
      // The first runner still remembers its own checkpoint (after 3 events): it must apply only the last 2.
      expect(await runner.catchUp(projection)).toBe(2);
      const totals = await db
        .selectFrom('pipeline_totals')
        .select((eb) => eb.fn.sum<string>('deal_count').as('n'))
        .executeTakeFirstOrThrow();
      expect(Number(totals.n)).toBe(9);
      const cp = await db.selectFrom('projection_checkpoints').selectAll().executeTakeFirstOrThrow();
      expect(Number(cp.events_processed)).toBe(9);
    });

    it('notices a checkpoint set back by someone else while no new event arrives', async () => {
      const w = new DealWriter(store);
      for (let i = 0; i < 3; i++) await w.create(randomUUID(), { value_minor: 1000 });
      await allEvents(db, store);
      expect(await runner.catchUp(projection)).toBe(3);
      // As a replay's swap does: the read model and its checkpoint replaced by an older state (here: empty).
      await db.transaction().execute(async (trx) => {
        for (const table of OpportunityProjection.TABLES) await trx.deleteFrom(table).execute();
        await trx
          .updateTable('projection_checkpoints')
          .set({ checkpoint: null, position: 0, events_processed: 0 })
          .where('projection', '=', projection.name)
          .execute();
      });
      // An idle runner reads the table's checkpoint once per poll interval: by the next one it has noticed.
      await new Promise((resolve) => setTimeout(resolve, OPTIONS.pollMs + 5));
      expect(await runner.catchUp(projection)).toBe(3);
      expect(await db.selectFrom('opportunity_list').select('id').execute()).toHaveLength(3);
    });

    it('follows live appends once started, and stops cleanly', async () => {
      await runner.start();
      const w = new DealWriter(store);
      const id = randomUUID();
      await w.create(id);
      const deadline = Date.now() + 5000;
      let row;
      while (
        !(row = await db.selectFrom('opportunity_list').select('id').where('id', '=', id).executeTakeFirst()) &&
        Date.now() < deadline
      ) {
        await new Promise((r) => setTimeout(r, 10));
      }
      await runner.stop();
      expect(row).toEqual({ id });
    });
  });
}
