import { randomUUID } from 'node:crypto';
import { type Kysely, sql } from 'kysely';
import {
  decide,
  DEFAULT_PIPELINE,
  fold,
  type OpportunityCommand,
  type OpportunityEvent,
  opportunityStreamId,
  foldStored,
} from '@app/domain';
import type { EventStore, NewEvent, RecordedEvent } from '@app/event-store';

/** Runs commands through the real decider and appends the events, like the API does. */
export class DealWriter {
  constructor(
    private readonly store: EventStore,
    readonly orgId = `org_${randomUUID().slice(0, 8)}`,
  ) {}

  async run(id: string, commands: OpportunityCommand[], at: string[] = [], actor = 'rep_1'): Promise<OpportunityEvent[]> {
    const stream = opportunityStreamId(this.orgId, id);
    const existing = await this.store.readStream(stream);
    let state = foldStored(existing);
    const produced: OpportunityEvent[] = [];
    for (const [i, command] of commands.entries()) {
      const now = at[i] ?? new Date().toISOString();
      const events = decide(command, state, { now, actor_id: actor, pipeline: DEFAULT_PIPELINE });
      if (events.length === 0) continue;
      await this.store.append(
        stream,
        events.map((e) => toNew(e, this.orgId, actor, now)),
        state.version === 0 ? 'no_stream' : state.version,
      );
      state = fold(events, state);
      produced.push(...events);
    }
    return produced;
  }

  create(id: string, input: Partial<Extract<OpportunityCommand, { type: 'CreateOpportunity' }>['input']> = {}, at?: string) {
    return this.run(
      id,
      [
        {
          type: 'CreateOpportunity',
          opportunity_id: id,
          input: { name: `Deal ${id.slice(0, 4)}`, customer_id: 'c1', value_minor: 100_000, expected_close_date: '2030-06-30', ...input },
        },
      ],
      at ? [at] : [],
    );
  }
}

function toNew(event: OpportunityEvent, orgId: string, actor: string, now: string): NewEvent {
  return {
    eventId: randomUUID(),
    type: event.type,
    data: event.data,
    metadata: { org_id: orgId, actor_id: actor, correlation_id: randomUUID(), causation_id: randomUUID(), occurred_at: now },
  };
}

/**
 * The whole log, read independently of the projections. readAll only returns events below the
 * oldest running transaction of the server (a projector batch, another suite's), so read until the
 * highest position written is included: then a projector sees every event written so far.
 */
export async function allEvents<DB>(db: Kysely<DB>, store: EventStore): Promise<RecordedEvent[]> {
  const { rows } = await sql<{ p: string | null }>`select max(global_position)::text as p from events`.execute(db);
  const deadline = Date.now() + 30_000;
  for (;;) {
    const out: RecordedEvent[] = [];
    let after: string | null = null;
    for (;;) {
      const page = await store.readAll(after, 1000);
      if (page.events.length === 0) break;
      out.push(...page.events);
      after = page.checkpoint;
    }
    if (rows[0].p === null || out[out.length - 1]?.position === rows[0].p) return out;
    if (Date.now() > deadline) throw new Error(`log never showed position ${rows[0].p}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
