import { Module } from '@nestjs/common';
import { WebhooksController } from './webhooks.controller';

/** Webhook endpoints, their deliveries and redeliveries (the dispatcher itself runs in the read side). */
@Module({ controllers: [WebhooksController] })
export class WebhooksModule {}
