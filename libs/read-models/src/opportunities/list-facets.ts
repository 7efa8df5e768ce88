/*
 * Summaries of deals by the list filters pipeline_totals cannot answer: per calendar day (close
 * date, stage entered, last activity, follow-up) and per label (the deal's set of tags, one custom
 * field's value), each crossed with pipeline, stage, status and currency (and, per day, stage
 * kind). A list filter on one of them, alone or with stage/status/pipeline/currency, sums a few
 * thousand of these rows instead of visiting every matching deal; the sums are exact because each
 * filter's bound falls on a whole day or a whole label.
 */
// By path, not @app/domain: migrations load this where no alias resolves (jest's global setup).
import { type OpportunityState, stageKindOf, statusOf, weightedMinor } from '../../../domain/src';

/** Day facets: the list filter each serves. */
export const DAY_FACETS = {
  /** expected_close_date_from / _to, overdue=true. */
  expected_close: (s: OpportunityState) => s.expected_close_date,
  /** days_in_stage_min (stage_changed_at, as opportunity_list stores it). */
  stage_changed: (s: OpportunityState) => utcDay(s.stage_changed_at ?? s.created_at),
  /** last_activity_days_ago_min, stale=true (with stage_kind). */
  last_activity: (s: OpportunityState) => utcDay(s.last_activity_at ?? s.created_at),
  /** needs_follow_up=true. */
  follow_up: (s: OpportunityState) => s.follow_up_date,
} as const;
export type DayFacet = keyof typeof DAY_FACETS;

/**
 * A label longer than this (as JSON, in bytes) is not stored: the deal counts under the facet's
 * "unlisted" label instead, and a filter that could match it is answered from the deals.
 */
export const MAX_LABEL_BYTES = 512;

/** The label standing for a tag set too long to store (a tag set is an array, so never this). */
export const UNLISTED_TAGS = 'unlisted';
/** The label standing for a value of custom field `key` that is not a short string, number or boolean. */
export const unlistedField = (key: string): unknown[] => [key];
/** A custom field whose very key is too long to store has no label rows; a filter on it sums the deals. */
export const listableField = (key: string): boolean => short(unlistedField(key));
/** The label of custom field `key` holding `value` (a string, number or boolean). */
export const fieldLabel = (key: string, value: string | number | boolean): unknown[] => [key, value];

interface Sums {
  deal_count: number;
  value_minor: number;
  weighted_value_minor: number;
}

interface Dims {
  org_id: string;
  pipeline_id: string;
  stage: string;
  status: 'open' | 'won' | 'lost';
  currency: string;
}

/** Day rows also carry stage_kind: a stale deal is an active one (not on hold). */
export type DayFacetRow = Dims & Sums & { facet: DayFacet; day: string; stage_kind: string };
export type LabelFacetRow = Dims & Sums & { facet: 'tags' | 'field'; label: string | unknown[] };

function utcDay(instant: string | null): string | null {
  return instant === null ? null : new Date(instant).toISOString().slice(0, 10);
}

const short = (label: unknown) => Buffer.byteLength(JSON.stringify(label)) <= MAX_LABEL_BYTES;

/** Labels of one deal: its tag set (sorted, distinct) and each custom field's value. */
function labelsOf(s: OpportunityState): { facet: 'tags' | 'field'; label: string | unknown[] }[] {
  const tags = [...new Set(s.tags)].sort();
  const out: { facet: 'tags' | 'field'; label: string | unknown[] }[] = [{ facet: 'tags', label: short(tags) ? tags : UNLISTED_TAGS }];
  for (const [key, value] of Object.entries(s.custom_fields ?? {})) {
    if (!listableField(key)) continue;
    const scalar = typeof value === 'string' || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value));
    const label = scalar ? fieldLabel(key, value) : unlistedField(key);
    out.push({ facet: 'field', label: short(label) ? label : unlistedField(key) });
  }
  return out;
}

/**
 * Signed sums per facet row: a deal's rows are added (+1) or removed (−1) as it changes, the way
 * pipeline_totals is kept. A deleted deal, or a state before creation, has none.
 */
export class FacetDeltas {
  private readonly days = new Map<string, DayFacetRow>();
  private readonly labels = new Map<string, LabelFacetRow>();

  add(state: OpportunityState | null, orgId: string, sign: 1 | -1): void {
    if (!state || !state.exists || state.deleted) return;
    const dims: Dims = {
      org_id: orgId,
      pipeline_id: state.pipeline_id,
      stage: state.stage,
      status: statusOf(state),
      currency: state.currency,
    };
    const value = sign * state.value_minor;
    const weighted = sign * weightedMinor(state.value_minor, state.probability);
    const bump = <R extends Sums>(map: Map<string, R>, key: string, row: () => R) => {
      const r = map.get(key) ?? row();
      r.deal_count += sign;
      r.value_minor += value;
      r.weighted_value_minor += weighted;
      map.set(key, r);
    };
    const zero = { deal_count: 0, value_minor: 0, weighted_value_minor: 0 };
    const dimsKey = [dims.org_id, dims.pipeline_id, dims.stage, dims.status, dims.currency];
    const kind = stageKindOf(state);
    for (const facet of Object.keys(DAY_FACETS) as DayFacet[]) {
      const day = DAY_FACETS[facet](state);
      if (day === null) continue;
      bump(this.days, JSON.stringify([...dimsKey, kind, facet, day]), () => ({ ...dims, ...zero, facet, day, stage_kind: kind }));
    }
    for (const { facet, label } of labelsOf(state)) {
      bump(this.labels, JSON.stringify([...dimsKey, facet, label]), () => ({ ...dims, ...zero, facet, label }));
    }
  }

  /** Rows whose sums changed (a deal that moved and came back leaves none). */
  dayRows(): DayFacetRow[] {
    return [...this.days.values()].filter(changed);
  }

  labelRows(): LabelFacetRow[] {
    return [...this.labels.values()].filter(changed);
  }
}

const changed = (r: Sums) => r.deal_count !== 0 || r.value_minor !== 0 || r.weighted_value_minor !== 0;

export const DAY_FACET_KEY = ['org_id', 'facet', 'day', 'pipeline_id', 'stage', 'stage_kind', 'status', 'currency'] as const;
export const LABEL_FACET_KEY = ['org_id', 'facet', 'label', 'pipeline_id', 'stage', 'status', 'currency'] as const;
export const FACET_SUMS = ['deal_count', 'value_minor', 'weighted_value_minor'] as const;
