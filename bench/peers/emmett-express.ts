/**
 * A peer service for the W1 benchmark: the write side of our three W1 routes written the way an
 * Emmett user would, on Express 5 with the Emmett PostgreSQL event store (0.42).
 *
 *   POST /api/v1/crm/opportunities                 create (201, ETag, Location)
 *   POST /api/v1/crm/opportunities/:id/stage/next  next active stage (200)
 *   POST /api/v1/crm/opportunities/:id/win         won, from an active stage only (200)
 *   GET  /api/v1/crm/health                        200 once the store is migrated (no token)
 *
 * Same request bodies and response envelopes as our API ({ message, data }), the same checks
 * (bearer token against ADMIN_TOKEN, required create fields with 400, UUID ids), and per command
 * Emmett's CommandHandler: read the deal's stream, fold it (evolve), decide, append at the version
 * read. No read models, no idempotency keys, no token lookup in the database, no outbox/webhooks.
 *
 * Environment: DATABASE_URL (a database of its own: the schema is created in it at start),
 * ADMIN_TOKEN, PORT (or --port <n>). Run from the bench build: node dist/bench/bench/peers/emmett-express.js
 */
import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import express, { type NextFunction, type Request, type Response } from 'express';
import { Pool } from 'pg';
import { CommandHandler, ConcurrencyError, type Event } from '@event-driven-io/emmett';
import { getPostgreSQLEventStore } from '@event-driven-io/emmett-postgresql';
import {
  badId,
  bearerCheck,
  type CreateInput,
  isUuid,
  parseCreate,
  parseWin,
  portFromArgs,
  PREFIX,
  requiredEnv,
  STAGES,
  unauthenticated,
  validationFailed,
  type WinInput,
} from './http-checks';

// ---------------------------------------------------------------------------------------------
// The deal: events, state, evolve, decide

type OpportunityCreated = Event<
  'OpportunityCreated',
  {
    opportunity_id: string;
    name: string;
    customer_id: string;
    value: number;
    currency: string;
    expected_close_date: string;
    stage: string;
    probability: number;
    created_at: string;
  }
>;
type OpportunityStageChanged = Event<'OpportunityStageChanged', { from: string; to: string; probability: number; changed_at: string }>;
type OpportunityWon = Event<
  'OpportunityWon',
  { actual_value: number; close_date: string; close_reason: string | null; transaction_id: string | null; won_at: string }
>;
type DealEvent = OpportunityCreated | OpportunityStageChanged | OpportunityWon;

interface Deal {
  status: 'none' | 'open' | 'won';
  id: string;
  name: string;
  customer_id: string;
  value: number;
  currency: string;
  expected_close_date: string | null;
  stage: string;
  previous_stage: string | null;
  probability: number;
  stage_changed_at: string | null;
  actual_value: number | null;
  actual_close_date: string | null;
  close_reason: string | null;
  transaction_id: string | null;
  won_at: string | null;
  created_at: string;
  updated_at: string;
}

const initialState = (): Deal => ({
  status: 'none',
  id: '',
  name: '',
  customer_id: '',
  value: 0,
  currency: 'USD',
  expected_close_date: null,
  stage: '',
  previous_stage: null,
  probability: 0,
  stage_changed_at: null,
  actual_value: null,
  actual_close_date: null,
  close_reason: null,
  transaction_id: null,
  won_at: null,
  created_at: '',
  updated_at: '',
});

function evolve(state: Deal, event: DealEvent): Deal {
  switch (event.type) {
    case 'OpportunityCreated': {
      const d = event.data;
      return {
        ...state,
        status: 'open',
        id: d.opportunity_id,
        name: d.name,
        customer_id: d.customer_id,
        value: d.value,
        currency: d.currency,
        expected_close_date: d.expected_close_date,
        stage: d.stage,
        probability: d.probability,
        stage_changed_at: d.created_at,
        created_at: d.created_at,
        updated_at: d.created_at,
      };
    }
    case 'OpportunityStageChanged':
      return {
        ...state,
        previous_stage: event.data.from,
        stage: event.data.to,
        probability: event.data.probability,
        stage_changed_at: event.data.changed_at,
        updated_at: event.data.changed_at,
      };
    case 'OpportunityWon':
      return {
        ...state,
        status: 'won',
        previous_stage: state.stage,
        stage: 'won',
        probability: 100,
        stage_changed_at: event.data.won_at,
        actual_value: event.data.actual_value,
        actual_close_date: event.data.close_date,
        close_reason: event.data.close_reason,
        transaction_id: event.data.transaction_id,
        won_at: event.data.won_at,
        updated_at: event.data.won_at,
      };
  }
}

/** A refusal with its HTTP status. */
class Refused extends Error {
  constructor(
    readonly status: number,
    readonly body: Record<string, unknown>,
  ) {
    super(String(body.message));
  }
}
const notFound = () => new Refused(404, { message: 'Opportunity not found', code: 'not_found' });
const invalidTransition = (message: string) => new Refused(422, { message, code: 'invalid_stage_transition' });

function create(state: Deal, id: string, input: CreateInput): OpportunityCreated {
  if (state.status !== 'none') throw new Refused(409, { message: 'The opportunity already exists', code: 'already_exists' });
  return {
    type: 'OpportunityCreated',
    data: { opportunity_id: id, ...input, stage: STAGES[0].key, probability: STAGES[0].probability, created_at: new Date().toISOString() },
  };
}

function advance(state: Deal): OpportunityStageChanged {
  if (state.status === 'none') throw notFound();
  if (state.status !== 'open') throw invalidTransition(`A ${state.status} opportunity has no next stage`);
  const at = STAGES.findIndex((s) => s.key === state.stage);
  const next = STAGES[at + 1];
  if (!next) throw invalidTransition(`${state.stage} is the last active stage: win or lose the opportunity`);
  return {
    type: 'OpportunityStageChanged',
    data: { from: state.stage, to: next.key, probability: next.probability, changed_at: new Date().toISOString() },
  };
}

function win(state: Deal, input: WinInput): OpportunityWon {
  if (state.status === 'none') throw notFound();
  if (state.status !== 'open') throw invalidTransition(`A ${state.status} opportunity cannot be won`);
  const now = new Date().toISOString();
  return {
    type: 'OpportunityWon',
    data: {
      actual_value: input.actual_value ?? state.value,
      close_date: input.close_date ?? now.slice(0, 10),
      close_reason: input.close_reason ?? null,
      transaction_id: input.transaction_id ?? null,
      won_at: now,
    },
  };
}

const handle = CommandHandler<Deal, DealEvent>({ evolve, initialState });
const streamOf = (id: string) => `opportunity-${id}`;

// ---------------------------------------------------------------------------------------------
// Views: the shapes our API answers with (opportunity.view.ts), from the small state above

const DAY = 86_400_000;
const days = (from: string | null, to: string) => (from ? Math.floor((Date.parse(to) - Date.parse(from)) / DAY) : null);
const instant = (date: string | null) => (date ? `${date}T00:00:00Z` : null);

function detail(s: Deal, version: bigint) {
  const now = new Date().toISOString();
  const probability = STAGES.find((x) => x.key === s.stage)?.probability ?? null;
  return {
    id: s.id,
    name: s.name,
    description: null,
    customer_id: s.customer_id,
    lead_id: null,
    pipeline_id: 'default',
    stage: s.stage,
    status: s.status,
    previous_stage: s.previous_stage,
    stage_changed_at: s.stage_changed_at,
    value: s.value,
    expected_revenue: s.value,
    weighted_value: Math.round(s.value * s.probability) / 100,
    currency: s.currency,
    probability: s.probability,
    stage_probability: probability,
    probability_is_override: false,
    expected_close_date: s.expected_close_date,
    days_to_close: s.expected_close_date ? days(now.slice(0, 10), s.expected_close_date) : null,
    age_in_days: days(s.created_at, now),
    stage_duration: days(s.stage_changed_at, now),
    is_overdue: s.expected_close_date !== null && s.expected_close_date < now.slice(0, 10),
    source: null,
    priority: null,
    assigned_user_id: null,
    assigned_user: null,
    campaign_id: null,
    territory: null,
    competitor: null,
    decision_maker: null,
    budget_confirmed: false,
    authority_confirmed: false,
    need_confirmed: false,
    timeline_confirmed: false,
    bant_score: 0,
    health_score: 50,
    next_step: null,
    discovery_notes: null,
    proposal_notes: null,
    demo_date: null,
    proposal_date: null,
    prospect_name: null,
    prospect_email: null,
    prospect_phone: null,
    category_id: null,
    follow_up_date: null,
    tags: [],
    custom_fields: {},
    actual_value: s.actual_value,
    actual_close_date: instant(s.actual_close_date),
    close_reason: s.close_reason,
    transaction_id: s.transaction_id,
    loss_reason: null,
    loss_notes: null,
    lessons_learned: null,
    sales_cycle_days: null,
    days_early: null,
    won_at: s.won_at,
    lost_at: null,
    last_activity_at: null,
    is_stale: false,
    stale_after_days: 30,
    days_since_activity: 0,
    created_by: 'admin',
    created_at: s.created_at,
    updated_at: s.updated_at,
    version: Number(version),
  };
}

const stageView = (s: Deal) => ({
  id: s.id,
  stage: s.stage,
  probability: s.probability,
  previous_stage: s.previous_stage,
  stage_changed_at: s.stage_changed_at,
  updated_at: s.updated_at,
});

function wonView(s: Deal) {
  const actual = s.actual_close_date;
  return {
    id: s.id,
    stage: s.stage,
    probability: s.probability,
    actual_close_date: instant(actual),
    expected_close_date: s.expected_close_date,
    days_early: actual && s.expected_close_date ? days(actual, s.expected_close_date) : null,
    value: s.value,
    actual_value: s.actual_value,
    currency: s.currency,
    sales_cycle_days: actual ? days(s.created_at.slice(0, 10), actual) : null,
    close_reason: s.close_reason,
    transaction_id: s.transaction_id,
    won_at: s.won_at,
  };
}

// ---------------------------------------------------------------------------------------------
// HTTP

async function main(): Promise<void> {
  const url = requiredEnv('DATABASE_URL');
  const authorized = bearerCheck(requiredEnv('ADMIN_TOKEN'));
  const port = portFromArgs();

  const pool = new Pool({ connectionString: url, max: 20 });
  pool.on('error', () => undefined);
  const store = getPostgreSQLEventStore(url, { connectionOptions: { pool } });
  await store.schema.migrate();

  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.use(express.json({ limit: '1mb' }));
  app.get(`${PREFIX}/health`, (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.use((req: Request, res: Response, next: NextFunction) => {
    if (authorized(req.headers.authorization)) next();
    else res.status(401).json(unauthenticated);
  });

  const answer = (res: Response, result: { nextExpectedStreamVersion: bigint; lastEventGlobalPosition: bigint }) => {
    res.setHeader('ETag', `"${result.nextExpectedStreamVersion}"`);
    res.setHeader('X-Global-Position', String(result.lastEventGlobalPosition));
  };

  app.post(`${PREFIX}/opportunities`, async (req: Request, res: Response) => {
    const parsed = parseCreate(req.body);
    if ('errors' in parsed) return void res.status(400).json(validationFailed(parsed.errors));
    const id = randomUUID();
    const result = await handle(store, streamOf(id), (state) => create(state, id, parsed.input));
    answer(res, result);
    res.setHeader('Location', `${PREFIX}/opportunities/${id}`);
    res.status(201).json({ message: 'Opportunity created successfully', data: detail(result.newState, result.nextExpectedStreamVersion) });
  });

  app.post(`${PREFIX}/opportunities/:id/stage/next`, async (req: Request<{ id: string }>, res: Response) => {
    const id = req.params.id.toLowerCase();
    if (!isUuid(id)) return void res.status(400).json(badId);
    if (req.body?.notes !== undefined && typeof req.body.notes !== 'string') {
      return void res.status(400).json(validationFailed({ notes: ['notes must be a string'] }));
    }
    const result = await handle(store, streamOf(id), advance);
    answer(res, result);
    res.json({ message: 'Opportunity advanced to next stage successfully', data: stageView(result.newState) });
  });

  app.post(`${PREFIX}/opportunities/:id/win`, async (req: Request<{ id: string }>, res: Response) => {
    const id = req.params.id.toLowerCase();
    if (!isUuid(id)) return void res.status(400).json(badId);
    const parsed = parseWin(req.body);
    if ('errors' in parsed) return void res.status(400).json(validationFailed(parsed.errors));
    const result = await handle(store, streamOf(id), (state) => win(state, parsed.input));
    answer(res, result);
    res.json({ message: 'Opportunity marked as won', data: wonView(result.newState) });
  });

  app.use((_req: Request, res: Response) => {
    res.status(404).json({ message: 'Not found', code: 'not_found' });
  });
  // Refusals, body-parser errors (400/413), version conflicts (409), the rest 500.
  app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    if (error instanceof Refused) return void res.status(error.status).json(error.body);
    if (error instanceof ConcurrencyError) return void res.status(409).json({ message: error.message, code: 'concurrency_conflict' });
    const e = error as { status?: number; message?: string };
    if (typeof e.status === 'number' && e.status >= 400 && e.status < 500) {
      return void res.status(e.status).json({ message: e.message ?? 'Bad request', code: 'bad_request' });
    }
    process.stderr.write(`emmett-express: ${error instanceof Error ? error.stack : String(error)}\n`);
    res.status(500).json({ message: 'Internal server error', code: 'internal' });
  });

  const server: Server = await new Promise((resolve) => {
    const s = app.listen(port, '127.0.0.1', () => resolve(s));
  });
  const stop = async () => {
    server.close();
    server.closeAllConnections();
    await store.close().catch(() => undefined);
    await pool.end().catch(() => undefined);
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop());
  process.once('SIGINT', () => void stop());
}

main().catch((error: unknown) => {
  process.stderr.write(`emmett-express: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
