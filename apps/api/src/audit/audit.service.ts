import { Injectable } from '@nestjs/common';
import {
  DATE_BOUNDS,
  DomainError,
  ErrorCode,
  foldStored,
  isValidDate,
  type OpportunityState,
  opportunityStreamId,
  parseInstant,
} from '@app/domain';
import { EventStore, RecordedEvent } from '@app/event-store';
import type { Actor } from '@app/platform';

/** A point in time from a query parameter: an ISO-8601 instant, or a date meaning the end of that day (UTC). */
export function parseAsOf(value: string, field = 'as_of'): Date {
  const text = value.trim();
  const time = /^\d{4}-\d{2}-\d{2}$/.test(text) ? (isValidDate(text) ? Date.parse(`${text}T23:59:59.999Z`) : null) : parseInstant(text);
  if (time === null) {
    throw DomainError.validation({
      [field]: [`${field} must be an ISO-8601 time such as 2026-03-31T17:00:00Z (or a date), ${DATE_BOUNDS}`],
    });
  }
  return new Date(time);
}

export function historyItem(e: RecordedEvent) {
  return {
    type: e.type,
    version: e.streamVersion,
    position: e.position,
    event_id: e.eventId,
    schema_version: e.schemaVersion,
    actor_id: e.metadata.actor_id ?? null,
    actor_role: (e.metadata.actor_role as string | undefined) ?? null,
    recorded_at: e.recordedAt.toISOString(),
    occurred_at: e.metadata.occurred_at ?? null,
    correlation_id: e.metadata.correlation_id ?? null,
    causation_id: e.metadata.causation_id ?? null,
    data: e.data,
  };
}

/** History, time travel and the audit feed: all answered from the event log itself. */
@Injectable()
export class AuditService {
  constructor(private readonly store: EventStore) {}

  /** Managers and admins see every deal's history; reps the deals they own; viewers none. */
  async history(actor: Actor, opportunityId: string): Promise<{ state: OpportunityState; events: RecordedEvent[] }> {
    const events = await this.store.readStream(opportunityStreamId(actor.orgId, opportunityId));
    if (events.length === 0) throw DomainError.notFound('Opportunity');
    const state = foldStored(events);
    const owner = actor.role === 'rep' && state.assigned_user_id === actor.userId;
    if (actor.role !== 'admin' && actor.role !== 'manager' && !owner) {
      throw new DomainError(ErrorCode.Forbidden, 'Only managers, admins and the owner may read this history');
    }
    return { state, events };
  }

  /** The deal as it stood at `at`, folded from the events recorded until then. */
  async asOf(actor: Actor, opportunityId: string, at: Date): Promise<OpportunityState> {
    const events = await this.store.readStream(opportunityStreamId(actor.orgId, opportunityId));
    const state = foldStored(events.filter((e) => e.recordedAt.getTime() <= at.getTime()));
    if (!state.exists || state.deleted) throw new DomainError(ErrorCode.NotFound, `Opportunity did not exist at ${at.toISOString()}`);
    return state;
  }

  /** The org's events in commit order after a position returned earlier (exclusive). */
  async feed(actor: Actor, after: string | null, limit: number): Promise<RecordedEvent[]> {
    let checkpoint: string | null = null;
    if (after !== null && after !== '0') {
      checkpoint = await this.store.checkpointAt(after);
      if (checkpoint === null) throw DomainError.validation({ after: ['after must be a position returned by this feed or a command'] });
    }
    const page = await this.store.readAll(checkpoint, limit, { orgId: actor.orgId });
    return page.events;
  }
}
