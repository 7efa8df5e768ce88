import { type Kysely, sql } from 'kysely';
import type { OpportunityState } from '@app/domain';
import { bulkInsert } from '../projector/bulk-insert';
import { DAY_FACET_KEY, FacetDeltas, LABEL_FACET_KEY } from '../opportunities/list-facets';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    -- Deals per calendar day of a date the list filters on (see list-facets.ts), kept like pipeline_totals.
    create table list_day_totals (
      org_id text not null,
      facet text not null,
      day date not null,
      pipeline_id text not null,
      stage text not null,
      stage_kind text not null,
      status text not null,
      currency text not null,
      deal_count bigint not null,
      value_minor bigint not null,
      weighted_value_minor bigint not null,
      primary key (org_id, facet, day, pipeline_id, stage, stage_kind, status, currency)
    ) with (fillfactor = 70); -- room on each page: adding to a group is a HOT update (no index touched)
    -- Deals per tag set and per custom-field value.
    create table list_label_totals (
      org_id text not null,
      facet text not null,
      label jsonb not null,
      pipeline_id text not null,
      stage text not null,
      status text not null,
      currency text not null,
      deal_count bigint not null,
      value_minor bigint not null,
      weighted_value_minor bigint not null,
      primary key (org_id, facet, label, pipeline_id, stage, status, currency)
    ) with (fillfactor = 70);
    -- The newest-first page reads this index alone when its filters are among the included columns
    -- (listPageQuery picks ids first): an open deal with no activity for 60 days is an old one, so
    -- newest first skips most deals before it finds a page of them.
    drop index opportunity_list_created_idx;
    create index opportunity_list_created_idx on opportunity_list (org_id, created_at)
      include (id, status, stage, assigned_user_id, stage_changed_at, last_activity_at, expected_close_date)
      where deleted_at is null;
    -- One owner's open deals by close date (the monthly forecast of a rep) without the others'.
    drop index opportunity_list_owner_idx;
    create index opportunity_list_owner_idx on opportunity_list (org_id, assigned_user_id, status, expected_close_date)
      include (currency, value_minor, weighted_value_minor) where deleted_at is null;
  `.execute(db);
  await backfill(db);
}

/** The facets of the deals already projected, from their stored states, page by page. */
async function backfill(db: Kysely<any>): Promise<void> {
  const deltas = new FacetDeltas();
  let after: { org_id: string; id: string } | null = null;
  for (;;) {
    const rows: { org_id: string; id: string; state: OpportunityState }[] = await db
      .selectFrom('opportunity_list')
      .select(['org_id', 'id', 'state'])
      .$if(after !== null, (q) => q.where(sql<boolean>`(org_id, id) > (${after!.org_id}, ${after!.id}::uuid)`))
      .orderBy('org_id')
      .orderBy('id')
      .limit(5000)
      .execute();
    for (const row of rows) deltas.add(row.state, row.org_id, 1);
    if (rows.length < 5000) break;
    after = rows[rows.length - 1];
  }
  const days = deltas.dayRows();
  const labels = deltas.labelRows();
  for (let i = 0; i < days.length; i += 5000)
    await bulkInsert(db, 'list_day_totals', days.slice(i, i + 5000), { conflict: [...DAY_FACET_KEY], onConflict: 'nothing' });
  for (let i = 0; i < labels.length; i += 5000)
    await bulkInsert(db, 'list_label_totals', labels.slice(i, i + 5000), { conflict: [...LABEL_FACET_KEY], onConflict: 'nothing' });
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    drop table list_label_totals; drop table list_day_totals;
    drop index opportunity_list_created_idx;
    create index opportunity_list_created_idx on opportunity_list (org_id, created_at) where deleted_at is null;
    drop index opportunity_list_owner_idx;
    create index opportunity_list_owner_idx on opportunity_list (org_id, assigned_user_id, status)
      include (currency, value_minor, weighted_value_minor) where deleted_at is null;
  `.execute(db);
}
