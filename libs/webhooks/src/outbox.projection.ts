import type { Insertable, Kysely, Selectable } from 'kysely';
import type { OpportunityEventType, OpportunityState } from '@app/domain';
import { checkpointStore, type EventStore, type RecordedEvent } from '@app/event-store';
import { nameBasedUuid } from '@app/platform';
import { foldBatch, type Projection, type ReadModelTables } from '@app/read-models';
import { eventPayload, WEBHOOK_EVENT_TYPE } from './payload';
import type { WebhookEndpointsTable, WebhookMessagesTable, WebhookTables } from './tables';

const STATES = 'webhook_deal_states';

/** Same endpoint + same event → same message id, so a re-fed batch cannot queue a message twice. */
export function messageIdFor(endpointId: string, eventId: string): string {
  return `msg_${nameBasedUuid(`${endpointId}:${eventId}`).replace(/-/g, '')}`;
}

/**
 * Writes one outbox message per (subscribed endpoint, event) in the projector's transaction,
 * so a message exists exactly when its event has been read. Endpoints receive the events
 * appended after they were created: after the head they recorded, compared by the event store
 * itself (so on any store).
 */
export class WebhookOutboxProjection implements Projection {
  static readonly NAME = 'webhook_outbox';
  readonly name = WebhookOutboxProjection.NAME;

  constructor(private readonly store: Pick<EventStore, 'compareCheckpoints'>) {}

  /** `projector`: the projector's transaction, to which the outbox adds its own tables. */
  async applyBatch(projector: Kysely<ReadModelTables>, events: RecordedEvent[]): Promise<void> {
    const trx = projector.withTables<WebhookTables>();
    const happened: { event: RecordedEvent; orgId: string; state: OpportunityState }[] = [];
    const deals = await foldBatch(trx, STATES, events, (event, deal) => happened.push({ event, orgId: deal.orgId, state: deal.state }));
    if (deals.size === 0) return;
    const orgs = [...new Set(happened.map((h) => h.orgId))];
    const endpoints = await trx
      .selectFrom('webhook_endpoints')
      .select(['id', 'org_id', 'event_types', 'created_at', 'created_checkpoint'])
      .where('org_id', 'in', orgs)
      .where('deleted_at', 'is', null)
      .where('enabled', '=', true)
      .execute();
    const messages: Insertable<WebhookMessagesTable>[] = [];
    for (const { event, orgId, state } of happened) {
      const type = WEBHOOK_EVENT_TYPE[event.type as OpportunityEventType];
      for (const endpoint of endpoints) {
        if (endpoint.org_id !== orgId || !endpoint.event_types.includes(type)) continue;
        if (this.predates(event, endpoint)) continue;
        messages.push({
          id: messageIdFor(endpoint.id, event.eventId),
          org_id: orgId,
          endpoint_id: endpoint.id,
          event_type: type,
          event_id: event.eventId,
          stream_id: event.streamId,
          stream_version: event.streamVersion,
          position: event.position,
          body: eventPayload(event, state),
          status: 'pending',
          next_attempt_at: new Date(),
        });
      }
    }
    if (messages.length) {
      await trx
        .insertInto('webhook_messages')
        .values(messages)
        .onConflict((oc) => oc.column('id').doNothing())
        .execute();
    }
    await trx
      .insertInto(STATES)
      .values([...deals.values()].map((d) => ({ org_id: d.orgId, id: d.id, state: JSON.stringify(d.state), last_version: d.lastVersion })))
      .onConflict((oc) =>
        oc
          .columns(['org_id', 'id'])
          .doUpdateSet((eb) => ({ state: eb.ref('excluded.state'), last_version: eb.ref('excluded.last_version') })),
      )
      .execute();
  }

  /**
   * Appended no later than the head the endpoint recorded at creation. By time instead when it
   * recorded none (created before that column, or while the log was empty) or the head of
   * another event store (the read models were rebuilt from another log since).
   */
  private predates(event: RecordedEvent, endpoint: Pick<Selectable<WebhookEndpointsTable>, 'created_at' | 'created_checkpoint'>): boolean {
    const head = endpoint.created_checkpoint;
    if (head === null || checkpointStore(head) !== checkpointStore(event.checkpoint)) {
      return endpoint.created_at.getTime() > event.recordedAt.getTime();
    }
    return this.store.compareCheckpoints(event.checkpoint, head) <= 0;
  }
}
