import type { EventStore } from '@app/event-store';
import { allProjections, type Projection } from '@app/read-models';
import { WebhookOutboxProjection } from './outbox.projection';

/** Everything that follows the event log: the read models and the webhook outbox (which compares the store's checkpoints). */
export function serviceProjections(store: Pick<EventStore, 'compareCheckpoints'>): Projection[] {
  return [...allProjections(), new WebhookOutboxProjection(store)];
}
