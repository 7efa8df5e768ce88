import { type Kysely, sql, type UpdateObject } from 'kysely';
import { randomUUID } from 'node:crypto';
import { DomainError } from '@app/domain';
import type { EventStore } from '@app/event-store';
import { generateSecret } from './signing';
import type { MessageStatus, WebhookTables } from './tables';

const PUBLIC_COLUMNS = [
  'id',
  'url',
  'description',
  'event_types',
  'enabled',
  'disabled_reason',
  'previous_secret_expires_at',
  'created_at',
  'updated_at',
] as const;

export interface EndpointInput {
  url: string;
  description?: string | null;
  event_types: string[];
  enabled?: boolean;
}

/**
 * The endpoint receives the events appended from now on: it keeps the event store's head (see
 * WebhookOutboxProjection), read before the row is written so no later event is missed.
 */
export async function createEndpoint(db: Kysely<WebhookTables>, store: Pick<EventStore, 'head'>, orgId: string, input: EndpointInput) {
  const secret = generateSecret();
  const head = await store.head();
  const row = await db
    .insertInto('webhook_endpoints')
    .values({
      id: randomUUID(),
      org_id: orgId,
      url: input.url,
      description: input.description ?? null,
      event_types: [...new Set(input.event_types)],
      enabled: input.enabled ?? true,
      secret,
      created_checkpoint: head,
    })
    .returning([...PUBLIC_COLUMNS])
    .executeTakeFirstOrThrow();
  return { ...row, secret };
}

export function listEndpoints(db: Kysely<WebhookTables>, orgId: string) {
  return db
    .selectFrom('webhook_endpoints')
    .select([...PUBLIC_COLUMNS])
    .where('org_id', '=', orgId)
    .where('deleted_at', 'is', null)
    .orderBy('created_at')
    .execute();
}

export async function getEndpoint(db: Kysely<WebhookTables>, orgId: string, id: string) {
  const row = await db
    .selectFrom('webhook_endpoints')
    .select([...PUBLIC_COLUMNS])
    .where('org_id', '=', orgId)
    .where('id', '=', id)
    .where('deleted_at', 'is', null)
    .executeTakeFirst();
  if (!row) throw DomainError.notFound('Webhook endpoint');
  return row;
}

export async function updateEndpoint(db: Kysely<WebhookTables>, orgId: string, id: string, changes: Partial<EndpointInput>) {
  await getEndpoint(db, orgId, id);
  const set: UpdateObject<WebhookTables, 'webhook_endpoints'> = { updated_at: sql`now()` };
  if (changes.url !== undefined) set.url = changes.url;
  if (changes.description !== undefined) set.description = changes.description;
  if (changes.event_types !== undefined) set.event_types = [...new Set(changes.event_types)];
  if (changes.enabled !== undefined) {
    set.enabled = changes.enabled;
    if (changes.enabled) set.disabled_reason = null;
  }
  return db
    .updateTable('webhook_endpoints')
    .set(set)
    .where('org_id', '=', orgId)
    .where('id', '=', id)
    .returning([...PUBLIC_COLUMNS])
    .executeTakeFirstOrThrow();
}

export async function deleteEndpoint(db: Kysely<WebhookTables>, orgId: string, id: string): Promise<void> {
  await getEndpoint(db, orgId, id);
  await db
    .updateTable('webhook_endpoints')
    .set({ deleted_at: sql`now()`, enabled: false })
    .where('id', '=', id)
    .execute();
}

/** A new secret; the old one keeps verifying for `overlapSeconds` (both signatures are sent). */
export async function rotateSecret(db: Kysely<WebhookTables>, orgId: string, id: string, overlapSeconds: number) {
  await getEndpoint(db, orgId, id);
  const secret = generateSecret();
  const row = await db
    .updateTable('webhook_endpoints')
    .set({
      previous_secret: sql`secret`,
      previous_secret_expires_at: sql`now() + make_interval(secs => ${overlapSeconds})`,
      secret,
      updated_at: sql`now()`,
    })
    .where('id', '=', id)
    .returning([...PUBLIC_COLUMNS])
    .executeTakeFirstOrThrow();
  return { ...row, secret };
}

export async function listDeliveries(
  db: Kysely<WebhookTables>,
  orgId: string,
  endpointId: string,
  page: number,
  perPage: number,
  status?: MessageStatus,
) {
  await getEndpoint(db, orgId, endpointId);
  let base = db.selectFrom('webhook_messages').where('endpoint_id', '=', endpointId);
  if (status) base = base.where('status', '=', status);
  const [messages, count] = await Promise.all([
    base
      .select([
        'id',
        'event_type',
        'event_id',
        'stream_id',
        'stream_version',
        'position',
        'status',
        'total_attempts as attempts',
        'next_attempt_at',
        'last_attempt_at',
        'last_status_code',
        'delivered_at',
        'created_at',
      ])
      .orderBy('created_at', 'desc')
      .orderBy('id')
      .limit(perPage)
      .offset((page - 1) * perPage)
      .execute(),
    base.select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow(),
  ]);
  const attempts = messages.length
    ? await db
        .selectFrom('webhook_attempts')
        .select(['message_id', 'attempt', 'attempted_at', 'status_code', 'latency_ms', 'response_excerpt', 'error'])
        .where(
          'message_id',
          'in',
          messages.map((m) => m.id),
        )
        .orderBy('attempt')
        .execute()
    : [];
  return {
    rows: messages.map((m) => ({
      ...m,
      position: m.position === null ? null : String(m.position),
      attempts_log: attempts.filter((a) => a.message_id === m.id).map(({ message_id: _m, ...a }) => a),
    })),
    total: Number(count.n),
  };
}

/** Queues a message again now, with the same webhook-id; its earlier attempts stay in the log. */
export async function redeliver(db: Kysely<WebhookTables>, orgId: string, endpointId: string, messageId: string) {
  await getEndpoint(db, orgId, endpointId);
  const row = await db
    .updateTable('webhook_messages')
    .set({ status: 'pending', attempts: 0, next_attempt_at: sql`now()`, delivered_at: null })
    .where('id', '=', messageId)
    .where('endpoint_id', '=', endpointId)
    .returning(['id', 'status', 'next_attempt_at'])
    .executeTakeFirst();
  if (!row) throw DomainError.notFound('Delivery');
  return row;
}
