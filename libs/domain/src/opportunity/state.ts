import type { OpportunityDetails, OpportunityEvent, StakeholderRole } from './events';

export interface OpportunityState extends OpportunityDetails {
  exists: boolean;
  deleted: boolean;
  /** Stream version folded so far. */
  version: number;
  opportunity_id: string;
  pipeline_id: string;
  stage: string;
  previous_stage: string | null;
  stage_changed_at: string | null;
  /** Active stages the deal has been in; on_hold may resume to any of them. */
  reached_stages: string[];
  /** The active stage a deal on hold came from. */
  held_from_stage: string | null;
  probability: number;
  probability_override: number | null;
  assigned_user_id: string | null;
  assigned_at: string | null;
  created_by: string | null;
  created_at: string | null;
  updated_at: string | null;
  last_activity_at: string | null;
  actual_value_minor: number | null;
  actual_close_date: string | null;
  close_reason: string | null;
  /** The sale's reference in another system, from the win. */
  transaction_id: string | null;
  won_at: string | null;
  lost_at: string | null;
  loss_reason: string | null;
  loss_notes: string | null;
  lessons_learned: string | null;
  deleted_at: string | null;
  /** Activities logged on the deal and whether each is done. */
  activities: Record<string, 'scheduled' | 'completed'>;
  /** Contacts involved in the deal, in the order they were added. */
  stakeholders: Stakeholder[];
}

export interface Stakeholder {
  contact_id: string;
  role: StakeholderRole;
  added_at: string;
}

export const INITIAL_STATE: OpportunityState = {
  exists: false,
  deleted: false,
  version: 0,
  opportunity_id: '',
  pipeline_id: '',
  stage: '',
  previous_stage: null,
  stage_changed_at: null,
  reached_stages: [],
  held_from_stage: null,
  probability: 0,
  probability_override: null,
  assigned_user_id: null,
  assigned_at: null,
  created_by: null,
  created_at: null,
  updated_at: null,
  last_activity_at: null,
  actual_value_minor: null,
  actual_close_date: null,
  close_reason: null,
  transaction_id: null,
  won_at: null,
  lost_at: null,
  loss_reason: null,
  loss_notes: null,
  lessons_learned: null,
  deleted_at: null,
  activities: {},
  stakeholders: [],
  name: '',
  description: null,
  customer_id: null,
  lead_id: null,
  value_minor: 0,
  expected_revenue_minor: null,
  currency: 'USD',
  expected_close_date: null,
  source: null,
  priority: null,
  campaign_id: null,
  territory: null,
  competitor: null,
  decision_maker: null,
  budget_confirmed: false,
  authority_confirmed: false,
  need_confirmed: false,
  timeline_confirmed: false,
  next_step: null,
  discovery_notes: null,
  proposal_notes: null,
  demo_date: null,
  proposal_date: null,
  prospect_name: null,
  prospect_email: null,
  prospect_phone: null,
  category_id: null,
  follow_up_date: null,
  tags: [],
  custom_fields: {},
};

/** Pure fold step: never reads the clock; times come from the events. */
export function evolve(state: OpportunityState, event: OpportunityEvent): OpportunityState {
  const next = { ...state, version: state.version + 1 };
  switch (event.type) {
    case 'OpportunityCreated': {
      const { probability_override, ...data } = event.data;
      return {
        ...next,
        ...data,
        exists: true,
        probability_override,
        previous_stage: null,
        stage_changed_at: data.created_at,
        reached_stages: [data.stage],
        updated_at: data.created_at,
        last_activity_at: data.created_at,
        assigned_at: data.assigned_user_id ? data.created_at : null,
      };
    }
    case 'OpportunityUpdated': {
      const { changes, updated_at } = event.data;
      const withOverride =
        event.data.probability_override === undefined
          ? next
          : {
              ...next,
              probability_override: event.data.probability_override,
              probability: event.data.probability ?? next.probability,
            };
      return { ...withOverride, ...changes, updated_at, last_activity_at: updated_at };
    }
    case 'OpportunityStageChanged': {
      const d = event.data;
      return {
        ...next,
        stage: d.to_stage,
        previous_stage: d.from_stage,
        stage_changed_at: d.changed_at,
        probability: d.probability,
        probability_override: null,
        held_from_stage: d.movement === 'on_hold' ? d.from_stage : null,
        reached_stages:
          d.movement === 'on_hold' || next.reached_stages.includes(d.to_stage) ? next.reached_stages : [...next.reached_stages, d.to_stage],
        updated_at: d.changed_at,
        last_activity_at: d.changed_at,
      };
    }
    case 'OpportunityWon': {
      const d = event.data;
      return {
        ...next,
        stage: d.to_stage,
        previous_stage: d.from_stage,
        stage_changed_at: d.won_at,
        probability: 100,
        probability_override: null,
        value_minor: d.actual_value_minor,
        actual_value_minor: d.actual_value_minor,
        actual_close_date: d.close_date,
        close_reason: d.close_reason,
        transaction_id: d.transaction_id ?? null,
        won_at: d.won_at,
        updated_at: d.won_at,
        last_activity_at: d.won_at,
      };
    }
    case 'OpportunityLost': {
      const d = event.data;
      return {
        ...next,
        stage: d.to_stage,
        previous_stage: d.from_stage,
        stage_changed_at: d.lost_at,
        probability: 0,
        probability_override: null,
        loss_reason: d.loss_reason,
        competitor: d.competitor ?? next.competitor,
        loss_notes: d.loss_notes,
        lessons_learned: d.lessons_learned,
        close_reason: d.loss_notes,
        actual_close_date: d.close_date,
        lost_at: d.lost_at,
        updated_at: d.lost_at,
        last_activity_at: d.lost_at,
      };
    }
    case 'OpportunityAssigned':
      return {
        ...next,
        assigned_user_id: event.data.user_id,
        assigned_at: event.data.assigned_at,
        updated_at: event.data.assigned_at,
        last_activity_at: event.data.assigned_at,
      };
    case 'OpportunityDeleted':
      return { ...next, deleted: true, deleted_at: event.data.deleted_at, updated_at: event.data.deleted_at };
    case 'ActivityLogged': {
      const d = event.data;
      return {
        ...next,
        activities: { ...next.activities, [d.activity_id]: d.completed_at ? 'completed' : 'scheduled' },
        last_activity_at: d.completed_at && d.completed_at > d.logged_at ? d.completed_at : d.logged_at,
        updated_at: d.logged_at,
      };
    }
    case 'ActivityCompleted':
      return {
        ...next,
        activities: { ...next.activities, [event.data.activity_id]: 'completed' },
        last_activity_at: event.data.completed_at,
      };
    case 'NoteAdded':
      return { ...next, last_activity_at: event.data.added_at };
    case 'ProspectConverted':
      return {
        ...next,
        customer_id: event.data.customer_id,
        updated_at: event.data.converted_at,
        last_activity_at: event.data.converted_at,
      };
    case 'StakeholderAdded': {
      const d = event.data;
      return {
        ...next,
        stakeholders: [...stakeholdersOf(next), { contact_id: d.contact_id, role: d.role, added_at: d.added_at }],
        updated_at: d.added_at,
      };
    }
    case 'StakeholderRoleChanged': {
      const d = event.data;
      return {
        ...next,
        stakeholders: stakeholdersOf(next).map((s) => (s.contact_id === d.contact_id ? { ...s, role: d.role } : s)),
        updated_at: d.changed_at,
      };
    }
    case 'StakeholderRemoved': {
      const d = event.data;
      return { ...next, stakeholders: stakeholdersOf(next).filter((s) => s.contact_id !== d.contact_id), updated_at: d.removed_at };
    }
    default: {
      const unreachable: never = event;
      throw new Error(`Unknown event ${(unreachable as { type: string }).type}`);
    }
  }
}

export type StageKindOfState = 'active' | 'won' | 'lost' | 'on_hold';

/** Where a deal stands, from its own history (independent of how its pipeline names stages). */
export function stageKindOf(state: OpportunityState): StageKindOfState {
  if (state.won_at) return 'won';
  if (state.lost_at) return 'lost';
  if (state.held_from_stage) return 'on_hold';
  return 'active';
}

export function statusOf(state: OpportunityState): 'open' | 'won' | 'lost' {
  const kind = stageKindOf(state);
  return kind === 'won' || kind === 'lost' ? kind : 'open';
}

export function fold(events: readonly OpportunityEvent[], from: OpportunityState = INITIAL_STATE): OpportunityState {
  return events.reduce(evolve, from);
}

/**
 * A deal from its stored events (type and data as the log keeps them). schema_version 1 is the
 * only version so far; upcasters go here when an event's shape changes.
 */
export function foldStored(stored: readonly { type: string; data: unknown }[], from: OpportunityState = INITIAL_STATE): OpportunityState {
  return stored.reduce((state, e) => evolve(state, { type: e.type, data: e.data } as OpportunityEvent), from);
}

/** A deal's stakeholders; states stored before deals had any (read models) have none. */
export function stakeholdersOf(state: OpportunityState): Stakeholder[] {
  return state.stakeholders ?? [];
}
