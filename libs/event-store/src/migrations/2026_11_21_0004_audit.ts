import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    -- The org-wide audit feed reads one org's events in commit order.
    create index events_org_commit_idx on events ((metadata->>'org_id'), transaction_id, global_position);
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop index events_org_commit_idx;`.execute(db);
}
