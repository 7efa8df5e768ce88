import { fold, INITIAL_STATE, type OpportunityEvent, type OpportunityState } from '@app/domain';
import type { RecordedEvent } from '@app/event-store';

/** One stream per opportunity, scoped by org so no id can reach another org's deal. */
export function opportunityStreamId(orgId: string, opportunityId: string): string {
  return `opportunity-${orgId}-${opportunityId}`;
}

export function toDomainEvent(recorded: RecordedEvent): OpportunityEvent {
  // schema_version 1 is the only version so far; upcasters go here when a shape changes.
  return { type: recorded.type, data: recorded.data } as OpportunityEvent;
}

export function foldRecorded(recorded: RecordedEvent[], from: OpportunityState = INITIAL_STATE): OpportunityState {
  return fold(recorded.map(toDomainEvent), from);
}
