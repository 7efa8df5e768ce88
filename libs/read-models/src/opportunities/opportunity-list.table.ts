import type { OpportunityState } from '@app/domain';

/** One row per deal (list, detail and every list filter). */
export interface OpportunityListTable {
  org_id: string;
  id: string;
  pipeline_id: string;
  name: string;
  description: string | null;
  customer_id: string | null;
  lead_id: string | null;
  stage: string;
  stage_kind: 'active' | 'won' | 'lost' | 'on_hold';
  status: 'open' | 'won' | 'lost';
  value_minor: string | number;
  weighted_value_minor: string | number;
  currency: string;
  probability: number;
  expected_close_date: string | null;
  priority: string | null;
  source: string | null;
  assigned_user_id: string | null;
  tags: string[];
  custom_fields: Record<string, unknown> | string;
  bant_score: number;
  follow_up_date: string | null;
  category_id: string | null;
  created_at: string | Date;
  updated_at: string | Date;
  stage_changed_at: string | Date;
  last_activity_at: string | Date;
  actual_close_date: string | null;
  sales_cycle_days: number | null;
  deleted_at: string | Date | null;
  state: OpportunityState | string;
  last_version: string | number;
  last_position: string | number;
}

/** Pre-aggregated figures per (pipeline, stage, status, owner, currency, close month, probability band). */
export interface PipelineTotalsTable {
  org_id: string;
  pipeline_id: string;
  stage: string;
  status: string;
  /** '' when unassigned (part of the primary key). */
  assigned_user_id: string;
  currency: string;
  /** First day of the close month; 1900-01-01 when the deal has no date. */
  close_month: string;
  probability_band: number;
  deal_count: string | number;
  value_minor: string | number;
  weighted_value_minor: string | number;
  sales_cycle_days_sum: string | number;
}

export const NO_CLOSE_MONTH = '1900-01-01';

/** Forecast categories of seed 000: commit ≥ 90 %, best case ≥ 60 %. */
export const COMMIT_MIN_PROBABILITY = 90;
export const BEST_CASE_MIN_PROBABILITY = 60;

export function probabilityBand(probability: number): number {
  return probability >= COMMIT_MIN_PROBABILITY
    ? COMMIT_MIN_PROBABILITY
    : probability >= BEST_CASE_MIN_PROBABILITY
      ? BEST_CASE_MIN_PROBABILITY
      : 0;
}
