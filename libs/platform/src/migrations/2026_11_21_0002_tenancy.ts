import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    create table orgs (
      id text primary key,
      name text not null,
      created_at timestamptz not null default now()
    );
    create table api_tokens (
      id uuid primary key,
      org_id text not null references orgs(id),
      user_id text not null,
      role text not null check (role in ('admin', 'manager', 'rep', 'viewer')),
      token_hash text not null unique,
      label text,
      created_at timestamptz not null default now(),
      revoked_at timestamptz
    );
    create index api_tokens_org_idx on api_tokens (org_id);
    create table idempotency_keys (
      org_id text not null,
      key text not null,
      request_hash text not null,
      status_code integer,
      response_headers jsonb,
      response_body jsonb,
      created_at timestamptz not null default now(),
      primary key (org_id, key)
    );
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop table idempotency_keys; drop table api_tokens; drop table orgs;`.execute(db);
}
