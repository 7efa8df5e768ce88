import { randomUUID } from 'node:crypto';
import { type Kysely, sql } from 'kysely';
import {
  decide,
  decidePipeline,
  DEFAULT_PIPELINE,
  fold,
  foldStoredPipeline,
  INITIAL_STATE,
  initialPipelineState,
  type OpportunityCommand,
  type OpportunityEvent,
  type PipelineCommand,
  opportunityStreamId,
  pipelineStreamId,
} from '@app/domain';
import { PostgresEventStore } from '@app/event-store';
import { type Database } from '@app/platform';
import {
  OpportunityProjection,
  partitionOf,
  PROJECTION_KINDS,
  ProjectionRunner,
  type ReadModelTables,
  rebuildSchemaName,
  replayProjection,
  verifyProjection,
} from '@app/read-models';
import { testBackends } from '../support/test-database';
import { allEvents, DealWriter } from './fixtures';

/**
 * Library-level replay (rebuild into a schema of its own beside the live one, then an atomic swap)
 * and verify (rebuild into a scratch schema and diff). The reference for "a full rebuild" is an
 * independent build of the same projection into a schema of our own from the whole log.
 */

const TABLES = ['opportunity_list', 'pipeline_totals', 'list_day_totals', 'list_label_totals', 'opportunity_intervals'] as const;
const ORDER: Record<(typeof TABLES)[number], string> = {
  opportunity_list: 'org_id, id',
  pipeline_totals: 'org_id, pipeline_id, stage, status, assigned_user_id, currency, close_month, probability_band',
  list_day_totals: 'org_id, facet, day, pipeline_id, stage, stage_kind, status, currency',
  list_label_totals: 'org_id, facet, label, pipeline_id, stage, status, currency',
  opportunity_intervals: 'org_id, id, version',
};
const LIVE_OPTIONS = { batchSize: 7, pollMs: 20, maxAttempts: 2, haltOnPoison: false };
const REPLAY_BATCH = 2000; // batch size given to the interrupted replay below

async function liveSchema(db: Kysely<ReadModelTables>): Promise<string> {
  const { rows } = await sql<{ s: string }>`select current_schema() as s`.execute(db);
  return rows[0].s;
}

/** Rows of the projection's tables (default: the live ones), ordered, with every value as a string for comparison. */
async function snapshot(db: Kysely<ReadModelTables>, schema?: string) {
  const out: Record<string, unknown[]> = {};
  for (const table of TABLES) {
    const from = schema === undefined ? sql.table(table) : sql.id(schema, table);
    const { rows } = await sql`select * from ${from} order by ${sql.raw(ORDER[table])}`.execute(db);
    out[table] = JSON.parse(JSON.stringify(rows, (_k, v) => (typeof v === 'number' || typeof v === 'bigint' ? String(v) : v)));
  }
  return out;
}

/** An independent full build of the projection from the whole log, into a schema of its own; returns its rows. */
async function referenceBuild(db: Kysely<ReadModelTables>, store: PostgresEventStore) {
  const live = await liveSchema(db);
  const schema = `${live}_reference`;
  await sql`drop schema if exists ${sql.id(schema)} cascade`.execute(db);
  await sql`create schema ${sql.id(schema)}`.execute(db);
  for (const table of [...TABLES, 'projection_checkpoints', 'projection_dead_letters']) {
    await sql`create table ${sql.id(schema, table)} (like ${sql.id(live, table)} including all)`.execute(db);
  }
  const projection = new OpportunityProjection();
  const runner = new ProjectionRunner(db, store, [projection], { ...LIVE_OPTIONS, batchSize: 500, schema });
  await runner.ensureCheckpoints();
  await allEvents(db, store); // every written event visible to readAll first
  await runner.catchUp(projection);
  const rows = await snapshot(db, schema);
  await sql`drop schema ${sql.id(schema)} cascade`.execute(db);
  return rows;
}

async function indexes(db: Kysely<ReadModelTables>) {
  const { rows } = await sql<{ tablename: string; indexname: string; indexdef: string }>`
    select tablename, indexname, indexdef from pg_indexes
    where schemaname = current_schema() and tablename in (${sql.join([...TABLES])})
    order by tablename, indexname`.execute(db);
  return rows;
}

async function tableExists(db: Kysely<ReadModelTables>, schema: string, table: string): Promise<boolean> {
  const { rows } = await sql<{ found: boolean }>`
    select exists (select from pg_tables where schemaname = ${schema} and tablename = ${table}) as found`.execute(db);
  return rows[0].found;
}

/** Schemas named after the live one (a rebuild's, a verify's, a retired one): none once a replay or a verify is done. */
async function schemasBeside(db: Kysely<ReadModelTables>): Promise<string[]> {
  const live = await liveSchema(db);
  const { rows } = await sql<{ name: string }>`
    select nspname as name from pg_namespace where starts_with(nspname, ${`${live}_`}) order by nspname`.execute(db);
  return rows.map((r) => r.name);
}

/** A projection's checkpoint row, in the live schema or in another (a rebuild's). */
async function checkpointRow(db: Kysely<ReadModelTables>, projection: string, schema?: string) {
  const from = schema === undefined ? db : db.withSchema(schema);
  return from.selectFrom('projection_checkpoints').selectAll().where('projection', '=', projection).executeTakeFirst();
}

async function waitUntilLiveAt(db: Kysely<ReadModelTables>, checkpoint: string) {
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
          await w.run(id, [
            { type: 'AdvanceStage' },
            { type: 'AdvanceStage' },
            { type: 'UpdateOpportunity', changes: { tags: ['a', 'b'] } },
          ]);
          break;
        case 2:
          await w.run(id, [
            { type: 'UpdateOpportunity', changes: { value_minor: 333_333 }, probability: 65 },
            { type: 'Assign', user_id: 'u9' },
          ]);
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
        input: {
          name: `Bulk ${d}`,
          customer_id: 'c1',
          value_minor: 10_000 + d,
          expected_close_date: `2030-${String((d % 12) + 1).padStart(2, '0')}-10`,
          assigned_user_id: `u${d % 4}`,
        },
      },
    ];
    for (let i = 1; i < eventsPerDeal; i++) {
      commands.push(
        i % 12 === 0 && i <= 48 ? { type: 'AdvanceStage' } : { type: 'UpdateOpportunity', changes: { value_minor: 10_000 + d * 100 + i } },
      );
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
    let db: Kysely<ReadModelTables>;
    let store: PostgresEventStore;
    let runner: ProjectionRunner;
    const projection = new OpportunityProjection();
    const kind = PROJECTION_KINDS.find((k) => k.name === 'opportunities')!;

    beforeEach(async () => {
      database = await backend.open();
      db = database.tables<ReadModelTables>();
      store = new PostgresEventStore(database);
      runner = new ProjectionRunner(db, store, [projection], LIVE_OPTIONS);
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
        let log = await allEvents(db, store);
        await waitUntilLiveAt(db, log[log.length - 1].checkpoint);

        const before = await snapshot(db);
        expect(before.opportunity_list).toHaveLength(12);
        expect(before.opportunity_intervals.length).toBeGreaterThan(12);
        const indexesBefore = await indexes(db);
        expect(indexesBefore.filter((i) => i.tablename === 'opportunity_list').length).toBeGreaterThanOrEqual(10);
        const liveBefore = await checkpointRow(db, 'opportunities');

        const progress: number[] = [];
        const result = await replayProjection(database, store, kind, { onProgress: (p) => progress.push(p.processed) });
        expect(result.mode).toBe('memory');
        expect(result.events).toBe(log.length);
        expect(progress[progress.length - 1]).toBe(log.length);

        // the swapped-in tables hold exactly what the live ones held
        expect(await snapshot(db)).toEqual(before);
        // index names (and definitions) unchanged, in particular opportunity_list's
        expect(await indexes(db)).toEqual(indexesBefore);
        // the live checkpoint is the rebuild's: the end of the log
        const liveAfter = await checkpointRow(db, 'opportunities');
        expect(liveAfter).toMatchObject({ checkpoint: log[log.length - 1].checkpoint, position: liveBefore!.position });
        expect(Number(liveAfter!.events_processed)).toBe(log.length);
        // the rebuild's schema (its checkpoint with it) and the retired tables are gone
        expect(await schemasBeside(db)).toEqual([]);
        // storage options come along (state is kept out of line)
        const { rows: options } = await sql<{ options: string[] | null }>`
          select reloptions as options from pg_class where oid = 'opportunity_list'::regclass`.execute(db);
        expect(options[0].options).toEqual(['toast_tuple_target=256']);

        // new events after the swap: the running live projector applies them to the new tables
        const { writer, ids } = deals[0];
        const fresh = randomUUID();
        await writer.create(fresh, { value_minor: 777_700, assigned_user_id: 'u_new' });
        await writer.run(ids[1], [{ type: 'AdvanceStage' }]); // needs_analysis → proposal
        log = await allEvents(db, store);
        await waitUntilLiveAt(db, log[log.length - 1].checkpoint);
        const rows = await db
          .selectFrom('opportunity_list')
          .select(['id', 'stage', 'value_minor', 'last_version'])
          .where('id', 'in', [fresh, ids[1]])
          .execute();
        expect(rows.map((r) => [r.id, r.stage, Number(r.value_minor), Number(r.last_version)]).sort()).toEqual(
          [
            [fresh, 'prospecting', 777_700, 1],
            [ids[1], 'proposal', 200_000, 5],
          ].sort(),
        );
        const totals = await db
          .selectFrom('pipeline_totals')
          .select((eb) => eb.fn.sum<string>('deal_count').as('n'))
          .executeTakeFirstOrThrow();
        expect(Number(totals.n)).toBe(11); // 13 deals, two of them deleted
        await runner.stop();
        expect(await snapshot(db)).toEqual(await referenceBuild(db, store));
        expect(Number((await checkpointRow(db, 'opportunities'))!.events_processed)).toBe(log.length);
      });

      it('events written while the rebuild runs and is swapped in are not lost (live projector running)', async () => {
        await runner.start();
        await writeBulk(store, 30, 50); // 1,500 events: the rebuild takes a while
        let log = await allEvents(db, store);
        await waitUntilLiveAt(db, log[log.length - 1].checkpoint);

        const w = new DealWriter(store);
        let stop = false;
        let written = 0;
        const writing = (async () => {
          // bounded: a rebuild chasing an endless stream of writes is not what this test is about
          while (!stop && written < 60) {
            const id = randomUUID();
            await w.create(id, { value_minor: 1_000 + written, assigned_user_id: `w${written % 3}` });
            await w.run(id, [{ type: 'AdvanceStage' }]);
            written++;
          }
        })();
        const t0 = Date.now();
        let timer: NodeJS.Timeout | undefined;
        try {
          await new Promise((r) => setTimeout(r, 30));
          const progress: string[] = [];
          const replay = replayProjection(database, store, kind, {
            onProgress: (p) => progress.push(`${Date.now() - t0}ms:${p.processed}/${p.total}:w${written}`),
          });
          const timeout = new Promise((_, reject) => {
            timer = setTimeout(
              () => reject(new Error(`replay did not finish in 60 s; progress ${progress.slice(-10).join(' ')}; written ${written}`)),
              60_000,
            );
          });
          await Promise.race([replay, timeout]);
        } finally {
          clearTimeout(timer);
          stop = true;
          await writing;
        }
        expect(written).toBeGreaterThan(0);

        log = await allEvents(db, store);
        await waitUntilLiveAt(db, log[log.length - 1].checkpoint);
        await runner.stop();
        const after = await snapshot(db);
        expect(after.opportunity_list).toHaveLength(30 + written);
        expect(after).toEqual(await referenceBuild(db, store));
        expect(Number((await checkpointRow(db, 'opportunities'))!.events_processed)).toBe(log.length);
      });

      // Server only: on PGlite the replay CLI runs with the API stopped (one process owns the embedded
      // database), and an in-process writer there would share its single connection anyway.
      if (backend.name === 'postgres')
        it('finishes (and swaps) while writes keep arriving: it does not chase the head of the log forever', async () => {
          await runner.start();
          await writeBulk(store, 20, 50); // 1,000 events to rebuild
          const log = await allEvents(db, store);
          await waitUntilLiveAt(db, log[log.length - 1].checkpoint);

          // A steady stream of writes for as long as the replay runs (at most 60 s), as on a busy service.
          const w = new DealWriter(store);
          let stop = false;
          let written = 0;
          // four clients, each creating small deals one after another (every write costs the same however long this runs)
          const writing = Promise.all(
            [0, 1, 2, 3].map(async () => {
              while (!stop) await w.create(randomUUID(), { value_minor: 1_000 + (++written % 7) });
            }),
          );
          let timer: NodeJS.Timeout | undefined;
          const progress: number[] = [];
          let outcome: string;
          try {
            outcome = await Promise.race([
              replayProjection(database, store, kind, { onProgress: (p) => progress.push(p.processed) }).then(() => 'swapped'),
              new Promise<string>((resolve) => {
                timer = setTimeout(
                  () =>
                    resolve(
                      `still rebuilding after 60 s: ${progress.length} batches, ${progress[progress.length - 1]} events processed, ${written} written meanwhile`,
                    ),
                  60_000,
                );
              }),
            ]);
          } finally {
            clearTimeout(timer);
            stop = true;
            await writing;
          }
          expect(outcome).toBe('swapped');
          // (when the replay does finish, the live projector then applies what came after the rebuild's checkpoint)
          const after = await allEvents(db, store);
          await waitUntilLiveAt(db, after[after.length - 1].checkpoint);
          await runner.stop();
          expect(await snapshot(db)).toEqual(await referenceBuild(db, store));
        }, 120_000);

      it('replaying twice in a row changes nothing', async () => {
        await writeMixedDeals(store);
        await allEvents(db, store); // every written event visible to readAll first
        await runner.catchUp(projection);
        const before = await snapshot(db);
        const indexesBefore = await indexes(db);
        await replayProjection(database, store, kind);
        await replayProjection(database, store, kind);
        expect(await snapshot(db)).toEqual(before);
        expect(await indexes(db)).toEqual(indexesBefore);
        expect(await runner.catchUp(projection)).toBe(0);
      });
    });

    describe('interrupt-safety', () => {
      it('a batches rebuild interrupted after its first batch leaves the live tables alone; the next run resumes and equals a full rebuild', async () => {
        await writeBulk(store, 45, 50); // 2,250 events: more than one replay batch
        const deals = await writeMixedDeals(store);
        await allEvents(db, store); // every written event visible to readAll first
        await runner.catchUp(projection);
        const log = await allEvents(db, store);
        expect(log.length).toBeGreaterThan(REPLAY_BATCH);
        const before = await snapshot(db);
        const liveBefore = await checkpointRow(db, 'opportunities');

        let calls = 0;
        await expect(
          replayProjection(database, store, kind, {
            batchSize: REPLAY_BATCH,
            mode: 'batches',
            onProgress: () => {
              calls++;
              throw new Error('simulated interruption');
            },
          }),
        ).rejects.toThrow('simulated interruption');
        expect(calls).toBe(1);

        // nothing swapped, the live side untouched; the rebuild kept its own partial progress
        expect(await snapshot(db)).toEqual(before);
        expect(await checkpointRow(db, 'opportunities')).toEqual(liveBefore);
        const rebuild = rebuildSchemaName(await liveSchema(db), kind.name);
        const partial = await checkpointRow(db, 'opportunities', rebuild);
        expect(partial).toBeDefined();
        expect(Number(partial!.events_processed)).toBe(REPLAY_BATCH);
        expect(partial!.checkpoint).toBe(log[REPLAY_BATCH - 1].checkpoint);
        expect(await tableExists(db, rebuild, 'opportunity_list')).toBe(true);

        // more activity while the rebuild is stopped
        const { writer, ids } = deals[1];
        await writer.run(ids[1], [{ type: 'AdvanceStage' }, { type: 'AdvanceStage' }]);
        await writer.create(randomUUID(), { value_minor: 5_000 });
        const full = await allEvents(db, store);

        // what an interrupted batches rebuild left is resumed in batches, not thrown away
        const result = await replayProjection(database, store, kind);
        expect(result.mode).toBe('batches');
        expect(result.events).toBe(full.length);
        const live = await checkpointRow(db, 'opportunities');
        expect(live).toMatchObject({ checkpoint: full[full.length - 1].checkpoint, position: full[full.length - 1].position });
        expect(Number(live!.events_processed)).toBe(full.length);
        expect(await schemasBeside(db)).toEqual([]);

        const reference = await referenceBuild(db, store);
        expect(reference.opportunity_list).toHaveLength(45 + 13);
        expect(await snapshot(db)).toEqual(reference);
        // the live projector has nothing left to do, and a verify finds no difference
        expect(await runner.catchUp(projection)).toBe(0);
        expect(await verifyProjection(database, store, kind)).toEqual([]);
      });
      it('an in-memory rebuild interrupted mid-log leaves the live tables alone; the next run starts over and equals a full rebuild', async () => {
        await writeBulk(store, 45, 50);
        await writeMixedDeals(store);
        await allEvents(db, store);
        await runner.catchUp(projection);
        const before = await snapshot(db);
        const liveBefore = await checkpointRow(db, 'opportunities');
        let calls = 0;
        await expect(
          replayProjection(database, store, kind, {
            batchSize: 500,
            onProgress: () => {
              if (++calls === 2) throw new Error('simulated interruption');
            },
          }),
        ).rejects.toThrow('simulated interruption');
        expect(await snapshot(db)).toEqual(before);
        expect(await checkpointRow(db, 'opportunities')).toEqual(liveBefore);

        const result = await replayProjection(database, store, kind, { batchSize: 500 });
        expect(result.mode).toBe('memory');
        expect(await schemasBeside(db)).toEqual([]);
        expect(await snapshot(db)).toEqual(await referenceBuild(db, store));
        expect(await runner.catchUp(projection)).toBe(0);
      });
    });

    describe('in memory and in batches give the same tables', () => {
      /** Every table of every projection, ordered by its key, values as strings. */
      async function allTables(): Promise<Record<string, unknown[]>> {
        const out: Record<string, unknown[]> = {};
        for (const k of PROJECTION_KINDS) {
          for (const table of k.tables) {
            const { rows } =
              await sql`select * from ${sql.table(table)} order by ${sql.raw(ORDER[table as keyof typeof ORDER] ?? 'org_id, id')}`.execute(
                db,
              );
            out[table] = JSON.parse(JSON.stringify(rows, (_k, v) => (typeof v === 'number' || typeof v === 'bigint' ? String(v) : v)));
          }
        }
        return out;
      }

      it('for every projection: deals, activities (some completed twice), notes, pipelines, in 1 or 3 partitions', async () => {
        const [{ writer, ids }] = await writeMixedDeals(store);
        const activity = randomUUID();
        await writer.run(ids[1], [
          {
            type: 'LogActivity',
            activity_id: activity,
            activity_type: 'call',
            scheduled_at: '2030-01-01T09:00:00.000Z',
            subject: 'Intro\tcall\nwith a "quote" and \\ backslash',
          },
          { type: 'AddNote', note_id: randomUUID(), content: 'Line one\nline two, tab\there' },
          { type: 'CompleteActivity', activity_id: activity, outcome: 'connected' },
          { type: 'UpdateOpportunity', changes: { tags: ['quote"d', 'back\\slash', 'comma,tag', 'brace{}'] } },
        ]);
        await writer.run(ids[2], [
          { type: 'LogActivity', activity_id: randomUUID(), activity_type: 'meeting', scheduled_at: '2030-01-02T10:00:00.000Z' },
        ]);
        // A second completion without an outcome (a log may hold one): the first outcome stays.
        const stream = opportunityStreamId(writer.orgId, ids[1]);
        const [completion] = (await store.readStream(stream)).filter((e) => e.type === 'ActivityCompleted');
        await store.append(
          stream,
          [
            {
              eventId: randomUUID(),
              type: 'ActivityCompleted',
              data: { ...(completion.data as object), outcome: null, completed_at: new Date().toISOString() },
              metadata: completion.metadata,
            },
          ],
          (await store.readStream(stream)).length,
        );
        let pipeline = initialPipelineState('enterprise');
        const stages = [
          { name: 'Discovery', display_order: 1, probability: 20 },
          { name: 'Demo', display_order: 2 },
          { key: 'closed_won', name: 'Closed won', display_order: 3, is_won: true },
          { key: 'closed_lost', name: 'Closed lost', display_order: 4, is_lost: true },
        ];
        for (const command of [
          { type: 'CreatePipeline', pipeline_id: 'enterprise', name: 'Enterprise', stages },
          { type: 'UpdatePipeline', name: 'Enterprise sales' },
        ] as PipelineCommand[]) {
          const events = decidePipeline(command, pipeline, new Date().toISOString());
          await store.append(
            pipelineStreamId(writer.orgId, 'enterprise'),
            events.map((e) => ({
              eventId: randomUUID(),
              type: e.type,
              data: e.data,
              metadata: {
                org_id: writer.orgId,
                actor_id: 'admin',
                correlation_id: randomUUID(),
                causation_id: randomUUID(),
                occurred_at: new Date().toISOString(),
              },
            })),
            pipeline.version === 0 ? 'no_stream' : pipeline.version,
          );
          pipeline = foldStoredPipeline('enterprise', await store.readStream(pipelineStreamId(writer.orgId, 'enterprise')));
        }
        // Look-alike deals: their totals and facet rows share groups, which the partitions must add up.
        const alike: string[] = [];
        for (let i = 0; i < 8; i++) {
          const id = randomUUID();
          alike.push(id);
          await writer.create(id, { value_minor: 250_000, assigned_user_id: 'u9', tags: ['same'], custom_fields: { tier: 'gold' } });
        }
        expect(new Set(alike.map((id) => partitionOf(opportunityStreamId(writer.orgId, id), 3))).size).toBeGreaterThan(1);
        await allEvents(db, store);

        for (const k of PROJECTION_KINDS)
          expect((await replayProjection(database, store, k, { mode: 'batches', batchSize: 7 })).mode).toBe('batches');
        const inBatches = await allTables();
        expect(inBatches.opportunity_activities.length).toBeGreaterThan(5);
        expect(inBatches.opportunity_notes).toHaveLength(1);
        expect(inBatches.pipelines).toHaveLength(1);
        for (const partitions of [1, 3]) {
          for (const k of PROJECTION_KINDS) {
            const result = await replayProjection(database, store, k, { batchSize: 7, partitions });
            expect(result).toMatchObject({ mode: 'memory', deadLettered: 0 });
          }
          expect(await allTables()).toEqual(inBatches);
        }
        const completed = inBatches.opportunity_activities.find((a) => (a as { id: string }).id === activity);
        expect(completed).toMatchObject({ status: 'completed', outcome: 'connected' });
        expect(JSON.stringify(inBatches.opportunity_list)).toContain('brace{}');
      });
    });

    describe('verifyProjection', () => {
      let deals: { writer: DealWriter; ids: string[] }[];

      beforeEach(async () => {
        deals = await writeMixedDeals(store);
        await allEvents(db, store); // every written event visible to readAll first
        await runner.catchUp(projection);
      });

      it('returns [] after a normal run, leaves the live tables as they were and cleans up after itself', async () => {
        const before = await snapshot(db);
        const checkpoint = await checkpointRow(db, 'opportunities');
        expect(await verifyProjection(database, store, kind)).toEqual([]);
        expect(await snapshot(db)).toEqual(before);
        expect(await checkpointRow(db, 'opportunities')).toEqual(checkpoint);
        expect(await schemasBeside(db)).toEqual([]);
      });

      it('a corrupted opportunity_list row is reported exactly: that row, that column, live vs rebuilt value', async () => {
        const id = deals[0].ids[2];
        const orgId = deals[0].writer.orgId;
        const original = await db.selectFrom('opportunity_list').select('value_minor').where('id', '=', id).executeTakeFirstOrThrow();
        const value = Number(original.value_minor);
        await sql`update opportunity_list set value_minor = value_minor + 1 where id = ${id}`.execute(db);

        const diffs = await verifyProjection(database, store, kind);
        // The live row and the rebuilt row share a key: reported once, as differing in value_minor only
        // (or, equivalently, as the live row only in live and the rebuilt one only in rebuild).
        const seen = diffs.map((d) => ({
          table: d.table,
          side: d.side,
          key: d.key,
          columns: Object.fromEntries(
            Object.entries(d.columns).map(([c, [l, r]]) => [c, [l === undefined ? null : Number(l), r === undefined ? null : Number(r)]]),
          ),
        }));
        if (seen.length === 1) {
          expect(seen).toEqual([
            { table: 'opportunity_list', side: 'differs', key: { org_id: orgId, id }, columns: { value_minor: [value + 1, value] } },
          ]);
        } else {
          expect(seen.map((d) => [d.table, d.side, d.key.id, d.columns.value_minor]).sort()).toEqual([
            ['opportunity_list', 'only in live', id, [value + 1, null]],
            ['opportunity_list', 'only in rebuild', id, [null, value]],
          ]);
        }

        await sql`update opportunity_list set value_minor = value_minor - 1 where id = ${id}`.execute(db);
        expect(await verifyProjection(database, store, kind)).toEqual([]);
      });

      it('a deleted pipeline_totals row is reported exactly, as only in rebuild', async () => {
        const orgId = deals[1].writer.orgId;
        const victim = await db
          .selectFrom('pipeline_totals')
          .selectAll()
          .where('org_id', '=', orgId)
          .where('stage', '=', 'won')
          .executeTakeFirstOrThrow();
        await db.deleteFrom('pipeline_totals').where('org_id', '=', orgId).where('stage', '=', 'won').execute();

        const diffs = await verifyProjection(database, store, kind);
        expect(diffs).toHaveLength(1);
        expect(diffs[0]).toMatchObject({ table: 'pipeline_totals', side: 'only in rebuild' });
        // the key names the row: every primary-key column of pipeline_totals
        expect(Object.keys(diffs[0].key).sort()).toEqual([
          'assigned_user_id',
          'close_month',
          'currency',
          'org_id',
          'pipeline_id',
          'probability_band',
          'stage',
          'status',
        ]);
        expect(diffs[0].key).toMatchObject({
          org_id: orgId,
          pipeline_id: 'default',
          stage: 'won',
          status: 'won',
          assigned_user_id: victim.assigned_user_id,
          currency: 'USD',
        });
        const rebuilt = Object.fromEntries(Object.entries(diffs[0].columns).map(([c, [live, rebuild]]) => [c, [live, rebuild]]));
        expect(rebuilt.deal_count[0]).toBeUndefined();
        expect(Number(rebuilt.deal_count[1])).toBe(1);
        expect(Number(rebuilt.value_minor[1])).toBe(250_000); // deal 3 won at 2,500.00
      });

      it('a deleted opportunity_intervals row is reported as only in rebuild, keyed by org, id and version', async () => {
        const id = deals[0].ids[1];
        const orgId = deals[0].writer.orgId;
        await db.deleteFrom('opportunity_intervals').where('id', '=', id).where('version', '=', '2').execute();
        const diffs = await verifyProjection(database, store, kind);
        expect(diffs.map((d) => [d.table, d.side, d.key.org_id, d.key.id, Number(d.key.version)])).toEqual([
          ['opportunity_intervals', 'only in rebuild', orgId, id, 2],
        ]);
      });
    });
  });
}
