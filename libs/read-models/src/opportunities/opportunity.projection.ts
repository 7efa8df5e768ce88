import { type Kysely } from 'kysely';
import { bantScore, daysBetween, type OpportunityState, stageKindOf, statusOf, weightedMinor } from '@app/domain';
import type { RecordedEvent } from '@app/event-store';
import type { Projection, ProjectionRebuild, SummedTable } from '../projector/projection';
import type { TableRows } from '../projector/copy-rows';
import { foldBatch, type FoldedDeal, foldInto } from './deal-fold';
import { addToSums, bulkInsert, type BulkRow, recordset } from '../projector/bulk-insert';
import type { OpportunityIntervalsTable, OpportunityListTable, ReadModelTables } from '../tables';
import { NO_CLOSE_MONTH, probabilityBand } from './totals-grouping';
import { DAY_FACET_KEY, FACET_SUMS, FacetDeltas, LABEL_FACET_KEY } from './list-facets';

/** A deal's contribution to pipeline_totals (or a sum of contributions, signed). */
interface Contribution {
  org_id: string;
  pipeline_id: string;
  stage: string;
  status: 'open' | 'won' | 'lost';
  assigned_user_id: string;
  currency: string;
  close_month: string;
  probability_band: number;
  deal_count: number;
  value_minor: number;
  weighted_value_minor: number;
  sales_cycle_days_sum: number;
}

const PIPELINE_TOTALS_KEY = [
  'org_id',
  'pipeline_id',
  'stage',
  'status',
  'assigned_user_id',
  'currency',
  'close_month',
  'probability_band',
] as const;
const PIPELINE_TOTALS_SUMS = ['deal_count', 'value_minor', 'weighted_value_minor', 'sales_cycle_days_sum'] as const;

/** One state of a deal from the event that produced it until the next one. */
interface Interval {
  orgId: string;
  id: string;
  state: OpportunityState;
  version: number;
  from: Date;
}

/**
 * opportunity_list (one row per deal, state folded with the domain's own evolve),
 * pipeline_totals, list_day_totals and list_label_totals (each deal's contribution removed and
 * re-added as it changes) and opportunity_intervals (each state with the time span it held, for "as of" analytics).
 */
export class OpportunityProjection implements Projection {
  static readonly NAME = 'opportunities';
  static readonly TABLES = [
    'opportunity_list',
    'pipeline_totals',
    'list_day_totals',
    'list_label_totals',
    'opportunity_intervals',
  ] as const;
  readonly name = OpportunityProjection.NAME;
  readonly summedTables: Record<string, SummedTable> = {
    pipeline_totals: { key: PIPELINE_TOTALS_KEY, sums: PIPELINE_TOTALS_SUMS },
    list_day_totals: { key: DAY_FACET_KEY, sums: FACET_SUMS },
    list_label_totals: { key: LABEL_FACET_KEY, sums: FACET_SUMS },
  };

  rebuild(): ProjectionRebuild {
    return new OpportunityRebuild();
  }

  async applyBatch(trx: Kysely<ReadModelTables>, events: RecordedEvent[]): Promise<void> {
    const intervals: Interval[] = [];
    const deals = await foldBatch(trx, 'opportunity_list', events, (event, deal) =>
      intervals.push({ orgId: deal.orgId, id: deal.id, state: deal.state, version: event.streamVersion, from: event.recordedAt }),
    );
    const changed = [...deals.values()].filter((t) => t.state !== t.before);
    if (changed.length === 0) return;
    await this.writeRows(trx, changed);
    await this.writeTotals(trx, changed);
    await this.writeFacets(trx, changed);
    await this.writeIntervals(trx, intervals);
  }

  private async writeFacets(trx: Kysely<ReadModelTables>, changed: FoldedDeal[]): Promise<void> {
    const deltas = new FacetDeltas();
    for (const t of changed) {
      deltas.add(t.before, t.orgId, -1);
      deltas.add(t.state, t.orgId, 1);
    }
    const sums = { sums: FACET_SUMS, count: 'deal_count' } as const;
    await addToSums(trx, 'list_day_totals', deltas.dayRows(), { key: DAY_FACET_KEY, ...sums });
    await addToSums(trx, 'list_label_totals', deltas.labelRows(), { key: LABEL_FACET_KEY, ...sums });
  }

  private async writeIntervals(trx: Kysely<ReadModelTables>, intervals: Interval[]): Promise<void> {
    const rows: BulkRow<OpportunityIntervalsTable>[] = [];
    const latest = new Map<string, BulkRow<OpportunityIntervalsTable>>();
    const closeStored: { org_id: string; id: string; version: number; valid_to: Date }[] = [];
    for (const interval of intervals) {
      const key = `${interval.orgId}/${interval.id}`;
      const previous = latest.get(key);
      if (previous) previous.valid_to = interval.from;
      else if (interval.version > 1)
        closeStored.push({ org_id: interval.orgId, id: interval.id, version: interval.version, valid_to: interval.from });
      latest.delete(key);
      const row = intervalRow(interval);
      if (!row) continue;
      rows.push(row);
      latest.set(key, row);
    }
    if (closeStored.length) {
      const v = await recordset(trx, 'opportunity_intervals', closeStored, 'v');
      await trx
        .updateTable('opportunity_intervals as i')
        .from(v.from)
        .set((eb) => ({ valid_to: eb.ref('v.valid_to') }))
        .whereRef('i.org_id', '=', 'v.org_id')
        .whereRef('i.id', '=', 'v.id')
        .where('i.valid_to', 'is', null)
        .whereRef('i.version', '<', 'v.version')
        .execute();
    }
    await bulkInsert(trx, 'opportunity_intervals', rows, { conflict: ['org_id', 'id', 'version'], onConflict: 'nothing' });
  }

  private async writeRows(trx: Kysely<ReadModelTables>, changed: FoldedDeal[]): Promise<void> {
    await bulkInsert(trx, 'opportunity_list', changed.map(toRow), { conflict: ['org_id', 'id'], onConflict: 'replace' });
  }

  private async writeTotals(trx: Kysely<ReadModelTables>, changed: FoldedDeal[]): Promise<void> {
    const deltas = new Map<string, Contribution>();
    for (const t of changed) {
      addContribution(deltas, t.before, t.orgId, -1);
      addContribution(deltas, t.state, t.orgId, 1);
    }
    await addToSums(trx, 'pipeline_totals', nonZero(deltas), {
      key: PIPELINE_TOTALS_KEY,
      sums: PIPELINE_TOTALS_SUMS,
      count: 'deal_count',
    });
  }
}

function salesCycleDays(s: OpportunityState): number | null {
  return s.actual_close_date && s.created_at ? daysBetween(s.created_at, s.actual_close_date) : null;
}

function toRow(t: FoldedDeal): BulkRow<OpportunityListTable> {
  const s = t.state;
  return {
    org_id: t.orgId,
    id: t.id,
    pipeline_id: s.pipeline_id,
    name: s.name,
    description: s.description,
    customer_id: s.customer_id,
    lead_id: s.lead_id,
    stage: s.stage,
    stage_kind: stageKindOf(s),
    status: statusOf(s),
    value_minor: s.value_minor,
    weighted_value_minor: weightedMinor(s.value_minor, s.probability),
    currency: s.currency,
    probability: s.probability,
    expected_close_date: s.expected_close_date,
    priority: s.priority,
    source: s.source,
    assigned_user_id: s.assigned_user_id,
    tags: s.tags,
    custom_fields: s.custom_fields,
    bant_score: bantScore(s),
    follow_up_date: s.follow_up_date,
    category_id: s.category_id,
    created_at: s.created_at!,
    updated_at: s.updated_at!,
    stage_changed_at: s.stage_changed_at ?? s.created_at!,
    last_activity_at: s.last_activity_at ?? s.created_at!,
    actual_close_date: s.actual_close_date,
    sales_cycle_days: salesCycleDays(s),
    deleted_at: s.deleted_at,
    state: s,
    last_version: t.lastVersion,
    last_position: t.lastPosition,
  };
}

function contribution(s: OpportunityState | null, orgId: string): Contribution | null {
  if (!s || !s.exists || s.deleted) return null;
  const date = s.actual_close_date ?? s.expected_close_date;
  return {
    org_id: orgId,
    pipeline_id: s.pipeline_id,
    stage: s.stage,
    status: statusOf(s),
    assigned_user_id: s.assigned_user_id ?? '',
    currency: s.currency,
    close_month: date ? `${date.slice(0, 7)}-01` : NO_CLOSE_MONTH,
    probability_band: probabilityBand(s.probability),
    deal_count: 1,
    value_minor: s.value_minor,
    weighted_value_minor: weightedMinor(s.value_minor, s.probability),
    sales_cycle_days_sum: statusOf(s) === 'won' ? (salesCycleDays(s) ?? 0) : 0,
  };
}

/** The interval row of one state of a deal, open-ended (null for a deal that no longer counts). */
function intervalRow(interval: Interval): BulkRow<OpportunityIntervalsTable> | null {
  const c = contribution(interval.state, interval.orgId);
  if (!c) return null;
  const s = interval.state;
  return {
    org_id: interval.orgId,
    id: interval.id,
    version: interval.version,
    valid_from: interval.from,
    valid_to: null as Date | null,
    pipeline_id: c.pipeline_id,
    stage: c.stage,
    status: c.status,
    assigned_user_id: c.assigned_user_id,
    currency: c.currency,
    expected_close_date: s.expected_close_date,
    close_month: c.close_month,
    probability_band: c.probability_band,
    value_minor: c.value_minor,
    weighted_value_minor: c.weighted_value_minor,
    sales_cycle_days: salesCycleDays(s),
    stage_changed_at: s.stage_changed_at ?? s.created_at!,
    last_activity_at: s.last_activity_at ?? s.created_at!,
  };
}

/** Adds (sign 1) or removes (-1) a deal's contribution to its pipeline_totals group in `deltas`. */
function addContribution(deltas: Map<string, Contribution>, state: OpportunityState | null, orgId: string, sign: 1 | -1): void {
  const c = contribution(state, orgId);
  if (!c) return;
  const key = JSON.stringify([
    c.org_id,
    c.pipeline_id,
    c.stage,
    c.status,
    c.assigned_user_id,
    c.currency,
    c.close_month,
    c.probability_band,
  ]);
  const d = deltas.get(key) ?? { ...c, deal_count: 0, value_minor: 0, weighted_value_minor: 0, sales_cycle_days_sum: 0 };
  d.deal_count += sign;
  d.value_minor += sign * c.value_minor;
  d.weighted_value_minor += sign * c.weighted_value_minor;
  d.sales_cycle_days_sum += sign * c.sales_cycle_days_sum;
  deltas.set(key, d);
}

const nonZero = (deltas: Map<string, Contribution>) =>
  [...deltas.values()].filter(
    (d) => d.deal_count !== 0 || d.value_minor !== 0 || d.weighted_value_minor !== 0 || d.sales_cycle_days_sum !== 0,
  );

/**
 * The whole log folded in memory: every deal's state, and its open interval; a closed interval is
 * final and handed out at once. At the end, each deal's row and the totals of the final states.
 */
class OpportunityRebuild implements ProjectionRebuild {
  private readonly deals = new Map<string, FoldedDeal>();
  /** Per deal (org/id): its interval still open. */
  private readonly open = new Map<string, BulkRow<OpportunityIntervalsTable>>();

  add(events: RecordedEvent[]): TableRows {
    const closed: BulkRow<OpportunityIntervalsTable>[] = [];
    foldInto(this.deals, events, (event, deal) => {
      const key = `${deal.orgId}/${deal.id}`;
      const previous = this.open.get(key);
      if (previous) {
        previous.valid_to = event.recordedAt;
        closed.push(previous);
        this.open.delete(key);
      }
      const row = intervalRow({ orgId: deal.orgId, id: deal.id, state: deal.state, version: event.streamVersion, from: event.recordedAt });
      if (row) this.open.set(key, row);
    });
    return new Map([['opportunity_intervals', closed]]);
  }

  finish(): TableRows {
    const deltas = new Map<string, Contribution>();
    const facets = new FacetDeltas();
    const rows: BulkRow<OpportunityListTable>[] = [];
    for (const deal of this.deals.values()) {
      rows.push(toRow(deal));
      addContribution(deltas, deal.state, deal.orgId, 1);
      facets.add(deal.state, deal.orgId, 1);
    }
    return new Map<string, Record<string, unknown>[]>([
      ['opportunity_list', rows],
      ['pipeline_totals', nonZero(deltas) as unknown as Record<string, unknown>[]],
      ['list_day_totals', facets.dayRows() as unknown as Record<string, unknown>[]],
      ['list_label_totals', facets.labelRows() as unknown as Record<string, unknown>[]],
      ['opportunity_intervals', [...this.open.values()]],
    ]);
  }
}
