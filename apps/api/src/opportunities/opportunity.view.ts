import {
  computeFields,
  daysBetween,
  findStage,
  type OpportunityEvent,
  type OpportunityState,
  type Pipeline,
  stageKindOf,
  stakeholdersOf,
  statusOf,
  toMajor,
} from '@app/domain';
import type { Refs } from '@app/read-models';

const money = (minor: number | null) => (minor === null ? null : toMajor(minor));
const instant = (date: string | null) => (date ? `${date}T00:00:00Z` : null);

export interface ViewOptions {
  includes?: string[];
  activities?: unknown[];
  /** Rotting threshold for stages without rotting_days. */
  staleAfterDays?: number;
}

/** Open, in an active stage, and no activity for the stage's rotting days (calendar days). */
function staleness(s: OpportunityState, pipeline: Pipeline, now: string, defaultDays: number) {
  const stage = findStage(pipeline, s.stage);
  const days = stage?.rotting_days ?? defaultDays;
  const quiet = s.last_activity_at ? daysBetween(s.last_activity_at, now) : 0;
  return { is_stale: stageKindOf(s) === 'active' && quiet >= days, stale_after_days: days, days_since_activity: quiet };
}

/** The detail shape, with every computed field. */
export function opportunityDetail(s: OpportunityState, pipeline: Pipeline, now: string, refs: Refs, options: ViewOptions = {}) {
  const kind = stageKindOf(s);
  const c = computeFields(s, now, kind);
  const includes = new Set(options.includes ?? []);
  return {
    id: s.opportunity_id,
    name: s.name,
    description: s.description,
    customer_id: s.customer_id,
    ...(includes.has('customer') ? { customer: refs.customer(s.customer_id) } : {}),
    lead_id: s.lead_id,
    ...(includes.has('lead') ? { lead: refs.lead(s.lead_id) } : {}),
    ...(includes.has('campaign') ? { campaign: s.campaign_id ? { id: s.campaign_id } : null } : {}),
    pipeline_id: s.pipeline_id,
    stage: s.stage,
    status: statusOf(s),
    previous_stage: s.previous_stage,
    stage_changed_at: s.stage_changed_at,
    value: money(s.value_minor),
    expected_revenue: money(s.expected_revenue_minor),
    weighted_value: money(c.weighted_value_minor),
    currency: s.currency,
    probability: s.probability,
    stage_probability: findStage(pipeline, s.stage)?.probability ?? null,
    probability_is_override: s.probability_override !== null,
    expected_close_date: s.expected_close_date,
    days_to_close: c.days_to_close,
    age_in_days: c.age_in_days,
    stage_duration: c.stage_duration,
    is_overdue: c.is_overdue,
    source: s.source,
    priority: s.priority,
    assigned_user_id: s.assigned_user_id,
    assigned_user: refs.user(s.assigned_user_id),
    campaign_id: s.campaign_id,
    territory: s.territory,
    competitor: s.competitor,
    decision_maker: s.decision_maker,
    budget_confirmed: s.budget_confirmed,
    authority_confirmed: s.authority_confirmed,
    need_confirmed: s.need_confirmed,
    timeline_confirmed: s.timeline_confirmed,
    bant_score: c.bant_score,
    health_score: c.health_score,
    next_step: s.next_step,
    discovery_notes: s.discovery_notes,
    proposal_notes: s.proposal_notes,
    demo_date: s.demo_date,
    proposal_date: s.proposal_date,
    prospect_name: s.prospect_name,
    prospect_email: s.prospect_email,
    prospect_phone: s.prospect_phone,
    category_id: s.category_id,
    follow_up_date: s.follow_up_date,
    tags: s.tags,
    custom_fields: s.custom_fields,
    actual_value: money(s.actual_value_minor),
    actual_close_date: instant(s.actual_close_date),
    close_reason: s.close_reason,
    transaction_id: s.transaction_id ?? null,
    loss_reason: s.loss_reason,
    loss_notes: s.loss_notes,
    lessons_learned: s.lessons_learned,
    sales_cycle_days: c.sales_cycle_days,
    days_early: c.days_early,
    won_at: s.won_at,
    lost_at: s.lost_at,
    last_activity_at: s.last_activity_at,
    ...staleness(s, pipeline, now, options.staleAfterDays ?? 30),
    created_by: s.created_by,
    created_at: s.created_at,
    updated_at: s.updated_at,
    version: s.version,
    ...(includes.has('activities') ? { activities: options.activities ?? [] } : {}),
    ...(includes.has('stakeholders') ? { stakeholders: stakeholderViews(s, refs) } : {}),
  };
}

/** Each stakeholder as its full contact record with its role (contact null if it left the directory). */
export function stakeholderViews(s: OpportunityState, refs: Refs) {
  return stakeholdersOf(s).map(({ contact_id, role, added_at }) => ({ contact_id, role, added_at, contact: refs.contact(contact_id) }));
}

/** The contact ids a set of deals' stakeholders name (for loading their records in one query). */
export function stakeholderContactIds(states: readonly OpportunityState[]): string[] {
  return states.flatMap((s) => stakeholdersOf(s).map((x) => x.contact_id));
}

/** The list shape: the fields a pipeline table shows, plus includes. */
export function opportunityListItem(s: OpportunityState, pipeline: Pipeline, now: string, refs: Refs, options: ViewOptions = {}) {
  const d = opportunityDetail(s, pipeline, now, refs, options);
  return {
    id: d.id,
    name: d.name,
    customer_id: d.customer_id,
    ...('customer' in d ? { customer: d.customer } : {}),
    ...('lead' in d ? { lead: d.lead } : {}),
    pipeline_id: d.pipeline_id,
    stage: d.stage,
    status: d.status,
    value: d.value,
    weighted_value: d.weighted_value,
    currency: d.currency,
    probability: d.probability,
    expected_close_date: d.expected_close_date,
    days_to_close: d.days_to_close,
    age_in_days: d.age_in_days,
    stage_duration: d.stage_duration,
    is_overdue: d.is_overdue,
    priority: d.priority,
    assigned_user_id: d.assigned_user_id,
    assigned_user: d.assigned_user,
    bant_score: d.bant_score,
    health_score: d.health_score,
    tags: d.tags,
    next_step: d.next_step,
    last_activity_at: d.last_activity_at,
    is_stale: d.is_stale,
    follow_up_date: d.follow_up_date,
    ...('activities' in d ? { activities: d.activities } : {}),
    ...('stakeholders' in d ? { stakeholders: d.stakeholders } : {}),
    created_at: d.created_at,
    updated_at: d.updated_at,
  };
}

export function stageView(s: OpportunityState) {
  return {
    id: s.opportunity_id,
    stage: s.stage,
    probability: s.probability,
    previous_stage: s.previous_stage,
    stage_changed_at: s.stage_changed_at,
    updated_at: s.updated_at,
  };
}

/** A won deal: its close, from the deal alone (no pipeline or directory lookup). */
export function wonView(s: OpportunityState, now: string) {
  const c = computeFields(s, now, stageKindOf(s));
  return {
    id: s.opportunity_id,
    stage: s.stage,
    probability: s.probability,
    actual_close_date: instant(s.actual_close_date),
    expected_close_date: s.expected_close_date,
    days_early: c.days_early,
    value: money(s.value_minor),
    actual_value: money(s.actual_value_minor),
    currency: s.currency,
    sales_cycle_days: c.sales_cycle_days,
    close_reason: s.close_reason,
    transaction_id: s.transaction_id ?? null,
    won_at: s.won_at,
  };
}

/** A lost deal: its close, from the deal alone. */
export function lostView(s: OpportunityState, now: string) {
  const c = computeFields(s, now, stageKindOf(s));
  return {
    id: s.opportunity_id,
    stage: s.stage,
    probability: s.probability,
    actual_close_date: instant(s.actual_close_date),
    loss_reason: s.loss_reason,
    competitor: s.competitor,
    sales_cycle_days: c.sales_cycle_days,
    close_reason: s.close_reason,
    lessons_learned: s.lessons_learned,
    lost_at: s.lost_at,
  };
}

export function assignedView(s: OpportunityState, events: OpportunityEvent[], refs: Refs) {
  const assigned = events.find((e) => e.type === 'OpportunityAssigned');
  return {
    id: s.opportunity_id,
    assigned_user_id: s.assigned_user_id,
    assigned_user: refs.user(s.assigned_user_id),
    previous_owner_id: assigned?.type === 'OpportunityAssigned' ? assigned.data.previous_owner_id : s.assigned_user_id,
    assigned_at: s.assigned_at,
  };
}
