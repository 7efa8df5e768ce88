import { randomUUID } from 'node:crypto';
import { type Kysely, sql } from 'kysely';
import {
  decide,
  opportunityStreamId,
  DEFAULT_PIPELINE,
  evolve,
  INITIAL_STATE,
  type OpportunityCommand,
  type OpportunityEvent,
  type OpportunityState,
} from '@app/domain';

/** Deterministic pseudo-random numbers so every run generates the same pipeline. */
export function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const COMPANIES = [
  'Acme',
  'Globex',
  'Initech',
  'Umbrella',
  'Hooli',
  'Stark',
  'Wayne',
  'Tyrell',
  'Cyberdyne',
  'Soylent',
  'Vandelay',
  'Wonka',
];
const PRODUCTS = ['Platform', 'Analytics', 'Integration', 'Renewal', 'Expansion', 'Pilot', 'Enterprise License', 'Support'];
const TAGS = ['enterprise', 'smb', 'integration', 'renewal', 'partner', 'inbound', 'outbound'];
/** The regions of the demo's `region` custom field. */
export const DEMO_REGIONS = ['emea', 'amer', 'apac'];
const DAY = 86_400_000;

/** One row of the event log (the event store's table) as the loader below writes it. */
export interface GeneratedEventRow {
  stream_id: string;
  stream_version: number;
  event_id: string;
  type: string;
  data: string;
  metadata: string;
  created_at: Date;
}

export interface GeneratedEventTables {
  events: GeneratedEventRow;
}

/**
 * One deal's history made with the real decider: created some time in the last two years,
 * then moved forward, won, lost or put on hold the way real pipelines look.
 */
/** The stakeholder roles the demo gives a customer's contacts `ct_<customer>_<n>`, in order. */
export const DEMO_CONTACT_ROLES = ['decision_maker', 'champion', 'influencer'] as const;

/**
 * `contactsPerCustomer` > 0 (the demo data): each deal names its customer's contacts as stakeholders.
 * 0 (the benchmarks) draws exactly the same numbers as before contacts existed.
 */
export function generateDeal(
  orgId: string,
  random: () => number,
  now: number,
  owners = 50,
  customers = 20000,
  contactsPerCustomer = 0,
): GeneratedEventRow[] {
  const id = randomUUID();
  const stream = opportunityStreamId(orgId, id);
  // About a third of deals are still open: younger, closing from a month ago to ten months ahead.
  // The rest closed over the last two years.
  const staysOpen = random() < 0.35;
  const created = staysOpen ? now - Math.floor(random() * 240) * DAY : now - (60 + Math.floor(random() * 670)) * DAY;
  const closeAt = staysOpen
    ? now + (-30 + Math.floor(random() * 330)) * DAY
    : Math.min(now, created + (20 + Math.floor(random() * 200)) * DAY);
  const close = new Date(closeAt).toISOString().slice(0, 10);
  const owner = `user_${Math.floor(random() * owners)}`;
  const currency = random() < 0.85 ? 'USD' : random() < 0.66 ? 'EUR' : 'GBP';
  const name = `${COMPANIES[Math.floor(random() * COMPANIES.length)]} ${PRODUCTS[Math.floor(random() * PRODUCTS.length)]} ${Math.floor(random() * 1000)}`;
  const description = random() < 0.5 ? `Deal for ${COMPANIES[Math.floor(random() * COMPANIES.length)]} team` : null;
  const customerId = `cust_${Math.floor(random() * customers)}`;
  const commands: OpportunityCommand[] = [
    {
      type: 'CreateOpportunity',
      opportunity_id: id,
      input: {
        name,
        description,
        customer_id: customerId,
        ...(contactsPerCustomer > 0
          ? {
              stakeholders: DEMO_CONTACT_ROLES.slice(0, contactsPerCustomer).map((role, n) => ({
                contact_id: `ct_${customerId.slice('cust_'.length)}_${n}`,
                role,
              })),
            }
          : {}),
        value_minor: (1 + Math.floor(random() * 500)) * 100_000,
        currency,
        expected_close_date: close,
        priority: (['low', 'medium', 'high'] as const)[Math.floor(random() * 3)],
        assigned_user_id: owner,
        tags: TAGS.filter(() => random() < 0.2),
        custom_fields: { region: DEMO_REGIONS[Math.floor(random() * 3)], seats: Math.floor(random() * 1000) },
        budget_confirmed: random() < 0.5,
        need_confirmed: random() < 0.5,
      },
    },
  ];
  if (staysOpen) {
    const steps = Math.floor(random() * 6);
    for (let i = 0; i < steps; i++) commands.push({ type: 'AdvanceStage' });
    if (random() < 0.08) commands.push({ type: 'PutOnHold' });
  } else if (random() < 0.4) {
    for (let i = 0; i < 5; i++) commands.push({ type: 'AdvanceStage' });
    commands.push({ type: 'Win', close_date: close });
  } else {
    const steps = Math.floor(random() * 5);
    for (let i = 0; i < steps; i++) commands.push({ type: 'AdvanceStage' });
    commands.push({
      type: 'Lose',
      loss_reason: (['price', 'competitor', 'no_decision', 'timing'] as const)[Math.floor(random() * 4)],
      close_date: close,
    });
  }

  let state: OpportunityState = INITIAL_STATE;
  let at = created;
  const rows: GeneratedEventRow[] = [];
  for (const command of commands) {
    const iso = new Date(at).toISOString();
    let events: OpportunityEvent[];
    try {
      events = decide(command, state, { now: iso, actor_id: owner, pipeline: DEFAULT_PIPELINE });
    } catch {
      continue; // a generated step the rules refuse is simply not taken
    }
    for (const e of events) {
      state = evolve(state, e);
      rows.push({
        stream_id: stream,
        stream_version: state.version,
        event_id: randomUUID(),
        type: e.type,
        data: JSON.stringify(e.data),
        metadata: JSON.stringify({ org_id: orgId, actor_id: owner, correlation_id: id, causation_id: id, occurred_at: iso }),
        created_at: new Date(at),
      });
    }
    at = Math.min(now, at + Math.floor(random() * Math.max(DAY, (closeAt - created) / commands.length)));
  }
  return rows;
}

/** Bulk-loads generated events straight into the events table (data setup only, not the append path). */
export async function loadDeals(
  db: Kysely<GeneratedEventTables>,
  orgId: string,
  deals: number,
  seed = 42,
  onProgress?: (done: number) => void,
): Promise<number> {
  const random = rng(seed);
  const now = Date.now();
  let batch: GeneratedEventRow[] = [];
  let events = 0;
  const flush = async () => {
    if (!batch.length) return;
    await db
      .insertInto('events')
      .values(batch.map((r) => ({ ...r, data: sql<string>`${r.data}::jsonb`, metadata: sql<string>`${r.metadata}::jsonb` })))
      .execute();
    events += batch.length;
    batch = [];
  };
  for (let i = 0; i < deals; i++) {
    batch.push(...generateDeal(orgId, random, now));
    if (batch.length >= 2000) {
      await flush();
      onProgress?.(i + 1);
    }
  }
  await flush();
  return events;
}
