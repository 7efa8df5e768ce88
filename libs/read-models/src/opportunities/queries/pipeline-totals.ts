import { type Kysely, type SelectQueryBuilder, sql } from 'kysely';
import type { ReadModelTables } from '../../tables';
import { NO_CLOSE_MONTH } from '../totals-grouping';

/** Totals grouped by what the analytics need; scope filters apply before grouping. */
export interface TotalsRow {
  pipeline_id: string;
  stage: string;
  status: 'open' | 'won' | 'lost';
  currency: string;
  /** 90, 60 or 0: compare with COMMIT_MIN_PROBABILITY / BEST_CASE_MIN_PROBABILITY. */
  probability: number;
  deal_count: number;
  value_minor: bigint;
  weighted_value_minor: bigint;
  sales_cycle_days_sum: number;
}

export interface TotalsScope {
  userId?: string;
  pipelineId?: string;
  /** Inclusive date range; matched by close month (periods here are whole months). */
  from?: string;
  to?: string;
  /** Answer from the deals' states at this instant (opportunity_intervals) instead of now. */
  asOf?: Date;
}

/** Sums the pre-aggregated rows in scope in SQL: a handful of rows per stage come back. */
export async function loadTotals(db: Kysely<ReadModelTables>, orgId: string, scope: TotalsScope): Promise<TotalsRow[]> {
  if (scope.asOf) return loadTotalsAsOf(db, orgId, scope, scope.asOf);
  let q = db
    .selectFrom('pipeline_totals')
    .select([
      'pipeline_id',
      'stage',
      'status',
      'currency',
      'probability_band',
      (eb) => eb.fn.sum<string>('deal_count').as('deal_count'),
      (eb) => eb.fn.sum<string>('value_minor').as('value_minor'),
      (eb) => eb.fn.sum<string>('weighted_value_minor').as('weighted_value_minor'),
      (eb) => eb.fn.sum<string>('sales_cycle_days_sum').as('sales_cycle_days_sum'),
    ])
    .where('org_id', '=', orgId);
  q = inScope(q, scope);
  return toTotalsRows(await q.groupBy(['pipeline_id', 'stage', 'status', 'currency', 'probability_band']).execute());
}

/** The same sums over the intervals alive at `at`: each deal as it stood then. */
async function loadTotalsAsOf(db: Kysely<ReadModelTables>, orgId: string, scope: TotalsScope, at: Date): Promise<TotalsRow[]> {
  let q = aliveAt(db, orgId, at).select([
    'pipeline_id',
    'stage',
    'status',
    'currency',
    'probability_band',
    (eb) => eb.fn.countAll<string>().as('deal_count'),
    (eb) => eb.fn.sum<string>('value_minor').as('value_minor'),
    (eb) => eb.fn.sum<string>('weighted_value_minor').as('weighted_value_minor'),
    sql<string>`sum(case when status = 'won' then coalesce(sales_cycle_days, 0) else 0 end)`.as('sales_cycle_days_sum'),
  ]);
  q = inScope(q, scope);
  return toTotalsRows(await q.groupBy(['pipeline_id', 'stage', 'status', 'currency', 'probability_band']).execute());
}

/** Owner, pipeline and close-month range: the same columns in pipeline_totals and opportunity_intervals. */
function inScope<QB extends SelectQueryBuilder<any, any, any>>(q: QB, scope: TotalsScope): QB {
  let out = q;
  if (scope.userId) out = out.where('assigned_user_id', '=', scope.userId) as QB;
  if (scope.pipelineId) out = out.where('pipeline_id', '=', scope.pipelineId) as QB;
  if (scope.from) out = out.where('close_month', '>=', `${scope.from.slice(0, 7)}-01`) as QB;
  if (scope.to) out = out.where('close_month', '<=', `${scope.to.slice(0, 7)}-01`) as QB;
  if (scope.from || scope.to) out = out.where('close_month', '!=', NO_CLOSE_MONTH) as QB;
  return out;
}

/** Intervals in force at `at`: started by then and not yet replaced. */
export function aliveAt(db: Kysely<ReadModelTables>, orgId: string, at: Date) {
  return db
    .selectFrom('opportunity_intervals')
    .where('org_id', '=', orgId)
    .where('valid_from', '<=', at)
    .where((eb) => eb.or([eb('valid_to', 'is', null), eb('valid_to', '>', at)]));
}

/** A group's sums as SQL returns them (int8 and numeric as strings). */
interface SummedGroup {
  pipeline_id: string;
  stage: string;
  status: TotalsRow['status'];
  currency: string;
  probability_band: number;
  deal_count: string;
  value_minor: string;
  weighted_value_minor: string;
  sales_cycle_days_sum: string;
}

function toTotalsRows(rows: SummedGroup[]): TotalsRow[] {
  return rows
    .map((r) => ({
      pipeline_id: r.pipeline_id,
      stage: r.stage,
      status: r.status,
      currency: r.currency,
      probability: Number(r.probability_band),
      deal_count: Number(r.deal_count),
      value_minor: BigInt(r.value_minor),
      weighted_value_minor: BigInt(r.weighted_value_minor),
      sales_cycle_days_sum: Number(r.sales_cycle_days_sum),
    }))
    .filter((r) => r.deal_count > 0);
}

/** Money sums are bigint: they pass 2^53 cents long before a deal's amount could. */
export interface Sum {
  count: number;
  value_minor: bigint;
  weighted_value_minor: bigint;
  sales_cycle_days_sum: number;
}

export function sum(rows: TotalsRow[]): Sum {
  return rows.reduce(
    (s, r) => ({
      count: s.count + r.deal_count,
      value_minor: s.value_minor + r.value_minor,
      weighted_value_minor: s.weighted_value_minor + r.weighted_value_minor,
      sales_cycle_days_sum: s.sales_cycle_days_sum + r.sales_cycle_days_sum,
    }),
    { count: 0, value_minor: 0n, weighted_value_minor: 0n, sales_cycle_days_sum: 0 },
  );
}

/**
 * Money is never added across currencies: an answer is in one currency (the one asked for,
 * else the one most deals in scope use) and the others are listed beside it.
 */
export function chooseCurrency(rows: TotalsRow[], requested?: string): { currency: string; others: { currency: string; count: number }[] } {
  const counts = new Map<string, number>();
  for (const r of rows) counts.set(r.currency, (counts.get(r.currency) ?? 0) + r.deal_count);
  const ranked = [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  const currency = requested ?? ranked[0]?.[0] ?? 'USD';
  return { currency, others: ranked.filter(([c]) => c !== currency).map(([c, count]) => ({ currency: c, count })) };
}

/** won ÷ (won + lost) × 100, one decimal; null with no closed deals. */
export function winRate(rows: TotalsRow[]): number | null {
  const won = sum(rows.filter((r) => r.status === 'won')).count;
  const lost = sum(rows.filter((r) => r.status === 'lost')).count;
  return won + lost === 0 ? null : Math.round((won / (won + lost)) * 1000) / 10;
}

/** Mean deal value in minor units, rounded half up. */
export function averageMinor(s: Pick<Sum, 'count' | 'value_minor'>): bigint {
  return s.count === 0 ? 0n : (s.value_minor * 2n + BigInt(s.count)) / (BigInt(s.count) * 2n);
}
