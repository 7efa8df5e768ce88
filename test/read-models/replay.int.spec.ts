import { randomUUID } from 'node:crypto';
import { Kysely, sql } from 'kysely';
import { decide, DEFAULT_PIPELINE, fold, INITIAL_STATE, OpportunityCommand, OpportunityEvent } from '@app/domain';
import { PostgresEventStore, RecordedEvent } from '@app/event-store';
import { Database } from '@app/platform';
import { OpportunityProjection, PROJECTION_KINDS, ProjectionRunner, replayProjection, verifyProjection } from '@app/read-models';
import { testBackends } from '../support/test-database';
import { DealWriter } from './fixtures';

/**
 * Library-level replay (rebuild beside the live tables, then an atomic swap) and verify
 * (rebuild into scratch tables and diff). The reference for "a full rebuild" is an independent
 * build of the same projection into tables of our own (suffix __ref) from the whole log.
 */

const TABLES = ['opportunity_list', 'pipeline_totals', 'opportunity_intervals'] as const;
const ORDER: Record<(typeof TABLES)[number], string> = {
  opportunity_list: 'org_id, id',
  pipeline_totals: 'org_id, pipeline_id, stage, status, assigned_user_id, currency, close_month, probability_band',
  opportunity_intervals: 'org_id, id, version',
};
const LIVE_OPTIONS = { batchSize: 7, pollMs: 20, maxAttempts: 2, haltOnPoison: false };
const REPLAY_BATCH = 2000; // replayProjection's batch size

/** Rows of the three tables (suffix '' = live), ordered, with every value as a string for comparison. */
async function snapshot(db: Kysely<any>, suffix = '') {
  const out: Record<string, unknown[]> = {};
  for (const table of TABLES) {
    const { rows } = await sql.raw(`select * from ${table}${suffix} order by ${ORDER[table]}`).execute(db);
    out[table] = JSON.parse(JSON.stringify(rows, (_k, v) => (typeof v === 'number' || typeof v === 'bigint' ? String(v) : v)));
  }
  return out;
}

/** An independent full build of the projection from the whole log, into __ref copies; returns their rows. */
async function referenceBuild(db: Kysely<any>, store: PostgresEventStore) {
  for (const table of TABLES) {
    await sql.raw(`drop table if exists ${table}__ref`).execute(db);
    await sql.raw(`create table ${table}__ref (like ${table} including all)`).execute(db);
  }
  const projection = new OpportunityProjection('__ref');
  const runner = new ProjectionRunner(db, store, [projection], { ...LIVE_OPTIONS, batchSize: 500 });
  await runner.resetCheckpoint(projection);
  await runner.ensureCheckpoints();
  await runner.catchUp(projection);
  const rows = await snapshot(db, '__ref');
  for (const table of TABLES) await sql.raw(`drop table ${table}__ref`).execute(db);
  await runner.resetCheckpoint(projection);
  return rows;
}

async function indexes(db: Kysely<any>) {
  const { rows } = await sql<{ tablename: string; indexname: string; indexdef: string }>`
    select tablename, indexname, indexdef from pg_indexes
    where schemaname = current_schema() and tablename in ('opportunity_list', 'pipeline_totals', 'opportunity_intervals')
    order by tablename, indexname`.execute(db);
  return rows;
}

async function tableExists(db: Kysely<any>, name: string): Promise<boolean> {
  const { rows } = await sql<{ t: string | null }>`select to_regclass(${name})::text as t`.execute(db);
  return rows[0].t !== null;
}

async function checkpointRow(db: Kysely<any>, projection: string) {
  return db.selectFrom('projection_checkpoints').selectAll().where('projection', '=', projection).executeTakeFirst();
}

/** The whole log, read independently of the projections. */
async function allEvents(store: PostgresEventStore): Promise<RecordedEvent[]> {
  const out: RecordedEvent[] = [];
  let after: string | null = null;
  for (;;) {
    const page = await store.readAll(after, 1000);
    if (page.events.length === 0) return out;
    out.push(...page.events);
    after = page.checkpoint;
  }
}

async function waitUntilLiveAt(db: Kysely<any>, checkpoint: string) {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const row = await checkpointRow(db, 'opportunities');
    if (row?.checkpoint === checkpoint) return;
    if (Date.now() > deadline) throw new Error(`live projection stuck at ${row?.checkpoint}, waiting for ${checkpoint}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Deals in every kind of state, in two orgs, written through the real decider. */
async function writeMixedDeals(store: PostgresEventStore): Promise<{ writer: DealWriter; ids: string[] }[]> {
  const out = [];
  for (const o of [0, 1]) {
    const w = new DealWriter(store);
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) {
      const id = randomUUID();
      ids.push(id);
      await w.create(id, {
        value_minor: 100_000 * (i + 1) + o,
        assigned_user_id: `u${i % 3}`,
        expected_close_date: `2030-0${i + 1}-15`,
        currency: i === 5 ? 'EUR' : 'USD',
        stage: i === 3 ? 'verbal_commitment' : 'prospecting',
      });
      switch (i) {
        case 0:
          await w.run(id, [{ type: 'AdvanceStage' }, { type: 'Delete' }]);
          break;
        case 1:
          await w.run(id, [{ type: 'AdvanceStage' }, { type: 'AdvanceStage' }, { type: 'UpdateOpportunity', changes: { tags: ['a', 'b'] } }]);
          break;
        case 2:
          await w.run(id, [{ type: 'UpdateOpportunity', changes: { value_minor: 333_333 }, probability: 65 }, { type: 'Assign', user_id: 'u9' }]);
          break;
        case 3:
          await w.run(id, [{ type: 'Win', actual_value_minor: 250_000, close_date: '2030-03-01' }]);
          break;
        case 4:
          await w.run(id, [{ type: 'AdvanceStage' }, { type: 'Lose', loss_reason: 'price' }]);
          break;
        case 5:
          await w.run(id, [{ type: 'AdvanceStage' }, { type: 'PutOnHold' }]);
          break;
      }
    }
    out.push({ writer: w, ids });
  }
  return out;
}

/** Many events quickly: each deal's whole history decided command by command and appended in one call. */
async function writeBulk(store: PostgresEventStore, deals: number, eventsPerDeal: number): Promise<void> {
  const orgId = `org_bulk_${randomUUID().slice(0, 6)}`;
  const now = new Date().toISOString();
  for (let d = 0; d < deals; d++) {
    const id = randomUUID();
    const commands: OpportunityCommand[] = [
      {
        type: 'CreateOpportunity',
        opportunity_id: id,
        input: { name: `Bulk ${d}`, customer_id: 'c1', value_minor: 10_000 + d, expected_close_date: `2030-${String((d % 12) + 1).padStart(2, '0')}-10`, assigned_user_id: `u${d % 4}` },
      },
    ];
    for (let i = 1; i < eventsPerDeal; i++) {
      commands.push(i % 12 === 0 && i <= 48 ? { type: 'AdvanceStage' } : { type: 'UpdateOpportunity', changes: { value_minor: 10_000 + d * 100 + i } });
    }
    let state = INITIAL_STATE;
    const events: OpportunityEvent[] = [];
    for (const command of commands) {
      const produced = decide(command, state, { now, actor_id: 'bulk', pipeline: DEFAULT_PIPELINE });
      state = fold(produced, state);
      events.push(...produced);
    }
    expect(events).toHaveLength(eventsPerDeal);
    await store.append(
      `opportunity-${orgId}-${id}`,
      events.map((e) => ({
        eventId: randomUUID(),
        type: e.type,
        data: e.data,
        metadata: { org_id: orgId, actor_id: 'bulk', correlation_id: randomUUID(), causation_id: randomUUID(), occurred_at: now },
      })),
      'no_stream',
    );
  }
}

for (const backend of testBackends()) {
  describe(`replay and verify on ${backend.name}`, () => {
    let database: Database;
    let store: PostgresEventStore;
    let runner: ProjectionRunner;
    const projection = new OpportunityProjection();
    const kind = PROJECTION_KINDS.find((k) => k.name === 'opportunities')!;

    beforeEach(async () => {
      database = await backend.open();
      store = new PostgresEventStore(database);
      runner = new ProjectionRunner(database.db, store, [projection], LIVE_OPTIONS);
      await runner.ensureCheckpoints();
    }, 60_000);

    afterEach(async () => {
      await runner.stop();
      await database.close();
    });

    it('PROJECTION_KINDS names the opportunities projection and its three tables', () => {
      expect(kind).toBeDefined();
      expect([...kind.tables].sort()).toEqual([...TABLES].sort());
    });

    describe('replayProjection while the live projector runs', () => {
      it('swaps in tables equal to the live ones, keeps index names and the checkpoint, and the live projector carries on', async () => {
        await runner.start();
        const deals = await writeMixedDeals(store);
        let log = await allEvents(store);
        await waitUntilLiveAt(database.db, log[log.length - 1].checkpoint);

        const before = await snapshot(database.db);
        expect(before.opportunity_list).toHaveLength(12);
        expect(before.opportunity_intervals.length).toBeGreaterThan(12);
        const indexesBefore = await indexes(database.db);
        expect(indexesBefore.filter((i) => i.tablename === 'opportunity_list').length).toBeGreaterThanOrEqual(10);
        const liveBefore = await checkpointRow(database.db, 'opportunities');

        const progress: number[] = [];
        const result = await replayProjection(database.db, store, kind, { onProgress: (p) => progress.push(p.processed) });
        expect(result.events).toBe(log.length);
        expect(progress[progress.length - 1]).toBe(log.length);

        // the swapped-in tables hold exactly what the live ones held
        expect(await snapshot(database.db)).toEqual(before);
        // index names (and definitions) unchanged, in particular opportunity_list's
        expect(await indexes(database.db)).toEqual(indexesBefore);
        // the live checkpoint is the rebuild's: the end of the log
        const liveAfter = await checkpointRow(database.db, 'opportunities');
        expect(liveAfter).toMatchObject({ checkpoint: log[log.length - 1].checkpoint, position: liveBefore!.position });
        expect(Number(liveAfter!.events_processed)).toBe(log.length);
        expect(await checkpointRow(database.db, 'opportunities__rebuild')).toBeUndefined();
        for (const table of TABLES) {
          expect(await tableExists(database.db, `${table}__rebuild`)).toBe(false);
          expect(await tableExists(database.db, `${table}__old`)).toBe(false);
        }

        // new events after the swap: the running live projector applies them to the new tables
        const { writer, ids } = deals[0];
        const fresh = randomUUID();
        await writer.create(fresh, { value_minor: 777_700, assigned_user_id: 'u_new' });
        await writer.run(ids[1], [{ type: 'AdvanceStage' }]); // needs_analysis → proposal
        log = await allEvents(store);
        await waitUntilLiveAt(database.db, log[log.length - 1].checkpoint);
        const rows = await database.db.selectFrom('opportunity_list').select(['id', 'stage', 'value_minor', 'last_version']).where('id', 'in', [fresh, ids[1]]).execute();
        expect(rows.map((r) => [r.id, r.stage, Number(r.value_minor), Number(r.last_version)]).sort()).toEqual(
          [
            [fresh, 'prospecting', 777_700, 1],
            [ids[1], 'proposal', 200_000, 5],
          ].sort(),
        );
        const totals = await database.db.selectFrom('pipeline_totals').select((eb) => eb.fn.sum<string>('deal_count').as('n')).executeTakeFirstOrThrow();
        expect(Number(totals.n)).toBe(11); // 13 deals, two of them deleted
        await runner.stop();
        expect(await snapshot(database.db)).toEqual(await referenceBuild(database.db, store));
        expect(Number((await checkpointRow(database.db, 'opportunities'))!.events_processed)).toBe(log.length);
      });

      it('replaying twice in a row changes nothing', async () => {
        await writeMixedDeals(store);
        await runner.catchUp(projection);
        const before = await snapshot(database.db);
        const indexesBefore = await indexes(database.db);
        await replayProjection(database.db, store, kind);
        await replayProjection(database.db, store, kind);
        expect(await snapshot(database.db)).toEqual(before);
        expect(await indexes(database.db)).toEqual(indexesBefore);
        expect(await runner.catchUp(projection)).toBe(0);
      });
    });

    describe('interrupt-safety', () => {
      it('a rebuild interrupted after its first batch leaves the live tables alone; the next run resumes and equals a full rebuild', async () => {
        await writeBulk(store, 45, 50); // 2,250 events: more than one replay batch
        const deals = await writeMixedDeals(store);
        await runner.catchUp(projection);
        const log = await allEvents(store);
        expect(log.length).toBeGreaterThan(REPLAY_BATCH);
        const before = await snapshot(database.db);
        const liveBefore = await checkpointRow(database.db, 'opportunities');

        let calls = 0;
        await expect(
          replayProjection(database.db, store, kind, {
            onProgress: () => {
              calls++;
              throw new Error('simulated interruption');
            },
          }),
        ).rejects.toThrow('simulated interruption');
        expect(calls).toBe(1);

        // nothing swapped, the live side untouched; the rebuild kept its own partial progress
        expect(await snapshot(database.db)).toEqual(before);
        expect(await checkpointRow(database.db, 'opportunities')).toEqual(liveBefore);
        const partial = await checkpointRow(database.db, 'opportunities__rebuild');
        expect(partial).toBeDefined();
        expect(Number(partial!.events_processed)).toBe(REPLAY_BATCH);
        expect(partial!.checkpoint).toBe(log[REPLAY_BATCH - 1].checkpoint);
        expect(await tableExists(database.db, 'opportunity_list__rebuild')).toBe(true);

        // more activity while the rebuild is stopped
        const { writer, ids } = deals[1];
        await writer.run(ids[1], [{ type: 'AdvanceStage' }, { type: 'AdvanceStage' }]);
        await writer.create(randomUUID(), { value_minor: 5_000 });
        const full = await allEvents(store);

        const result = await replayProjection(database.db, store, kind);
        expect(result.events).toBe(full.length);
        const live = await checkpointRow(database.db, 'opportunities');
        expect(live).toMatchObject({ checkpoint: full[full.length - 1].checkpoint, position: full[full.length - 1].position });
        expect(Number(live!.events_processed)).toBe(full.length);
        expect(await checkpointRow(database.db, 'opportunities__rebuild')).toBeUndefined();

        const reference = await referenceBuild(database.db, store);
        expect(reference.opportunity_list).toHaveLength(45 + 13);
        expect(await snapshot(database.db)).toEqual(reference);
        // the live projector has nothing left to do, and a verify finds no difference
        expect(await runner.catchUp(projection)).toBe(0);
        expect(await verifyProjection(database, store, kind)).toEqual([]);
      });
    });

    describe('verifyProjection', () => {
      let deals: { writer: DealWriter; ids: string[] }[];

      beforeEach(async () => {
        deals = await writeMixedDeals(store);
        await runner.catchUp(projection);
      });

      it('returns [] after a normal run, leaves the live tables as they were and cleans up after itself', async () => {
        const before = await snapshot(database.db);
        const checkpoint = await checkpointRow(database.db, 'opportunities');
        expect(await verifyProjection(database, store, kind)).toEqual([]);
        expect(await snapshot(database.db)).toEqual(before);
        expect(await checkpointRow(database.db, 'opportunities')).toEqual(checkpoint);
        expect(await checkpointRow(database.db, 'opportunities__verify')).toBeUndefined();
        for (const table of TABLES) expect(await tableExists(database.db, `${table}__verify`)).toBe(false);
      });

      it('a corrupted opportunity_list row is reported exactly: the live row and the rebuilt one', async () => {
        const id = deals[0].ids[2];
        const orgId = deals[0].writer.orgId;
        const original = await database.db.selectFrom('opportunity_list').select('value_minor').where('id', '=', id).executeTakeFirstOrThrow();
        const value = Number(original.value_minor);
        await sql`update opportunity_list set value_minor = value_minor + 1 where id = ${id}`.execute(database.db);

        const diffs = await verifyProjection(database, store, kind);
        const summary = diffs.map((d) => ({ table: d.table, side: d.side, org_id: d.row.org_id, id: d.row.id, value_minor: Number(d.row.value_minor) }));
        expect(summary.sort((a, b) => a.side.localeCompare(b.side))).toEqual([
          { table: 'opportunity_list', side: 'only in live', org_id: orgId, id, value_minor: value + 1 },
          { table: 'opportunity_list', side: 'only in rebuild', org_id: orgId, id, value_minor: value },
        ]);

        await sql`update opportunity_list set value_minor = value_minor - 1 where id = ${id}`.execute(database.db);
        expect(await verifyProjection(database, store, kind)).toEqual([]);
      });

      it('a deleted pipeline_totals row is reported exactly, as only in rebuild', async () => {
        const orgId = deals[1].writer.orgId;
        const victim = await database.db
          .selectFrom('pipeline_totals')
          .selectAll()
          .where('org_id', '=', orgId)
          .where('stage', '=', 'won')
          .executeTakeFirstOrThrow();
        await database.db.deleteFrom('pipeline_totals').where('org_id', '=', orgId).where('stage', '=', 'won').execute();

        const diffs = await verifyProjection(database, store, kind);
        expect(diffs).toHaveLength(1);
        expect(diffs[0]).toMatchObject({ table: 'pipeline_totals', side: 'only in rebuild' });
        const row = diffs[0].row;
        expect({
          org_id: row.org_id,
          stage: row.stage,
          status: row.status,
          assigned_user_id: row.assigned_user_id,
          currency: row.currency,
          deal_count: Number(row.deal_count),
          value_minor: Number(row.value_minor),
        }).toEqual({
          org_id: orgId,
          stage: 'won',
          status: 'won',
          assigned_user_id: victim.assigned_user_id,
          currency: 'USD',
          deal_count: 1,
          value_minor: 250_000, // deal 3 won at 2,500.00
        });
      });

      it('a deleted opportunity_intervals row is reported as only in rebuild', async () => {
        const id = deals[0].ids[1];
        await database.db.deleteFrom('opportunity_intervals').where('id', '=', id).where('version', '=', 2).execute();
        const diffs = await verifyProjection(database, store, kind);
        expect(diffs.map((d) => [d.table, d.side, d.row.id, Number(d.row.version)])).toEqual([['opportunity_intervals', 'only in rebuild', id, 2]]);
      });
    });
  });
}
