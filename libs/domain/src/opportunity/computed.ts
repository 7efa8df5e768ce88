import { daysBetween, dateOf } from '../dates';
import { weightedMinor } from '../money';
import type { OpportunityState } from './state';

/** Figures derived at read time from a state and "now"; the same rules serve every read model. */
export interface ComputedFields {
  weighted_value_minor: number;
  bant_score: number;
  health_score: number;
  days_to_close: number | null;
  age_in_days: number;
  stage_duration: number;
  is_overdue: boolean;
  sales_cycle_days: number | null;
  days_early: number | null;
}

export function bantScore(
  s: Pick<OpportunityState, 'budget_confirmed' | 'authority_confirmed' | 'need_confirmed' | 'timeline_confirmed'>,
): number {
  return [s.budget_confirmed, s.authority_confirmed, s.need_confirmed, s.timeline_confirmed].filter(Boolean).length;
}

export const STALE_STAGE_DAYS = 30;
export const QUIET_ACTIVITY_DAYS = 14;

/**
 * health_score (0–100) of an open deal = the sum of four parts:
 *  - qualification: 10 per confirmed BANT flag (0–40)
 *  - close date: 20 if the expected close date is today or later (or unset), else 0
 *  - momentum: 20 if in the current stage ≤ 30 days, 10 if ≤ 60, else 0
 *  - engagement: 20 if the last activity was ≤ 14 days ago, 10 if ≤ 30, else 0
 * A deal on hold scores half. Won deals score 100, lost deals 0.
 */
export function healthScore(s: OpportunityState, now: string, stageKind: 'active' | 'won' | 'lost' | 'on_hold'): number {
  if (stageKind === 'won') return 100;
  if (stageKind === 'lost') return 0;
  const today = dateOf(now);
  const qualification = bantScore(s) * 10;
  const closeDate = !s.expected_close_date || s.expected_close_date >= today ? 20 : 0;
  const inStage = daysBetween(s.stage_changed_at ?? now, now);
  const momentum = inStage <= STALE_STAGE_DAYS ? 20 : inStage <= 2 * STALE_STAGE_DAYS ? 10 : 0;
  const quiet = daysBetween(s.last_activity_at ?? now, now);
  const engagement = quiet <= QUIET_ACTIVITY_DAYS ? 20 : quiet <= 30 ? 10 : 0;
  const total = qualification + closeDate + momentum + engagement;
  return stageKind === 'on_hold' ? Math.round(total / 2) : total;
}

export function computeFields(s: OpportunityState, now: string, stageKind: 'active' | 'won' | 'lost' | 'on_hold'): ComputedFields {
  const closed = stageKind === 'won' || stageKind === 'lost';
  const today = dateOf(now);
  return {
    weighted_value_minor: weightedMinor(s.value_minor, s.probability),
    bant_score: bantScore(s),
    health_score: healthScore(s, now, stageKind),
    days_to_close: s.expected_close_date && !closed ? daysBetween(today, s.expected_close_date) : null,
    age_in_days: s.created_at ? daysBetween(s.created_at, now) : 0,
    stage_duration: s.stage_changed_at ? daysBetween(s.stage_changed_at, now) : 0,
    is_overdue: !closed && !!s.expected_close_date && s.expected_close_date < today,
    sales_cycle_days: closed && s.actual_close_date && s.created_at ? daysBetween(s.created_at, s.actual_close_date) : null,
    days_early:
      stageKind === 'won' && s.actual_close_date && s.expected_close_date ? daysBetween(s.actual_close_date, s.expected_close_date) : null,
  };
}
