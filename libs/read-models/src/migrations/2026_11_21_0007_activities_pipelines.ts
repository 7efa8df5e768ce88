import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    create table opportunity_activities (
      org_id text not null,
      id uuid not null,
      opportunity_id uuid not null,
      activity_type text not null,
      subject text,
      description text,
      outcome text,
      priority text,
      status text not null check (status in ('scheduled', 'completed')),
      scheduled_at timestamptz,
      completed_at timestamptz,
      created_by text,
      created_at timestamptz not null,
      updated_at timestamptz not null,
      primary key (org_id, id)
    );
    create index opportunity_activities_deal_idx on opportunity_activities (org_id, opportunity_id, created_at desc);

    create table opportunity_notes (
      org_id text not null,
      id uuid not null,
      opportunity_id uuid not null,
      content text not null,
      created_by text,
      created_at timestamptz not null,
      primary key (org_id, id)
    );
    create index opportunity_notes_deal_idx on opportunity_notes (org_id, opportunity_id, created_at desc);

    create table pipelines (
      org_id text not null,
      id text not null,
      name text not null,
      definition jsonb not null,
      version bigint not null,
      deleted_at timestamptz,
      updated_at timestamptz not null,
      primary key (org_id, id)
    );

    create table categories (
      org_id text not null,
      id uuid not null,
      name text not null,
      color text,
      sort_order integer not null default 0,
      is_active boolean not null default true,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      primary key (org_id, id),
      unique (org_id, name)
    );
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop table categories; drop table pipelines; drop table opportunity_notes; drop table opportunity_activities;`.execute(db);
}
