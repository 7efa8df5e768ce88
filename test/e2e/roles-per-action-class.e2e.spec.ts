import { createHash, randomUUID } from 'node:crypto';
import type { Test } from 'supertest';
import { EventStore } from '@app/event-store';
import { describeEachBackend, useTestApp, useTokens } from '../support/test-app';
import { API, bearer, getDeal, OPPS, readStream, uniqueOrg } from './helpers';

/**
 * Roles per action class: viewers read only; reps change only the
 * deals they own (activities, notes and conversions included; bulk answers 403 per foreign id);
 * managers change any deal of the org, reassign and manage categories; only admins configure
 * pipelines, webhooks and API tokens.
 */

const FORBIDDEN = { status: 403, code: 'forbidden' };

describeEachBackend('roles per action class (%s)', (backend) => {
  const t = useTestApp(backend, { WEBHOOK_ALLOWED_HOSTS: '127.0.0.1', RUN_WEBHOOK_DISPATCHER: 'false' });
  const org = uniqueOrg('roles_ac');
  const tok = useTokens(t, {
    admin: [org, 'admin_1', 'admin'],
    manager: [org, 'mgr_1', 'manager'],
    rep: [org, 'rep_1', 'rep'],
    rep2: [org, 'rep_2', 'rep'],
    viewer: [org, 'viewer_1', 'viewer'],
  });
  const http = () => t.http();

  /** Fixtures: all created by the manager (deals) or admin (configuration). */
  const f = {
    dealRep1: '',
    dealRep1b: '',
    dealRep2: '',
    prospectRep1: '',
    prospectRep2: '',
    prospectRep2b: '',
    activityRep1: '',
    activityRep2: '',
    webhook: '',
    category: '',
    spareToken: '',
  };
  const PIPELINE = 'team_pipeline';
  const PIPELINE_BODY = {
    name: 'Another Pipeline',
    stages: [
      { name: 'Open', display_order: 1, probability: 20 },
      { name: 'Won', display_order: 2, is_won: true },
      { name: 'Lost', display_order: 3, is_lost: true },
    ],
  };

  async function deal(owner: string, extra: Record<string, unknown> = {}): Promise<string> {
    const res = await http()
      .post(OPPS)
      .set(bearer(tok.manager))
      .send({
        name: `Deal of ${owner}`,
        customer_id: 568,
        value: 10000,
        expected_close_date: '2027-06-30',
        assigned_user_id: owner,
        ...extra,
      });
    expect(res.status).toBe(201);
    return res.body.data.id;
  }

  async function scheduledActivity(dealId: string): Promise<string> {
    const res = await http()
      .post(`${API}/activities`)
      .set(bearer(tok.manager))
      .send({ opportunity_id: dealId, type: 'meeting', subject: 'Consultation', scheduled_at: '2027-01-15T14:00:00Z' });
    expect(res.status).toBe(201);
    return res.body.data.id;
  }

  beforeAll(async () => {
    f.dealRep1 = await deal('rep_1');
    f.dealRep1b = await deal('rep_1');
    f.dealRep2 = await deal('rep_2');
    const prospect = {
      customer_id: undefined,
      expected_close_date: undefined,
      prospect_name: 'Jane Doe',
      prospect_email: 'jane@example.com',
      source: 'website',
    };
    f.prospectRep1 = await deal('rep_1', { ...prospect, prospect_name: 'Prospect One' });
    f.prospectRep2 = await deal('rep_2', { ...prospect, prospect_name: 'Prospect Two' });
    f.prospectRep2b = await deal('rep_2', { ...prospect, prospect_name: 'Prospect Three' });
    f.activityRep1 = await scheduledActivity(f.dealRep1);
    f.activityRep2 = await scheduledActivity(f.dealRep2);

    expect(
      (
        await http()
          .post(`${API}/pipelines`)
          .set(bearer(tok.admin))
          .send({ ...PIPELINE_BODY, id: PIPELINE, name: 'Team' })
      ).status,
    ).toBe(201);
    const hook = await http()
      .post(`${API}/webhooks`)
      .set(bearer(tok.admin))
      .send({ url: 'http://127.0.0.1:9/hooks/crm', event_types: ['opportunity.won'] });
    expect(hook.status).toBe(201);
    f.webhook = hook.body.data.id;
    const cat = await http().post(`${API}/categories`).set(bearer(tok.manager)).send({ name: 'Fixture category', color: '#10b981' });
    expect(cat.status).toBe(201);
    f.category = cat.body.data.id;
    const spare = await http().post(`${API}/tokens`).set(bearer(tok.admin)).send({ user_id: 'spare_user', role: 'viewer', label: 'spare' });
    expect(spare.status).toBe(201);
    f.spareToken = spare.body.data.id;
  }, 60_000);

  const DEALS = () => [f.dealRep1, f.dealRep1b, f.dealRep2, f.prospectRep1, f.prospectRep2, f.prospectRep2b];

  /** Everything a refused write could have changed, read as the admin. */
  async function snapshot() {
    const get = async (path: string) => {
      const res = await http().get(`${API}${path}`).set(bearer(tok.admin));
      expect(res.status).toBe(200);
      return res.body;
    };
    return {
      streams: await Promise.all(DEALS().map(async (id) => (await readStream(t, org, id)).length)),
      pipelineEvents: (await t.app.get(EventStore).readStream(`pipeline-${org}-${PIPELINE}`)).length,
      pipelines: (await get('/pipelines')).data.map((p: { id: string }) => p.id),
      webhooks: (await get('/webhooks')).data.map((w: { id: string; url: string; enabled: boolean }) => [w.id, w.url, w.enabled]),
      tokens: (await get('/tokens')).data.map((x: { id: string; revoked_at: string | null }) => [x.id, x.revoked_at]),
      categories: (await get('/categories')).data.map((c: { id: string; name: string; color: string }) => [c.id, c.name, c.color]),
      customers: (await get('/customers')).meta.total,
      users: (await get('/users')).meta.total,
    };
  }

  /** `send` as `token` → 403 forbidden, and nothing a refused write could change has changed. */
  async function expectForbiddenAndNothingChanged(send: () => Test, token: string): Promise<void> {
    const before = await snapshot();
    const res = await send().set(bearer(token));
    expect({ status: res.status, code: res.body.code }).toEqual(FORBIDDEN);
    expect(await snapshot()).toEqual(before);
  }

  /** Writes that need the admin role (pipelines, webhooks, tokens). */
  const ADMIN_WRITES: [string, () => Test][] = [
    ['POST /pipelines', () => http().post(`${API}/pipelines`).send(PIPELINE_BODY)],
    ['PATCH /pipelines/{id}', () => http().patch(`${API}/pipelines/${PIPELINE}`).send({ name: 'Renamed' })],
    [
      'POST /pipelines/{id}/stages',
      () => http().post(`${API}/pipelines/${PIPELINE}/stages`).send({ name: 'Review', display_order: 5, probability: 50 }),
    ],
    ['PATCH /pipelines/{id}/stages/{key}', () => http().patch(`${API}/pipelines/${PIPELINE}/stages/open`).send({ probability: 30 })],
    ['DELETE /pipelines/{id}/stages/{key}', () => http().delete(`${API}/pipelines/${PIPELINE}/stages/open`)],
    [
      'PUT /pipelines/{id}/loss-reasons',
      () =>
        http()
          .put(`${API}/pipelines/${PIPELINE}/loss-reasons`)
          .send({ loss_reasons: ['price'] }),
    ],
    ['DELETE /pipelines/{id}', () => http().delete(`${API}/pipelines/${PIPELINE}`)],
    [
      'POST /webhooks',
      () =>
        http()
          .post(`${API}/webhooks`)
          .send({ url: 'http://127.0.0.1:9/other', event_types: ['opportunity.lost'] }),
    ],
    ['PATCH /webhooks/{id}', () => http().patch(`${API}/webhooks/${f.webhook}`).send({ enabled: false })],
    ['DELETE /webhooks/{id}', () => http().delete(`${API}/webhooks/${f.webhook}`)],
    ['POST /webhooks/{id}/test', () => http().post(`${API}/webhooks/${f.webhook}/test`).send({})],
    ['POST /webhooks/{id}/rotate-secret', () => http().post(`${API}/webhooks/${f.webhook}/rotate-secret`).send({})],
    ['POST /tokens', () => http().post(`${API}/tokens`).send({ user_id: 'intruder', role: 'admin' })],
    ['DELETE /tokens/{id}', () => http().delete(`${API}/tokens/${f.spareToken}`)],
  ];

  const CATEGORY_WRITES: [string, () => Test][] = [
    ['POST /categories', () => http().post(`${API}/categories`).send({ name: 'Sneaky', color: '#000000' })],
    ['PATCH /categories/{id}', () => http().patch(`${API}/categories/${f.category}`).send({ color: '#ffffff' })],
    ['DELETE /categories/{id}', () => http().delete(`${API}/categories/${f.category}`)],
  ];

  describe('viewer', () => {
    const DEAL_WRITES: [string, () => Test][] = [
      [
        'POST /opportunities',
        () =>
          http()
            .post(OPPS)
            .send({ name: 'x', customer_id: 568, value: 1, expected_close_date: '2027-01-01', assigned_user_id: 'viewer_1' }),
      ],
      ['PATCH /opportunities/{id}', () => http().patch(`${OPPS}/${f.dealRep1}`).send({ next_step: 'x' })],
      ['PATCH /opportunities/{id}/stage', () => http().patch(`${OPPS}/${f.dealRep1}/stage`).send({ stage: 'on_hold' })],
      ['POST …/stage/next', () => http().post(`${OPPS}/${f.dealRep1}/stage/next`).send({})],
      ['POST …/lose', () => http().post(`${OPPS}/${f.dealRep1}/lose`).send({ loss_reason: 'price' })],
      ['POST …/assign', () => http().post(`${OPPS}/${f.dealRep1}/assign`).send({ user_id: 'viewer_1' })],
      ['DELETE /opportunities/{id}', () => http().delete(`${OPPS}/${f.dealRep1}`)],
      ['POST /activities', () => http().post(`${API}/activities`).send({ opportunity_id: f.dealRep1, type: 'call', subject: 'x' })],
      ['PATCH /activities/{id}', () => http().patch(`${API}/activities/${f.activityRep1}`).send({ status: 'completed' })],
      ['POST …/notes', () => http().post(`${OPPS}/${f.dealRep1}/notes`).send({ content: 'x' })],
      ['POST …/convert-to-customer', () => http().post(`${OPPS}/${f.prospectRep1}/convert-to-customer`).send({})],
      ['POST /customers', () => http().post(`${API}/customers`).send({ company_name: 'Viewer Corp' })],
      ['POST /users', () => http().post(`${API}/users`).send({ id: 'u_viewer', name: 'Viewer' })],
    ];

    it.each([...DEAL_WRITES, ...ADMIN_WRITES, ...CATEGORY_WRITES])('%s → 403, nothing changes', async (_label, send) => {
      await expectForbiddenAndNothingChanged(send, tok.viewer);
    });

    it('POST /opportunities/bulk-actions → 403, nothing changes', async () => {
      const before = await snapshot();
      const res = await http()
        .post(`${OPPS}/bulk-actions`)
        .set(bearer(tok.viewer))
        .send({
          action: 'update_close_date',
          opportunity_ids: [f.dealRep1, f.dealRep2],
          parameters: { expected_close_date: '2027-12-31' },
        });
      const after = await snapshot();
      expect({ status: res.status, code: res.body.code, unchanged: JSON.stringify(after) === JSON.stringify(before) }).toEqual({
        ...FORBIDDEN,
        unchanged: true,
      });
    });

    it.each([
      ['GET /opportunities', () => http().get(OPPS)],
      ['GET /opportunities/{id}', () => http().get(`${OPPS}/${f.dealRep1}?includes=activities,customer`)],
      ['GET …/activities', () => http().get(`${OPPS}/${f.dealRep1}/activities`)],
      ['GET …/notes', () => http().get(`${OPPS}/${f.dealRep1}/notes`)],
      ['GET /opportunities/stats', () => http().get(`${OPPS}/stats`)],
      ['GET /opportunities/pipeline-data', () => http().get(`${OPPS}/pipeline-data`)],
      ['GET /opportunities/pipeline-summary', () => http().get(`${OPPS}/pipeline-summary?pipeline_id=${PIPELINE}`)],
      ['GET /opportunities/forecast', () => http().get(`${OPPS}/forecast`)],
      ['GET /pipelines', () => http().get(`${API}/pipelines`)],
      ['GET /pipelines/{id}', () => http().get(`${API}/pipelines/${PIPELINE}`)],
      ['GET /categories', () => http().get(`${API}/categories`)],
      ['GET /customers', () => http().get(`${API}/customers`)],
      ['GET /users', () => http().get(`${API}/users`)],
    ] as [string, () => Test][])('reads: %s → 200', async (_label, send) => {
      const res = await send().set(bearer(tok.viewer));
      expect(res.status).toBe(200);
    });
  });

  describe('rep', () => {
    it('writes its own deal: activity, completing an activity, note, convert-to-customer', async () => {
      const act = await http()
        .post(`${API}/activities`)
        .set(bearer(tok.rep))
        .send({ opportunity_id: f.dealRep1, type: 'email', subject: 'Sent pricing' });
      expect(act.status).toBe(201);
      expect(act.body.data.created_by).toBe('rep_1');
      const done = await http()
        .patch(`${API}/activities/${f.activityRep1}`)
        .set(bearer(tok.rep))
        .send({ status: 'completed', outcome: 'Held' });
      expect(done.status).toBe(200);
      expect(done.body.data.status).toBe('completed');
      const note = await http().post(`${OPPS}/${f.dealRep1}/notes`).set(bearer(tok.rep)).send({ content: 'Mine' });
      expect(note.status).toBe(201);
      expect(note.body.data.created_by).toBe('rep_1');
      const conv = await http().post(`${OPPS}/${f.prospectRep1}/convert-to-customer`).set(bearer(tok.rep)).send({});
      expect(conv.status).toBe(200);
      expect(conv.body.data.customer).toMatchObject({ company_name: 'Prospect One' });
      const events = await readStream(t, org, f.dealRep1);
      expect(events.slice(-3).map((e) => [e.type, e.metadata.actor_id])).toEqual([
        ['ActivityLogged', 'rep_1'],
        ['ActivityCompleted', 'rep_1'],
        ['NoteAdded', 'rep_1'],
      ]);
    });

    it.each([
      ['POST /activities', () => http().post(`${API}/activities`).send({ opportunity_id: f.dealRep2, type: 'call', subject: 'Poach' })],
      ['PATCH /activities/{id}', () => http().patch(`${API}/activities/${f.activityRep2}`).send({ status: 'completed' })],
      ['POST …/notes', () => http().post(`${OPPS}/${f.dealRep2}/notes`).send({ content: 'Not mine' })],
      ['POST …/convert-to-customer', () => http().post(`${OPPS}/${f.prospectRep2}/convert-to-customer`).send({})],
    ] as [string, () => Test][])("on someone else's deal: %s → 403, nothing changes", async (_label, send) => {
      const before = await snapshot();
      const res = await send().set(bearer(tok.rep));
      expect(res.status).toBe(403);
      expect(res.body).toMatchObject({ message: 'Reps can change only opportunities assigned to them', code: 'forbidden' });
      expect(await snapshot()).toEqual(before);
      expect((await getDeal(t, tok.rep, f.prospectRep2)).body.data.customer_id).toBeNull();
    });

    it('bulk over a mix of deals → success for its own, 403 per id for the others', async () => {
      const before = await Promise.all([f.dealRep1b, f.dealRep2, f.prospectRep2].map(async (id) => (await readStream(t, org, id)).length));
      const res = await http()
        .post(`${OPPS}/bulk-actions`)
        .set(bearer(tok.rep))
        .send({
          action: 'update_close_date',
          opportunity_ids: [f.dealRep1b, f.dealRep2, f.prospectRep2],
          parameters: { expected_close_date: '2027-09-30' },
        });
      expect(res.status).toBe(200);
      expect(res.body.message).toBe('Bulk action partially completed');
      expect(res.body.data).toMatchObject({ total: 3, succeeded: 1, failed: 2 });
      expect(res.body.data.results).toEqual([
        expect.objectContaining({ id: f.dealRep1b, status: 'success', version: before[0] + 1 }),
        {
          id: f.dealRep2,
          status: 'error',
          http_status: 403,
          code: 'forbidden',
          message: 'Reps can change only opportunities assigned to them',
        },
        {
          id: f.prospectRep2,
          status: 'error',
          http_status: 403,
          code: 'forbidden',
          message: 'Reps can change only opportunities assigned to them',
        },
      ]);
      expect((await getDeal(t, tok.rep, f.dealRep1b)).body.data.expected_close_date).toBe('2027-09-30');
      expect((await getDeal(t, tok.rep, f.dealRep2)).body.data.expected_close_date).toBe('2027-06-30');
      const after = await Promise.all([f.dealRep1b, f.dealRep2, f.prospectRep2].map(async (id) => (await readStream(t, org, id)).length));
      expect(after).toEqual([before[0] + 1, before[1], before[2]]);
    });

    it('bulk assign of its own deal to someone else → 403 for that id', async () => {
      const res = await http()
        .post(`${OPPS}/bulk-actions`)
        .set(bearer(tok.rep))
        .send({ action: 'assign', opportunity_ids: [f.dealRep1b], parameters: { user_id: 'rep_2' } });
      expect(res.status).toBe(422); // no deal took the action
      expect(res.body.data.results).toEqual([
        {
          id: f.dealRep1b,
          status: 'error',
          http_status: 403,
          code: 'forbidden',
          message: 'Reps cannot assign opportunities to other users',
        },
      ]);
      expect((await getDeal(t, tok.rep, f.dealRep1b)).body.data.assigned_user_id).toBe('rep_1');
    });

    it.each([...ADMIN_WRITES, ...CATEGORY_WRITES])('cannot configure: %s → 403, nothing changes', async (_label, send) => {
      await expectForbiddenAndNothingChanged(send, tok.rep);
    });

    it('cannot list tokens or webhooks; can read pipelines and categories', async () => {
      expect((await http().get(`${API}/tokens`).set(bearer(tok.rep))).status).toBe(403);
      expect((await http().get(`${API}/webhooks`).set(bearer(tok.rep))).status).toBe(403);
      expect((await http().get(`${API}/pipelines`).set(bearer(tok.rep))).status).toBe(200);
      expect((await http().get(`${API}/categories`).set(bearer(tok.rep))).status).toBe(200);
    });
  });

  describe('manager', () => {
    it("writes any deal of the org: activity, note, completing a rep's activity, convert on a rep's prospect", async () => {
      const act = await http()
        .post(`${API}/activities`)
        .set(bearer(tok.manager))
        .send({ opportunity_id: f.dealRep2, type: 'call', subject: 'Coaching call' });
      expect(act.status).toBe(201);
      const note = await http().post(`${OPPS}/${f.dealRep2}/notes`).set(bearer(tok.manager)).send({ content: 'Manager note' });
      expect(note.status).toBe(201);
      const done = await http().patch(`${API}/activities/${f.activityRep2}`).set(bearer(tok.manager)).send({ status: 'completed' });
      expect(done.status).toBe(200);
      const conv = await http().post(`${OPPS}/${f.prospectRep2b}/convert-to-customer`).set(bearer(tok.manager)).send({});
      expect(conv.status).toBe(200);
      expect(conv.body.data.customer).toMatchObject({ company_name: 'Prospect Three', email: 'jane@example.com' });
      // The deal stays with its owner.
      expect((await getDeal(t, tok.manager, f.prospectRep2b)).body.data).toMatchObject({
        assigned_user_id: 'rep_2',
        customer_id: conv.body.data.customer_id,
      });
    });

    it('reassigns: POST assign, PATCH assigned_user_id and bulk assign', async () => {
      const a = await deal('rep_1');
      const b = await deal('rep_2');
      const c = await deal('rep_2');
      const assign = await http().post(`${OPPS}/${a}/assign`).set(bearer(tok.manager)).send({ user_id: 'rep_2', reason: 'Coverage' });
      expect(assign.status).toBe(200);
      expect(assign.body.data).toMatchObject({ assigned_user_id: 'rep_2', previous_owner_id: 'rep_1' });
      const patch = await http().patch(`${OPPS}/${b}`).set(bearer(tok.manager)).send({ assigned_user_id: 'rep_1' });
      expect(patch.status).toBe(200);
      expect(patch.body.data.assigned_user_id).toBe('rep_1');
      const bulk = await http()
        .post(`${OPPS}/bulk-actions`)
        .set(bearer(tok.manager))
        .send({ action: 'assign', opportunity_ids: [a, c], parameters: { user_id: 'mgr_1' } });
      expect(bulk.status).toBe(200);
      expect(bulk.body.data).toMatchObject({ total: 2, succeeded: 2, failed: 0 });
      for (const id of [a, c]) expect((await getDeal(t, tok.manager, id)).body.data.assigned_user_id).toBe('mgr_1');
      // The new owner may now change b; the old one may not.
      expect((await http().patch(`${OPPS}/${b}`).set(bearer(tok.rep)).send({ next_step: 'mine now' })).status).toBe(200);
      expect((await http().patch(`${OPPS}/${b}`).set(bearer(tok.rep2)).send({ next_step: 'not mine' })).status).toBe(403);
    });

    it.each(ADMIN_WRITES)('cannot configure: %s → 403, nothing changes', async (_label, send) => {
      await expectForbiddenAndNothingChanged(send, tok.manager);
    });

    it('cannot list tokens or webhooks (403)', async () => {
      expect((await http().get(`${API}/tokens`).set(bearer(tok.manager))).status).toBe(403);
      expect((await http().get(`${API}/webhooks`).set(bearer(tok.manager))).status).toBe(403);
    });

    it('manages categories: create, update, delete', async () => {
      const created = await http()
        .post(`${API}/categories`)
        .set(bearer(tok.manager))
        .send({ name: 'Manager category', color: '#3b82f6', sort_order: 3 });
      expect(created.status).toBe(201);
      const updated = await http().patch(`${API}/categories/${created.body.data.id}`).set(bearer(tok.manager)).send({ is_active: false });
      expect(updated.status).toBe(200);
      expect(updated.body.data).toMatchObject({ name: 'Manager category', is_active: false });
      expect((await http().delete(`${API}/categories/${created.body.data.id}`).set(bearer(tok.manager))).status).toBe(204);
      const list = await http().get(`${API}/categories`).set(bearer(tok.manager));
      expect(list.body.data.map((x: { name: string }) => x.name)).toEqual(['Fixture category']);
    });
  });

  describe('admin', () => {
    it('configures pipelines: create, update, add stage, loss reasons, delete', async () => {
      const create = await http()
        .post(`${API}/pipelines`)
        .set(bearer(tok.admin))
        .send({ ...PIPELINE_BODY, id: 'admin_made' });
      expect(create.status).toBe(201);
      expect((await http().patch(`${API}/pipelines/admin_made`).set(bearer(tok.admin)).send({ name: 'Admin Made' })).status).toBe(200);
      expect(
        (
          await http()
            .post(`${API}/pipelines/admin_made/stages`)
            .set(bearer(tok.admin))
            .send({ name: 'Review', display_order: 4, probability: 50 })
        ).status,
      ).toBe(201);
      expect(
        (
          await http()
            .put(`${API}/pipelines/admin_made/loss-reasons`)
            .set(bearer(tok.admin))
            .send({ loss_reasons: ['price', 'timing'] })
        ).status,
      ).toBe(200);
      expect((await http().delete(`${API}/pipelines/admin_made`).set(bearer(tok.admin))).status).toBe(204);
      const events = await t.app.get(EventStore).readStream(`pipeline-${org}-admin_made`);
      expect(events.map((e) => [e.type, e.metadata.actor_id, e.metadata.actor_role])).toEqual([
        ['PipelineCreated', 'admin_1', 'admin'],
        ['PipelineUpdated', 'admin_1', 'admin'],
        ['StageAdded', 'admin_1', 'admin'],
        ['LossReasonsSet', 'admin_1', 'admin'],
        ['PipelineDeleted', 'admin_1', 'admin'],
      ]);
    });

    it('configures webhooks: create (secret shown once), list, update, delete', async () => {
      const create = await http()
        .post(`${API}/webhooks`)
        .set(bearer(tok.admin))
        .send({ url: 'http://127.0.0.1:9/hooks/admin', event_types: ['opportunity.won', 'opportunity.lost'], description: 'Admin hook' });
      expect(create.status).toBe(201);
      expect(create.body.data.secret).toMatch(/^whsec_/);
      const id = create.body.data.id;
      const list = await http().get(`${API}/webhooks`).set(bearer(tok.admin));
      expect(list.status).toBe(200);
      const listed = list.body.data.find((w: { id: string }) => w.id === id);
      expect(listed).toMatchObject({ url: 'http://127.0.0.1:9/hooks/admin', event_types: ['opportunity.won', 'opportunity.lost'] });
      expect(JSON.stringify(list.body)).not.toContain(create.body.data.secret);
      const patch = await http().patch(`${API}/webhooks/${id}`).set(bearer(tok.admin)).send({ enabled: false });
      expect(patch.status).toBe(200);
      expect(patch.body.data.enabled).toBe(false);
      expect((await http().delete(`${API}/webhooks/${id}`).set(bearer(tok.admin))).status).toBe(204);
      expect((await http().get(`${API}/webhooks/${id}`).set(bearer(tok.admin))).status).toBe(404);
    });

    it('tokens: POST /tokens → a token that works with its role; GET /tokens never shows a value or hash; DELETE → 401', async () => {
      const minted = await http()
        .post(`${API}/tokens`)
        .set(bearer(tok.admin))
        .send({ user_id: 'rep_9', role: 'rep', label: 'ci pipeline' });
      expect(minted.status).toBe(201);
      expect(minted.body.data).toMatchObject({ user_id: 'rep_9', role: 'rep' });
      const { id, token } = minted.body.data as { id: string; token: string };
      expect(token).toEqual(expect.any(String));
      expect(token.length).toBeGreaterThanOrEqual(32);

      // It works, in this org, as a rep.
      const list = await http().get(OPPS).set(bearer(token));
      expect(list.status).toBe(200);
      expect(list.body.meta.total).toBe((await http().get(OPPS).set(bearer(tok.admin))).body.meta.total);
      const created = await http()
        .post(OPPS)
        .set(bearer(token))
        .send({ name: 'CI deal', customer_id: 568, value: 1, expected_close_date: '2027-01-31' });
      expect(created.status).toBe(201);
      expect(created.body.data).toMatchObject({ assigned_user_id: 'rep_9', created_by: 'rep_9' });
      expect((await http().post(`${API}/pipelines`).set(bearer(token)).send(PIPELINE_BODY)).status).toBe(403);

      // Listing shows metadata only.
      const tokens = await http().get(`${API}/tokens`).set(bearer(tok.admin));
      expect(tokens.status).toBe(200);
      const row = tokens.body.data.find((x: { id: string }) => x.id === id);
      expect(row).toMatchObject({ id, user_id: 'rep_9', role: 'rep', label: 'ci pipeline', revoked_at: null });
      for (const r of tokens.body.data)
        expect(Object.keys(r).sort()).toEqual(['created_at', 'id', 'label', 'revoked_at', 'role', 'user_id']);
      const raw = JSON.stringify(tokens.body);
      expect(raw).not.toContain(token);
      expect(raw).not.toContain(createHash('sha256').update(token).digest('hex'));
      for (const other of Object.values(tok)) expect(raw).not.toContain(other);

      // Revoked: the token is refused at once.
      const del = await http().delete(`${API}/tokens/${id}`).set(bearer(tok.admin));
      expect(del.status).toBe(204);
      const refused = await http().get(OPPS).set(bearer(token));
      expect(refused.status).toBe(401);
      expect(refused.body.code).toBe('unauthenticated');
      const after = await http().get(`${API}/tokens`).set(bearer(tok.admin));
      expect(after.body.data.find((x: { id: string }) => x.id === id).revoked_at).toEqual(expect.any(String));
      expect((await http().delete(`${API}/tokens/${id}`).set(bearer(tok.admin))).status).toBe(404);
      expect((await http().delete(`${API}/tokens/${randomUUID()}`).set(bearer(tok.admin))).status).toBe(404);
    });

    it('tokens: bad role → 400; an admin cannot revoke its own token; another org cannot see or revoke them', async () => {
      const bad = await http().post(`${API}/tokens`).set(bearer(tok.admin)).send({ user_id: 'x', role: 'superuser' });
      expect(bad.status).toBe(400);
      expect(Object.keys(bad.body.errors)).toEqual(['role']);
      const rows = (await http().get(`${API}/tokens`).set(bearer(tok.admin))).body.data as { id: string; user_id: string }[];
      const own = rows.find((r) => r.user_id === 'admin_1')!;
      const self = await http().delete(`${API}/tokens/${own.id}`).set(bearer(tok.admin));
      expect(self.status).toBe(400);
      expect((await http().get(OPPS).set(bearer(tok.admin))).status).toBe(200);
      const otherAdmin = await t.token(uniqueOrg('roles_ac_other'), 'admin_x', 'admin');
      const theirs = await http().get(`${API}/tokens`).set(bearer(otherAdmin));
      expect(theirs.body.data.map((r: { user_id: string }) => r.user_id)).toEqual(['admin_x']);
      const steal = await http().delete(`${API}/tokens/${f.spareToken}`).set(bearer(otherAdmin));
      expect(steal.status).toBe(404);
      const mine = (await http().get(`${API}/tokens`).set(bearer(tok.admin))).body.data.find((r: { id: string }) => r.id === f.spareToken);
      expect(mine.revoked_at).toBeNull();
    });
  });
});
