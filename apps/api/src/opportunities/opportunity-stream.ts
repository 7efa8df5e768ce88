import { fold, INITIAL_STATE, type OpportunityEvent, type OpportunityState } from '@app/domain';
import type { RecordedEvent } from '@app/event-store';

export function toDomainEvent(recorded: RecordedEvent): OpportunityEvent {
  // schema_version 1 is the only version so far; upcasters go here when a shape changes.
  return { type: recorded.type, data: recorded.data } as OpportunityEvent;
}

export function foldRecorded(recorded: RecordedEvent[], from: OpportunityState = INITIAL_STATE): OpportunityState {
  return fold(recorded.map(toDomainEvent), from);
}
