import { opportunityStreamId } from '@app/domain';
import { randomBytes, randomUUID } from 'node:crypto';
import { EventStore, type NewEvent } from '@app/event-store';
import type { TestApp } from '../support/test-app';
import { bearer, OPPS } from './helpers';

/**
 * Fixtures for the read-side suites: deals written straight into the event store with fixed,
 * back-dated timestamps (the API always stamps "now"), so every expected figure can be worked
 * out by hand. Event shapes follow libs/domain/src/opportunity/events.ts, written out literally
 * here (no product code computes anything for the tests).
 */

const DAY_MS = 86_400_000;

/** Today's UTC calendar date and instants relative to it (captured once per suite). */
export class Clock {
  readonly today: string;
  private readonly midnight: number;

  constructor(now = new Date()) {
    this.today = now.toISOString().slice(0, 10);
    this.midnight = Date.parse(`${this.today}T00:00:00Z`);
  }

  /** 'YYYY-MM-DD' of today + n days. */
  day(n: number): string {
    return new Date(this.midnight + n * DAY_MS).toISOString().slice(0, 10);
  }

  /** ISO instant of today + n days at hh:mm UTC (default 12:00, far from any day boundary). */
  at(n: number, hour = 12, minute = 0): string {
    return new Date(this.midnight + n * DAY_MS + hour * 3_600_000 + minute * 60_000).toISOString();
  }
}

/** Instant `date` at 12:00 UTC. */
export const noonOf = (date: string) => `${date}T12:00:00.000Z`;

/** Adds n days to a 'YYYY-MM-DD' date. */
export function addDays(date: string, n: number): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) + n * DAY_MS).toISOString().slice(0, 10);
}

/**
 * Deterministic ids per suite: the same random 8-hex prefix, then the deal number, so that ids
 * sort in deal-number order (the list's tie-break is the id) and never collide across suites.
 */
export function idFactory(): (n: number) => string {
  const prefix = randomBytes(4).toString('hex');
  return (n: number) => `${prefix}-0000-4000-8000-${String(n).padStart(12, '0')}`;
}

export interface DealSpec {
  id: string;
  name: string;
  description?: string | null;
  customer_id?: string | null;
  lead_id?: string | null;
  pipeline_id?: string;
  /** The stage the deal is created in (an active stage). */
  stage: string;
  /** Effective probability at creation (the stage default unless probability_override). */
  probability: number;
  probability_override?: number | null;
  value_minor: number;
  currency?: string;
  expected_close_date: string | null;
  priority?: 'low' | 'medium' | 'high' | null;
  assigned_user_id: string;
  tags?: string[];
  custom_fields?: Record<string, unknown>;
  budget_confirmed?: boolean;
  authority_confirmed?: boolean;
  need_confirmed?: boolean;
  timeline_confirmed?: boolean;
  follow_up_date?: string | null;
  next_step?: string | null;
  source?: string | null;
  created_at: string;
}

export interface DomainEvent {
  type: string;
  data: Record<string, unknown>;
  /** The instant the event happened (its metadata occurred_at). */
  at: string;
}

export function created(s: DealSpec): DomainEvent {
  return {
    type: 'OpportunityCreated',
    at: s.created_at,
    data: {
      name: s.name,
      description: s.description ?? null,
      customer_id: s.customer_id ?? null,
      lead_id: s.lead_id ?? null,
      value_minor: s.value_minor,
      expected_revenue_minor: s.value_minor,
      currency: s.currency ?? 'USD',
      expected_close_date: s.expected_close_date,
      source: s.source ?? null,
      priority: s.priority ?? null,
      campaign_id: null,
      territory: null,
      competitor: null,
      decision_maker: null,
      budget_confirmed: s.budget_confirmed ?? false,
      authority_confirmed: s.authority_confirmed ?? false,
      need_confirmed: s.need_confirmed ?? false,
      timeline_confirmed: s.timeline_confirmed ?? false,
      next_step: s.next_step ?? null,
      discovery_notes: null,
      proposal_notes: null,
      demo_date: null,
      proposal_date: null,
      prospect_name: null,
      prospect_email: null,
      prospect_phone: null,
      category_id: null,
      follow_up_date: s.follow_up_date ?? null,
      tags: s.tags ?? [],
      custom_fields: s.custom_fields ?? {},
      opportunity_id: s.id,
      pipeline_id: s.pipeline_id ?? 'default',
      stage: s.stage,
      probability: s.probability,
      probability_override: s.probability_override ?? null,
      assigned_user_id: s.assigned_user_id,
      created_by: 'fixture_loader',
      created_at: s.created_at,
    },
  };
}

export function stageChanged(
  from: string,
  to: string,
  probability: number,
  at: string,
  movement: 'forward' | 'backward' | 'on_hold' | 'resumed' = 'forward',
): DomainEvent {
  return {
    type: 'OpportunityStageChanged',
    at,
    data: {
      from_stage: from,
      to_stage: to,
      movement,
      probability,
      reason: movement === 'backward' ? 'fixture' : null,
      notes: null,
      changed_at: at,
    },
  };
}

/** Put on hold from stage `from` (probability 0). */
export function heldAt(from: string, at: string): DomainEvent {
  return stageChanged(from, 'on_hold', 0, at, 'on_hold');
}

export function updated(changes: Record<string, unknown>, at: string, override?: { probability: number }): DomainEvent {
  return {
    type: 'OpportunityUpdated',
    at,
    data: {
      changes,
      ...(override ? { probability_override: override.probability, probability: override.probability } : {}),
      updated_at: at,
    },
  };
}

export function won(from: string, actualValueMinor: number, closeDate: string, at: string): DomainEvent {
  return {
    type: 'OpportunityWon',
    at,
    data: {
      from_stage: from,
      to_stage: 'won',
      actual_value_minor: actualValueMinor,
      close_date: closeDate,
      close_reason: 'Signed',
      won_at: at,
    },
  };
}

export function lost(from: string, reason: string, closeDate: string, at: string): DomainEvent {
  return {
    type: 'OpportunityLost',
    at,
    data: {
      from_stage: from,
      to_stage: 'lost',
      loss_reason: reason,
      competitor: null,
      loss_notes: 'Lost in fixture',
      lessons_learned: null,
      close_date: closeDate,
      lost_at: at,
    },
  };
}

export function deleted(at: string): DomainEvent {
  return { type: 'OpportunityDeleted', at, data: { deleted_at: at, reason: 'fixture' } };
}

/** Appends one deal's whole history as a new stream; returns the global position of its last event. */
export async function appendDeal(t: TestApp, orgId: string, spec: DealSpec, later: DomainEvent[] = []): Promise<string> {
  const store = t.app.get(EventStore);
  const correlation = randomUUID();
  const events: NewEvent[] = [created(spec), ...later].map((e) => ({
    eventId: randomUUID(),
    type: e.type,
    data: e.data,
    metadata: { org_id: orgId, actor_id: 'fixture_loader', correlation_id: correlation, causation_id: correlation, occurred_at: e.at },
  }));
  const result = await store.append(opportunityStreamId(orgId, spec.id), events, 'no_stream');
  return result.position;
}

/** Waits (through the API's own consistency token) until the read models include `position`. */
export async function waitForPosition(t: TestApp, token: string, position: string): Promise<void> {
  const res = await t.http().get(`${OPPS}?per_page=1&consistency=${position}`).set(bearer(token));
  expect(res.status).toBe(200);
  expect(res.headers['x-consistency']).toBe('reached');
}

/** The larger of two decimal global positions. */
export function maxPosition(a: string, b: string): string {
  return BigInt(a) >= BigInt(b) ? a : b;
}

/** Calendar quarters (UTC), computed independently of the product's period helpers. */
export interface Quarter {
  year: number;
  quarter: number;
  /** First and last day, 'YYYY-MM-DD'. */
  start: string;
  end: string;
  label: string;
}

export function quarterContaining(date: string): Quarter {
  const year = Number(date.slice(0, 4));
  const month = Number(date.slice(5, 7));
  return quarter(year, Math.floor((month - 1) / 3) + 1);
}

export function quarter(year: number, q: number): Quarter {
  const startMonth = (q - 1) * 3 + 1;
  const start = `${year}-${String(startMonth).padStart(2, '0')}-01`;
  const nextStart = q === 4 ? `${year + 1}-01-01` : `${year}-${String(startMonth + 3).padStart(2, '0')}-01`;
  return { year, quarter: q, start, end: addDays(nextStart, -1), label: `Q${q} ${year}` };
}

export function shiftQuarter(q: Quarter, by: number): Quarter {
  const index = q.year * 4 + (q.quarter - 1) + by;
  return quarter(Math.floor(index / 4), (index % 4) + 1);
}
