import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    -- A request in progress holds its key until locked_until: a key whose request died is taken
    -- over after that instead of answering "in progress" for ever. created_at drives retention.
    alter table idempotency_keys add column locked_until timestamptz;
    update idempotency_keys set locked_until = created_at where status_code is null;
    create index idempotency_keys_created_at_idx on idempotency_keys (created_at);
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop index idempotency_keys_created_at_idx; alter table idempotency_keys drop column locked_until`.execute(db);
}
