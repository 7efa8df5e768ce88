import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    -- A projection that halted at a poison event says so in its row, so readiness sees it from any process.
    alter table projection_checkpoints add column halted_reason text, add column halted_stream_id text, add column halted_at timestamptz;
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`alter table projection_checkpoints drop column halted_reason, drop column halted_stream_id, drop column halted_at`.execute(db);
}
