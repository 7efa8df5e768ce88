import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    -- Leads a deal came from (its lead_id): a directory like users, customers and contacts.
    create table leads (
      org_id text not null,
      id text not null,
      name text not null,
      company_name text,
      email text,
      source text,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      primary key (org_id, id)
    );
    create index leads_name_idx on leads (org_id, name, id);
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop table leads`.execute(db);
}
