import { type ExpressionBuilder, type Kysely, type SelectQueryBuilder, sql } from 'kysely';
import type { ReadModelTables } from '../../tables';
import { type DayFacet, fieldLabel, listableField, UNLISTED_TAGS, unlistedField } from '../list-facets';

export const SORTABLE = {
  created_at: 'created_at',
  updated_at: 'updated_at',
  value: 'value_minor',
  weighted_value: 'weighted_value_minor',
  expected_close_date: 'expected_close_date',
  probability: 'probability',
  name: 'name',
  stage_changed_at: 'stage_changed_at',
  last_activity_at: 'last_activity_at',
} as const;
export type SortField = keyof typeof SORTABLE;
const NULLABLE_SORTS: ReadonlySet<SortField> = new Set(['expected_close_date']);

export interface ListFilters {
  stage?: string[];
  exclude_stage?: string[];
  status?: Array<'open' | 'won' | 'lost'>;
  pipeline_id?: string;
  customer_id?: string;
  assigned_user_id?: string;
  /** Deals this contact is a stakeholder of. */
  contact_id?: string;
  priority?: string[];
  source?: string;
  category_id?: string;
  currency?: string;
  expected_close_date_from?: string;
  expected_close_date_to?: string;
  min_value_minor?: number;
  max_value_minor?: number;
  search?: string;
  overdue?: boolean;
  days_in_stage_min?: number;
  last_activity_days_ago_min?: number;
  needs_follow_up?: boolean;
  /** Deals carrying all of these tags. */
  tags?: string[];
  /** cf_<key>=value filters: custom_fields[key] equals value. */
  custom_fields?: Record<string, string>;
  /** Stale (rotting) or not, by the stages' rules. */
  stale?: { value: boolean; rules: StaleRule[] };
  /** cf_<key>__gte / cf_<key>__lte on a number or date field (bounds checked by the caller). */
  custom_field_ranges?: CustomFieldRange[];
}

/** A number or date custom field, as a filter or sort reads it. */
export interface TypedCustomField {
  key: string;
  type: 'number' | 'date';
}

export interface CustomFieldRange extends TypedCustomField {
  op: 'gte' | 'lte';
  /** A finite number (number fields) or 'YYYY-MM-DD' (date fields). */
  value: number | string;
}

/**
 * custom_fields[key] as a number or a 'YYYY-MM-DD' text, or null for a value of another type: the
 * guard comes before the cast, so a value stored before the definition changed never fails the
 * query; it just matches no range and sorts last. Dates compare as text (the form sorts by date;
 * the month and day are checked by the pattern, so '2027-13-99' is no date, though '2027-02-30' of
 * an old value would sort as one: text never fails where a ::date cast would).
 */
function typedCustomField(field: TypedCustomField) {
  const key = sql.val(field.key);
  return field.type === 'number'
    ? sql`(case when jsonb_typeof(custom_fields -> ${key}) = 'number' then (custom_fields ->> ${key})::numeric end)`
    : sql`(case when jsonb_typeof(custom_fields -> ${key}) = 'string' and (custom_fields ->> ${key}) ~ '^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$' then (custom_fields ->> ${key}) end)`;
}

/** An open deal in this stage with no activity for `days` days is stale (rotting). */
export interface StaleRule {
  pipeline_id: string;
  stage: string;
  days: number;
}

export interface ListQuery extends ListFilters {
  sort_by: SortField;
  /** sort_by=cf_<key> on a number or date field: sorts by it (nulls last), before sort_by. */
  sort_custom_field?: TypedCustomField;
  sort_direction: 'asc' | 'desc';
  page: number;
  per_page: number;
}

export interface CurrencyTotals {
  currency: string;
  count: number;
  value_minor: bigint;
  weighted_value_minor: bigint;
}

const DAY_MS = 86_400_000;

/** 00:00 UTC of the day after (the day of `now` minus `days`). */
function startOfDayAfter(now: Date, days: number): Date {
  const midnight = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  return new Date(midnight - (days - 1) * DAY_MS);
}

/** Every list filter as one WHERE clause; each is served by an index on opportunity_list. */
export function applyFilters<QB extends SelectQueryBuilder<ReadModelTables, 'opportunity_list', object>>(
  qb: QB,
  orgId: string,
  f: ListFilters,
  now: Date,
): QB {
  const today = now.toISOString().slice(0, 10);
  let q = qb.where('org_id', '=', orgId).where('deleted_at', 'is', null) as QB;
  const where = (cond: (q: QB) => QB) => (q = cond(q));
  if (f.stage?.length) where((x) => x.where('stage', 'in', f.stage!) as QB);
  if (f.exclude_stage?.length) where((x) => x.where('stage', 'not in', f.exclude_stage!) as QB);
  if (f.status?.length) where((x) => x.where('status', 'in', f.status!) as QB);
  if (f.pipeline_id) where((x) => x.where('pipeline_id', '=', f.pipeline_id!) as QB);
  if (f.customer_id) where((x) => x.where('customer_id', '=', f.customer_id!) as QB);
  if (f.assigned_user_id) where((x) => x.where('assigned_user_id', '=', f.assigned_user_id!) as QB);
  if (f.contact_id) {
    // Containment on the folded state's stakeholders (GIN index opportunity_list_stakeholders_idx).
    const contact = JSON.stringify([{ contact_id: f.contact_id }]);
    where((x) => x.where(sql<boolean>`state -> 'stakeholders' @> ${contact}::jsonb`) as QB);
  }
  if (f.priority?.length) where((x) => x.where('priority', 'in', f.priority!) as QB);
  if (f.source) where((x) => x.where('source', '=', f.source!) as QB);
  if (f.category_id) where((x) => x.where('category_id', '=', f.category_id!) as QB);
  if (f.currency) where((x) => x.where('currency', '=', f.currency!) as QB);
  if (f.expected_close_date_from) where((x) => x.where('expected_close_date', '>=', f.expected_close_date_from!) as QB);
  if (f.expected_close_date_to) where((x) => x.where('expected_close_date', '<=', f.expected_close_date_to!) as QB);
  if (f.min_value_minor !== undefined) where((x) => x.where('value_minor', '>=', String(f.min_value_minor)) as QB);
  if (f.max_value_minor !== undefined) where((x) => x.where('value_minor', '<=', String(f.max_value_minor)) as QB);
  if (f.search?.trim()) {
    const query = toPrefixQuery(f.search);
    if (query) where((x) => x.where(sql<boolean>`search @@ to_tsquery('simple', ${query})`) as QB);
  }
  if (f.overdue === true) {
    where((x) => x.where('status', '=', 'open').where('expected_close_date', '<', today) as QB);
  } else if (f.overdue === false) {
    where(
      (x) =>
        x.where((eb) =>
          eb.or([eb('status', '!=', 'open'), eb('expected_close_date', '>=', today), eb('expected_close_date', 'is', null)]),
        ) as QB,
    );
  }
  // Day counts are calendar days (UTC), as stage_duration shows them: N days ago or earlier
  // means before the start of the day after (today − N).
  if (f.days_in_stage_min !== undefined) {
    where((x) => x.where('stage_changed_at', '<', startOfDayAfter(now, f.days_in_stage_min!)) as QB);
  }
  if (f.last_activity_days_ago_min !== undefined) {
    where((x) => x.where('last_activity_at', '<', startOfDayAfter(now, f.last_activity_days_ago_min!)) as QB);
  }
  if (f.needs_follow_up === true) {
    where((x) => x.where('status', '=', 'open').where('follow_up_date', '<=', today) as QB);
  } else if (f.needs_follow_up === false) {
    where(
      (x) => x.where((eb) => eb.or([eb('status', '!=', 'open'), eb('follow_up_date', 'is', null), eb('follow_up_date', '>', today)])) as QB,
    );
  }
  if (f.stale !== undefined) {
    const rules = f.stale.rules;
    const isStale = (eb: ExpressionBuilder<ReadModelTables, 'opportunity_list'>) =>
      eb.and([
        eb('status', '=', 'open'),
        eb('stage_kind', '=', 'active'),
        rules.length
          ? eb.or(
              rules.map((r) =>
                eb.and([
                  eb('pipeline_id', '=', r.pipeline_id),
                  eb('stage', '=', r.stage),
                  eb('last_activity_at', '<', startOfDayAfter(now, r.days)),
                ]),
              ),
            )
          : sql<boolean>`false`,
      ]);
    where((x) => x.where((eb) => (f.stale!.value ? isStale(eb) : eb.not(isStale(eb)))) as QB);
  }
  if (f.tags?.length) where((x) => x.where(sql<boolean>`tags @> ${sql.val(f.tags)}::text[]`) as QB);
  for (const [key, value] of Object.entries(f.custom_fields ?? {})) {
    const candidates = customFieldCandidates(key, value);
    where((x) => x.where((eb) => eb.or(candidates.map((c) => eb(sql`custom_fields`, '@>', sql`${JSON.stringify(c)}::jsonb`)))) as QB);
  }
  for (const range of f.custom_field_ranges ?? []) {
    const bound = range.type === 'number' ? sql`${String(range.value)}::numeric` : sql`${String(range.value)}::text`;
    const op = sql.raw(range.op === 'gte' ? '>=' : '<=');
    where((x) => x.where(sql<boolean>`${typedCustomField(range)} ${op} ${bound}`) as QB);
  }
  return q;
}

/** Filters that pipeline_totals can answer without touching one row per deal. */
const TOTALS_FILTERS: ReadonlySet<keyof ListFilters> = new Set([
  'stage',
  'exclude_stage',
  'status',
  'assigned_user_id',
  'pipeline_id',
  'currency',
]);

const isEmpty = (value: unknown) =>
  value === undefined ||
  (Array.isArray(value) && value.length === 0) ||
  (typeof value === 'object' && value !== null && !Array.isArray(value) && Object.keys(value).length === 0);

/** The filters given (an empty list or map is no filter). */
const given = (f: ListFilters) => (Object.keys(f) as (keyof ListFilters)[]).filter((key) => !isEmpty(f[key]));

function answerableFromTotals(f: ListFilters): boolean {
  return given(f).every((key) => TOTALS_FILTERS.has(key));
}

/** Filters the facet tables group by (list-facets.ts); owner is not one of them. */
const FACET_DIMENSIONS: ReadonlySet<keyof ListFilters> = new Set(['stage', 'exclude_stage', 'status', 'pipeline_id', 'currency']);
const CLOSE_DATE_FILTERS: ReadonlySet<keyof ListFilters> = new Set(['expected_close_date_from', 'expected_close_date_to', 'overdue']);

/**
 * Where a summary can come from list_day_totals (from ≤ day ≤ to, day < before) or list_label_totals
 * (the labels matching), or null: the filters need the deals themselves. One facet per query, with
 * any of FACET_DIMENSIONS beside it. `openOnly`: the filter itself asks for open deals.
 */
type FacetSource =
  | {
      table: 'list_day_totals';
      facet: DayFacet;
      from?: string;
      to?: string;
      before?: string;
      openOnly: boolean;
      /** stale=true: an open, active deal of one of these stages with its last activity before the rule's day. */
      stale?: { pipeline_id: string; stage: string; before: string }[];
    }
  | { table: 'list_label_totals'; facet: 'tags'; contains: string[]; unlisted: unknown }
  | { table: 'list_label_totals'; facet: 'field'; labels: unknown[]; unlisted: unknown };

const dayOf = (instant: Date) => instant.toISOString().slice(0, 10);

export function facetSource(f: ListFilters, now: Date): FacetSource | null {
  // N days ago or earlier: before the day after (today − N), as applyFilters compares.
  const daysAgo = (facet: DayFacet, days: number): FacetSource => ({
    table: 'list_day_totals',
    facet,
    before: dayOf(startOfDayAfter(now, days)),
    openOnly: false,
  });
  const own = given(f).filter((key) => !FACET_DIMENSIONS.has(key));
  if (own.length === 0) return null;
  const today = dayOf(now);
  if (own.every((key) => CLOSE_DATE_FILTERS.has(key))) {
    if (f.overdue === false) return null;
    // from ≤ day ≤ to, and before today when overdue.
    return {
      table: 'list_day_totals',
      facet: 'expected_close',
      from: f.expected_close_date_from,
      to: f.expected_close_date_to,
      before: f.overdue ? today : undefined,
      openOnly: f.overdue === true,
    };
  }
  if (own.length !== 1) return null;
  switch (own[0]) {
    case 'days_in_stage_min':
      return daysAgo('stage_changed', f.days_in_stage_min!);
    case 'last_activity_days_ago_min':
      return daysAgo('last_activity', f.last_activity_days_ago_min!);
    case 'needs_follow_up':
      return f.needs_follow_up === true
        ? { table: 'list_day_totals', facet: 'follow_up', before: dayOf(startOfDayAfter(now, 0)), openOnly: true }
        : null;
    case 'stale':
      return f.stale!.value
        ? {
            table: 'list_day_totals',
            facet: 'last_activity',
            openOnly: true,
            stale: f.stale!.rules.map((r) => ({ pipeline_id: r.pipeline_id, stage: r.stage, before: dayOf(startOfDayAfter(now, r.days)) })),
          }
        : null;
    case 'tags':
      return { table: 'list_label_totals', facet: 'tags', contains: f.tags!, unlisted: UNLISTED_TAGS };
    case 'custom_fields': {
      const entries = Object.entries(f.custom_fields!);
      if (entries.length !== 1) return null;
      const [key, value] = entries[0];
      if (!listableField(key)) return null;
      const labels = customFieldCandidates(key, value).map((c) => fieldLabel(key, c[key] as string | number | boolean));
      return { table: 'list_label_totals', facet: 'field', labels, unlisted: unlistedField(key) };
    }
    default:
      return null;
  }
}

/** A summary group: count and money of one currency. `unlisted`: a deal it may hold is not in the facet table. */
export interface TotalsGroup {
  currency: string;
  count: string;
  value_minor: string | null;
  weighted_value_minor: string | null;
  unlisted?: boolean;
}

/** A summary query as the list runs it and benchmarks EXPLAIN it. */
export type TotalsQuery = Pick<SelectQueryBuilder<ReadModelTables, any, TotalsGroup>, 'compile' | 'execute'>;

/** Groups of a summary table (pipeline_totals, list_day_totals, list_label_totals) that `f` selects. */
function inGroups<QB extends SelectQueryBuilder<ReadModelTables, 'pipeline_totals' | 'list_day_totals', object>>(
  qb: QB,
  orgId: string,
  f: ListFilters,
): QB {
  let q = qb.where('org_id', '=', orgId).where('deal_count', '>', '0') as QB;
  if (f.stage?.length) q = q.where('stage', 'in', f.stage) as QB;
  if (f.exclude_stage?.length) q = q.where('stage', 'not in', f.exclude_stage) as QB;
  if (f.status?.length) q = q.where('status', 'in', f.status) as QB;
  if (f.pipeline_id) q = q.where('pipeline_id', '=', f.pipeline_id) as QB;
  if (f.currency) q = q.where('currency', '=', f.currency) as QB;
  return q;
}

/** A summary group's count and money, summed over the group rows of one currency. */
const summed = [
  'currency',
  (eb: ExpressionBuilder<ReadModelTables, 'pipeline_totals' | 'list_day_totals'>) => eb.fn.sum<string>('deal_count').as('count'),
  (eb: ExpressionBuilder<ReadModelTables, 'pipeline_totals' | 'list_day_totals'>) => eb.fn.sum<string>('value_minor').as('value_minor'),
  (eb: ExpressionBuilder<ReadModelTables, 'pipeline_totals' | 'list_day_totals'>) =>
    eb.fn.sum<string>('weighted_value_minor').as('weighted_value_minor'),
] as const;

function facetTotalsQuery(db: Kysely<ReadModelTables>, orgId: string, f: ListFilters, source: FacetSource): TotalsQuery {
  const base = <T extends 'list_day_totals' | 'list_label_totals'>(table: T) =>
    inGroups(db.selectFrom(table as 'list_day_totals'), orgId, f);
  if (source.table === 'list_day_totals') {
    let q = base('list_day_totals').where('facet', '=', source.facet);
    if (source.from) q = q.where('day', '>=', source.from);
    if (source.to) q = q.where('day', '<=', source.to);
    if (source.before) q = q.where('day', '<', source.before);
    if (source.openOnly) q = q.where('status', '=', 'open');
    const rules = source.stale;
    if (rules) {
      q = q
        .where('stage_kind', '=', 'active')
        .where((eb) =>
          rules.length
            ? eb.or(rules.map((r) => eb.and([eb('pipeline_id', '=', r.pipeline_id), eb('stage', '=', r.stage), eb('day', '<', r.before)])))
            : sql<boolean>`false`,
        );
    }
    return q.select(summed).groupBy('currency');
  }
  const unlisted = sql`${JSON.stringify(source.unlisted)}::jsonb`;
  const listed = sql`label <> ${unlisted}`;
  const matching =
    source.facet === 'tags'
      ? sql<boolean>`(label @> ${JSON.stringify(source.contains)}::jsonb or label = ${unlisted})`
      : sql<boolean>`label in (${sql.join([...source.labels, source.unlisted].map((l) => sql`${JSON.stringify(l)}::jsonb`))})`;
  return base('list_label_totals')
    .where(sql.ref('facet'), '=', source.facet)
    .where(matching)
    .select([
      'currency',
      sql<string>`coalesce(sum(deal_count) filter (where ${listed}), 0)`.as('count'),
      sql<string>`sum(value_minor) filter (where ${listed})`.as('value_minor'),
      sql<string>`sum(weighted_value_minor) filter (where ${listed})`.as('weighted_value_minor'),
      sql<boolean>`bool_or(not ${listed})`.as('unlisted'),
    ])
    .groupBy('currency') as unknown as TotalsQuery;
}

/**
 * The page query (sorted, limited). The page's ids come first, from a query that needs only the
 * columns an index carries where the filters allow (then it skips non-matching deals in the index
 * alone), and only those rows are read whole. Exposed so benchmarks can EXPLAIN exactly what runs.
 */
export function listPageQuery(db: Kysely<ReadModelTables>, orgId: string, query: ListQuery, now: Date) {
  const column = SORTABLE[query.sort_by];
  // Only a nullable column needs NULLS LAST; on the others it would stop the index serving the sort.
  const direction = `${query.sort_direction === 'asc' ? 'asc' : 'desc'}${NULLABLE_SORTS.has(query.sort_by) ? ' nulls last' : ''}`;
  const custom = query.sort_custom_field;
  const sorted = <QB extends SelectQueryBuilder<ReadModelTables, 'opportunity_list', any>>(qb: QB): QB =>
    qb
      .$if(custom !== undefined, (x) =>
        x.orderBy(sql`${typedCustomField(custom!)} ${sql.raw(query.sort_direction === 'asc' ? 'asc' : 'desc')} nulls last`),
      )
      .orderBy(sql`${sql.ref(column)} ${sql.raw(direction)}`)
      .orderBy('id', query.sort_direction) as QB;
  const ids = sorted(applyFilters(db.selectFrom('opportunity_list'), orgId, query, now).select('id'))
    .limit(query.per_page)
    .offset((query.page - 1) * query.per_page);
  return sorted(
    db
      .selectFrom('opportunity_list')
      .select(['id', 'state', 'stage_kind', 'last_version'])
      .where('org_id', '=', orgId)
      .where('id', 'in', ids),
  );
}

/**
 * Count and money per currency over the whole filtered set, from the cheapest exact source:
 * pipeline_totals, a facet table, or the matching deals themselves (rowTotalsQuery).
 */
export function listTotalsQuery(db: Kysely<ReadModelTables>, orgId: string, f: ListFilters, now: Date): TotalsQuery {
  if (answerableFromTotals(f)) {
    return inGroups(db.selectFrom('pipeline_totals'), orgId, f)
      .$if(!!f.assigned_user_id, (q) => q.where('assigned_user_id', '=', f.assigned_user_id!))
      .select(summed)
      .groupBy('currency');
  }
  const source = facetSource(f, now);
  return source ? facetTotalsQuery(db, orgId, f, source) : rowTotalsQuery(db, orgId, f, now);
}

/** The summary summed over the matching deals, one by one: the answer whatever the filters. */
export function rowTotalsQuery(db: Kysely<ReadModelTables>, orgId: string, f: ListFilters, now: Date): TotalsQuery {
  return applyFilters(db.selectFrom('opportunity_list'), orgId, f, now)
    .select([
      'currency',
      (eb) => eb.fn.countAll<string>().as('count'),
      (eb) => eb.fn.sum<string>('value_minor').as('value_minor'),
      (eb) => eb.fn.sum<string>('weighted_value_minor').as('weighted_value_minor'),
    ])
    .groupBy('currency');
}

export async function listOpportunities(db: Kysely<ReadModelTables>, orgId: string, query: ListQuery, now: Date) {
  const { sort_by: _s, sort_direction: _d, sort_custom_field: _c, page: _p, per_page: _pp, ...filters } = query;
  const [rows, byCurrency] = await Promise.all([listPageQuery(db, orgId, query, now).execute(), listTotals(db, orgId, filters, now)]);
  return { rows, byCurrency, total: byCurrency.reduce((n, t) => n + t.count, 0) };
}

/** The summary of the deals matching `f`, per currency (most deals first). */
export async function listTotals(db: Kysely<ReadModelTables>, orgId: string, f: ListFilters, now: Date): Promise<CurrencyTotals[]> {
  const fromTotals = await listTotalsQuery(db, orgId, f, now).execute();
  // A deal whose label was too long to store may match: only the deals themselves can say.
  const totals = fromTotals.some((t) => t.unlisted) ? await rowTotalsQuery(db, orgId, f, now).execute() : fromTotals;
  return totals
    .filter((t) => Number(t.count) > 0)
    .map((t) => ({
      currency: t.currency,
      count: Number(t.count),
      value_minor: BigInt(t.value_minor ?? 0),
      weighted_value_minor: BigInt(t.weighted_value_minor ?? 0),
    }))
    .sort((a, b) => b.count - a.count || a.currency.localeCompare(b.currency));
}

/** Open deals per currency and expected-close month (YYYY-MM) in [from, to]: from list_day_totals unless an owner is given. */
export async function openByCloseMonth(
  db: Kysely<ReadModelTables>,
  orgId: string,
  q: { from?: string; to?: string; userId?: string },
  now: Date,
): Promise<{ currency: string; month: string; count: string; value_minor: string; weighted_value_minor: string }[]> {
  if (!q.userId) {
    return db
      .selectFrom('list_day_totals')
      .where('org_id', '=', orgId)
      .where('facet', '=', 'expected_close')
      .where('status', '=', 'open')
      .where('deal_count', '>', '0')
      .$if(q.from !== undefined, (x) => x.where('day', '>=', q.from!))
      .$if(q.to !== undefined, (x) => x.where('day', '<=', q.to!))
      .select([
        'currency',
        sql<string>`to_char(day, 'YYYY-MM')`.as('month'),
        (eb) => eb.fn.sum<string>('deal_count').as('count'),
        (eb) => eb.fn.sum<string>('value_minor').as('value_minor'),
        (eb) => eb.fn.sum<string>('weighted_value_minor').as('weighted_value_minor'),
      ])
      .groupBy(['currency', sql`to_char(day, 'YYYY-MM')`])
      .execute();
  }
  return applyFilters(
    db.selectFrom('opportunity_list'),
    orgId,
    { status: ['open'], expected_close_date_from: q.from, expected_close_date_to: q.to, assigned_user_id: q.userId },
    now,
  )
    .where('expected_close_date', 'is not', null)
    .select([
      'currency',
      sql<string>`to_char(expected_close_date, 'YYYY-MM')`.as('month'),
      (eb) => eb.fn.countAll<string>().as('count'),
      (eb) => eb.fn.sum<string>('value_minor').as('value_minor'),
      (eb) => eb.fn.sum<string>('weighted_value_minor').as('weighted_value_minor'),
    ])
    .groupBy(['currency', sql`to_char(expected_close_date, 'YYYY-MM')`])
    .execute();
}

/** "acme corp" → 'acme:* & corp:*' (word prefixes, every word required). */
function toPrefixQuery(search: string): string | null {
  const words = search
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
    .filter(Boolean)
    .slice(0, 8);
  return words.length ? words.map((w) => `${w}:*`).join(' & ') : null;
}

/** A query string value may stand for a JSON string, number or boolean in custom_fields. */
function customFieldCandidates(key: string, value: string): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [{ [key]: value }];
  if (/^-?\d+(\.\d+)?$/.test(value)) out.push({ [key]: Number(value) });
  if (value === 'true' || value === 'false') out.push({ [key]: value === 'true' });
  return out;
}
