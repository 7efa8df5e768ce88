import type { ColumnType, Kysely } from 'kysely';
import { INITIAL_STATE, OPPORTUNITY_EVENT_TYPES, type OpportunityState, parseStreamName, isUuid, foldStored } from '@app/domain';
import type { RecordedEvent } from '@app/event-store';

const HANDLED = new Set<string>(OPPORTUNITY_EVENT_TYPES);

/** The columns foldBatch reads from a table of folded deal states (opportunity_list has them; so may another library's table). */
export interface DealStatesTable {
  org_id: string;
  id: string;
  /** jsonb, parsed. */
  state: ColumnType<OpportunityState, unknown, unknown>;
  /** int8, as a string. */
  last_version: ColumnType<string, unknown, unknown>;
}

export interface FoldedDeal {
  orgId: string;
  id: string;
  /** State stored before this batch (null for a deal new to the table). */
  before: OpportunityState | null;
  state: OpportunityState;
  lastVersion: number;
  lastPosition: string;
}

/** An event of an opportunity stream (whose ids are UUIDs) that the deal's fold knows. */
export function isOpportunityEvent(e: RecordedEvent): boolean {
  const name = HANDLED.has(e.type) ? parseStreamName(e.streamId) : null;
  return name !== null && name.category === 'opportunity' && isUuid(name.id);
}

export function dealOf(e: RecordedEvent): { orgId: string; id: string } {
  const { orgId, id } = parseStreamName(e.streamId)!;
  return { orgId, id };
}

/**
 * Loads the stored states of the deals a batch touches (from `table`: org_id, id, state,
 * last_version), folds each event with the domain's evolve (skipping versions already applied)
 * and calls onEvent with the state right after each event.
 */
export async function foldBatch<DB extends Record<T, DealStatesTable>, T extends string>(
  trx: Kysely<DB>,
  table: T,
  events: RecordedEvent[],
  onEvent?: (event: RecordedEvent, deal: FoldedDeal) => void,
): Promise<Map<string, FoldedDeal>> {
  const relevant = events.filter(isOpportunityEvent);
  const keys = new Map<string, { orgId: string; id: string }>();
  for (const e of relevant) {
    const deal = dealOf(e);
    keys.set(`${deal.orgId}/${deal.id}`, deal);
  }
  const deals = new Map<string, FoldedDeal>();
  if (keys.size === 0) return deals;
  // Kysely cannot resolve the columns of a table of a generic database: read through the shape DB guarantees.
  const states = trx as unknown as Kysely<Record<string, DealStatesTable>>;
  const from: string = table;
  const rows = await states
    .selectFrom(from)
    .select(['org_id', 'id', 'state', 'last_version'])
    .where('org_id', 'in', [...new Set([...keys.values()].map((k) => k.orgId))])
    .where(
      'id',
      'in',
      [...keys.values()].map((k) => k.id),
    )
    .execute();
  const found = new Map(rows.map((r) => [`${r.org_id}/${r.id}`, r]));
  for (const [key, { orgId, id }] of keys) {
    const row = found.get(key);
    deals.set(
      key,
      row ? { ...newDeal(orgId, id), before: row.state, state: row.state, lastVersion: Number(row.last_version) } : newDeal(orgId, id),
    );
  }
  foldInto(deals, relevant, onEvent);
  return deals;
}

/** A deal the fold has not seen yet: nothing stored, version 0. */
export function newDeal(orgId: string, id: string): FoldedDeal {
  return { orgId, id, before: null, state: INITIAL_STATE, lastVersion: 0, lastPosition: '0' };
}

/**
 * Folds opportunity events into `deals` (keyed org/id; a deal missing from the map starts new)
 * with the domain's evolve, skipping versions already applied; a version gap throws. onEvent sees
 * the state right after each event.
 */
export function foldInto(
  deals: Map<string, FoldedDeal>,
  events: RecordedEvent[],
  onEvent?: (event: RecordedEvent, deal: FoldedDeal) => void,
) {
  for (const event of events) {
    if (!isOpportunityEvent(event)) continue;
    const { orgId, id } = dealOf(event);
    const key = `${orgId}/${id}`;
    let deal = deals.get(key);
    if (!deal) deals.set(key, (deal = newDeal(orgId, id)));
    if (event.streamVersion <= deal.lastVersion) continue; // already applied
    if (event.streamVersion !== deal.lastVersion + 1) {
      throw new Error(`Gap in ${event.streamId}: have ${deal.lastVersion}, got ${event.streamVersion}`);
    }
    deal.state = foldStored([event], deal.state);
    deal.lastVersion = event.streamVersion;
    deal.lastPosition = event.position;
    onEvent?.(event, deal);
  }
}
