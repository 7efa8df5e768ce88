import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    -- Each deal's state between two of its events: [valid_from, valid_to). Answers "as of" analytics.
    create table opportunity_intervals (
      org_id text not null,
      id uuid not null,
      version bigint not null,
      valid_from timestamptz not null,
      valid_to timestamptz,
      pipeline_id text not null,
      stage text not null,
      status text not null,
      assigned_user_id text not null,
      currency text not null,
      expected_close_date date,
      close_month date not null,
      probability_band integer not null,
      value_minor bigint not null,
      weighted_value_minor bigint not null,
      sales_cycle_days integer,
      stage_changed_at timestamptz not null,
      last_activity_at timestamptz not null,
      primary key (org_id, id, version)
    );
    create index opportunity_intervals_open_idx on opportunity_intervals (org_id, valid_from) where valid_to is null;
    create index opportunity_intervals_closed_idx on opportunity_intervals (org_id, valid_to, valid_from) where valid_to is not null;
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop table opportunity_intervals;`.execute(db);
}
