import { randomUUID } from 'node:crypto';
import { type Kysely, sql } from 'kysely';
import { PostgresEventStore } from '@app/event-store';
import { type Database } from '@app/platform';
import {
  type ListFilters,
  type ListQuery,
  listOpportunities,
  OpportunityProjection,
  ProjectionRunner,
  type ReadModelTables,
} from '@app/read-models';
import { facetSource, openByCloseMonth, rowTotalsQuery } from '../../libs/read-models/src/opportunities/queries/list-opportunities';
import { up as createFacetTables } from '../../libs/read-models/src/migrations/2026_12_04_0015_list_facet_totals';
import { testBackends } from '../support/test-database';
import { allEvents, DealWriter } from './fixtures';

/**
 * The list summary of a filter answered by list_day_totals / list_label_totals must equal the sum
 * over the matching deals themselves, whatever the deals went through.
 */

const DAY = 86_400_000;
const NOW = new Date('2027-03-15T10:30:00.000Z');
const iso = (daysAgo: number, hour = 12) => new Date(Date.UTC(2027, 2, 15 - daysAgo, hour, 7)).toISOString();
const date = (daysFromNow: number) => new Date(NOW.getTime() + daysFromNow * DAY).toISOString().slice(0, 10);

const LONG_KEY = `k${'y'.repeat(3000)}`;
const LONG_TAGS = Array.from({ length: 12 }, (_, i) => `long-tag-${String(i).padStart(2, '0')}-${'x'.repeat(32)}`);

/** Deals that cover every facet: dates before, on and after each filter's bound, long labels, deletes, closes. */
async function writeDeals(w: DealWriter): Promise<void> {
  const stages = ['prospecting', 'qualification', 'proposal', 'negotiation'];
  const currencies = ['USD', 'USD', 'EUR', 'GBP'];
  const tagSets = [
    [],
    ['partner'],
    ['partner', 'renewal'],
    ['renewal', 'partner', 'smb'],
    ['smb'],
    LONG_TAGS,
    [...LONG_TAGS, 'partner', 'renewal'],
  ];
  const regions = ['emea', 'amer', 'apac', 'x'.repeat(600)];
  for (let i = 0; i < 42; i++) {
    const id = randomUUID();
    const custom_fields: Record<string, unknown> = { region: regions[i % regions.length], seats: i % 5, vip: i % 3 === 0 };
    if (i % 7 === 0) custom_fields.address = { city: 'Oslo' };
    if (i % 10 === 1) custom_fields[LONG_KEY] = 'v'; // a key too long to be a label: no rows, and no failure
    if (i % 11 === 0) custom_fields.seats = String(i % 5); // the same key as text: a different label
    await w.run(
      id,
      [
        {
          type: 'CreateOpportunity',
          opportunity_id: id,
          input: {
            name: `Deal ${i}`,
            // A prospect may have no close date yet.
            ...(i % 9 === 0 ? { prospect_name: `Prospect ${i}` } : { customer_id: `c${i % 4}` }),
            value_minor: 100_000 + i * 1_337,
            currency: currencies[i % currencies.length],
            stage: i % 8 === 3 ? 'verbal_commitment' : stages[i % stages.length], // won below: from the last active stage
            expected_close_date: i % 9 === 0 ? null : date((i % 13) * 5 - 31),
            follow_up_date: i % 4 === 0 ? null : date((i % 6) - 3),
            tags: tagSets[i % tagSets.length],
            custom_fields,
          },
        },
      ],
      [iso(40 + (i % 50), i % 24)],
    );
    // Stage and activity days spread around 30 and 60 days ago; some close, some are deleted.
    if (i % 3 === 1 && i % 8 !== 3) await w.run(id, [{ type: 'AdvanceStage' }], [iso(28 + (i % 5), 23)]);
    if (i % 5 === 2)
      await w.run(
        id,
        [{ type: 'UpdateOpportunity', changes: { tags: ['partner', 'renewal'], custom_fields: { region: 'emea' } } }],
        [iso(59 + (i % 4), 0)],
      );
    if (i % 8 === 3) await w.run(id, [{ type: 'Win' }], [iso(10)]);
    if (i % 8 === 5) await w.run(id, [{ type: 'Lose', loss_reason: 'price' }], [iso(12)]);
    if (i % 6 === 4 && i % 8 !== 3 && i % 8 !== 5) await w.run(id, [{ type: 'PutOnHold', reason: 'budget' }], [iso(70)]);
    if (i % 10 === 7 && i % 8 !== 3 && i % 8 !== 5) await w.run(id, [{ type: 'Delete' }], [iso(5)]);
  }
}

/** Rotting rules as the stages give them; on_hold has none in a real org, here it shows stage_kind counts. */
const STALE_RULES = [
  { pipeline_id: 'default', stage: 'prospecting', days: 30 },
  { pipeline_id: 'default', stage: 'qualification', days: 45 },
  { pipeline_id: 'default', stage: 'needs_analysis', days: 60 },
  { pipeline_id: 'default', stage: 'proposal', days: 31 },
  { pipeline_id: 'default', stage: 'on_hold', days: 1 },
];

const FILTERS: [string, ListFilters][] = [
  ['close date window', { expected_close_date_from: date(0), expected_close_date_to: date(30) }],
  ['close date to only', { expected_close_date_to: date(-1) }],
  ['close date from, EUR', { expected_close_date_from: date(-10), currency: 'EUR' }],
  ['overdue', { overdue: true }],
  ['overdue with a window', { overdue: true, expected_close_date_from: date(-20), expected_close_date_to: date(10) }],
  ['overdue, stage', { overdue: true, stage: ['proposal', 'negotiation'] }],
  ['overdue, close date to in the past', { overdue: true, expected_close_date_to: date(-6) }],
  ['days in stage ≥ 30', { days_in_stage_min: 30 }],
  ['days in stage ≥ 0', { days_in_stage_min: 0 }],
  ['days in stage ≥ 45, stage', { days_in_stage_min: 45, stage: ['proposal'] }],
  ['last activity ≥ 60 days, open', { last_activity_days_ago_min: 60, status: ['open'] }],
  ['last activity ≥ 29 days, stage!=', { last_activity_days_ago_min: 29, exclude_stage: ['won', 'lost'] }],
  ['needs follow-up', { needs_follow_up: true }],
  ['tags partner', { tags: ['partner'] }],
  ['tags partner,renewal', { tags: ['partner', 'renewal'] }],
  ['tags smb, status won', { tags: ['smb'], status: ['won'] }],
  ['region emea', { custom_fields: { region: 'emea' } }],
  ['region emea, stage', { custom_fields: { region: 'emea' }, stage: ['negotiation'] }],
  ['region long value', { custom_fields: { region: 'x'.repeat(600) } }],
  ['seats 3 (number or text)', { custom_fields: { seats: '3' } }],
  ['vip true', { custom_fields: { vip: 'true' } }],
  ['pipeline and region apac', { pipeline_id: 'default', custom_fields: { region: 'apac' } }],
  ['stale by per-stage rules (on hold never stale)', { stale: { value: true, rules: STALE_RULES } }],
  ['stale, pipeline, currency', { stale: { value: true, rules: STALE_RULES }, pipeline_id: 'default', currency: 'USD' }],
  ['stale with no rules', { stale: { value: true, rules: [] } }],
  ['needs follow-up in a pipeline', { needs_follow_up: true, pipeline_id: 'default' }],
];

for (const backend of testBackends()) {
  describe(`list summaries from the facet tables on ${backend.name}`, () => {
    let database: Database;
    let db: Kysely<ReadModelTables>;
    let store: PostgresEventStore;
    let w: DealWriter;

    beforeAll(async () => {
      database = await backend.open();
      db = database.tables<ReadModelTables>();
      store = new PostgresEventStore(database);
      const projection = new OpportunityProjection();
      const runner = new ProjectionRunner(db, store, [projection], { batchSize: 5, pollMs: 20, maxAttempts: 1, haltOnPoison: true });
      await runner.ensureCheckpoints();
      w = new DealWriter(store);
      await writeDeals(w);
      await allEvents(db, store);
      await runner.catchUp(projection);
    });
    afterAll(() => database.close());

    const summary = async (filters: ListFilters) => {
      const query: ListQuery = { sort_by: 'created_at', sort_direction: 'desc', page: 1, per_page: 5, ...filters };
      const { byCurrency, total } = await listOpportunities(db, w.orgId, query, NOW);
      return {
        byCurrency: byCurrency.map((t) => ({
          ...t,
          value_minor: String(t.value_minor),
          weighted_value_minor: String(t.weighted_value_minor),
        })),
        total,
      };
    };
    const fromDeals = async (filters: ListFilters) => {
      const rows = await rowTotalsQuery(db, w.orgId, filters, NOW).execute();
      return Object.fromEntries(rows.map((r) => [r.currency, [Number(r.count), String(r.value_minor), String(r.weighted_value_minor)]]));
    };

    it.each(FILTERS)('%s: answered by a facet table, equal to the sum over the matching deals', async (_label, filters) => {
      expect(facetSource(filters, NOW)).not.toBeNull();
      const got = await summary(filters);
      const expected = await fromDeals(filters);
      expect(Object.fromEntries(got.byCurrency.map((t) => [t.currency, [t.count, t.value_minor, t.weighted_value_minor]]))).toEqual(
        expected,
      );
      expect(got.total).toBe(Object.values(expected).reduce((n, [count]) => n + Number(count), 0));
    });

    it('the fixture gives most filters matches, and unlisted labels a case', async () => {
      let nonEmpty = 0;
      for (const [, filters] of FILTERS) if ((await summary(filters)).total > 0) nonEmpty++;
      expect(nonEmpty).toBeGreaterThanOrEqual(FILTERS.length - 2);
      expect((await summary({ tags: LONG_TAGS.slice(0, 2) })).total).toBeGreaterThan(0); // only the deals can say
      expect((await summary({ custom_fields: { region: 'x'.repeat(600) } })).total).toBeGreaterThan(0);
      const longKey = await summary({ custom_fields: { [LONG_KEY]: 'v' } });
      expect(longKey.total).toBeGreaterThan(0);
      const expected = await fromDeals({ custom_fields: { [LONG_KEY]: 'v' } });
      expect(Object.fromEntries(longKey.byCurrency.map((t) => [t.currency, [t.count, t.value_minor, t.weighted_value_minor]]))).toEqual(
        expected,
      );
    });

    it('open deals per close month come from the facet table, equal to the deals grouped by month', async () => {
      const range = { from: date(-20), to: date(40) };
      const got = await openByCloseMonth(db, w.orgId, range, NOW);
      const { rows } = await sql<{ currency: string; month: string; count: string; value_minor: string; weighted_value_minor: string }>`
        select currency, to_char(expected_close_date, 'YYYY-MM') as month, count(*)::text as count,
          sum(value_minor)::text as value_minor, sum(weighted_value_minor)::text as weighted_value_minor
        from opportunity_list where org_id = ${w.orgId} and deleted_at is null and status = 'open'
          and expected_close_date between ${range.from} and ${range.to}
        group by 1, 2`.execute(db);
      const norm = (list: typeof rows) =>
        list.map((r) => [r.currency, r.month, String(r.count), String(r.value_minor), String(r.weighted_value_minor)]).sort();
      expect(rows.length).toBeGreaterThan(2);
      expect(norm(got)).toEqual(norm(rows));
    });

    it('filters beyond one facet are summed over the deals (no facet source)', () => {
      expect(facetSource({ tags: ['partner'], custom_fields: { region: 'emea' } }, NOW)).toBeNull();
      expect(facetSource({ days_in_stage_min: 3, last_activity_days_ago_min: 4 }, NOW)).toBeNull();
      expect(facetSource({ overdue: false }, NOW)).toBeNull();
      expect(facetSource({ needs_follow_up: false }, NOW)).toBeNull();
      expect(facetSource({ tags: ['partner'], assigned_user_id: 'u1' }, NOW)).toBeNull();
      expect(facetSource({ custom_fields: { a: '1', b: '2' } }, NOW)).toBeNull();
      expect(facetSource({ stale: { value: false, rules: STALE_RULES } }, NOW)).toBeNull();
      expect(facetSource({ custom_fields: { [LONG_KEY]: 'v' } }, NOW)).toBeNull();
    });

    it('the migration builds the same facet rows from the stored deals (an existing database upgraded)', async () => {
      const read = async () => ({
        days: (
          await sql`select * from list_day_totals where org_id = ${w.orgId} order by facet, day, pipeline_id, stage, stage_kind, status, currency`.execute(
            db,
          )
        ).rows,
        labels: (
          await sql`select * from list_label_totals where org_id = ${w.orgId} order by facet, label, pipeline_id, stage, status, currency`.execute(
            db,
          )
        ).rows,
      });
      const live = await read();
      expect(live.days.length).toBeGreaterThan(20);
      expect(live.labels.length).toBeGreaterThan(20);
      await sql`drop table list_day_totals; drop table list_label_totals`.execute(db);
      await createFacetTables(db);
      expect(await read()).toEqual(live);
    });
  });
}
