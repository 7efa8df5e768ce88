import {
  computeFields,
  type OpportunityEventType,
  type OpportunityState,
  stakeholdersOf,
  stageKindOf,
  statusOf,
  toMajor,
} from '@app/domain';
import type { RecordedEvent } from '@app/event-store';

/** Event types a webhook endpoint can subscribe to, one per opportunity event. */
export const WEBHOOK_EVENT_TYPE: Record<OpportunityEventType, string> = {
  OpportunityCreated: 'opportunity.created',
  OpportunityUpdated: 'opportunity.updated',
  OpportunityStageChanged: 'opportunity.stage_changed',
  OpportunityWon: 'opportunity.won',
  OpportunityLost: 'opportunity.lost',
  OpportunityAssigned: 'opportunity.assigned',
  OpportunityDeleted: 'opportunity.deleted',
  ActivityLogged: 'opportunity.activity_logged',
  ActivityCompleted: 'opportunity.activity_completed',
  NoteAdded: 'opportunity.note_added',
  ProspectConverted: 'opportunity.prospect_converted',
  StakeholderAdded: 'opportunity.stakeholder_added',
  StakeholderRoleChanged: 'opportunity.stakeholder_role_changed',
  StakeholderRemoved: 'opportunity.stakeholder_removed',
};

export const SUBSCRIBABLE_EVENT_TYPES = Object.values(WEBHOOK_EVENT_TYPE);
export const TEST_EVENT_TYPE = 'webhook.test';

const money = (minor: number | null) => (minor === null ? null : toMajor(minor));

/** The deal as it stood right after the event (money in major units, as the API shows it). */
export function opportunitySnapshot(s: OpportunityState, at: string) {
  const kind = stageKindOf(s);
  const c = computeFields(s, at, kind);
  return {
    id: s.opportunity_id,
    name: s.name,
    pipeline_id: s.pipeline_id,
    stage: s.stage,
    previous_stage: s.previous_stage,
    status: statusOf(s),
    value: money(s.value_minor),
    weighted_value: money(c.weighted_value_minor),
    currency: s.currency,
    probability: s.probability,
    customer_id: s.customer_id,
    assigned_user_id: s.assigned_user_id,
    expected_close_date: s.expected_close_date,
    actual_value: money(s.actual_value_minor),
    actual_close_date: s.actual_close_date,
    close_reason: s.close_reason,
    // Absent from deal states stored before wins could name their sale.
    transaction_id: s.transaction_id ?? null,
    loss_reason: s.loss_reason,
    competitor: s.competitor,
    won_at: s.won_at,
    lost_at: s.lost_at,
    sales_cycle_days: c.sales_cycle_days,
    tags: s.tags,
    custom_fields: s.custom_fields,
    stakeholders: stakeholdersOf(s).map(({ contact_id, role }) => ({ contact_id, role })),
    created_at: s.created_at,
    updated_at: s.updated_at,
    deleted_at: s.deleted_at,
  };
}

/** Standard Webhooks payload: {type, timestamp, data}; serialised once and sent byte for byte. */
export function eventPayload(event: RecordedEvent, state: OpportunityState): string {
  const at = event.recordedAt.toISOString();
  return JSON.stringify({
    type: WEBHOOK_EVENT_TYPE[event.type as OpportunityEventType],
    timestamp: at,
    data: {
      event: {
        id: event.eventId,
        type: event.type,
        data: event.data,
        recorded_at: at,
        actor_id: event.metadata.actor_id ?? null,
        correlation_id: event.metadata.correlation_id ?? null,
      },
      opportunity: opportunitySnapshot(state, at),
      stream: { id: event.streamId, version: event.streamVersion },
      position: event.position,
    },
  });
}
