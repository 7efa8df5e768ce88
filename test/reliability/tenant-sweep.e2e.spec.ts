import type { Response } from 'supertest';
import { API, allEvents, bearer, describeEachBackend, describeResponse, OPPS, uniqueOrg, useTestApp } from './support/app';

/**
 * Org A owns one of everything; org B (an admin and a rep) calls every endpoint with A's ids.
 * Every answer must be 404 or 403, A's data must be exactly as before, and B's lists and
 * analytics must never show A's data.
 */
const SECRET_NAME = 'TENANT-A-SECRET-DEAL';
const SECRET_VALUE = 777777.77;
const SECRET_COMPANY = 'TenantA Secret Industries';

interface AData {
  deal: string;
  closable: string;
  prospect: string;
  activity: string;
  note: string;
  pipeline: string;
  stage: string;
  webhook: string;
  user: string;
  customer: string;
  category: string;
  token: string;
}

type Call = [label: string, send: (tok: string) => Promise<Response>];

describeEachBackend('tenant isolation sweep (%s)', (backend) => {
  const t = useTestApp(backend, { WEBHOOK_ALLOWED_HOSTS: '127.0.0.1', RUN_WEBHOOK_DISPATCHER: 'false' });
  const backendName = backend.name;
  const orgA = uniqueOrg('tena');
  const orgB = uniqueOrg('tenb');
  let adminA: string;
  let adminB: string;
  let repB: string;
  const a = {} as AData;
  const http = () => t.http();

  async function ok(res: Promise<Response>, what: string): Promise<Response> {
    const r = await res;
    if (r.status >= 300) throw new Error(`${what}: ${describeResponse(r)}`);
    return r;
  }

  beforeAll(async () => {
    adminA = await t.token(orgA, 'a_admin', 'admin');
    adminB = await t.token(orgB, 'b_admin', 'admin');
    repB = await t.token(orgB, 'b_rep', 'rep');
    const auth = bearer(adminA);
    a.customer = (
      await ok(
        http().post(`${API}/customers`).set(auth).send({ company_name: SECRET_COMPANY, email: 'secret@tenant-a.example' }),
        'customer',
      )
    ).body.data.id;
    a.user = (
      await ok(
        http().post(`${API}/users`).set(auth).send({ id: 'a_seller', name: 'Tenant A Seller', email: 'seller@tenant-a.example' }),
        'user',
      )
    ).body.data.id;
    a.category = (
      await ok(http().post(`${API}/categories`).set(auth).send({ name: 'TenantA Category', color: '#123456' }), 'category')
    ).body.data.id;
    a.pipeline = 'tenant_a_pipe';
    a.stage = 'ta_middle';
    await ok(
      http()
        .post(`${API}/pipelines`)
        .set(auth)
        .send({
          id: a.pipeline,
          name: 'Tenant A pipeline',
          stages: [
            { key: 'ta_start', name: 'Start', display_order: 1, probability: 10 },
            { key: a.stage, name: 'Middle', display_order: 2, probability: 50 },
            { key: 'ta_won', name: 'Won', display_order: 3, is_won: true },
            { key: 'ta_lost', name: 'Lost', display_order: 4, is_lost: true },
          ],
        }),
      'pipeline',
    );
    const dealBody = {
      name: SECRET_NAME,
      customer_id: a.customer,
      value: SECRET_VALUE,
      expected_close_date: '2027-05-31',
      assigned_user_id: a.user,
      category_id: a.category,
      tags: ['tenant-a'],
    };
    a.deal = (
      await ok(
        http()
          .post(OPPS)
          .set(auth)
          .send({ ...dealBody, stage: 'proposal' }),
        'deal',
      )
    ).body.data.id;
    a.closable = (
      await ok(
        http()
          .post(OPPS)
          .set(auth)
          .send({ ...dealBody, name: `${SECRET_NAME} 2`, stage: 'verbal_commitment' }),
        'closable',
      )
    ).body.data.id;
    a.prospect = (
      await ok(
        http()
          .post(OPPS)
          .set(auth)
          .send({ name: `${SECRET_NAME} prospect`, prospect_name: 'Prospect of A', value: 5 }),
        'prospect',
      )
    ).body.data.id;
    a.activity = (
      await ok(
        http()
          .post(`${API}/activities`)
          .set(auth)
          .send({ opportunity_id: a.deal, type: 'meeting', subject: 'A meeting', scheduled_at: '2027-01-10T10:00:00Z' }),
        'activity',
      )
    ).body.data.id;
    a.note = (await ok(http().post(`${OPPS}/${a.deal}/notes`).set(auth).send({ content: 'A private note' }), 'note')).body.data.id;
    a.webhook = (
      await ok(
        http()
          .post(`${API}/webhooks`)
          .set(auth)
          .send({ url: 'http://127.0.0.1:9/tenant-a', event_types: ['opportunity.won'] }),
        'webhook',
      )
    ).body.data.id;
    a.token = (
      await ok(http().post(`${API}/tokens`).set(auth).send({ user_id: 'a_seller', role: 'rep', label: 'A spare' }), 'token')
    ).body.data.id;
    // B has data of its own, so its lists and analytics are not trivially empty.
    await ok(
      http()
        .post(OPPS)
        .set(bearer(adminB))
        .send({ name: 'B deal', customer_id: 'b_cust', value: 10, expected_close_date: '2027-05-31', stage: 'proposal' }),
      'B deal',
    );
    await ok(
      http().post(OPPS).set(bearer(repB)).send({ name: 'B rep deal', customer_id: 'b_cust', value: 20, expected_close_date: '2027-05-31' }),
      'B rep deal',
    );
  }, 60_000);

  /** What A sees of its own data (volatile consistency metadata removed). */
  async function snapshotA(): Promise<Record<string, unknown>> {
    const auth = bearer(adminA);
    const get = async (path: string) => {
      const res = await http().get(`${API}${path}`).set(auth);
      const body = { ...res.body };
      if (body.meta) body.meta = { ...body.meta, consistency: undefined };
      return { status: res.status, body };
    };
    const events = await allEvents(t, orgA);
    return {
      events: events.map((e) => `${e.streamId}@${e.streamVersion}:${e.type}`),
      deal: await get(`/opportunities/${a.deal}?includes=customer,activities,assigned_user`),
      closable: await get(`/opportunities/${a.closable}`),
      prospect: await get(`/opportunities/${a.prospect}`),
      history: await get(`/opportunities/${a.deal}/history?per_page=100`),
      activities: await get(`/opportunities/${a.deal}/activities`),
      notes: await get(`/opportunities/${a.deal}/notes`),
      list: await get(`/opportunities?per_page=100`),
      pipeline: await get(`/pipelines/${a.pipeline}`),
      pipelines: await get(`/pipelines`),
      webhook: await get(`/webhooks/${a.webhook}`),
      webhooks: await get(`/webhooks`),
      deliveries: await get(`/webhooks/${a.webhook}/deliveries`),
      user: await get(`/users/${a.user}`),
      customer: await get(`/customers/${a.customer}`),
      categories: await get(`/categories`),
      tokens: await get(`/tokens`),
    };
  }

  /** Every endpoint that takes an id, called with A's ids. */
  function crossCalls(): Call[] {
    const J = { 'Content-Type': 'application/json' };
    const D = `${OPPS}/${a.deal}`;
    return [
      ['GET /opportunities/{id}', (k) => http().get(D).set(bearer(k))],
      ['GET /opportunities/{id}?as_of', (k) => http().get(`${D}?as_of=2030-01-01T00:00:00Z`).set(bearer(k))],
      ['GET /opportunities/{id}?includes', (k) => http().get(`${D}?includes=customer,activities,assigned_user`).set(bearer(k))],
      ['PUT /opportunities/{id}', (k) => http().put(D).set(bearer(k)).send({ name: 'hijacked' })],
      ['PATCH /opportunities/{id}', (k) => http().patch(D).set(bearer(k)).send({ next_step: 'hijacked' })],
      [
        'PATCH /opportunities/{id} (If-Match)',
        (k) => http().patch(D).set(bearer(k)).set('If-Match', '"1"').send({ next_step: 'hijacked' }),
      ],
      ['DELETE /opportunities/{id}', (k) => http().delete(D).set(bearer(k))],
      ['PATCH /opportunities/{id}/stage', (k) => http().patch(`${D}/stage`).set(bearer(k)).send({ stage: 'lost', loss_reason: 'price' })],
      ['POST /opportunities/{id}/stage/next', (k) => http().post(`${D}/stage/next`).set(bearer(k)).send({})],
      ['POST /opportunities/{id}/stage/previous', (k) => http().post(`${D}/stage/previous`).set(bearer(k)).send({ reason: 'hijack' })],
      ['POST /opportunities/{id}/win', (k) => http().post(`${OPPS}/${a.closable}/win`).set(bearer(k)).send({})],
      ['POST /opportunities/{id}/lose', (k) => http().post(`${D}/lose`).set(bearer(k)).send({ loss_reason: 'price' })],
      ['POST /opportunities/{id}/assign', (k) => http().post(`${D}/assign`).set(bearer(k)).send({ user_id: 'b_rep' })],
      [
        'POST /opportunities/{id}/win (Idempotency-Key)',
        (k) =>
          http()
            .post(`${OPPS}/${a.closable}/win`)
            .set(bearer(k))
            .set('Idempotency-Key', `cross-${k.slice(-6)}`)
            .send({}),
      ],
      ['GET /opportunities/{id}/history', (k) => http().get(`${D}/history`).set(bearer(k))],
      ['GET /opportunities/{id}/activities', (k) => http().get(`${D}/activities`).set(bearer(k))],
      ['GET /opportunities/{id}/notes', (k) => http().get(`${D}/notes`).set(bearer(k))],
      ['POST /opportunities/{id}/notes', (k) => http().post(`${D}/notes`).set(bearer(k)).send({ content: 'hijack note' })],
      [
        'POST /opportunities/{id}/convert-to-customer',
        (k) => http().post(`${OPPS}/${a.prospect}/convert-to-customer`).set(bearer(k)).send({}),
      ],
      [
        'POST /activities (A deal in body)',
        (k) => http().post(`${API}/activities`).set(bearer(k)).send({ opportunity_id: a.deal, type: 'call', subject: 'hijack' }),
      ],
      ['PATCH /activities/{id}', (k) => http().patch(`${API}/activities/${a.activity}`).set(bearer(k)).send({ status: 'completed' })],
      ['GET /pipelines/{id}', (k) => http().get(`${API}/pipelines/${a.pipeline}`).set(bearer(k))],
      ['PATCH /pipelines/{id}', (k) => http().patch(`${API}/pipelines/${a.pipeline}`).set(bearer(k)).send({ name: 'hijacked' })],
      ['DELETE /pipelines/{id}', (k) => http().delete(`${API}/pipelines/${a.pipeline}`).set(bearer(k))],
      [
        'POST /pipelines/{id}/stages',
        (k) =>
          http().post(`${API}/pipelines/${a.pipeline}/stages`).set(bearer(k)).send({ key: 'hijack', name: 'Hijack', display_order: 9 }),
      ],
      [
        'PATCH /pipelines/{id}/stages/{key}',
        (k) => http().patch(`${API}/pipelines/${a.pipeline}/stages/${a.stage}`).set(bearer(k)).send({ name: 'hijacked' }),
      ],
      ['DELETE /pipelines/{id}/stages/{key}', (k) => http().delete(`${API}/pipelines/${a.pipeline}/stages/${a.stage}`).set(bearer(k))],
      [
        'PUT /pipelines/{id}/loss-reasons',
        (k) =>
          http()
            .put(`${API}/pipelines/${a.pipeline}/loss-reasons`)
            .set(bearer(k))
            .send({ loss_reasons: ['hijack'] }),
      ],
      ['GET /webhooks/{id}', (k) => http().get(`${API}/webhooks/${a.webhook}`).set(bearer(k))],
      ['PATCH /webhooks/{id}', (k) => http().patch(`${API}/webhooks/${a.webhook}`).set(bearer(k)).send({ enabled: false })],
      ['DELETE /webhooks/{id}', (k) => http().delete(`${API}/webhooks/${a.webhook}`).set(bearer(k))],
      ['POST /webhooks/{id}/rotate-secret', (k) => http().post(`${API}/webhooks/${a.webhook}/rotate-secret`).set(bearer(k)).send({})],
      ['GET /webhooks/{id}/deliveries', (k) => http().get(`${API}/webhooks/${a.webhook}/deliveries`).set(bearer(k))],
      [
        'POST /webhooks/{id}/deliveries/{d}/redeliver',
        (k) =>
          http()
            .post(`${API}/webhooks/${a.webhook}/deliveries/msg_${'0'.repeat(32)}/redeliver`)
            .set(bearer(k))
            .send({}),
      ],
      ['POST /webhooks/{id}/test', (k) => http().post(`${API}/webhooks/${a.webhook}/test`).set(bearer(k)).send({})],
      ['GET /users/{id}', (k) => http().get(`${API}/users/${a.user}`).set(bearer(k))],
      ['PATCH /users/{id}', (k) => http().patch(`${API}/users/${a.user}`).set(bearer(k)).send({ name: 'hijacked' })],
      ['GET /customers/{id}', (k) => http().get(`${API}/customers/${a.customer}`).set(bearer(k))],
      ['PATCH /customers/{id}', (k) => http().patch(`${API}/customers/${a.customer}`).set(bearer(k)).send({ company_name: 'hijacked' })],
      ['PATCH /categories/{id}', (k) => http().patch(`${API}/categories/${a.category}`).set(bearer(k)).set(J).send({ name: 'hijacked' })],
      ['DELETE /categories/{id}', (k) => http().delete(`${API}/categories/${a.category}`).set(bearer(k))],
      ['DELETE /tokens/{id}', (k) => http().delete(`${API}/tokens/${a.token}`).set(bearer(k))],
    ];
  }

  it.each([
    ['admin', () => adminB],
    ['rep', () => repB],
  ])("org B's %s gets 404/403 on every one of A's ids, and A's data does not change", async (role, token) => {
    const before = await snapshotA();
    // The snapshot holds A's real data (not a row of 404s that would trivially stay equal).
    for (const [name, value] of Object.entries(before))
      if (name !== 'events') expect({ name, status: (value as { status: number }).status }).toEqual({ name, status: 200 });
    expect((before.events as string[]).length).toBeGreaterThan(5);
    const problems: string[] = [];
    const calls = crossCalls();
    for (const [label, send] of calls) {
      const res = await send(token());
      if (res.status !== 404 && res.status !== 403) problems.push(`${label} → ${describeResponse(res)}`);
      else if (JSON.stringify(res.body).includes(SECRET_NAME) || JSON.stringify(res.body).includes(SECRET_COMPANY))
        problems.push(`${label} leaks A's data: ${describeResponse(res)}`);
    }
    // Bulk actions answer with a result per id (422 when none succeeded): each of A's ids must be a 404 there.
    const bulk = await http()
      .post(`${OPPS}/bulk-actions`)
      .set(bearer(token()))
      .send({ action: 'mark_lost', opportunity_ids: [a.deal, a.closable, a.prospect], parameters: { loss_reason: 'price' } });
    if (bulk.status === 200 || bulk.status === 422) {
      for (const r of bulk.body.data.results)
        if (r.http_status !== 404) problems.push(`bulk-actions result for ${r.id}: ${JSON.stringify(r)}`);
      if (bulk.body.data.succeeded !== 0) problems.push(`bulk-actions succeeded on A's deals: ${describeResponse(bulk)}`);
    } else if (bulk.status !== 403 && bulk.status !== 404) problems.push(`POST /opportunities/bulk-actions → ${describeResponse(bulk)}`);
    console.log(`[tenant ${backendName}] B ${role}: ${calls.length + 1} cross-tenant calls, ${problems.length} problem(s)`);
    expect(problems).toEqual([]);
    const after = await snapshotA();
    expect(after).toEqual(before);
  });

  it("B's lists, analytics and feeds never include A's data", async () => {
    const aIds = Object.values(a).filter((v) => v.length >= 8);
    const leaks: string[] = [];
    const paths = [
      '/opportunities?per_page=100',
      '/opportunities?per_page=100&includes=customer,activities,assigned_user',
      `/opportunities?customer_id=${a.customer}`,
      `/opportunities?assigned_user_id=${a.user}`,
      `/opportunities?search=${encodeURIComponent('TENANT-A')}`,
      `/opportunities?tags=tenant-a`,
      `/opportunities?category_id=${a.category}`,
      `/opportunities?pipeline_id=${a.pipeline}`,
      '/opportunities/pipeline-data',
      `/opportunities/pipeline-data?user_id=${a.user}`,
      `/opportunities/pipeline-data?pipeline_id=${a.pipeline}`,
      '/opportunities/forecast?year=2027&quarter=Q2',
      `/opportunities/forecast?year=2027&quarter=Q2&user_id=${a.user}`,
      '/opportunities/forecast/monthly?from=2027-01-01&to=2027-12-31',
      '/opportunities/stats',
      `/opportunities/stats?pipeline_id=${a.pipeline}`,
      '/opportunities/pipeline-summary',
      `/opportunities/pipeline-summary?pipeline_id=${a.pipeline}`,
      '/pipelines',
      '/webhooks',
      '/users?per_page=100',
      '/customers?per_page=100',
      `/customers?search=${encodeURIComponent('TenantA')}`,
      '/categories',
      '/tokens',
      '/events?limit=1000',
    ];
    for (const token of [adminB, repB]) {
      for (const path of paths) {
        const res = await http().get(`${API}${path}`).set(bearer(token));
        if (res.status >= 500) leaks.push(`${path} → ${describeResponse(res)}`);
        const text = JSON.stringify(res.body);
        // A value B itself put in the query may be echoed back; anything else of A's is a leak.
        const asked = decodeURIComponent(path);
        for (const needle of [SECRET_NAME, SECRET_COMPANY, 'Tenant A', 'TenantA', 'tenant-a', String(SECRET_VALUE), orgA, ...aIds].filter(
          (n) => !asked.includes(n),
        )) {
          if (text.includes(needle))
            leaks.push(`${path} (${token === adminB ? 'admin' : 'rep'}) contains ${JSON.stringify(needle)}: ${text.slice(0, 300)}`);
        }
      }
    }
    // B cannot put A's pipeline under its own deal, and A's customer id does not render A's customer.
    const onAPipeline = await http()
      .post(OPPS)
      .set(bearer(adminB))
      .send({ name: 'B on A pipe', customer_id: 'b_cust', value: 1, expected_close_date: '2027-05-31', pipeline_id: a.pipeline });
    expect([400, 404]).toContain(onAPipeline.status);
    const withACustomer = await http()
      .post(OPPS)
      .set(bearer(adminB))
      .send({ name: 'B with A customer', customer_id: a.customer, value: 1, expected_close_date: '2027-05-31' });
    expect(withACustomer.status).toBe(201);
    const shown = await http().get(`${OPPS}/${withACustomer.body.data.id}?includes=customer`).set(bearer(adminB));
    expect(shown.status).toBe(200);
    expect(JSON.stringify(shown.body)).not.toContain(SECRET_COMPANY);
    await ok(http().delete(`${OPPS}/${withACustomer.body.data.id}`).set(bearer(adminB)), 'cleanup');
    // B's own list is exactly B's two deals.
    const list = await http().get(`${OPPS}?per_page=100`).set(bearer(adminB));
    expect(list.status).toBe(200);
    expect(list.body.data.map((d: { name: string }) => d.name).sort()).toEqual(['B deal', 'B rep deal']);
    expect(list.body.meta.total).toBe(2);
    expect(leaks).toEqual([]);
  });
});
