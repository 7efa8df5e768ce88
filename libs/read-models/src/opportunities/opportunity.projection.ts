import { Kysely, sql } from 'kysely';
import {
  bantScore,
  daysBetween,
  evolve,
  INITIAL_STATE,
  OPPORTUNITY_EVENT_TYPES,
  OpportunityEvent,
  OpportunityState,
  stageKindOf,
  statusOf,
  weightedMinor,
} from '@app/domain';
import type { RecordedEvent } from '@app/event-store';
import type { Projection } from '../projector/projection';
import { NO_CLOSE_MONTH, OpportunityListTable, PipelineTotalsTable, probabilityBand } from './opportunity-list.table';

const STREAM = /^opportunity-(.+)-([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;
const HANDLED = new Set<string>(OPPORTUNITY_EVENT_TYPES);

interface Tracked {
  orgId: string;
  id: string;
  before: OpportunityState | null;
  state: OpportunityState;
  lastVersion: number;
  lastPosition: string;
}

/**
 * opportunity_list (one row per deal, state folded with the domain's own evolve) and
 * pipeline_totals (each deal's contribution removed and re-added as it changes).
 */
export class OpportunityProjection implements Projection {
  readonly name = 'opportunities';

  async applyBatch(trx: Kysely<any>, events: RecordedEvent[]): Promise<void> {
    const relevant = events.filter((e) => HANDLED.has(e.type) && STREAM.test(e.streamId));
    if (relevant.length === 0) return;
    const tracked = await this.load(trx, relevant);
    for (const event of relevant) {
      const [, orgId, id] = STREAM.exec(event.streamId)!;
      const row = tracked.get(`${orgId}/${id}`)!;
      if (event.streamVersion <= row.lastVersion) continue; // already applied
      if (event.streamVersion !== row.lastVersion + 1) {
        throw new Error(`Gap in ${event.streamId}: have ${row.lastVersion}, got ${event.streamVersion}`);
      }
      row.state = evolve(row.state, { type: event.type, data: event.data } as OpportunityEvent);
      row.lastVersion = event.streamVersion;
      row.lastPosition = event.position;
    }
    const changed = [...tracked.values()].filter((t) => t.state !== t.before);
    if (changed.length === 0) return;
    await this.writeRows(trx, changed);
    await this.writeTotals(trx, changed);
  }

  async reset(trx: Kysely<any>): Promise<void> {
    await trx.deleteFrom('opportunity_list').execute();
    await trx.deleteFrom('pipeline_totals').execute();
  }

  private async load(trx: Kysely<any>, events: RecordedEvent[]): Promise<Map<string, Tracked>> {
    const keys = new Map<string, { orgId: string; id: string }>();
    for (const e of events) {
      const [, orgId, id] = STREAM.exec(e.streamId)!;
      keys.set(`${orgId}/${id}`, { orgId, id });
    }
    const orgs = [...new Set([...keys.values()].map((k) => k.orgId))];
    const ids = [...keys.values()].map((k) => k.id);
    const rows = await trx
      .selectFrom('opportunity_list')
      .select(['org_id', 'id', 'state', 'last_version', 'last_position'])
      .where('org_id', 'in', orgs)
      .where('id', 'in', ids)
      .execute();
    const found = new Map(rows.map((r) => [`${r.org_id}/${r.id}`, r]));
    const tracked = new Map<string, Tracked>();
    for (const [key, { orgId, id }] of keys) {
      const row = found.get(key);
      const state = row ? (typeof row.state === 'string' ? JSON.parse(row.state) : row.state) : null;
      tracked.set(key, {
        orgId,
        id,
        before: state,
        state: state ?? INITIAL_STATE,
        lastVersion: row ? Number(row.last_version) : 0,
        lastPosition: row ? String(row.last_position) : '0',
      });
    }
    return tracked;
  }

  private async writeRows(trx: Kysely<any>, changed: Tracked[]): Promise<void> {
    const rows = changed.map((t) => toRow(t));
    await trx
      .insertInto('opportunity_list')
      .values(rows)
      .onConflict((oc) =>
        oc.columns(['org_id', 'id']).doUpdateSet((eb) => {
          const set: Record<string, unknown> = {};
          for (const column of Object.keys(rows[0])) {
            if (column !== 'org_id' && column !== 'id') set[column] = eb.ref(`excluded.${column}`);
          }
          return set;
        }),
      )
      .execute();
  }

  private async writeTotals(trx: Kysely<any>, changed: Tracked[]): Promise<void> {
    const deltas = new Map<string, PipelineTotalsTable>();
    const add = (state: OpportunityState | null, orgId: string, sign: 1 | -1) => {
      const c = contribution(state, orgId);
      if (!c) return;
      const key = JSON.stringify([c.org_id, c.pipeline_id, c.stage, c.status, c.assigned_user_id, c.currency, c.close_month, c.probability_band]);
      const d = deltas.get(key) ?? { ...c, deal_count: 0, value_minor: 0, weighted_value_minor: 0, sales_cycle_days_sum: 0 };
      d.deal_count = Number(d.deal_count) + sign;
      d.value_minor = Number(d.value_minor) + sign * Number(c.value_minor);
      d.weighted_value_minor = Number(d.weighted_value_minor) + sign * Number(c.weighted_value_minor);
      d.sales_cycle_days_sum = Number(d.sales_cycle_days_sum) + sign * Number(c.sales_cycle_days_sum);
      deltas.set(key, d);
    };
    for (const t of changed) {
      add(t.before, t.orgId, -1);
      add(t.state, t.orgId, 1);
    }
    const values = [...deltas.values()].filter(
      (d) => d.deal_count !== 0 || d.value_minor !== 0 || d.weighted_value_minor !== 0 || d.sales_cycle_days_sum !== 0,
    );
    if (values.length === 0) return;
    await trx
      .insertInto('pipeline_totals')
      .values(values)
      .onConflict((oc) =>
        oc.columns(['org_id', 'pipeline_id', 'stage', 'status', 'assigned_user_id', 'currency', 'close_month', 'probability_band']).doUpdateSet({
          deal_count: sql`pipeline_totals.deal_count + excluded.deal_count`,
          value_minor: sql`pipeline_totals.value_minor + excluded.value_minor`,
          weighted_value_minor: sql`pipeline_totals.weighted_value_minor + excluded.weighted_value_minor`,
          sales_cycle_days_sum: sql`pipeline_totals.sales_cycle_days_sum + excluded.sales_cycle_days_sum`,
        }),
      )
      .execute();
    await trx.deleteFrom('pipeline_totals').where('deal_count', '=', 0).where('org_id', 'in', [...new Set(values.map((v) => v.org_id))]).execute();
  }
}

function salesCycleDays(s: OpportunityState): number | null {
  return s.actual_close_date && s.created_at ? daysBetween(s.created_at, s.actual_close_date) : null;
}

function toRow(t: Tracked): OpportunityListTable {
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
    custom_fields: JSON.stringify(s.custom_fields),
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
    state: JSON.stringify(s),
    last_version: t.lastVersion,
    last_position: t.lastPosition,
  };
}

function contribution(s: OpportunityState | null, orgId: string): PipelineTotalsTable | null {
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
