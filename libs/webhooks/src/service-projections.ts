import { allProjections, type Projection } from '@app/read-models';
import { WebhookOutboxProjection } from './outbox.projection';

/** Everything that follows the event log: the read models and the webhook outbox. */
export function serviceProjections(): Projection[] {
  return [...allProjections(), new WebhookOutboxProjection()];
}
