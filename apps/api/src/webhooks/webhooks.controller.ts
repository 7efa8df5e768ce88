import { Body, Controller, Delete, Get, HttpCode, Inject, Param, ParseUUIDPipe, Patch, Post, Query } from '@nestjs/common';
import { ArrayMinSize, IsArray, IsBoolean, IsIn, IsInt, IsOptional, IsString, IsUrl, Max, MaxLength, Min } from 'class-validator';
import { DomainError } from '@app/domain';
import { EventStore } from '@app/event-store';
import { Actor, APP_CONFIG, AppConfig, CurrentActor, Database, DATABASE, Roles, validateQuery } from '@app/platform';
import {
  AddressPolicy,
  createEndpoint,
  deleteEndpoint,
  getEndpoint,
  listDeliveries,
  listEndpoints,
  type MessageStatus,
  redeliver,
  rotateSecret,
  SUBSCRIBABLE_EVENT_TYPES,
  updateEndpoint,
  WebhookDispatcher,
  type WebhookTables,
} from '@app/webhooks';
import { PageQueryDto } from '../opportunities/dto/query.dto';
import { IsOptionalNotNull } from '../opportunities/dto/validators';

const EVENT_TYPES_MESSAGE = `event_types may contain: ${SUBSCRIBABLE_EVENT_TYPES.join(', ')}`;
const URL_OPTIONS = { require_protocol: true, require_tld: false, protocols: ['http', 'https'] };

class CreateWebhookDto {
  @IsString() @MaxLength(2000) @IsUrl(URL_OPTIONS, { message: 'url must be an absolute http(s) URL' }) url: string;
  @IsOptional() @IsString() @MaxLength(500) description?: string | null;
  @IsArray() @ArrayMinSize(1) @IsIn(SUBSCRIBABLE_EVENT_TYPES, { each: true, message: EVENT_TYPES_MESSAGE }) event_types: string[];
  @IsOptionalNotNull() @IsBoolean() enabled?: boolean;
}

class UpdateWebhookDto {
  @IsOptionalNotNull() @IsString() @MaxLength(2000) @IsUrl(URL_OPTIONS, { message: 'url must be an absolute http(s) URL' }) url?: string;
  @IsOptional() @IsString() @MaxLength(500) description?: string | null;
  @IsOptionalNotNull()
  @IsArray()
  @ArrayMinSize(1)
  @IsIn(SUBSCRIBABLE_EVENT_TYPES, { each: true, message: EVENT_TYPES_MESSAGE })
  event_types?: string[];
  @IsOptionalNotNull() @IsBoolean() enabled?: boolean;
}

class RotateSecretDto {
  @IsOptionalNotNull() @IsInt() @Min(0) @Max(7 * 86400) overlap_seconds?: number;
}

class DeliveriesQueryDto extends PageQueryDto {
  @IsOptional()
  @IsIn(['pending', 'delivered', 'failed'], { message: 'status must be pending, delivered or failed' })
  status?: MessageStatus;
}

const uuid = new ParseUUIDPipe({ exceptionFactory: () => DomainError.validation({ id: ['id must be a UUID'] }) });

/** Webhook endpoints (admins): signed deliveries of opportunity events, with a delivery log. */
@Controller('webhooks')
@Roles('admin')
export class WebhooksController {
  constructor(
    @Inject(DATABASE) private readonly database: Database,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly policy: AddressPolicy,
    private readonly dispatcher: WebhookDispatcher,
    private readonly store: EventStore,
  ) {}

  private get webhooks() {
    return this.database.tables<WebhookTables>();
  }

  /** The whsec_ secret is in this response only. */
  @Post()
  async create(@Body() dto: CreateWebhookDto, @CurrentActor() actor: Actor) {
    await this.policy.checkUrl(dto.url);
    const data = await createEndpoint(this.webhooks, this.store, actor.orgId, dto);
    return { message: 'Webhook endpoint created; store the secret now, it is not shown again', data };
  }

  @Get()
  async list(@CurrentActor() actor: Actor) {
    return { data: await listEndpoints(this.webhooks, actor.orgId) };
  }

  @Get(':id')
  async get(@Param('id', uuid) id: string, @CurrentActor() actor: Actor) {
    return { data: await getEndpoint(this.webhooks, actor.orgId, id) };
  }

  @Patch(':id')
  async update(@Param('id', uuid) id: string, @Body() dto: UpdateWebhookDto, @CurrentActor() actor: Actor) {
    if (dto.url !== undefined) await this.policy.checkUrl(dto.url);
    return { message: 'Webhook endpoint updated', data: await updateEndpoint(this.webhooks, actor.orgId, id, dto) };
  }

  @Delete(':id')
  @HttpCode(204)
  async remove(@Param('id', uuid) id: string, @CurrentActor() actor: Actor) {
    await deleteEndpoint(this.webhooks, actor.orgId, id);
  }

  /** New secret shown once; the old one stays valid (and signed with) during the overlap. */
  @Post(':id/rotate-secret')
  @HttpCode(200)
  async rotate(@Param('id', uuid) id: string, @Body() dto: RotateSecretDto, @CurrentActor() actor: Actor) {
    const data = await rotateSecret(this.webhooks, actor.orgId, id, dto.overlap_seconds ?? this.config.webhookSecretOverlapSeconds);
    return { message: 'Secret rotated; the previous secret stays valid until previous_secret_expires_at', data };
  }

  @Get(':id/deliveries')
  async deliveries(@Param('id', uuid) id: string, @Query() raw: Record<string, unknown>, @CurrentActor() actor: Actor) {
    const q = validateQuery(DeliveriesQueryDto, raw);
    const { rows, total } = await listDeliveries(this.webhooks, actor.orgId, id, q.page, q.per_page, q.status);
    return {
      data: rows,
      meta: { current_page: q.page, per_page: q.per_page, total, last_page: Math.max(1, Math.ceil(total / q.per_page)) },
    };
  }

  @Post(':id/deliveries/:deliveryId/redeliver')
  @HttpCode(202)
  async redeliver(@Param('id', uuid) id: string, @Param('deliveryId') deliveryId: string, @CurrentActor() actor: Actor) {
    if (!/^msg_[0-9a-f]{32}$/.test(deliveryId))
      throw DomainError.validation({ deliveryId: ['deliveryId must be a webhook-id such as msg_…'] });
    const data = await redeliver(this.webhooks, actor.orgId, id, deliveryId);
    this.dispatcher.wake();
    return { message: 'Delivery queued again with the same webhook-id', data };
  }

  /** Sends a signed webhook.test message now and reports what the endpoint answered. */
  @Post(':id/test')
  @HttpCode(200)
  async test(@Param('id', uuid) id: string, @CurrentActor() actor: Actor) {
    const endpoint = await getEndpoint(this.webhooks, actor.orgId, id);
    await this.policy.checkUrl(endpoint.url);
    const data = await this.dispatcher.sendTest(actor.orgId, id);
    return { message: data.delivered ? 'Test ping delivered' : 'Test ping not delivered', data };
  }
}
