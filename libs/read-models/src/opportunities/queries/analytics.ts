import { type Kysely, type SelectQueryBuilder } from 'kysely';
import { activeStages, formatMinor, type Pipeline, STALE_STAGE_DAYS, sumToMajor } from '@app/domain';
import type { ReadModelTables } from '../../tables';
import { BEST_CASE_MIN_PROBABILITY, COMMIT_MIN_PROBABILITY } from '../totals-grouping';
import { type ListFilters, listTotals, openByCloseMonth, type StaleRule } from './list-opportunities';
import { type DateRange, namedPeriod, type Period, quarterPeriod, shiftQuarter } from './periods';
import { aliveAt, averageMinor, chooseCurrency, loadTotals, sum, type TotalsRow, winRate } from './pipeline-totals';

const money = sumToMajor;
const DAY_MS = 86_400_000;

export interface PipelineDataQuery {
  userId?: string;
  dateRange?: DateRange;
  pipeline: Pipeline;
  currency?: string;
  /** The pipeline as it stood at this instant (periods are relative to it). */
  asOf?: Date;
}

export async function pipelineData(db: Kysely<ReadModelTables>, orgId: string, q: PipelineDataQuery, now: Date) {
  const at = q.asOf ?? now;
  const period = q.dateRange ? namedPeriod(q.dateRange, at) : null;
  const all = await loadTotals(db, orgId, {
    userId: q.userId,
    pipelineId: q.pipeline.id,
    from: period?.from,
    to: period?.to,
    asOf: q.asOf,
  });
  const { currency, others } = chooseCurrency(all, q.currency);
  const rows = all.filter((r) => r.currency === currency);
  const open = rows.filter((r) => r.status === 'open');
  const byStage = activeStages(q.pipeline).map((stage) => {
    const s = sum(open.filter((r) => r.stage === stage.key));
    return {
      stage: stage.key,
      count: s.count,
      total_value: money(s.value_minor),
      weighted_value: money(s.weighted_value_minor),
      average_deal_size: money(averageMinor(s)),
    };
  });
  // The pipeline is the active stages; paused deals are reported beside it, not in it.
  const activeKeys = new Set(activeStages(q.pipeline).map((s) => s.key));
  const active = open.filter((r) => activeKeys.has(r.stage));
  const onHold = sum(open.filter((r) => !activeKeys.has(r.stage)));
  const openSum = sum(active);
  const won = sum(rows.filter((r) => r.status === 'won'));
  return {
    period: period ? { label: period.label, from: period.from, to: period.to } : { label: 'all_time', from: null, to: null },
    as_of: q.asOf ? q.asOf.toISOString() : null,
    currency,
    other_currencies: others,
    by_stage: byStage,
    summary: {
      total_opportunities: openSum.count,
      total_pipeline_value: money(openSum.value_minor),
      total_weighted_value: money(openSum.weighted_value_minor),
      average_deal_size: money(averageMinor(openSum)),
      win_rate: winRate(rows),
      average_sales_cycle_days: won.count ? Math.round(won.sales_cycle_days_sum / won.count) : null,
    },
    forecast: {
      commit: money(sum(active.filter((r) => r.probability >= COMMIT_MIN_PROBABILITY)).weighted_value_minor),
      best_case: money(sum(active.filter((r) => r.probability >= BEST_CASE_MIN_PROBABILITY)).weighted_value_minor),
      pipeline: money(openSum.weighted_value_minor),
    },
    on_hold: { count: onHold.count, total_value: money(onHold.value_minor) },
  };
}

export interface ForecastQuery {
  year: number;
  quarter: number;
  userId?: string;
  currency?: string;
  /** The forecast as it stood at this instant. */
  asOf?: Date;
}

/** Closed-won value plus weighted open value expected in the period: the figure trends compare. */
function expectedRevenueMinor(rows: TotalsRow[]): bigint {
  return sum(rows.filter((r) => r.status === 'won')).value_minor + sum(rows.filter((r) => r.status === 'open')).weighted_value_minor;
}

export async function forecast(db: Kysely<ReadModelTables>, orgId: string, q: ForecastQuery, now: Date) {
  const period = quarterPeriod(q.year, q.quarter);
  const previous = shiftQuarter(q.year, q.quarter, -1);
  const lastYear = shiftQuarter(q.year, q.quarter, -4);
  const load = (p: Period) => loadTotals(db, orgId, { userId: q.userId, from: p.from, to: p.to, asOf: q.asOf });
  const [current, prev, yearAgo] = await Promise.all([
    load(period),
    load(quarterPeriod(previous.year, previous.quarter)),
    load(quarterPeriod(lastYear.year, lastYear.quarter)),
  ]);
  const { currency, others } = chooseCurrency(current, q.currency);
  const inCurrency = (rows: TotalsRow[]) => rows.filter((r) => r.currency === currency);
  const rows = inCurrency(current);
  const open = rows.filter((r) => r.status === 'open');
  const commit = sum(open.filter((r) => r.probability >= COMMIT_MIN_PROBABILITY));
  const bestCase = sum(open.filter((r) => r.probability >= BEST_CASE_MIN_PROBABILITY));
  const pipeline = sum(open);
  const won = sum(rows.filter((r) => r.status === 'won'));
  const atRisk = await atRiskIn(db, orgId, period, currency, q.userId, q.asOf ?? now, !!q.asOf);
  const thisFigure = expectedRevenueMinor(rows);
  const trend = (base: TotalsRow[]) => {
    const before = expectedRevenueMinor(inCurrency(base));
    return {
      change_percentage: before === 0n ? null : Math.round((Number(thisFigure - before) / Number(before)) * 1000) / 10,
      change_value: money(thisFigure - before),
    };
  };
  const confidence = confidenceLevel(
    won.value_minor,
    commit.weighted_value_minor,
    pipeline.weighted_value_minor,
    atRisk.weighted_value_minor,
  );
  const vsLast = trend(prev);
  return {
    period: period.label,
    from: period.from,
    to: period.to,
    as_of: q.asOf ? q.asOf.toISOString() : null,
    currency,
    other_currencies: others,
    forecast_categories: {
      commit: {
        description: `${COMMIT_MIN_PROBABILITY}%+ probability, closing this period`,
        count: commit.count,
        value: money(commit.weighted_value_minor),
        unweighted_value: money(commit.value_minor),
      },
      best_case: {
        description: `${BEST_CASE_MIN_PROBABILITY}%+ probability, likely to close`,
        count: bestCase.count,
        value: money(bestCase.weighted_value_minor),
        unweighted_value: money(bestCase.value_minor),
      },
      pipeline: {
        description: 'All open opportunities closing this period',
        count: pipeline.count,
        value: money(pipeline.weighted_value_minor),
        unweighted_value: money(pipeline.value_minor),
      },
      at_risk: {
        description: `Overdue or stalled (no stage change or activity for ${STALE_STAGE_DAYS}+ days)`,
        count: atRisk.count,
        value: money(atRisk.weighted_value_minor),
        unweighted_value: money(atRisk.value_minor),
      },
      closed_won: { description: 'Won with a close date in this period', count: won.count, value: money(won.value_minor) },
    },
    expected_revenue: money(thisFigure),
    trends: { vs_last_quarter: vsLast, vs_same_quarter_last_year: trend(yearAgo) },
    confidence_level: confidence,
    notes: forecastNotes(vsLast.change_percentage, atRisk.count, formatMinor(atRisk.weighted_value_minor), currency, confidence),
  };
}

/**
 * confidence_level: the share of the period's expected revenue that is already won or in
 * commit — ≥ 60 % high, ≥ 30 % medium, else low — one level lower when at-risk deals hold
 * more than a third of the open weighted pipeline.
 */
export function confidenceLevel(
  wonMinor: bigint,
  commitMinor: bigint,
  pipelineMinor: bigint,
  atRiskMinor: bigint,
): 'high' | 'medium' | 'low' {
  const expected = wonMinor + pipelineMinor;
  const secured = expected === 0n ? 0 : Number(wonMinor + commitMinor) / Number(expected);
  const levels = ['low', 'medium', 'high'] as const;
  let level = secured >= 0.6 ? 2 : secured >= 0.3 ? 1 : 0;
  if (pipelineMinor > 0n && Number(atRiskMinor) / Number(pipelineMinor) > 1 / 3) level = Math.max(0, level - 1);
  return levels[level];
}

function forecastNotes(change: number | null, atRiskCount: number, atRiskValue: string, currency: string, confidence: string): string {
  const trend =
    change === null ? 'No comparable figure last quarter.' : `${change >= 0 ? 'Up' : 'Down'} ${Math.abs(change)}% on last quarter.`;
  const risk = atRiskCount ? ` ${atRiskCount} deal(s) at risk, ${atRiskValue} ${currency} weighted.` : ' No deals at risk.';
  return `${trend}${risk} Confidence ${confidence}.`;
}

async function atRiskIn(
  db: Kysely<ReadModelTables>,
  orgId: string,
  period: Period,
  currency: string,
  userId: string | undefined,
  now: Date,
  historical: boolean,
) {
  const today = now.toISOString().slice(0, 10);
  const stale = new Date(now.getTime() - STALE_STAGE_DAYS * DAY_MS);
  // Both sources have the same columns; typed loosely so one query serves either.
  const base: SelectQueryBuilder<any, any, object> = historical
    ? aliveAt(db, orgId, now)
    : db.selectFrom('opportunity_list').where('org_id', '=', orgId).where('deleted_at', 'is', null);
  let q = base
    .select([
      (eb) => eb.fn.countAll<string>().as('count'),
      (eb) => eb.fn.sum<string>('value_minor').as('value_minor'),
      (eb) => eb.fn.sum<string>('weighted_value_minor').as('weighted_value_minor'),
    ])
    .where('status', '=', 'open')
    .where('currency', '=', currency)
    .where('expected_close_date', '>=', period.from)
    .where('expected_close_date', '<=', period.to)
    .where((eb) => eb.or([eb('expected_close_date', '<', today), eb('stage_changed_at', '<', stale), eb('last_activity_at', '<', stale)]));
  if (userId) q = q.where('assigned_user_id', '=', userId);
  const row = await q.executeTakeFirstOrThrow();
  return {
    count: Number(row.count),
    value_minor: BigInt(row.value_minor ?? 0),
    weighted_value_minor: BigInt(row.weighted_value_minor ?? 0),
  };
}

export interface MonthlyQuery {
  from?: string;
  to?: string;
  userId?: string;
  currency?: string;
}

/** Unweighted and weighted open value per expected-close month, in one currency. */
export async function monthlyForecast(db: Kysely<ReadModelTables>, orgId: string, q: MonthlyQuery, now: Date) {
  const rows = await openByCloseMonth(db, orgId, q, now);
  const counts = new Map<string, number>();
  for (const r of rows) counts.set(r.currency, (counts.get(r.currency) ?? 0) + Number(r.count));
  const ranked = [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  const currency = q.currency ?? ranked[0]?.[0] ?? 'USD';
  const monthRows = rows
    .filter((r) => r.currency === currency)
    .map((r) => ({ month: r.month, count: Number(r.count), value: BigInt(r.value_minor), weighted: BigInt(r.weighted_value_minor) }))
    .sort((a, b) => a.month.localeCompare(b.month));
  const months = monthRows.map((m) => ({ month: m.month, count: m.count, unweighted: money(m.value), weighted: money(m.weighted) }));
  return {
    currency,
    other_currencies: ranked.filter(([c]) => c !== currency).map(([c, count]) => ({ currency: c, count })),
    from: q.from ?? null,
    to: q.to ?? null,
    months,
    totals: {
      unweighted: money(monthRows.reduce((n, m) => n + m.value, 0n)),
      weighted: money(monthRows.reduce((n, m) => n + m.weighted, 0n)),
    },
  };
}

/** Pipeline stats: counts per stage (plus stale by the stages' rotting rules), open value, weighted value, follow-ups due. */
export async function stats(
  db: Kysely<ReadModelTables>,
  orgId: string,
  pipeline: Pipeline,
  now: Date,
  staleRules: StaleRule[],
  staleAfterDays: number,
  currency?: string,
) {
  const all = await loadTotals(db, orgId, { pipelineId: pipeline.id });
  const { currency: chosen, others } = chooseCurrency(all, currency);
  const counts: Record<string, number> = {};
  for (const stage of pipeline.stages) counts[stage.key] = sum(all.filter((r) => r.stage === stage.key)).count;
  const count = async (f: ListFilters) =>
    (await listTotals(db, orgId, { pipeline_id: pipeline.id, ...f }, now)).reduce((n, t) => n + t.count, 0);
  const [stale, followUp] = await Promise.all([
    count({ stale: { value: true, rules: staleRules.filter((r) => r.pipeline_id === pipeline.id) } }),
    count({ needs_follow_up: true }),
  ]);
  counts.stale = stale;
  const open = sum(all.filter((r) => r.status === 'open' && r.currency === chosen));
  return {
    counts,
    currency: chosen,
    other_currencies: others,
    total_value: money(open.value_minor),
    weighted_value: money(open.weighted_value_minor),
    needs_follow_up: followUp,
    stale_after_days: staleAfterDays,
    stale_rules: staleRules.filter((r) => r.pipeline_id === pipeline.id).map(({ stage, days }) => ({ stage, days })),
    total: sum(all).count,
  };
}

/** Pipeline summary: every stage in display order, closed ones included. */
export async function pipelineSummary(
  db: Kysely<ReadModelTables>,
  orgId: string,
  pipeline: Pipeline,
  now: Date,
  range: DateRange = 'all_time',
  currency?: string,
) {
  const period = namedPeriod(range, now);
  const all = await loadTotals(db, orgId, { pipelineId: pipeline.id, from: period?.from, to: period?.to });
  const { currency: chosen, others } = chooseCurrency(all, currency);
  const rows = all.filter((r) => r.currency === chosen);
  const stages = [...pipeline.stages]
    .sort((a, b) => a.display_order - b.display_order)
    .map((stage) => {
      const s = sum(rows.filter((r) => r.stage === stage.key));
      return {
        stage: stage.key,
        name: stage.name,
        display_order: stage.display_order,
        is_won: stage.kind === 'won',
        is_lost: stage.kind === 'lost',
        deal_count: s.count,
        total_value: money(s.value_minor),
        weighted_value: money(s.weighted_value_minor),
      };
    });
  const total = sum(rows);
  return {
    pipeline_id: pipeline.id,
    currency: chosen,
    other_currencies: others,
    total_deals: total.count,
    total_value: money(total.value_minor),
    total_weighted_value: money(total.weighted_value_minor),
    stages,
    period: range,
  };
}
