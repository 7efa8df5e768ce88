import type { Insertable } from 'kysely';
import type { OpportunityEventType, OpportunityState } from '@app/domain';
import type { RecordedEvent } from '@app/event-store';
import { nameBasedUuid } from '@app/platform';
import { foldBatch, type Projection } from '@app/read-models';
import { eventPayload, WEBHOOK_EVENT_TYPE } from './payload';
import type { WebhookMessagesTable, WebhookTables } from './tables';

const STATES = 'webhook_deal_states';

/** The projector's transaction, to which the outbox adds its own tables. */
type ProjectorTransaction = Parameters<Projection['applyBatch']>[0];

/** Same endpoint + same event → same message id, so a re-fed batch cannot queue a message twice. */
export function messageIdFor(endpointId: string, eventId: string): string {
  return `msg_${nameBasedUuid(`${endpointId}:${eventId}`).replace(/-/g, '')}`;
}

/**
 * Writes one outbox message per (subscribed endpoint, event) in the projector's transaction,
 * so a message exists exactly when its event has been read. Endpoints receive events recorded
 * after they were created.
 */
export class WebhookOutboxProjection implements Projection {
  static readonly NAME = 'webhook_outbox';
  readonly name = WebhookOutboxProjection.NAME;

  async applyBatch(projector: ProjectorTransaction, events: RecordedEvent[]): Promise<void> {
    const trx = projector.withTables<WebhookTables>();
    const happened: { event: RecordedEvent; orgId: string; state: OpportunityState }[] = [];
    const deals = await foldBatch(trx, STATES, events, (event, deal) => happened.push({ event, orgId: deal.orgId, state: deal.state }));
    if (deals.size === 0) return;
    const orgs = [...new Set(happened.map((h) => h.orgId))];
    const endpoints = await trx
      .selectFrom('webhook_endpoints')
      .select(['id', 'org_id', 'event_types', 'created_at'])
      .where('org_id', 'in', orgs)
      .where('deleted_at', 'is', null)
      .where('enabled', '=', true)
      .execute();
    const messages: Insertable<WebhookMessagesTable>[] = [];
    for (const { event, orgId, state } of happened) {
      const type = WEBHOOK_EVENT_TYPE[event.type as OpportunityEventType];
      for (const endpoint of endpoints) {
        if (endpoint.org_id !== orgId || !endpoint.event_types.includes(type)) continue;
        if (endpoint.created_at.getTime() > event.recordedAt.getTime()) continue;
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

  /** Rebuilding folds states again; messages already queued stay (their ids are deterministic). */
  async reset(projector: ProjectorTransaction): Promise<void> {
    await projector.withTables<WebhookTables>().deleteFrom(STATES).execute();
  }
}
