import { sql } from 'kysely';
import type { Response } from 'supertest';
import { EventStore } from '@app/event-store';
import { API, bearer, describeEachBackend, uniqueOrg, useTestApp } from './support/app';
import {
  bodyArbitrary,
  type FuzzBody,
  type FuzzCase,
  HAND_HEADERS,
  HAND_IDS,
  handBodies,
  handQueries,
  headerArbitrary,
  idArbitrary,
  queryArbitrary,
  rawBodyArbitrary,
  sample,
} from './support/fuzz';

/**
 * Fuzzes every endpoint with malformed bodies, query strings, path ids and headers (fast-check,
 * fixed seed, plus hand-picked cases). Every answer must be < 500, and a rejected request (4xx)
 * must append no event and change no directory/config row.
 */
const SEED = 20261121;
const RUNS = {
  body: Number(process.env.FUZZ_BODY_RUNS ?? 16),
  raw: Number(process.env.FUZZ_RAW_RUNS ?? 4),
  query: Number(process.env.FUZZ_QUERY_RUNS ?? 10),
  id: Number(process.env.FUZZ_ID_RUNS ?? 6),
  header: Number(process.env.FUZZ_HEADER_RUNS ?? 4),
};

type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';
type TargetKind =
  | 'deal'
  | 'closable'
  | 'prospect'
  | 'activity'
  | 'pipeline'
  | 'stage'
  | 'webhook'
  | 'delivery'
  | 'user'
  | 'customer'
  | 'category'
  | 'token';
type Targets = Record<TargetKind, string>;

interface Endpoint {
  method: Method;
  path: string;
  /** A valid body for the current targets; endpoints without one ignore the body. */
  valid?: (t: Targets) => Record<string, unknown>;
  /** Field paths to break (defaults to the valid body's keys). */
  fields?: string[];
  /** Query parameters it knows. */
  query?: string[];
  /** Targets a 2xx answer uses up (deleted, closed, completed…): they are made again. */
  consumes?: TargetKind[];
}

const DEAL_FIELDS = [
  'name',
  'value',
  'expected_close_date',
  'stage',
  'pipeline_id',
  'description',
  'customer_id',
  'lead_id',
  'expected_revenue',
  'currency',
  'probability',
  'source',
  'priority',
  'assigned_user_id',
  'campaign_id',
  'territory',
  'competitor',
  'decision_maker',
  'budget_confirmed',
  'authority_confirmed',
  'need_confirmed',
  'timeline_confirmed',
  'next_step',
  'discovery_notes',
  'proposal_notes',
  'demo_date',
  'proposal_date',
  'prospect_name',
  'prospect_email',
  'prospect_phone',
  'category_id',
  'follow_up_date',
  'tags',
  'tags.0',
  'custom_fields',
  'custom_fields.k',
];
const LIST_QUERY = [
  'stage',
  'stage!',
  'exclude_stage',
  'status',
  'customer_id',
  'assigned_user_id',
  'priority',
  'pipeline_id',
  'source',
  'category_id',
  'currency',
  'expected_close_date_from',
  'expected_close_date_to',
  'min_value',
  'max_value',
  'search',
  'overdue',
  'needs_follow_up',
  'stale',
  'days_in_stage_min',
  'last_activity_days_ago_min',
  'tags',
  'sort_by',
  'sort_direction',
  'includes',
  'cf_region',
];
const STAGES = (prefix: string) => [
  { key: `${prefix}_a`, name: 'A', display_order: 1, probability: 10 },
  { key: `${prefix}_b`, name: 'B', display_order: 2, probability: 50 },
  { key: `${prefix}_won`, name: 'Won', display_order: 3, is_won: true },
  { key: `${prefix}_lost`, name: 'Lost', display_order: 4, is_lost: true },
];

const ENDPOINTS: Endpoint[] = [
  {
    method: 'post',
    path: '/opportunities',
    valid: () => ({ name: 'Fuzz deal', customer_id: 568, value: 100.5, expected_close_date: '2027-04-30', stage: 'prospecting' }),
    fields: DEAL_FIELDS,
  },
  { method: 'get', path: '/opportunities', query: LIST_QUERY },
  { method: 'get', path: '/opportunities/pipeline-data', query: ['user_id', 'date_range', 'pipeline_id', 'currency', 'as_of'] },
  { method: 'get', path: '/opportunities/forecast', query: ['quarter', 'year', 'user_id', 'currency', 'as_of'] },
  {
    method: 'get',
    path: '/opportunities/forecast/monthly',
    query: ['close_date__gte', 'close_date__lte', 'from', 'to', 'user_id', 'currency'],
  },
  { method: 'get', path: '/opportunities/stats', query: ['pipeline_id', 'stale_days', 'currency'] },
  { method: 'get', path: '/opportunities/pipeline-summary', query: ['pipeline_id', 'period', 'currency'] },
  { method: 'get', path: '/opportunities/{deal}', query: ['includes', 'as_of'] },
  {
    method: 'put',
    path: '/opportunities/{deal}',
    valid: () => ({ next_step: 'Call back', probability: 30 }),
    fields: [...DEAL_FIELDS, 'notes'],
  },
  {
    method: 'patch',
    path: '/opportunities/{deal}',
    valid: () => ({ next_step: 'Call back', value: 10 }),
    fields: [...DEAL_FIELDS, 'notes'],
  },
  { method: 'delete', path: '/opportunities/{deal}', query: ['reason'], consumes: ['deal'] },
  {
    method: 'patch',
    path: '/opportunities/{deal}/stage',
    valid: () => ({ stage: 'needs_analysis', notes: 'n' }),
    fields: ['stage', 'notes', 'reason', 'loss_reason'],
    consumes: ['deal'],
  },
  { method: 'post', path: '/opportunities/{deal}/stage/next', valid: () => ({ notes: 'n' }), consumes: ['deal'] },
  { method: 'post', path: '/opportunities/{deal}/stage/previous', valid: () => ({ reason: 'went back', notes: 'n' }), consumes: ['deal'] },
  {
    method: 'post',
    path: '/opportunities/{closable}/win',
    valid: () => ({ actual_value: 99.99, close_date: '2026-11-01', close_reason: 'r' }),
    consumes: ['closable'],
  },
  {
    method: 'post',
    path: '/opportunities/{deal}/lose',
    valid: () => ({ loss_reason: 'price', competitor: 'c', loss_notes: 'n', lessons_learned: 'l', close_date: '2026-11-01' }),
    consumes: ['deal'],
  },
  { method: 'post', path: '/opportunities/{deal}/assign', valid: () => ({ user_id: 'rep_9', reason: 'r', notify: true }) },
  {
    method: 'post',
    path: '/opportunities/bulk-actions',
    valid: (t) => ({ action: 'update_stage', opportunity_ids: [t.deal], parameters: { stage: 'qualification' } }),
    fields: [
      'action',
      'opportunity_ids',
      'opportunity_ids.0',
      'parameters',
      'parameters.stage',
      'parameters.loss_reason',
      'parameters.user_id',
      'parameters.expected_close_date',
      'parameters.x',
    ],
    consumes: ['deal'],
  },
  { method: 'get', path: '/opportunities/{deal}/history', query: ['page', 'per_page'] },
  {
    method: 'post',
    path: '/activities',
    valid: (t) => ({
      opportunity_id: t.deal,
      type: 'call',
      subject: 's',
      description: 'd',
      priority: 'high',
      scheduled_at: '2027-01-01T10:00:00Z',
    }),
    fields: [
      'opportunity_id',
      'type',
      'activity_type',
      'subject',
      'description',
      'notes',
      'outcome',
      'priority',
      'scheduled_at',
      'completed_at',
    ],
  },
  {
    method: 'patch',
    path: '/activities/{activity}',
    valid: () => ({ status: 'completed', outcome: 'done', completed_at: '2026-11-01T10:00:00Z' }),
    consumes: ['activity'],
  },
  { method: 'get', path: '/opportunities/{deal}/activities', query: ['page', 'per_page', 'type'] },
  { method: 'post', path: '/opportunities/{deal}/notes', valid: () => ({ content: 'A note' }) },
  { method: 'get', path: '/opportunities/{deal}/notes', query: ['page', 'per_page'] },
  { method: 'post', path: '/opportunities/{prospect}/convert-to-customer', consumes: ['prospect'] },
  { method: 'get', path: '/pipelines' },
  {
    method: 'post',
    path: '/pipelines',
    valid: () => ({ name: 'Fuzz pipeline', stages: STAGES('s'), loss_reasons: ['price', 'other'], policy: { allow_skip: true } }),
    fields: [
      'id',
      'name',
      'stages',
      'stages.0',
      'stages.0.key',
      'stages.0.display_order',
      'stages.1.probability',
      'stages.2.is_won',
      'stages.3.is_lost',
      'stages.0.rotting_days',
      'loss_reasons',
      'loss_reasons.0',
      'policy',
      'policy.allow_skip',
      'policy.allow_backward',
    ],
  },
  { method: 'get', path: '/pipelines/{pipeline}' },
  {
    method: 'patch',
    path: '/pipelines/{pipeline}',
    valid: () => ({ name: 'Renamed', policy: { allow_backward: false } }),
    fields: ['name', 'policy', 'policy.allow_skip', 'policy.allow_backward'],
  },
  { method: 'delete', path: '/pipelines/{pipeline}', consumes: ['pipeline', 'stage'] },
  {
    method: 'post',
    path: '/pipelines/{pipeline}/stages',
    valid: () => ({ key: 'extra', name: 'Extra', display_order: 7, probability: 20, rotting_days: 5 }),
    fields: ['key', 'name', 'display_order', 'probability', 'is_won', 'is_lost', 'is_on_hold', 'rotting_days'],
    consumes: ['pipeline', 'stage'],
  },
  {
    method: 'patch',
    path: '/pipelines/{pipeline}/stages/{stage}',
    valid: () => ({ name: 'B2', display_order: 9, probability: 40, rotting_days: 3 }),
  },
  { method: 'delete', path: '/pipelines/{pipeline}/stages/{stage}', consumes: ['pipeline', 'stage'] },
  {
    method: 'put',
    path: '/pipelines/{pipeline}/loss-reasons',
    valid: () => ({ loss_reasons: ['price', 'timing'] }),
    fields: ['loss_reasons', 'loss_reasons.0'],
  },
  {
    method: 'post',
    path: '/webhooks',
    valid: () => ({ url: 'http://127.0.0.1:9/hook', description: 'd', event_types: ['opportunity.won'], enabled: true }),
    fields: ['url', 'description', 'event_types', 'event_types.0', 'enabled'],
  },
  { method: 'get', path: '/webhooks' },
  { method: 'get', path: '/webhooks/{webhook}' },
  {
    method: 'patch',
    path: '/webhooks/{webhook}',
    valid: () => ({ url: 'http://127.0.0.1:9/other', enabled: false, event_types: ['opportunity.lost'] }),
    fields: ['url', 'description', 'event_types', 'event_types.0', 'enabled'],
  },
  { method: 'delete', path: '/webhooks/{webhook}', consumes: ['webhook'] },
  { method: 'post', path: '/webhooks/{webhook}/rotate-secret', valid: () => ({ overlap_seconds: 60 }) },
  { method: 'get', path: '/webhooks/{webhook}/deliveries', query: ['page', 'per_page', 'status'] },
  { method: 'post', path: '/webhooks/{webhook}/deliveries/{delivery}/redeliver' },
  { method: 'post', path: '/webhooks/{webhook}/test' },
  {
    method: 'post',
    path: '/users',
    valid: () => ({ id: `u_${Math.random().toString(36).slice(2, 8)}`, name: 'New user', email: 'new@example.com' }),
  },
  { method: 'get', path: '/users', query: ['page', 'per_page', 'search'] },
  { method: 'get', path: '/users/{user}' },
  { method: 'patch', path: '/users/{user}', valid: () => ({ name: 'Renamed user', email: 'renamed@example.com' }) },
  {
    method: 'post',
    path: '/customers',
    valid: () => ({ company_name: 'Fuzz Co', email: 'co@example.com', customer_number: `N-${Math.random().toString(36).slice(2, 8)}` }),
    fields: ['id', 'company_name', 'email', 'customer_number'],
  },
  { method: 'get', path: '/customers', query: ['page', 'per_page', 'search'] },
  { method: 'get', path: '/customers/{customer}' },
  {
    method: 'patch',
    path: '/customers/{customer}',
    valid: () => ({ company_name: 'Renamed Co', email: 'x@example.com' }),
    fields: ['company_name', 'email', 'customer_number'],
  },
  {
    method: 'post',
    path: '/categories',
    valid: () => ({ name: `Cat ${Math.random().toString(36).slice(2, 8)}`, color: '#10b981', sort_order: 1, is_active: true }),
  },
  { method: 'get', path: '/categories', query: ['is_active'] },
  {
    method: 'patch',
    path: '/categories/{category}',
    valid: () => ({ name: `Cat ${Math.random().toString(36).slice(2, 8)}`, color: '#000000', sort_order: 2, is_active: false }),
  },
  { method: 'delete', path: '/categories/{category}', consumes: ['category'] },
  { method: 'post', path: '/tokens', valid: () => ({ user_id: 'fuzz_user', role: 'viewer', label: 'l' }) },
  { method: 'get', path: '/tokens' },
  { method: 'delete', path: '/tokens/{token}', consumes: ['token'] },
  { method: 'get', path: '/events', query: ['after', 'limit'] },
  { method: 'get', path: '/projections' },
  { method: 'get', path: '/health' },
  { method: 'get', path: '/health/ready' },
  { method: 'get', path: '/metrics' },
];

const nameOf = (e: Endpoint) => `${e.method.toUpperCase()} ${e.path}`;
const paramsOf = (e: Endpoint) => [...e.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1] as TargetKind);
const INVALID_JSON_CASES = new Set(['{', '{"a":1,}', "{'a':1}", '{"a":}', 'nul', '[1,2', '{"a":1}{"b":2}', '\u0000', '{"name": "x",']);

interface Planned extends FuzzCase {
  /** The answer must be a 4xx (unknown field, invalid JSON, oversized body). */
  mustReject?: string;
}

/** The cases for one endpoint, from fixed seeds. */
function plan(e: Endpoint, index: number, targets: Targets): Planned[] {
  const seed = SEED + index * 101;
  const cases: Planned[] = [];
  const hasBody = e.valid !== undefined;
  const valid = e.valid?.(targets) ?? {};
  if (hasBody) {
    const fields = e.fields ?? Object.keys(valid);
    sample(bodyArbitrary(valid, fields), seed, RUNS.body).forEach((body, i) => {
      const topLevel = new Set([...fields.map((f) => f.split('.')[0]), ...Object.keys(valid)]);
      const unknown = body.kind === 'json' && isPlainObject(body.value) && Object.keys(body.value).find((k) => !topLevel.has(k));
      cases.push({ label: `fc body #${i}`, body, mustReject: unknown ? `unknown field ${JSON.stringify(unknown)}` : undefined });
    });
    for (const [label, body] of handBodies(valid)) {
      const mustReject =
        label === '300 KB body'
          ? 'oversized body'
          : label === 'invalid JSON'
            ? 'invalid JSON'
            : /key$|unknown field/.test(label)
              ? `unknown field (${label})`
              : undefined;
      cases.push({ label: `hand body: ${label}`, body, mustReject });
    }
  }
  if (hasBody || e.method !== 'get') {
    sample(rawBodyArbitrary(valid), seed + 1, RUNS.raw).forEach((body, i) =>
      cases.push({
        label: `fc raw body #${i}`,
        body,
        mustReject:
          body.kind === 'raw' && body.contentType === 'application/json' && INVALID_JSON_CASES.has(String(body.text))
            ? 'invalid JSON'
            : undefined,
      }),
    );
  }
  const known = e.query ?? [];
  const queryRuns = e.method === 'get' || known.length ? RUNS.query : 2;
  sample(queryArbitrary(known), seed + 2, queryRuns).forEach((query, i) =>
    cases.push({ label: `fc query #${i}`, query, body: bodyOf(valid, hasBody) }),
  );
  if (e.method === 'get' || known.length)
    for (const query of handQueries(known)) cases.push({ label: `hand query ${query.slice(0, 60)}`, query, body: bodyOf(valid, hasBody) });
  paramsOf(e).forEach((name, p) => {
    sample(idArbitrary, seed + 3 + p, RUNS.id).forEach((raw, i) =>
      cases.push({ label: `fc id {${name}} #${i}`, pathParam: { name, raw }, body: bodyOf(valid, hasBody) }),
    );
    for (const raw of p === 0 ? HAND_IDS : HAND_IDS.slice(0, 12))
      cases.push({ label: `hand id {${name}}=${raw.slice(0, 40)}`, pathParam: { name, raw }, body: bodyOf(valid, hasBody) });
  });
  sample(headerArbitrary, seed + 9, RUNS.header).forEach((headers, i) =>
    cases.push({ label: `fc headers #${i}`, headers, body: bodyOf(valid, hasBody) }),
  );
  for (const headers of HAND_HEADERS)
    cases.push({ label: `hand headers ${JSON.stringify(headers).slice(0, 60)}`, headers, body: bodyOf(valid, hasBody) });
  return cases;
}

function bodyOf(valid: Record<string, unknown>, hasBody: boolean): FuzzBody | undefined {
  return hasBody ? { kind: 'json', value: valid } : undefined;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

describeEachBackend('fuzz every endpoint (%s)', (backend) => {
  const t = useTestApp(backend, { WEBHOOK_ALLOWED_HOSTS: '127.0.0.1', RUN_WEBHOOK_DISPATCHER: 'false', CONSISTENCY_TIMEOUT_MS: '500' });
  const backendName = backend.name;
  const org = uniqueOrg('fuzz');
  let admin: string;
  const targets = {} as Targets;
  const counts: Record<string, { cases: number; '2xx': number; '4xx': number; other: number }> = {};
  /** Every request's correlation id → what it was and how it was answered. */
  const requests = new Map<string, { endpoint: string; label: string; status: number }>();
  let checkpoint: string | null = null;
  let sequence = 0;

  beforeAll(async () => {
    await t.app.listen(0);
    admin = await t.token(org, 'fuzz_admin', 'admin');
    for (const kind of [
      'deal',
      'closable',
      'prospect',
      'activity',
      'pipeline',
      'webhook',
      'delivery',
      'user',
      'customer',
      'category',
      'token',
    ] as TargetKind[]) {
      await refresh(kind);
    }
    checkpoint = (await t.app.get(EventStore).readAll(null, 1_000_000)).checkpoint;
  }, 60_000);

  afterAll(async () => {
    const total = Object.values(counts).reduce((n, c) => n + c.cases, 0);
    const lines = Object.entries(counts).map(
      ([name, c]) => `  ${name.padEnd(58)} ${String(c.cases).padStart(4)} cases (2xx ${c['2xx']}, 4xx ${c['4xx']}, other ${c.other})`,
    );
    console.log(`[fuzz ${backendName}] ${total} cases over ${Object.keys(counts).length} endpoints (seed ${SEED})\n${lines.join('\n')}`);
  });

  async function ok(res: Response | Promise<Response>, what: string): Promise<Response> {
    const r = await res;
    if (r.status >= 300) throw new Error(`${what}: ${r.status} ${JSON.stringify(r.body)}`);
    return r;
  }

  /** Makes (again) the object a target names. */
  async function refresh(kind: TargetKind): Promise<void> {
    const http = () => t.http();
    const auth = bearer(admin);
    const tag = Math.random().toString(36).slice(2, 8);
    switch (kind) {
      case 'deal':
      case 'closable': {
        const stage = kind === 'deal' ? 'qualification' : 'verbal_commitment';
        const res = await ok(
          http()
            .post(`${API}/opportunities`)
            .set(auth)
            .send({ name: `Target ${tag}`, customer_id: 'cust_1', value: 500, expected_close_date: '2027-03-31', stage }),
          kind,
        );
        targets[kind] = res.body.data.id;
        // The activity target lives on the deal target.
        if (kind === 'deal' && targets.activity !== undefined) await refresh('activity');
        return;
      }
      case 'prospect': {
        const res = await ok(
          http()
            .post(`${API}/opportunities`)
            .set(auth)
            .send({ name: `Prospect ${tag}`, prospect_name: `Prospect ${tag} Ltd`, prospect_email: 'p@example.com', value: 10 }),
          kind,
        );
        targets.prospect = res.body.data.id;
        return;
      }
      case 'activity': {
        const res = await ok(
          http()
            .post(`${API}/activities`)
            .set(auth)
            .send({ opportunity_id: targets.deal, type: 'task', subject: 'follow up', scheduled_at: '2027-01-01T10:00:00Z' }),
          kind,
        );
        targets.activity = res.body.data.id;
        return;
      }
      case 'pipeline':
      case 'stage': {
        const id = `fz_${tag}`;
        await ok(
          http()
            .post(`${API}/pipelines`)
            .set(auth)
            .send({ id, name: `Fuzz ${tag}`, stages: STAGES('k') }),
          kind,
        );
        targets.pipeline = id;
        targets.stage = 'k_b';
        return;
      }
      case 'webhook': {
        const res = await ok(
          http()
            .post(`${API}/webhooks`)
            .set(auth)
            .send({ url: 'http://127.0.0.1:9/hook', event_types: ['opportunity.won'] }),
          kind,
        );
        targets.webhook = res.body.data.id;
        if (targets.delivery !== undefined) await refresh('delivery');
        return;
      }
      case 'delivery': {
        // A test ping leaves a delivery in the endpoint's log (it fails: nothing listens on port 9).
        const res = await ok(http().post(`${API}/webhooks/${targets.webhook}/test`).set(auth).send({}), kind);
        targets.delivery = res.body.data.webhook_id;
        return;
      }
      case 'user': {
        const res = await ok(
          http()
            .post(`${API}/users`)
            .set(auth)
            .send({ id: `fz_user_${tag}`, name: 'Fuzz User' }),
          kind,
        );
        targets.user = res.body.data.id;
        return;
      }
      case 'customer': {
        const res = await ok(
          http()
            .post(`${API}/customers`)
            .set(auth)
            .send({ company_name: `Fuzz ${tag} Co` }),
          kind,
        );
        targets.customer = res.body.data.id;
        return;
      }
      case 'category': {
        const res = await ok(
          http()
            .post(`${API}/categories`)
            .set(auth)
            .send({ name: `Fuzz ${tag}` }),
          kind,
        );
        targets.category = res.body.data.id;
        return;
      }
      case 'token': {
        const res = await ok(http().post(`${API}/tokens`).set(auth).send({ user_id: 'fz_spare', role: 'rep' }), kind);
        targets.token = res.body.data.id;
        return;
      }
    }
  }

  /** Rows a rejected request must not touch (events are checked separately). */
  async function digest(): Promise<string> {
    const { rows } = await sql<{ d: string }>`
      select concat_ws(' | ',
        (select count(*) || ':' || coalesce(max(updated_at)::text, '') from customers),
        (select count(*) || ':' || coalesce(max(updated_at)::text, '') from users),
        (select count(*) || ':' || coalesce(max(updated_at)::text, '') from categories),
        (select count(*) || ':' || count(revoked_at) from api_tokens),
        (select count(*) || ':' || coalesce(max(updated_at)::text, '') || ':' || count(deleted_at) from webhook_endpoints),
        (select count(*) from idempotency_keys)) as d`.execute(t.database.db);
    return rows[0].d;
  }

  /** New events since the last look, each attributed by its correlation id. */
  async function newEventProblems(): Promise<string[]> {
    const problems: string[] = [];
    for (;;) {
      const page = await t.app.get(EventStore).readAll(checkpoint, 1000);
      checkpoint = page.checkpoint;
      for (const e of page.events) {
        const origin = requests.get(String(e.metadata.correlation_id));
        if (origin && (origin.status < 200 || origin.status >= 300)) {
          problems.push(`${origin.endpoint} [${origin.label}] answered ${origin.status} but appended ${e.type} to ${e.streamId}`);
        }
      }
      if (page.events.length < 1000) return problems;
    }
  }

  async function send(e: Endpoint, c: Planned): Promise<{ res?: Response; error?: string }> {
    const correlation = `fz-${backendName}-${++sequence}`;
    let path =
      API +
      e.path.replace(/\{(\w+)\}/g, (_, name: TargetKind) =>
        c.pathParam?.name === name ? c.pathParam.raw : encodeURIComponent(targets[name]),
      );
    if (c.query !== undefined) path += `?${c.query}`;
    let req = t.http()[e.method](path).set(bearer(admin)).set('X-Correlation-Id', correlation).timeout(30_000);
    for (const [name, value] of Object.entries(c.headers ?? {})) req = req.set(name, value);
    if (c.body?.kind === 'json') req = req.set('Content-Type', 'application/json').send(JSON.stringify(c.body.value) ?? '');
    else if (c.body?.kind === 'raw') {
      if (c.body.contentType !== null) req = req.set('Content-Type', c.body.contentType);
      if (c.body.contentEncoding) req = req.set('Content-Encoding', c.body.contentEncoding);
      req = req.send(c.body.text as string);
    }
    try {
      const res = await req;
      requests.set(correlation, { endpoint: nameOf(e), label: c.label, status: res.status });
      return { res };
    } catch (error: any) {
      if (error?.response) {
        requests.set(correlation, { endpoint: nameOf(e), label: c.label, status: error.response.status });
        return { res: error.response };
      }
      // The client refused to send it (e.g. an invalid path): not a server answer.
      if (
        /Request path contains unescaped characters|Invalid character in header|ERR_INVALID_CHAR|ERR_UNESCAPED_CHARACTERS/.test(
          String(error?.message ?? error) + String(error?.code),
        )
      ) {
        return { error: 'unsendable' };
      }
      return { error: `no answer: ${String(error?.message ?? error)}` };
    }
  }

  it.each(ENDPOINTS.map((e, i) => [nameOf(e), e, i] as const))(
    '%s: no 5xx, and a rejected request changes nothing',
    async (name, e, index) => {
      const cases = plan(e, index, targets);
      const failures: string[] = [];
      const tally = (counts[name] = { cases: 0, '2xx': 0, '4xx': 0, other: 0 });
      let before = await digest();
      for (const c of cases) {
        const { res, error } = await send(e, c);
        if (error === 'unsendable') continue;
        tally.cases++;
        if (!res) {
          failures.push(`[${c.label}] ${error}`);
          before = await digest();
          continue;
        }
        const excerpt = `${res.status} ${JSON.stringify(res.body ?? res.text).slice(0, 300)}`;
        const detail = `[${c.label}] ${describeCase(c)} → ${excerpt}`;
        if (res.status >= 200 && res.status < 300) tally['2xx']++;
        else if (res.status >= 400 && res.status < 500) tally['4xx']++;
        else tally.other++;
        if (res.status >= 500) failures.push(`5xx: ${detail}`);
        else if (res.status < 200 || (res.status >= 300 && res.status < 400)) failures.push(`unexpected status: ${detail}`);
        if (c.mustReject && res.status < 400) failures.push(`${c.mustReject} accepted: ${detail}`);
        // Nothing else writes these rows meanwhile, so each request's "after" is the next one's "before".
        const after = await digest();
        if (res.status >= 400 && res.status < 500) {
          if (after !== before) failures.push(`rejected request changed rows (${before} → ${after}): ${detail}`);
          if (typeof res.body?.message !== 'string') failures.push(`4xx without a JSON message: ${detail}`);
        }
        failures.push(...(await newEventProblems()));
        if (res.status >= 200 && res.status < 300 && e.consumes?.length) {
          for (const kind of e.consumes) await refresh(kind);
          before = await digest();
        } else {
          before = after;
        }
      }
      if (failures.length)
        console.log(`[fuzz ${backendName}] ${name}: ${failures.length} failure(s)\n  ${failures.slice(0, 15).join('\n  ')}`);
      expect(failures).toEqual([]);
    },
  );

  /**
   * The defects the fuzzing found, one request each, asserting the specified behaviour
   * ("a 4xx with a clear, field-level message; never a 500; a rejected command appends nothing").
   */
  const raw = (method: Method, path: () => string, text: string) => () =>
    t.http()[method](`${API}${path()}`).set(bearer(admin)).set('Content-Type', 'application/json').send(text);
  const REGRESSIONS: [string, () => Promise<Response>][] = [
    [
      'NUL in a note (POST /opportunities/{id}/notes)',
      raw('post', () => `/opportunities/${targets.deal}/notes`, '{"content":"a\\u0000b"}'),
    ],
    ['NUL in next_step (PATCH /opportunities/{id})', raw('patch', () => `/opportunities/${targets.deal}`, '{"next_step":"a\\u0000b"}')],
    [
      'NUL in a stage note (POST /opportunities/{id}/stage/next)',
      raw('post', () => `/opportunities/${targets.deal}/stage/next`, '{"notes":"a\\u0000b"}'),
    ],
    [
      'NUL in the delete reason (DELETE /opportunities/{id}?reason=%00)',
      () => t.http().delete(`${API}/opportunities/${targets.deal}?reason=%00`).set(bearer(admin)),
    ],
    ['NUL in a pipeline name (PATCH /pipelines/{id})', raw('patch', () => `/pipelines/${targets.pipeline}`, '{"name":"a\\u0000b"}')],
    [
      'NUL in a webhook description (PATCH /webhooks/{id})',
      raw('patch', () => `/webhooks/${targets.webhook}`, '{"description":"a\\u0000b"}'),
    ],
    [
      'lone surrogate in a note (POST /opportunities/{id}/notes)',
      raw('post', () => `/opportunities/${targets.deal}/notes`, '{"content":"a\\ud800b"}'),
    ],
    [
      'lone surrogate in an email (POST /users)',
      raw('post', () => '/users', '{"id":"surrogate_user","name":"n","email":"a@b.com\\ud800"}'),
    ],
    [
      'lone surrogate in an email (PATCH /customers/{id})',
      raw('patch', () => `/customers/${targets.customer}`, '{"email":"a@b.com\\ud800"}'),
    ],
    [
      '2000-deep JSON array body (PATCH /opportunities/{id})',
      raw('patch', () => `/opportunities/${targets.deal}`, '['.repeat(2000) + ']'.repeat(2000)),
    ],
    [
      '5000-deep custom_fields object (PATCH /opportunities/{id})',
      raw('patch', () => `/opportunities/${targets.deal}`, `{"custom_fields":${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}}`),
    ],
    [
      '2000-deep tags array (POST /opportunities)',
      raw(
        'post',
        () => '/opportunities',
        `{"name":"n","customer_id":"c","expected_close_date":"2027-01-01","tags":${'['.repeat(2000)}${']'.repeat(2000)}}`,
      ),
    ],
    ['search=%00 (GET /users)', () => t.http().get(`${API}/users?search=%00`).set(bearer(admin))],
    ['search=%00 (GET /customers)', () => t.http().get(`${API}/customers?search=%00`).set(bearer(admin))],
    ['source=%00 (GET /opportunities)', () => t.http().get(`${API}/opportunities?source=%00`).set(bearer(admin))],
    [
      'unknown field "toString" (PATCH /opportunities/{id})',
      raw('patch', () => `/opportunities/${targets.deal}`, '{"next_step":"x","toString":"x"}'),
    ],
    [
      'unknown field "constructor" (POST /opportunities/{id}/notes)',
      raw('post', () => `/opportunities/${targets.deal}/notes`, '{"content":"x","constructor":"x"}'),
    ],
    [
      'unknown field "__proto__" (POST /opportunities/{id}/lose)',
      raw('post', () => `/opportunities/${targets.deal}/lose`, '{"loss_reason":"price","__proto__":{"x":1}}'),
    ],
    [
      'unknown field "hasOwnProperty" (POST /customers)',
      raw('post', () => '/customers', '{"company_name":"Proto Co","hasOwnProperty":"x"}'),
    ],
  ];

  it.each(REGRESSIONS)('found by fuzzing: %s → 400 with a field message, nothing appended or changed', async (_label, send) => {
    const before = await digest();
    const res = await send();
    const appended = await newEventProblemsFor(res);
    expect({
      status: res.status,
      hasMessage: typeof res.body?.message === 'string',
      appended,
      rowsChanged: (await digest()) !== before,
    }).toEqual({
      status: 400,
      hasMessage: true,
      appended: [],
      rowsChanged: false,
    });
  });

  /** Events appended since the last look (any: these requests run alone). */
  async function newEventProblemsFor(res: Response): Promise<string[]> {
    const page = await t.app.get(EventStore).readAll(checkpoint, 1000);
    checkpoint = page.checkpoint;
    return page.events.map((e) => `${res.status}: ${e.type} on ${e.streamId}`);
  }

  it('no event appended late by a rejected request (final sweep)', async () => {
    await new Promise((r) => setTimeout(r, 300));
    expect(await newEventProblems()).toEqual([]);
    expect(requests.size).toBeGreaterThan(0);
  });
});

function describeCase(c: FuzzCase): string {
  const parts: string[] = [];
  if (c.pathParam) parts.push(`{${c.pathParam.name}}=${c.pathParam.raw.slice(0, 60)}`);
  if (c.query !== undefined) parts.push(`?${c.query.slice(0, 120)}`);
  if (c.headers) parts.push(`headers ${JSON.stringify(c.headers).slice(0, 120)}`);
  if (c.body?.kind === 'json') parts.push(`json ${String(JSON.stringify(c.body.value)).slice(0, 160)}`);
  if (c.body?.kind === 'raw')
    parts.push(
      `raw(${c.body.contentType}${c.body.contentEncoding ? `, ${c.body.contentEncoding}` : ''}) ${JSON.stringify(String(c.body.text).slice(0, 80))}`,
    );
  return parts.join(' ');
}
