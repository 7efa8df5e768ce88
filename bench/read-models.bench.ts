/**
 * Read side at scale on real PostgreSQL: generate N deals (events made by the real decider),
 * rebuild the projection from the log (events/s), then EXPLAIN and time every main query.
 * Usage: BENCH_DATABASE_URL=postgres://… npx tsx bench/read-models.bench.ts [--deals 200000] [--runs 40]
 *        [--rebuilds 1] (W3: the full rebuild N times over the same log, median reported) [--live-sample 100000] [--backend pglite]
 *        [--queries-only] (W4 alone: one rebuild to fill the read models, no batch rebuild or verify)
 */
import { parseArgs } from 'node:util';
import { type Kysely, sql } from 'kysely';
import { DEFAULT_PIPELINE } from '../libs/domain/src';
import { PostgresEventStore } from '../libs/event-store/src/postgres/postgres-event-store';
import { openPGlite, openPostgres } from '../libs/platform/src/database/database';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { migrateToLatest } from '../libs/platform/src/database/migrate';
import { SCHEMA_MIGRATIONS } from '../apps/api/src/database-schema';
import {
  applyFilters,
  type ListQuery,
  listPageQuery,
  listTotalsQuery,
  listOpportunities,
} from '../libs/read-models/src/opportunities/queries/list-opportunities';
import { forecast, monthlyForecast, pipelineData, pipelineSummary, stats } from '../libs/read-models/src/opportunities/queries/analytics';
import { quarterOf } from '../libs/read-models/src/opportunities/queries/periods';
import type { ReadModelTables } from '../libs/read-models/src/tables';
import { OpportunityProjection } from '../libs/read-models/src/opportunities/opportunity.projection';
import { ProjectionRunner } from '../libs/read-models/src/projector/projection-runner';
import { PROJECTION_KINDS, replayProjection, type ReplayResult, verifyProjection } from '../libs/read-models/src/replay';
import { type GeneratedEventTables, loadDeals } from '../apps/api/src/demo/generate-deals';
import { percentile } from './stats';

const { values } = parseArgs({
  options: {
    deals: { type: 'string', default: '200000' },
    runs: { type: 'string', default: '40' },
    keep: { type: 'boolean', default: false },
    'live-sample': { type: 'string', default: '100000' },
    rebuilds: { type: 'string', default: '1' },
    backend: { type: 'string', default: 'postgres' },
    'rebuild-only': { type: 'boolean', default: false },
    'queries-only': { type: 'boolean', default: false },
  },
});
const PGLITE = values.backend === 'pglite';
const LIVE_SAMPLE = Number(values['live-sample']);
const DEALS = Number(values.deals);
const RUNS = Number(values.runs);
const REBUILDS = Math.max(1, Number(values.rebuilds));
const url = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL;
if (!url && !PGLITE) {
  console.error('Set BENCH_DATABASE_URL to a PostgreSQL server');
  process.exit(2);
}
const ORG = 'bench';

async function time(fn: () => Promise<unknown>): Promise<{ p50: number; p95: number }> {
  for (let i = 0; i < 3; i++) await fn();
  const samples: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t = process.hrtime.bigint();
    await fn();
    samples.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return { p50: percentile(samples, 0.5), p95: percentile(samples, 0.95) };
}

const SUMMARY_TABLES = new Set(['opportunity_list', 'pipeline_totals', 'list_day_totals', 'list_label_totals']);

/** Plan nodes touching the deals or a summary table, e.g. "Index Scan opportunity_list_stage_idx". */
async function plan(
  db: Kysely<ReadModelTables>,
  compiled: { sql: string; parameters: readonly unknown[] },
): Promise<{ nodes: string[]; seqScan: boolean }> {
  const { rows } = await db.executeQuery<{ 'QUERY PLAN': any }>({
    sql: `explain (format json) ${compiled.sql}`,
    parameters: compiled.parameters,
    query: { kind: 'RawNode' } as any,
    queryId: { queryId: 'explain' } as any,
  });
  const nodes: string[] = [];
  let seqScan = false;
  const walk = (n: any) => {
    if (SUMMARY_TABLES.has(n['Relation Name'])) {
      nodes.push(`${n['Node Type']}${n['Index Name'] ? ` ${n['Index Name']}` : ` ${n['Relation Name']}`}`);
      if (n['Node Type'] === 'Seq Scan' && n['Relation Name'] === 'opportunity_list') seqScan = true;
    }
    (n.Plans ?? []).forEach(walk);
  };
  walk(rows[0]['QUERY PLAN'][0].Plan);
  return { nodes: [...new Set(nodes)], seqScan };
}

async function main(): Promise<void> {
  const schema = `bench_read_${Date.now()}`;
  const dataDir = PGLITE ? mkdtempSync(join(tmpdir(), 'bench-read-')) : null;
  const database = dataDir ? await openPGlite({ dataDir }) : await openPostgres({ connectionString: url!, schema, max: 10 });
  const db = database.tables<ReadModelTables>();
  await migrateToLatest(db, SCHEMA_MIGRATIONS, dataDir ? undefined : schema);
  const store = new PostgresEventStore(database);
  try {
    let t = Date.now();
    const events = await loadDeals(
      database.tables<GeneratedEventTables>(),
      ORG,
      DEALS,
      42,
      (n) => n % 20000 < 10 && process.stderr.write(`\rgenerated ${n} deals`),
    );
    process.stderr.write(`\rgenerated ${DEALS} deals, ${events} events in ${((Date.now() - t) / 1000).toFixed(1)} s\n`);

    // The live projector's own pace (tables with all their indexes, one batch per transaction),
    // over the first LIVE_SAMPLE events.
    const projection = new OpportunityProjection();
    const runner = new ProjectionRunner(db, store, [projection], { batchSize: 500, pollMs: 100, maxAttempts: 1, haltOnPoison: true });
    await runner.ensureCheckpoints();
    t = Date.now();
    let live = 0;
    while (live < Math.min(LIVE_SAMPLE, events)) {
      const n = await runner.runBatch(projection);
      if (n === 0) break;
      live += n;
    }
    const liveSeconds = (Date.now() - t) / 1000;
    // W3: a full rebuild as `npm run replay` does it (in memory, COPY, indexes built after, swap),
    // beside the floor (reading the log alone, page by page as the rebuild reads it) and the
    // previous way (the live projector's batches into copies), all in this run.
    const kind = PROJECTION_KINDS.find((k) => k.name === OpportunityProjection.NAME)!;
    let peakRss = 0;
    const rssSampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 100);
    t = Date.now();
    let readOnly = 0;
    for (let after: string | null = null; ;) {
      const page = await store.readAll(after, 10_000);
      readOnly += page.events.length;
      after = page.checkpoint;
      if (page.events.length < 10_000) break;
    }
    const readSeconds = (Date.now() - t) / 1000;
    process.stderr.write(`log read alone: ${readOnly} events in ${readSeconds.toFixed(1)} s\n`);
    const rebuilds: ReplayResult[] = [];
    for (let i = 0; i < REBUILDS; i++) {
      peakRss = 0;
      // Sampled on each page too: on PGlite the rebuild's awaits resolve as microtasks, so a timer
      // may not fire until it is done.
      const replayed = await replayProjection(database, store, kind, {
        onProgress: () => (peakRss = Math.max(peakRss, process.memoryUsage().rss)),
      });
      rebuilds.push({ ...replayed, peakRss } as ReplayResult & { peakRss: number });
      process.stderr.write(
        `rebuild ${i + 1}/${REBUILDS} (${replayed.mode}${replayed.fallback ? `, ${replayed.fallback}` : ''}): ${replayed.events} events in ${replayed.seconds.toFixed(1)} s ${JSON.stringify(replayed.phases)}, peak RSS ${(peakRss / 2 ** 20).toFixed(0)} MiB\n`,
      );
    }
    const queriesOnly = values['queries-only'];
    const batches = queriesOnly
      ? { events: 0, seconds: Number.NaN }
      : await replayProjection(database, store, kind, { mode: 'batches', restart: true });
    // The tables in place now come from the batch rebuild: an in-memory verify must find them equal.
    t = Date.now();
    const differences = queriesOnly ? [] : await verifyProjection(database, store, kind);
    const verifySeconds = (Date.now() - t) / 1000;
    if (!queriesOnly) {
      process.stderr.write(
        `verify (in memory) against the batch rebuild: ${differences.length} differences in ${verifySeconds.toFixed(1)} s\n`,
      );
      if (differences.length > 0) throw new Error(`verify found differences: ${JSON.stringify(differences.slice(0, 3))}`);
      process.stderr.write(`rebuild in batches: ${batches.events} events in ${batches.seconds.toFixed(1)} s\n`);
    }
    clearInterval(rssSampler);
    // The median rebuild by time (every rebuild applies the same events).
    const medianRebuild = [...rebuilds].sort((a, b) => a.seconds - b.seconds)[Math.floor(rebuilds.length / 2)] as ReplayResult & {
      peakRss: number;
    };
    const applied = medianRebuild.events;
    const rebuildSeconds = medianRebuild.seconds;
    if (values['rebuild-only']) {
      console.log(
        `Rebuild only, ${DEALS} deals, ${events} events: median ${Math.round(applied / rebuildSeconds)} events/s ${JSON.stringify(medianRebuild.phases)}; read alone ${Math.round(readOnly / readSeconds)} events/s; batches ${Math.round(batches.events / batches.seconds)} events/s; verify ${differences.length} differences`,
      );
      return;
    }
    // Steady state: autovacuum keeps the visibility map set, which index-only scans rely on.
    await sql`vacuum analyze`.execute(db);

    const now = new Date();
    const base: ListQuery = { sort_by: 'created_at', sort_direction: 'desc', page: 1, per_page: 25 };
    const today = now.toISOString().slice(0, 10);
    const inAMonth = new Date(now.getTime() + 30 * 86_400_000).toISOString().slice(0, 10);
    const idRow = await db
      .selectFrom('opportunity_list')
      .select('id')
      .where('org_id', '=', ORG)
      .orderBy('id')
      .limit(1)
      .offset(DEALS >> 1)
      .executeTakeFirstOrThrow();
    const cases: [string, Partial<ListQuery>][] = [
      ['no filter (newest first)', {}],
      ['stage=proposal', { stage: ['proposal'] }],
      ['status=open&assigned_user_id', { status: ['open'], assigned_user_id: 'user_7' }],
      ['customer_id', { customer_id: 'cust_123' }],
      ['priority=high&stage=negotiation', { priority: ['high'], stage: ['negotiation'] }],
      ['expected close date in next 30 days', { expected_close_date_from: today, expected_close_date_to: inAMonth }],
      ['min_value/max_value', { min_value_minor: 4_000_000_000, max_value_minor: 4_100_000_000 }],
      ['search=globex analytics', { search: 'globex analytics' }],
      ['overdue=true', { overdue: true }],
      ['stage=proposal&days_in_stage_min=30', { stage: ['proposal'], days_in_stage_min: 30 }],
      ['status=open&last_activity_days_ago_min=60', { status: ['open'], last_activity_days_ago_min: 60 }],
      ['tags=partner,renewal', { tags: ['partner', 'renewal'] }],
      ['cf_region=emea&stage=verbal_commitment', { custom_fields: { region: 'emea' }, stage: ['verbal_commitment'] }],
      ['stage!=won,lost', { exclude_stage: ['won', 'lost'] }],
      ['sort_by=value desc', { sort_by: 'value', sort_direction: 'desc' }],
    ];
    const lines: string[] = [];
    lines.push(
      `| query | plan (deals and summary-table nodes) | seq scan of all deals | deals matched | p50 ms | p95 ms | floor p95 ms (bare COUNT + SUM over the matching deals) |`,
    );
    lines.push('|---|---|---|---|---|---|---|');
    for (const [label, extra] of cases) {
      const q = { ...base, ...extra } as ListQuery;
      const { sort_by: _a, sort_direction: _b, page: _c, per_page: _d, ...filters } = q;
      const pagePlan = await plan(db, listPageQuery(db, ORG, q, now).compile());
      const totalsPlan = await plan(db, listTotalsQuery(db, ORG, filters, now).compile());
      const latency = await time(() => listOpportunities(db, ORG, q, now));
      // The floor: what summing the matching deals themselves costs with the best index the planner finds.
      const bare = () =>
        applyFilters(db.selectFrom('opportunity_list'), ORG, filters, now)
          .select([(eb) => eb.fn.countAll<string>().as('n'), (eb) => eb.fn.sum<string>('value_minor').as('v')])
          .executeTakeFirstOrThrow();
      const matched = Number((await bare()).n);
      const floor = await time(bare);
      const nodes = [...pagePlan.nodes.map((n) => `page: ${n}`), ...totalsPlan.nodes.map((n) => `totals: ${n}`)].join('<br>');
      lines.push(
        `| list: ${label} | ${nodes} | ${pagePlan.seqScan || totalsPlan.seqScan ? 'yes' : 'no'} | ${matched.toLocaleString('en-US')} | ${latency.p50.toFixed(1)} | ${latency.p95.toFixed(1)} | ${floor.p95.toFixed(1)} |`,
      );
    }
    const detailCompiled = db
      .selectFrom('opportunity_list')
      .select(['state', 'last_version'])
      .where('org_id', '=', ORG)
      .where('id', '=', idRow.id)
      .where('deleted_at', 'is', null)
      .compile();
    const detailPlan = await plan(db, detailCompiled);
    const detail = await time(() =>
      db
        .selectFrom('opportunity_list')
        .select(['state', 'last_version'])
        .where('org_id', '=', ORG)
        .where('id', '=', idRow.id)
        .executeTakeFirst(),
    );
    const row = (label: string, how: string, latency: { p50: number; p95: number }) =>
      lines.push(`| ${label} | ${how} | no | | ${latency.p50.toFixed(1)} | ${latency.p95.toFixed(1)} | |`);
    lines.push(
      `| detail by id | ${detailPlan.nodes.join('<br>')} | ${detailPlan.seqScan ? 'yes' : 'no'} | 1 | ${detail.p50.toFixed(1)} | ${detail.p95.toFixed(1)} | |`,
    );
    row(
      'pipeline-data (all time)',
      'pipeline_totals (pre-aggregated)',
      await time(() => pipelineData(db, ORG, { pipeline: DEFAULT_PIPELINE }, now)),
    );
    row(
      'pipeline-data (this_quarter, user_id)',
      'pipeline_totals (pre-aggregated)',
      await time(() => pipelineData(db, ORG, { pipeline: DEFAULT_PIPELINE, dateRange: 'this_quarter', userId: 'user_3' }, now)),
    );
    const { year, quarter } = quarterOf(now);
    row('forecast (current quarter)', 'pipeline_totals + at-risk index scan', await time(() => forecast(db, ORG, { year, quarter }, now)));
    const monthFrom = today.slice(0, 8) + '01';
    const yearOn = new Date(now.getTime() + 365 * 86_400_000).toISOString().slice(0, 10);
    row(
      'forecast/monthly (next 12 months)',
      'open deals by close month',
      await time(() => monthlyForecast(db, ORG, { from: monthFrom, to: yearOn }, now)),
    );
    row(
      'forecast/monthly (next 12 months, user_id)',
      'open deals by close month',
      await time(() => monthlyForecast(db, ORG, { from: monthFrom, to: yearOn, userId: 'user_3' }, now)),
    );
    const rules = DEFAULT_PIPELINE.stages
      .filter((st) => st.kind === 'active')
      .map((st) => ({ pipeline_id: DEFAULT_PIPELINE.id, stage: st.key, days: 30 }));
    row('stats', 'pipeline_totals + stale and follow-up counts', await time(() => stats(db, ORG, DEFAULT_PIPELINE, now, rules, 30)));
    row(
      'pipeline-summary (all time)',
      'pipeline_totals (pre-aggregated)',
      await time(() => pipelineSummary(db, ORG, DEFAULT_PIPELINE, now)),
    );
    const monthAgo = new Date(now.getTime() - 30 * 86_400_000);
    row(
      'pipeline-data as_of 30 days ago',
      'opportunity_intervals alive then',
      await time(() => pipelineData(db, ORG, { pipeline: DEFAULT_PIPELINE, asOf: monthAgo }, now)),
    );
    row(
      'forecast as_of 30 days ago',
      'opportunity_intervals alive then',
      await time(() => forecast(db, ORG, { year, quarter, asOf: monthAgo }, now)),
    );
    const totalsRows = await db
      .selectFrom('pipeline_totals')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .executeTakeFirstOrThrow();

    console.log(
      `Read models at ${DEALS.toLocaleString('en-US')} deals (${events.toLocaleString('en-US')} events, one org), ${PGLITE ? 'PGlite (embedded)' : 'PostgreSQL 15'}, ${RUNS} timed runs per query after 3 warm-ups.`,
    );
    const eachRebuild =
      rebuilds.length > 1
        ? ` (median of ${rebuilds.length} rebuilds: ${rebuilds.map((r) => `${Math.round(r.events / r.seconds).toLocaleString('en-US')}`).join(', ')} events/s)`
        : '';
    const rate = (events: number, seconds: number) => Math.round(events / seconds).toLocaleString('en-US');
    const p = medianRebuild.phases;
    console.log(
      `Projection rebuild (folded in memory, rows written with COPY, indexes built after, swap): ${applied.toLocaleString('en-US')} events in ${rebuildSeconds.toFixed(1)} s = **${rate(applied, rebuildSeconds)} events/s**${eachRebuild} (apply ${p.apply.toFixed(1)} s, indexes ${p.indexes.toFixed(1)} s, swap ${p.swap.toFixed(1)} s; bench process peak RSS ${(medianRebuild.peakRss / 2 ** 20).toFixed(0)} MiB); pipeline_totals holds ${Number(totalsRows.n).toLocaleString('en-US')} rows.`,
    );
    console.log(
      `Same run: reading the log alone ${rate(readOnly, readSeconds)} events/s (${readSeconds.toFixed(1)} s, the floor of any rebuild); rebuilding in batches (the live projector's statements into copies) ${rate(batches.events, batches.seconds)} events/s (${batches.seconds.toFixed(1)} s) — in memory is ${(batches.seconds / rebuildSeconds).toFixed(2)}× faster, and takes ${(rebuildSeconds / readSeconds).toFixed(2)}× the read alone. \`verify\` (in memory) found ${differences.length} differences against the batch rebuild (${verifySeconds.toFixed(1)} s).`,
    );
    console.log(
      `Live projector (all indexes maintained, batches of 500): ${live.toLocaleString('en-US')} events in ${liveSeconds.toFixed(1)} s = ${Math.round(live / liveSeconds).toLocaleString('en-US')} events/s.`,
    );
    console.log('');
    lines.forEach((l) => console.log(l));
  } finally {
    await store.close();
    if (!values.keep && !dataDir) await sql.raw(`drop schema "${schema}" cascade`).execute(db);
    await database.close();
    if (dataDir && !values.keep) rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
