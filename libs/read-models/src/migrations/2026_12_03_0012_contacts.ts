import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    -- People at customers, linked to deals as stakeholders (a directory like users and customers).
    create table contacts (
      org_id text not null,
      id text not null,
      first_name text not null,
      last_name text not null,
      email text,
      phone text,
      title text,
      customer_id text,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      primary key (org_id, id)
    );
    create index contacts_name_idx on contacts (org_id, last_name, first_name, id);
    create index contacts_customer_idx on contacts (org_id, customer_id) where customer_id is not null;

    -- ?contact_id= lists the deals a contact is a stakeholder of: containment on the folded state.
    create index opportunity_list_stakeholders_idx on opportunity_list using gin ((state -> 'stakeholders') jsonb_path_ops);
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop index opportunity_list_stakeholders_idx; drop table contacts`.execute(db);
}
