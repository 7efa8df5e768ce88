import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    create table webhook_endpoints (
      id uuid primary key,
      org_id text not null,
      url text not null,
      description text,
      event_types text[] not null,
      enabled boolean not null default true,
      disabled_reason text,
      -- Needed in clear to sign (HMAC); never returned after creation or rotation.
      secret text not null,
      previous_secret text,
      previous_secret_expires_at timestamptz,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      deleted_at timestamptz
    );
    create index webhook_endpoints_org_idx on webhook_endpoints (org_id) where deleted_at is null;

    -- The outbox: one message per (endpoint, event), written with the projector's checkpoint.
    create table webhook_messages (
      id text primary key,
      org_id text not null,
      endpoint_id uuid not null references webhook_endpoints(id),
      event_type text not null,
      event_id uuid,
      stream_id text,
      stream_version bigint,
      position bigint,
      body text not null,
      status text not null check (status in ('pending', 'delivered', 'failed')),
      -- Position in the retry schedule (a manual redelivery starts it again).
      attempts integer not null default 0,
      -- Every attempt ever made, numbering the delivery log.
      total_attempts integer not null default 0,
      next_attempt_at timestamptz,
      last_attempt_at timestamptz,
      last_status_code integer,
      delivered_at timestamptz,
      created_at timestamptz not null default now(),
      unique (endpoint_id, event_id)
    );
    create index webhook_messages_due_idx on webhook_messages (next_attempt_at) where status = 'pending';
    create index webhook_messages_endpoint_idx on webhook_messages (endpoint_id, created_at);

    create table webhook_attempts (
      id bigserial primary key,
      message_id text not null references webhook_messages(id),
      attempt integer not null,
      attempted_at timestamptz not null,
      status_code integer,
      latency_ms integer not null,
      response_excerpt text,
      error text
    );
    create index webhook_attempts_message_idx on webhook_attempts (message_id, attempt);

    -- The deal states the outbox projection folds to put a snapshot in each payload.
    create table webhook_deal_states (
      org_id text not null,
      id uuid not null,
      state jsonb not null,
      last_version bigint not null,
      primary key (org_id, id)
    ) with (toast_tuple_target = 256);
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop table webhook_deal_states; drop table webhook_attempts; drop table webhook_messages; drop table webhook_endpoints;`.execute(
    db,
  );
}
