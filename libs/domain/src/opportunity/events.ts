/**
 * Opportunity events: contracts once stored. Past-tense names, never renamed;
 * a shape change bumps schema_version and adds an upcaster.
 * Money is integer minor units (*_minor); dates are 'YYYY-MM-DD'; instants ISO-8601 UTC.
 */

export interface OpportunityDetails {
  name: string;
  description: string | null;
  customer_id: string | null;
  lead_id: string | null;
  value_minor: number;
  expected_revenue_minor: number | null;
  currency: string;
  expected_close_date: string | null;
  source: string | null;
  priority: 'low' | 'medium' | 'high' | null;
  campaign_id: string | null;
  territory: string | null;
  competitor: string | null;
  decision_maker: string | null;
  budget_confirmed: boolean;
  authority_confirmed: boolean;
  need_confirmed: boolean;
  timeline_confirmed: boolean;
  next_step: string | null;
  discovery_notes: string | null;
  proposal_notes: string | null;
  demo_date: string | null;
  proposal_date: string | null;
  prospect_name: string | null;
  prospect_email: string | null;
  prospect_phone: string | null;
  category_id: string | null;
  follow_up_date: string | null;
  tags: string[];
  custom_fields: Record<string, unknown>;
}

export type DetailChanges = Partial<OpportunityDetails>;

export interface OpportunityCreated {
  type: 'OpportunityCreated';
  data: OpportunityDetails & {
    opportunity_id: string;
    pipeline_id: string;
    stage: string;
    probability: number;
    probability_override: number | null;
    assigned_user_id: string | null;
    created_by: string;
    created_at: string;
  };
}

export interface OpportunityUpdated {
  type: 'OpportunityUpdated';
  data: {
    changes: DetailChanges;
    /** Present when the probability override was set (number) or cleared (null). */
    probability_override?: number | null;
    /** Effective probability after the change; present whenever probability_override is. */
    probability?: number;
    notes?: string | null;
    updated_at: string;
  };
}

export type StageMovement = 'forward' | 'backward' | 'on_hold' | 'resumed';

export interface OpportunityStageChanged {
  type: 'OpportunityStageChanged';
  data: {
    from_stage: string;
    to_stage: string;
    movement: StageMovement;
    probability: number;
    reason: string | null;
    notes: string | null;
    changed_at: string;
  };
}

export interface OpportunityWon {
  type: 'OpportunityWon';
  data: {
    from_stage: string;
    to_stage: string;
    actual_value_minor: number;
    close_date: string;
    close_reason: string | null;
    won_at: string;
    /** The sale's reference elsewhere; absent from wins recorded before it existed. */
    transaction_id?: string | null;
  };
}

export interface OpportunityLost {
  type: 'OpportunityLost';
  data: {
    from_stage: string;
    to_stage: string;
    loss_reason: string;
    competitor: string | null;
    loss_notes: string | null;
    lessons_learned: string | null;
    close_date: string;
    lost_at: string;
  };
}

export interface OpportunityAssigned {
  type: 'OpportunityAssigned';
  data: {
    user_id: string;
    previous_owner_id: string | null;
    reason: string | null;
    notify: boolean;
    assigned_at: string;
  };
}

export interface OpportunityDeleted {
  type: 'OpportunityDeleted';
  data: { deleted_at: string; reason: string | null };
}

export const ACTIVITY_TYPES = ['call', 'email', 'meeting', 'note', 'status_change', 'task', 'other'] as const;
export type ActivityType = (typeof ACTIVITY_TYPES)[number];

export interface ActivityLogged {
  type: 'ActivityLogged';
  data: {
    activity_id: string;
    activity_type: ActivityType;
    subject: string | null;
    description: string | null;
    outcome: string | null;
    priority: 'low' | 'medium' | 'high' | null;
    scheduled_at: string | null;
    /** Set when the activity is logged as already done. */
    completed_at: string | null;
    logged_at: string;
  };
}

export interface ActivityCompleted {
  type: 'ActivityCompleted';
  data: { activity_id: string; outcome: string | null; completed_at: string };
}

export interface NoteAdded {
  type: 'NoteAdded';
  data: { note_id: string; content: string; added_at: string };
}

/** The capacities a contact can have in a deal. */
export const STAKEHOLDER_ROLES = ['decision_maker', 'champion', 'influencer', 'user', 'blocker', 'other'] as const;
export type StakeholderRole = (typeof STAKEHOLDER_ROLES)[number];

export interface StakeholderAdded {
  type: 'StakeholderAdded';
  data: { contact_id: string; role: StakeholderRole; added_at: string };
}

export interface StakeholderRoleChanged {
  type: 'StakeholderRoleChanged';
  data: { contact_id: string; role: StakeholderRole; previous_role: StakeholderRole; changed_at: string };
}

export interface StakeholderRemoved {
  type: 'StakeholderRemoved';
  data: { contact_id: string; role: StakeholderRole; removed_at: string };
}

export interface ProspectConverted {
  type: 'ProspectConverted';
  data: { customer_id: string; converted_at: string };
}

export type OpportunityEvent =
  | OpportunityCreated
  | OpportunityUpdated
  | OpportunityStageChanged
  | OpportunityWon
  | OpportunityLost
  | OpportunityAssigned
  | OpportunityDeleted
  | ActivityLogged
  | ActivityCompleted
  | NoteAdded
  | ProspectConverted
  | StakeholderAdded
  | StakeholderRoleChanged
  | StakeholderRemoved;

export type OpportunityEventType = OpportunityEvent['type'];

export const OPPORTUNITY_EVENT_TYPES: readonly OpportunityEventType[] = [
  'OpportunityCreated',
  'OpportunityUpdated',
  'OpportunityStageChanged',
  'OpportunityWon',
  'OpportunityLost',
  'OpportunityAssigned',
  'OpportunityDeleted',
  'ActivityLogged',
  'ActivityCompleted',
  'NoteAdded',
  'ProspectConverted',
  'StakeholderAdded',
  'StakeholderRoleChanged',
  'StakeholderRemoved',
];
