import { type ExpressionBuilder, type Kysely, type SelectQueryBuilder, sql } from 'kysely';
import type { ReadModelTables } from '../../tables';

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

function answerableFromTotals(f: ListFilters): boolean {
  return (Object.keys(f) as (keyof ListFilters)[]).every((key) => {
    const value = f[key];
    const empty =
      value === undefined ||
      (Array.isArray(value) && value.length === 0) ||
      (typeof value === 'object' && !Array.isArray(value) && Object.keys(value as object).length === 0);
    return empty || TOTALS_FILTERS.has(key);
  });
}

/** The page query (sorted, limited). Exposed so benchmarks can EXPLAIN exactly what runs. */
export function listPageQuery(db: Kysely<ReadModelTables>, orgId: string, query: ListQuery, now: Date) {
  const column = SORTABLE[query.sort_by];
  // Only a nullable column needs NULLS LAST; on the others it would stop the index serving the sort.
  const direction = `${query.sort_direction === 'asc' ? 'asc' : 'desc'}${NULLABLE_SORTS.has(query.sort_by) ? ' nulls last' : ''}`;
  const custom = query.sort_custom_field;
  return applyFilters(db.selectFrom('opportunity_list'), orgId, query, now)
    .select(['id', 'state', 'stage_kind', 'last_version'])
    .$if(custom !== undefined, (qb) =>
      qb.orderBy(sql`${typedCustomField(custom!)} ${sql.raw(query.sort_direction === 'asc' ? 'asc' : 'desc')} nulls last`),
    )
    .orderBy(sql`${sql.ref(column)} ${sql.raw(direction)}`)
    .orderBy('id', query.sort_direction)
    .limit(query.per_page)
    .offset((query.page - 1) * query.per_page);
}

/** Count and money per currency over the whole filtered set, from the cheapest source. */
export function listTotalsQuery(db: Kysely<ReadModelTables>, orgId: string, f: ListFilters, now: Date) {
  if (answerableFromTotals(f)) {
    let q = db
      .selectFrom('pipeline_totals')
      .select([
        'currency',
        (eb) => eb.fn.sum<string>('deal_count').as('count'),
        (eb) => eb.fn.sum<string>('value_minor').as('value_minor'),
        (eb) => eb.fn.sum<string>('weighted_value_minor').as('weighted_value_minor'),
      ])
      .where('org_id', '=', orgId)
      .where('deal_count', '>', '0');
    if (f.stage?.length) q = q.where('stage', 'in', f.stage);
    if (f.exclude_stage?.length) q = q.where('stage', 'not in', f.exclude_stage);
    if (f.status?.length) q = q.where('status', 'in', f.status);
    if (f.assigned_user_id) q = q.where('assigned_user_id', '=', f.assigned_user_id);
    if (f.pipeline_id) q = q.where('pipeline_id', '=', f.pipeline_id);
    if (f.currency) q = q.where('currency', '=', f.currency);
    return q.groupBy('currency');
  }
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
  const [rows, totals] = await Promise.all([
    listPageQuery(db, orgId, query, now).execute(),
    listTotalsQuery(db, orgId, filters, now).execute(),
  ]);
  const byCurrency: CurrencyTotals[] = totals
    .map((t) => ({
      currency: t.currency,
      count: Number(t.count),
      value_minor: BigInt(t.value_minor ?? 0),
      weighted_value_minor: BigInt(t.weighted_value_minor ?? 0),
    }))
    .sort((a, b) => b.count - a.count || a.currency.localeCompare(b.currency));
  return { rows, byCurrency, total: byCurrency.reduce((n, t) => n + t.count, 0) };
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
