import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    -- The event store's head when the endpoint was created: it receives the events after it, on
    -- any event store. NULL on endpoints created before this column (and while the log is
    -- empty): those keep the created_at rule.
    alter table webhook_endpoints add column created_checkpoint text;
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`alter table webhook_endpoints drop column created_checkpoint`.execute(db);
}
