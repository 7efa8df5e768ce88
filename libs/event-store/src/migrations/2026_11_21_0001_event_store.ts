import { type Kysely, sql } from 'kysely';

// Append-only event log. See docs/ARCHITECTURE.md "Event store".
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    create sequence events_global_position_seq;
    create table events (
      global_position bigint not null default nextval('events_global_position_seq'),
      transaction_id xid8 not null default pg_current_xact_id(),
      stream_id text not null,
      stream_version bigint not null,
      event_id uuid not null,
      type text not null,
      schema_version integer not null default 1,
      data jsonb not null,
      metadata jsonb not null default '{}'::jsonb,
      created_at timestamptz not null default now(),
      primary key (stream_id, stream_version),
      constraint events_event_id_key unique (event_id),
      constraint events_global_position_key unique (global_position)
    );
    alter sequence events_global_position_seq owned by events.global_position;
    create index events_transaction_position_idx on events (transaction_id, global_position);

    create function events_refuse_change() returns trigger language plpgsql as $$
    begin
      raise exception 'events are append-only: % refused', tg_op using errcode = 'insufficient_privilege';
    end $$;
    create trigger events_append_only before update or delete on events
      for each row execute function events_refuse_change();
    create trigger events_no_truncate before truncate on events
      for each statement execute function events_refuse_change();

    -- One round trip per append. p_expected: >= 0 exact version, -1 no stream, -2 any, -3 stream exists.
    -- Returns status 'appended' | 'duplicate' | 'conflict' with the stream version and last position.
    -- Re-sent event ids are looked up only when the version check fails; otherwise the unique
    -- index on event_id stops them (the caller turns that error into the duplicate result).
    create function append_events(p_stream text, p_expected bigint, p_events jsonb)
    returns table (status text, stream_version bigint, global_position bigint)
    language plpgsql as $$
    declare
      v_current bigint;
    begin
      select coalesce(max(e.stream_version), 0) into v_current from events e where e.stream_id = p_stream;

      if (p_expected >= 0 and v_current <> p_expected)
         or (p_expected = -1 and v_current <> 0)
         or (p_expected = -3 and v_current = 0) then
        if exists (select 1 from events e where e.event_id = (p_events->0->>'event_id')::uuid) then
          return query select * from appended_result(p_events);
        else
          return query select 'conflict'::text, v_current, null::bigint;
        end if;
        return;
      end if;

      return query
        with inserted as (
          insert into events (stream_id, stream_version, event_id, type, schema_version, data, metadata)
          select p_stream, v_current + t.ord, (t.x->>'event_id')::uuid, t.x->>'type',
                 coalesce((t.x->>'schema_version')::int, 1), t.x->'data', coalesce(t.x->'metadata', '{}'::jsonb)
          from jsonb_array_elements(p_events) with ordinality as t(x, ord)
          order by t.ord
          returning events.stream_version, events.global_position
        )
        select 'appended'::text, max(i.stream_version), max(i.global_position) from inserted i;
    end $$;

    -- The result an earlier append of these event ids returned.
    create function appended_result(p_events jsonb)
    returns table (status text, stream_version bigint, global_position bigint)
    language sql stable as $$
      select 'duplicate'::text, max(e.stream_version), max(e.global_position)
      from events e
      where e.event_id in (select (x->>'event_id')::uuid from jsonb_array_elements(p_events) x)
    $$;
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop function append_events; drop function appended_result; drop table events; drop function events_refuse_change;`.execute(db);
}
