import type { ActivityType, DetailChanges, OpportunityDetails, StakeholderRole } from './events';

/** A contact involved in the deal and in what capacity. */
export interface StakeholderInput {
  contact_id: string;
  role: StakeholderRole;
}

/** Input already shaped by the API layer (types checked); the decider checks the rules. */
export type CreateOpportunityInput = Partial<OpportunityDetails> & {
  name: string;
  value_minor: number;
  stage?: string;
  probability?: number;
  assigned_user_id?: string | null;
  pipeline_id?: string;
  /** Contacts involved from the start (each recorded as StakeholderAdded after the creation). */
  stakeholders?: StakeholderInput[];
  /** Shorthand: contacts involved from the start, each with the role `other`. */
  stakeholder_ids?: string[];
};

export type OpportunityCommand =
  | { type: 'CreateOpportunity'; opportunity_id: string; input: CreateOpportunityInput }
  | {
      type: 'UpdateOpportunity';
      changes: DetailChanges;
      /** number sets an override, null returns to the stage default, undefined leaves it. */
      probability?: number | null;
      assigned_user_id?: string;
      notes?: string | null;
    }
  | { type: 'ChangeStage'; stage: string; reason?: string | null; notes?: string | null; loss_reason?: string | null }
  | { type: 'AdvanceStage'; notes?: string | null }
  | { type: 'MoveToPreviousStage'; reason: string; notes?: string | null }
  | { type: 'PutOnHold'; reason?: string | null; notes?: string | null }
  | { type: 'Resume'; stage?: string | null; notes?: string | null }
  | {
      type: 'Win';
      actual_value_minor?: number;
      close_date?: string;
      close_reason?: string | null;
      /** The sale in another system (an order, invoice or transaction id): kept as given, never looked up. */
      transaction_id?: string | null;
    }
  | {
      type: 'Lose';
      loss_reason: string;
      competitor?: string | null;
      loss_notes?: string | null;
      lessons_learned?: string | null;
      close_date?: string;
    }
  | { type: 'Assign'; user_id: string; reason?: string | null; notify?: boolean }
  | { type: 'Delete'; reason?: string | null }
  | {
      type: 'LogActivity';
      activity_id: string;
      activity_type: ActivityType;
      subject?: string | null;
      description?: string | null;
      outcome?: string | null;
      priority?: 'low' | 'medium' | 'high' | null;
      scheduled_at?: string | null;
      completed_at?: string | null;
    }
  | { type: 'CompleteActivity'; activity_id: string; outcome?: string | null; completed_at?: string | null }
  | { type: 'AddNote'; note_id: string; content: string }
  | { type: 'ConvertProspect'; customer_id: string; activity_id: string }
  /** Adds a contact to the deal, or changes the role of one already on it. */
  | ({ type: 'AddStakeholder' } & StakeholderInput)
  | { type: 'RemoveStakeholder'; contact_id: string };
