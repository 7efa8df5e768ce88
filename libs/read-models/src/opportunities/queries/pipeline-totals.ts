import { Kysely } from 'kysely';
import { NO_CLOSE_MONTH } from '../opportunity-list.table';

export interface TotalsRow {
  pipeline_id: string;
  stage: string;
  status: 'open' | 'won' | 'lost';
  assigned_user_id: string;
  currency: string;
  close_month: string;
  probability: number;
  deal_count: number;
  value_minor: number;
  weighted_value_minor: number;
  sales_cycle_days_sum: number;
}

export interface TotalsScope {
  userId?: string;
  pipelineId?: string;
  /** Inclusive date range; matched by close month (periods here are whole months). */
  from?: string;
  to?: string;
}

/** The pre-aggregated rows in scope (a few per stage × month × owner, not one per deal). */
export async function loadTotals(db: Kysely<any>, orgId: string, scope: TotalsScope): Promise<TotalsRow[]> {
  let q = db.selectFrom('pipeline_totals').selectAll().where('org_id', '=', orgId).where('deal_count', '>', 0);
  if (scope.userId) q = q.where('assigned_user_id', '=', scope.userId);
  if (scope.pipelineId) q = q.where('pipeline_id', '=', scope.pipelineId);
  if (scope.from) q = q.where('close_month', '>=', `${scope.from.slice(0, 7)}-01`);
  if (scope.to) q = q.where('close_month', '<=', `${scope.to.slice(0, 7)}-01`);
  if (scope.from || scope.to) q = q.where('close_month', '!=', NO_CLOSE_MONTH);
  const rows = await q.execute();
  return rows.map((r) => ({
    pipeline_id: r.pipeline_id,
    stage: r.stage,
    status: r.status,
    assigned_user_id: r.assigned_user_id,
    currency: r.currency,
    close_month: typeof r.close_month === 'string' ? r.close_month : new Date(r.close_month).toISOString().slice(0, 10),
    probability: Number(r.probability),
    deal_count: Number(r.deal_count),
    value_minor: Number(r.value_minor),
    weighted_value_minor: Number(r.weighted_value_minor),
    sales_cycle_days_sum: Number(r.sales_cycle_days_sum),
  }));
}

export interface Sum {
  count: number;
  value_minor: number;
  weighted_value_minor: number;
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
    { count: 0, value_minor: 0, weighted_value_minor: 0, sales_cycle_days_sum: 0 },
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

export function averageMinor(s: Sum): number {
  return s.count === 0 ? 0 : Math.round(s.value_minor / s.count);
}
