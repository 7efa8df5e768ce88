import { type Kysely, sql } from 'kysely';
import type { ActivityLogged, OpportunityEvent } from '@app/domain';
import type { RecordedEvent } from '@app/event-store';
import { nameBasedUuid } from '@app/platform';
import { dealOf, isOpportunityEvent } from '../opportunities/deal-fold';
import { bulkInsert, type BulkRow, recordset } from '../projector/bulk-insert';
import type { Projection, ProjectionRebuild } from '../projector/projection';
import type { TableRows } from '../projector/copy-rows';
import type { OpportunityActivitiesTable, OpportunityActivityRow, OpportunityNotesTable, ReadModelTables } from '../tables';

/**
 * A deal's timeline: activities (logged, completed, and a status_change entry for every stage
 * change) and notes. Rows are keyed by ids from the events, so a re-fed event changes nothing.
 */
export class TimelineProjection implements Projection {
  static readonly NAME = 'timeline';
  static readonly TABLES = ['opportunity_activities', 'opportunity_notes'] as const;
  readonly name = TimelineProjection.NAME;

  /**
   * Set-based: the batch's new activities and notes are inserted with one statement each, then
   * the completions are applied with one update (an activity is always logged before it is
   * completed, so inserting first keeps the order of the events).
   */
  async applyBatch(trx: Kysely<ReadModelTables>, events: RecordedEvent[]): Promise<void> {
    const activities: BulkRow<OpportunityActivitiesTable>[] = [];
    const notes: BulkRow<OpportunityNotesTable>[] = [];
    const completions = new Map<string, Completion>();
    for (const recorded of events) {
      const change = timelineChange(recorded);
      if (change?.kind === 'activity') activities.push(change.row);
      else if (change?.kind === 'note') notes.push(change.row);
      else if (change?.kind === 'completion') {
        // A later completion wins; its outcome only when it gives one.
        const c = change.completion;
        const key = `${c.org_id}/${c.id}`;
        completions.set(key, { ...c, outcome: c.outcome ?? completions.get(key)?.outcome ?? null });
      }
    }
    await bulkInsert(trx, 'opportunity_activities', activities, { conflict: ['org_id', 'id'], onConflict: 'nothing' });
    await bulkInsert(trx, 'opportunity_notes', notes, { conflict: ['org_id', 'id'], onConflict: 'nothing' });
    if (completions.size === 0) return;
    const c = await recordset(trx, 'opportunity_activities', [...completions.values()], 'c');
    await trx
      .updateTable('opportunity_activities as a')
      .from(c.from)
      .set((eb) => ({
        status: 'completed',
        completed_at: eb.ref('c.completed_at'),
        updated_at: eb.ref('c.completed_at').$notNull(),
        outcome: eb.fn.coalesce('c.outcome', 'a.outcome'),
      }))
      .whereRef('a.org_id', '=', 'c.org_id')
      .whereRef('a.id', '=', 'c.id')
      .execute();
  }

  rebuild(): ProjectionRebuild {
    return new TimelineRebuild();
  }
}

interface Completion {
  org_id: string;
  id: string;
  completed_at: string;
  outcome: string | null;
}

type TimelineChange =
  | { kind: 'activity'; row: BulkRow<OpportunityActivitiesTable> & { org_id: string; id: string } }
  | { kind: 'note'; row: BulkRow<OpportunityNotesTable> & { org_id: string; id: string } }
  | { kind: 'completion'; completion: Completion };

/** The row an ActivityLogged event makes (the API answers the command with it as well). */
export function loggedActivityRow(orgId: string, opportunityId: string, d: ActivityLogged['data'], actor: string | null) {
  return {
    org_id: orgId,
    id: d.activity_id,
    opportunity_id: opportunityId,
    activity_type: d.activity_type,
    subject: d.subject,
    description: d.description,
    outcome: d.outcome,
    priority: d.priority,
    status: d.completed_at ? ('completed' as const) : ('scheduled' as const),
    scheduled_at: d.scheduled_at,
    completed_at: d.completed_at,
    created_by: actor,
    created_at: d.logged_at,
    updated_at: d.logged_at,
  };
}

/** What one event adds to the timeline: an activity row, a note row, a completion, or nothing. */
function timelineChange(recorded: RecordedEvent): TimelineChange | null {
  if (!isOpportunityEvent(recorded)) return null;
  const { orgId, id } = dealOf(recorded);
  const event = { type: recorded.type, data: recorded.data } as OpportunityEvent;
  const actor = (recorded.metadata.actor_id as string | undefined) ?? null;
  switch (event.type) {
    case 'ActivityLogged':
      return { kind: 'activity', row: loggedActivityRow(orgId, id, event.data, actor) };
    case 'ActivityCompleted':
      return {
        kind: 'completion',
        completion: {
          org_id: orgId,
          id: event.data.activity_id,
          completed_at: event.data.completed_at,
          outcome: event.data.outcome ?? null,
        },
      };
    case 'OpportunityStageChanged':
    case 'OpportunityWon':
    case 'OpportunityLost': {
      const at =
        event.type === 'OpportunityWon' ? event.data.won_at : event.type === 'OpportunityLost' ? event.data.lost_at : event.data.changed_at;
      const why =
        event.type === 'OpportunityStageChanged'
          ? [event.data.reason, event.data.notes].filter(Boolean).join(' — ')
          : event.type === 'OpportunityWon'
            ? event.data.close_reason
            : [event.data.loss_reason, event.data.loss_notes].filter(Boolean).join(' — ');
      return {
        kind: 'activity',
        row: {
          org_id: orgId,
          id: nameBasedUuid(`status_change:${recorded.eventId}`),
          opportunity_id: id,
          activity_type: 'status_change',
          subject: `Stage changed from ${event.data.from_stage} to ${event.data.to_stage}`,
          description: why || null,
          outcome: null,
          priority: null,
          status: 'completed',
          scheduled_at: null,
          completed_at: at,
          created_by: actor,
          created_at: at,
          updated_at: at,
        },
      };
    }
    case 'NoteAdded':
      return {
        kind: 'note',
        row: {
          org_id: orgId,
          id: event.data.note_id,
          opportunity_id: id,
          content: event.data.content,
          created_by: actor,
          created_at: event.data.added_at,
        },
      };
    default:
      return null;
  }
}

/**
 * Activities stay in memory until the end (a completion may come at any later point); notes never
 * change and are handed out as they come. The first row of an id wins, as with ON CONFLICT DO NOTHING.
 */
class TimelineRebuild implements ProjectionRebuild {
  private readonly activities = new Map<string, BulkRow<OpportunityActivitiesTable>>();
  private readonly noteIds = new Set<string>();

  add(events: RecordedEvent[]): TableRows {
    const notes: BulkRow<OpportunityNotesTable>[] = [];
    for (const recorded of events) {
      const change = timelineChange(recorded);
      if (change?.kind === 'activity') {
        const key = `${change.row.org_id}/${change.row.id}`;
        if (!this.activities.has(key)) this.activities.set(key, change.row);
      } else if (change?.kind === 'note') {
        const key = `${change.row.org_id}/${change.row.id}`;
        if (this.noteIds.has(key)) continue;
        this.noteIds.add(key);
        notes.push(change.row);
      } else if (change?.kind === 'completion') {
        const c = change.completion;
        const activity = this.activities.get(`${c.org_id}/${c.id}`);
        if (!activity) continue;
        activity.status = 'completed';
        activity.completed_at = c.completed_at;
        activity.updated_at = c.completed_at;
        activity.outcome = c.outcome ?? activity.outcome;
      }
    }
    return new Map([['opportunity_notes', notes]]);
  }

  finish(): TableRows {
    return new Map([['opportunity_activities', [...this.activities.values()]]]);
  }
}

export interface ActivityView {
  id: string;
  opportunity_id: string;
  type: string;
  subject: string | null;
  description: string | null;
  outcome: string | null;
  priority: string | null;
  status: string;
  scheduled_at: string | null;
  completed_at: string | null;
  created_by: string | null;
  created_at: string;
}

const iso = (v: Date | string | null) => (v === null ? null : typeof v === 'string' ? v : v.toISOString());

/** An activity's fields, from a stored row (dates as Date) or a row just made from an event (ISO strings). */
type ActivityFields = Pick<
  OpportunityActivityRow,
  'id' | 'opportunity_id' | 'activity_type' | 'subject' | 'description' | 'outcome' | 'priority' | 'status' | 'created_by'
> & { scheduled_at: Date | string | null; completed_at: Date | string | null; created_at: Date | string };

/** An activity as the API shows it. */
export function toActivity(r: ActivityFields): ActivityView {
  return {
    id: r.id,
    opportunity_id: r.opportunity_id,
    type: r.activity_type,
    subject: r.subject,
    description: r.description,
    outcome: r.outcome,
    priority: r.priority,
    status: r.status,
    scheduled_at: iso(r.scheduled_at),
    completed_at: iso(r.completed_at),
    created_by: r.created_by,
    created_at: iso(r.created_at)!,
  };
}

/** Newest first, for one deal, paginated. */
export async function listActivities(
  db: Kysely<ReadModelTables>,
  orgId: string,
  opportunityId: string,
  page: number,
  perPage: number,
  type?: string,
) {
  let base = db.selectFrom('opportunity_activities').where('org_id', '=', orgId).where('opportunity_id', '=', opportunityId);
  if (type) base = base.where('activity_type', '=', type);
  const [rows, count] = await Promise.all([
    base
      .selectAll()
      .orderBy('created_at', 'desc')
      .orderBy('id')
      .limit(perPage)
      .offset((page - 1) * perPage)
      .execute(),
    base.select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow(),
  ]);
  return { rows: rows.map(toActivity), total: Number(count.n) };
}

/** The latest activities of several deals at once (for includes=activities). */
export async function activitiesByDeal(
  db: Kysely<ReadModelTables>,
  orgId: string,
  opportunityIds: string[],
  perDeal = 10,
): Promise<Map<string, ActivityView[]>> {
  const out = new Map<string, ActivityView[]>();
  if (opportunityIds.length === 0) return out;
  const { rows } = await sql<OpportunityActivityRow>`
    select * from (
      select a.*, row_number() over (partition by opportunity_id order by created_at desc, id) as n
      from opportunity_activities a
      where org_id = ${orgId} and opportunity_id in (${sql.join(opportunityIds.map((id) => sql`${id}::uuid`))})
    ) ranked where n <= ${perDeal} order by created_at desc`.execute(db);
  for (const r of rows) {
    const list = out.get(r.opportunity_id) ?? [];
    list.push(toActivity(r));
    out.set(r.opportunity_id, list);
  }
  return out;
}

export async function findActivity(db: Kysely<ReadModelTables>, orgId: string, activityId: string) {
  const row = await db
    .selectFrom('opportunity_activities')
    .selectAll()
    .where('org_id', '=', orgId)
    .where('id', '=', activityId)
    .executeTakeFirst();
  return row ? toActivity(row) : null;
}

export async function listNotes(db: Kysely<ReadModelTables>, orgId: string, opportunityId: string, page: number, perPage: number) {
  const base = db.selectFrom('opportunity_notes').where('org_id', '=', orgId).where('opportunity_id', '=', opportunityId);
  const [rows, count] = await Promise.all([
    base
      .selectAll()
      .orderBy('created_at', 'desc')
      .orderBy('id')
      .limit(perPage)
      .offset((page - 1) * perPage)
      .execute(),
    base.select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow(),
  ]);
  return {
    rows: rows.map((r) => ({
      id: r.id,
      opportunity_id: r.opportunity_id,
      content: r.content,
      created_by: r.created_by,
      created_at: iso(r.created_at),
    })),
    total: Number(count.n),
  };
}
