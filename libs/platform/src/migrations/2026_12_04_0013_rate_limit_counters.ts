import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    -- Requests per token and rate-limit window, added up by every API process on the database
    -- (each adds what it counted since its last sync). Unlogged: a count lost in a crash costs
    -- at most one window's budget, and the table is written several times a second.
    create unlogged table rate_limit_counters (
      key text not null,
      -- Start of the window, milliseconds since the epoch.
      window_start bigint not null,
      count bigint not null,
      primary key (key, window_start)
    );
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop table rate_limit_counters`.execute(db);
}
