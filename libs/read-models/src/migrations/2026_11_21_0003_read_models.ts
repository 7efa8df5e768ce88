import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    create table projection_checkpoints (
      projection text primary key,
      checkpoint text,
      position bigint not null default 0,
      events_processed bigint not null default 0,
      updated_at timestamptz not null default now()
    );
    create table projection_dead_letters (
      id bigserial primary key,
      projection text not null,
      event_id uuid not null,
      stream_id text not null,
      stream_version bigint not null,
      position bigint not null,
      event_type text not null,
      error text not null,
      attempts integer not null,
      created_at timestamptz not null default now(),
      unique (projection, event_id)
    );

    create table users (
      org_id text not null,
      id text not null,
      name text not null,
      email text,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      primary key (org_id, id)
    );
    create table customers (
      org_id text not null,
      id text not null,
      customer_number text not null,
      company_name text not null,
      email text,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      primary key (org_id, id),
      unique (org_id, customer_number)
    );

    -- One row per deal: list, detail and filters. state = the folded domain state.
    create table opportunity_list (
      org_id text not null,
      id uuid not null,
      pipeline_id text not null,
      name text not null,
      description text,
      customer_id text,
      lead_id text,
      stage text not null,
      stage_kind text not null,
      status text not null,
      value_minor bigint not null,
      weighted_value_minor bigint not null,
      currency text not null,
      probability integer not null,
      expected_close_date date,
      priority text,
      source text,
      assigned_user_id text,
      tags text[] not null default '{}',
      custom_fields jsonb not null default '{}',
      bant_score integer not null,
      follow_up_date date,
      category_id text,
      created_at timestamptz not null,
      updated_at timestamptz not null,
      stage_changed_at timestamptz not null,
      last_activity_at timestamptz not null,
      actual_close_date date,
      sales_cycle_days integer,
      deleted_at timestamptz,
      search tsvector generated always as (
        to_tsvector('simple', coalesce(name, '') || ' ' || coalesce(description, ''))
      ) stored,
      state jsonb not null,
      last_version bigint not null,
      last_position bigint not null,
      primary key (org_id, id)
    ) with (toast_tuple_target = 256); -- state (~1.5 kB) lives out of line: list scans read narrow rows
    -- Filter indexes carry the summed columns, so summaries over a filter read the index only.
    create index opportunity_list_stage_idx on opportunity_list (org_id, stage, created_at)
      include (currency, value_minor, weighted_value_minor) where deleted_at is null;
    create index opportunity_list_status_idx on opportunity_list (org_id, status, expected_close_date)
      include (currency, value_minor, weighted_value_minor) where deleted_at is null;
    create index opportunity_list_customer_idx on opportunity_list (org_id, customer_id)
      include (currency, value_minor, weighted_value_minor) where deleted_at is null;
    create index opportunity_list_owner_idx on opportunity_list (org_id, assigned_user_id, status)
      include (currency, value_minor, weighted_value_minor) where deleted_at is null;
    create index opportunity_list_priority_idx on opportunity_list (org_id, priority, stage)
      include (currency, value_minor, weighted_value_minor) where deleted_at is null;
    create index opportunity_list_close_idx on opportunity_list (org_id, expected_close_date)
      include (currency, value_minor, weighted_value_minor) where deleted_at is null;
    create index opportunity_list_close_desc_idx on opportunity_list (org_id, expected_close_date desc nulls last) where deleted_at is null;
    create index opportunity_list_value_idx on opportunity_list (org_id, value_minor) where deleted_at is null;
    create index opportunity_list_created_idx on opportunity_list (org_id, created_at) where deleted_at is null;
    create index opportunity_list_probability_idx on opportunity_list (org_id, probability) where deleted_at is null;
    create index opportunity_list_stage_changed_idx on opportunity_list (org_id, stage_changed_at) where deleted_at is null;
    create index opportunity_list_activity_idx on opportunity_list (org_id, last_activity_at) where deleted_at is null;
    -- Stalled and stale deals are open ones: these serve days_in_stage_min / last_activity_days_ago_min with status.
    create index opportunity_list_open_stalled_idx on opportunity_list (org_id, status, stage_changed_at)
      include (currency, value_minor, weighted_value_minor) where deleted_at is null;
    create index opportunity_list_open_stale_idx on opportunity_list (org_id, status, last_activity_at)
      include (currency, value_minor, weighted_value_minor) where deleted_at is null;
    create index opportunity_list_follow_up_idx on opportunity_list (org_id, follow_up_date) where deleted_at is null;
    create index opportunity_list_tags_idx on opportunity_list using gin (tags);
    create index opportunity_list_custom_fields_idx on opportunity_list using gin (custom_fields jsonb_path_ops);
    create index opportunity_list_search_idx on opportunity_list using gin (search);

    -- Pre-aggregated pipeline figures: one row per combination, kept by adding and removing a
    -- deal's contribution as it changes, so analytics never scan all deals.
    create table pipeline_totals (
      org_id text not null,
      pipeline_id text not null,
      stage text not null,
      status text not null,
      assigned_user_id text not null,
      currency text not null,
      close_month date not null,
      -- 90 (commit, >= 90 %), 60 (best case, >= 60 %) or 0: the forecast categories.
      probability_band integer not null,
      deal_count bigint not null,
      value_minor bigint not null,
      weighted_value_minor bigint not null,
      sales_cycle_days_sum bigint not null,
      primary key (org_id, pipeline_id, stage, status, assigned_user_id, currency, close_month, probability_band)
    );
    create index pipeline_totals_month_idx on pipeline_totals (org_id, close_month);
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    drop table pipeline_totals; drop table opportunity_list; drop table customers; drop table users;
    drop table projection_dead_letters; drop table projection_checkpoints;
  `.execute(db);
}
