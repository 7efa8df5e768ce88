import { ProjectionRunner } from '@app/read-models';
import { describeEachBackend, useTestApp, useTokens } from '../support/test-app';
import { API, bearer, OPPS, uniqueOrg } from './helpers';
import { appendDeal, Clock, idFactory, maxPosition } from './read-fixtures';

/**
 * Read-your-writes (consistency tokens), org isolation of every read, and the user / customer
 * directories (validation, duplicates, roles).
 */
const c = new Clock();

describeEachBackend('consistency, isolation and directories (%s)', (backend) => {
  const t = useTestApp(backend);
  const orgA = uniqueOrg('rcona');
  const orgB = uniqueOrg('rconb');
  const tok = useTokens(t, {
    admin: [orgA, 'admin_a', 'admin'],
    manager: [orgA, 'mgr_a', 'manager'],
    rep: [orgA, 'rep_a', 'rep'],
    viewer: [orgA, 'viewer_a', 'viewer'],
    otherOrg: [orgB, 'mgr_b', 'manager'],
  });
  const http = () => t.http();

  async function createDeal(token: string, body: Record<string, unknown> = {}) {
    const res = await http()
      .post(OPPS)
      .set(bearer(token))
      .send({ name: 'Consistency Deal', customer_id: 42, value: 1000, expected_close_date: c.day(30), ...body });
    expect(res.status).toBe(201);
    return { id: res.body.data.id as string, position: res.headers['x-global-position'] as string };
  }

  describe('consistency tokens', () => {
    it('GET /opportunities/{id}?consistency=<X-Global-Position of the last command> returns the new state', async () => {
      const { id } = await createDeal(tok.manager);
      const patch = await http().patch(`${OPPS}/${id}`).set(bearer(tok.manager)).send({ value: 2500, next_step: 'Call back' });
      expect(patch.status).toBe(200);
      const position = patch.headers['x-global-position'];
      expect(position).toMatch(/^\d+$/);
      const res = await http().get(`${OPPS}/${id}?consistency=${position}`).set(bearer(tok.manager));
      expect(res.status).toBe(200);
      expect(res.headers['x-consistency']).toBe('reached');
      expect(BigInt(res.headers['x-projection-position'])).toBeGreaterThanOrEqual(BigInt(position));
      expect(res.headers.etag).toBe('"2"');
      // 2,500 × 10 % (prospecting) = 250
      expect(res.body.data).toMatchObject({ id, value: 2500, weighted_value: 250, next_step: 'Call back', version: 2 });
    });

    it('the X-Consistency-Token header works like ?consistency=', async () => {
      const { id } = await createDeal(tok.manager);
      const next = await http().post(`${OPPS}/${id}/stage/next`).set(bearer(tok.manager)).send({});
      const res = await http().get(`${OPPS}/${id}`).set(bearer(tok.manager)).set('X-Consistency-Token', next.headers['x-global-position']);
      expect(res.status).toBe(200);
      expect(res.headers['x-consistency']).toBe('reached');
      expect(res.body.data).toMatchObject({ stage: 'qualification', probability: 25 });
    });

    it('events appended straight to the store are visible once the token position is reached (list and detail)', async () => {
      const id = idFactory();
      let last = '0';
      for (let n = 1; n <= 20; n++) {
        last = maxPosition(
          last,
          await appendDeal(t, orgA, {
            id: id(n),
            name: `Bulk ${n}`,
            customer_id: 'bulk',
            stage: 'prospecting',
            probability: 10,
            value_minor: 100 * n,
            expected_close_date: c.day(10),
            assigned_user_id: 'mgr_a',
            created_at: c.at(-1),
            tags: ['bulk-load'],
          }),
        );
      }
      const list = await http().get(`${OPPS}?tags=bulk-load&per_page=100&consistency=${last}`).set(bearer(tok.manager));
      expect(list.status).toBe(200);
      expect(list.headers['x-consistency']).toBe('reached');
      expect(list.body.meta.total).toBe(20);
      // 1.00 + 2.00 + … + 20.00 = 20 × 21 / 2 = 210.00
      expect(list.body.summary.total_value).toBe(210);
      const detail = await http()
        .get(`${OPPS}/${id(20)}?consistency=${last}`)
        .set(bearer(tok.manager));
      expect(detail.body.data).toMatchObject({ name: 'Bulk 20', value: 20 });
    });

    it('without a token, a GET right after a command still sees it (read-your-writes within the org)', async () => {
      const { id } = await createDeal(tok.manager, { tags: ['ryw'] });
      const lose = await http().post(`${OPPS}/${id}/lose`).set(bearer(tok.manager)).send({ loss_reason: 'timing' });
      expect(lose.status).toBe(200);
      const detail = await http().get(`${OPPS}/${id}`).set(bearer(tok.viewer)); // another user of the same org
      expect(detail.body.data).toMatchObject({ stage: 'lost', status: 'lost', loss_reason: 'timing' });
      const list = await http().get(`${OPPS}?tags=ryw&status=lost`).set(bearer(tok.manager));
      expect(list.body.data.map((d: { id: string }) => d.id)).toEqual([id]);
    });

    it('analytics endpoints accept the token too', async () => {
      const { position } = await createDeal(tok.manager);
      for (const path of ['/pipeline-data', '/forecast', '/forecast/monthly', '/stats', '/pipeline-summary', '']) {
        const res = await http().get(`${OPPS}${path}?consistency=${position}`).set(bearer(tok.manager));
        expect({ path, status: res.status, consistency: res.headers['x-consistency'] }).toEqual({
          path,
          status: 200,
          consistency: 'reached',
        });
      }
    });

    it('a deleted deal is gone once its delete position is reached', async () => {
      const { id } = await createDeal(tok.manager, { tags: ['to-delete'] });
      const del = await http().delete(`${OPPS}/${id}`).set(bearer(tok.manager));
      expect(del.status).toBe(204);
      const position = del.headers['x-global-position'];
      expect((await http().get(`${OPPS}/${id}?consistency=${position}`).set(bearer(tok.manager))).status).toBe(404);
      const list = await http().get(`${OPPS}?tags=to-delete&consistency=${position}`).set(bearer(tok.manager));
      expect(list.body.meta.total).toBe(0);
    });

    it.each([
      ['abc', 'consistency=abc'],
      ['negative', 'consistency=-1'],
      ['decimal', 'consistency=1.5'],
      ['empty', 'consistency='],
    ])('a malformed token (%s) → 400 with errors.consistency', async (_label, query) => {
      const { id } = await createDeal(tok.manager);
      const res = await http().get(`${OPPS}/${id}?${query}`).set(bearer(tok.manager));
      expect(res.status).toBe(400);
      expect(res.body.code).toBe('validation_failed');
      expect(res.body.errors.consistency).toEqual([expect.any(String)]);
    });

    it('a malformed X-Consistency-Token header → 400', async () => {
      const res = await http().get(OPPS).set(bearer(tok.manager)).set('X-Consistency-Token', 'latest');
      expect(res.status).toBe(400);
      expect(res.body.errors.consistency).toBeDefined();
    });

    it('the wait is bounded: with the projector stopped a query answers "behind" (header and meta.consistency), then "reached" once it runs', async () => {
      const runner = t.app.get(ProjectionRunner);
      const { id: existing, position: created } = await createDeal(tok.manager, { tags: ['paused'] });
      // the creation is in the read model before the projector stops
      expect((await http().get(`${OPPS}/${existing}?consistency=${created}`).set(bearer(tok.manager))).headers['x-consistency']).toBe(
        'reached',
      );
      await runner.stop();
      let position: string;
      try {
        const patch = await http().patch(`${OPPS}/${existing}`).set(bearer(tok.manager)).send({ value: 4321 });
        expect(patch.status).toBe(200);
        position = patch.headers['x-global-position'];
        const started = Date.now();
        const res = await http().get(`${OPPS}?tags=paused&consistency=${position}`).set(bearer(tok.manager));
        const elapsed = Date.now() - started;
        expect(res.status).toBe(200);
        expect(res.headers['x-consistency']).toBe('behind');
        expect(elapsed).toBeLessThan(10_000); // bounded (CONSISTENCY_TIMEOUT_MS, 2 s by default)
        expect(res.body.meta.consistency).toMatchObject({ requested_position: position, reached: false });
        expect(res.body.meta.consistency.behind_by).toBeGreaterThanOrEqual(1);
        expect(BigInt(res.body.meta.consistency.projection_position)).toBeLessThan(BigInt(position));
        expect(res.body.data[0].value).toBe(1000); // the stale row, flagged as such
      } finally {
        await runner.start();
      }
      const after = await http().get(`${OPPS}?tags=paused&consistency=${position!}`).set(bearer(tok.manager));
      expect(after.headers['x-consistency']).toBe('reached');
      expect(after.body.meta).not.toHaveProperty('consistency');
      expect(after.body.data[0].value).toBe(4321);
    });

    it('a position that does not exist → 400 (on detail, list and analytics)', async () => {
      const { id } = await createDeal(tok.manager);
      for (const path of [`/${id}`, '', '/stats']) {
        const res = await http().get(`${OPPS}${path}?consistency=99999999999`).set(bearer(tok.manager));
        expect({ path, status: res.status }).toEqual({ path, status: 400 });
        expect(res.body.errors.consistency).toEqual(['no event has this position']);
      }
    });
  });

  describe('org isolation', () => {
    let dealId: string;
    let position: string;

    beforeAll(async () => {
      const r = await createDeal(tok.manager, {
        name: 'Secret Isolation Deal',
        stage: 'verbal_commitment',
        value: 123456,
        expected_close_date: c.day(1),
        tags: ['secret'],
        custom_fields: { codename: 'falcon' },
        follow_up_date: c.day(-1),
      });
      dealId = r.id;
      const won = await http().post(`${OPPS}/${dealId}/win`).set(bearer(tok.manager)).send({ actual_value: 130000 });
      expect(won.status).toBe(200);
      position = won.headers['x-global-position'];
      const other = await createDeal(tok.manager, {
        name: 'Secret Open Deal',
        stage: 'proposal',
        value: 5000,
        tags: ['secret'],
        follow_up_date: c.day(-1),
      });
      position = maxPosition(position, other.position);
    });

    it("another org's token gets 404 for this org's deal, even with this org's consistency token", async () => {
      const res = await http().get(`${OPPS}/${dealId}?consistency=${position}`).set(bearer(tok.otherOrg));
      expect(res.status).toBe(404);
      expect(res.body).toMatchObject({ code: 'not_found' });
      expect(JSON.stringify(res.body)).not.toContain('Secret');
    });

    it("another org's commands on this org's deal → 404", async () => {
      const res = await http().patch(`${OPPS}/${dealId}`).set(bearer(tok.otherOrg)).send({ next_step: 'x' });
      expect(res.status).toBe(404);
    });

    it('lists never show another org’s rows, whatever the filter', async () => {
      for (const query of [
        '',
        'tags=secret',
        'search=secret',
        'cf_codename=falcon',
        'status=won',
        'needs_follow_up=true',
        'customer_id=42',
        'assigned_user_id=mgr_a',
      ]) {
        const res = await http().get(`${OPPS}?${query}&consistency=${position}`).set(bearer(tok.otherOrg));
        expect({ query, status: res.status, total: res.body.meta?.total, data: res.body.data }).toEqual({
          query,
          status: 200,
          total: 0,
          data: [],
        });
      }
    });

    it('analytics of an org with no deals are empty', async () => {
      const q = `consistency=${position}`;
      const pipeline = await http().get(`${OPPS}/pipeline-data?${q}`).set(bearer(tok.otherOrg));
      expect(pipeline.body.data.summary).toMatchObject({
        total_opportunities: 0,
        total_pipeline_value: 0,
        total_weighted_value: 0,
        win_rate: null,
      });
      expect(pipeline.body.data.other_currencies).toEqual([]);
      const forecast = await http().get(`${OPPS}/forecast?${q}`).set(bearer(tok.otherOrg));
      expect(forecast.body.data.forecast_categories).toMatchObject({
        pipeline: { count: 0, value: 0 },
        closed_won: { count: 0, value: 0 },
      });
      expect(forecast.body.data.expected_revenue).toBe(0);
      const monthly = await http().get(`${OPPS}/forecast/monthly?${q}`).set(bearer(tok.otherOrg));
      expect(monthly.body.data.months).toEqual([]);
      const stats = await http().get(`${OPPS}/stats?${q}`).set(bearer(tok.otherOrg));
      expect(stats.body.data).toMatchObject({
        total: 0,
        total_value: 0,
        weighted_value: 0,
        needs_follow_up: 0,
        counts: { won: 0, proposal: 0 },
      });
      const summary = await http().get(`${OPPS}/pipeline-summary?${q}`).set(bearer(tok.otherOrg));
      expect(summary.body.data).toMatchObject({ total_deals: 0, total_value: 0, total_weighted_value: 0 });
    });

    it('… while this org sees its own deals in the same analytics', async () => {
      const stats = await http().get(`${OPPS}/stats?consistency=${position}`).set(bearer(tok.manager));
      expect(stats.body.data.counts.won).toBeGreaterThanOrEqual(1);
      const list = await http().get(`${OPPS}?tags=secret&sort_by=name&sort_direction=asc`).set(bearer(tok.manager));
      expect(list.body.data.map((d: { name: string }) => d.name)).toEqual(['Secret Isolation Deal', 'Secret Open Deal']);
    });
  });

  describe('users directory', () => {
    const USERS = `${API}/users`;

    it('POST (admin) → 201 {id, name, email}', async () => {
      const res = await http().post(USERS).set(bearer(tok.admin)).send({ id: 'u_zoe', name: 'Zoe Zimmer', email: 'zoe@example.com' });
      expect(res.status).toBe(201);
      expect(res.body.message).toBe('User created successfully');
      expect(res.body.data).toMatchObject({ id: 'u_zoe', name: 'Zoe Zimmer', email: 'zoe@example.com' });
    });

    it('POST (manager) with an integer id → normalised to a string; email optional', async () => {
      const res = await http().post(USERS).set(bearer(tok.manager)).send({ id: 7, name: 'Jane Manager' });
      expect(res.status).toBe(201);
      expect(res.body.data).toMatchObject({ id: '7', name: 'Jane Manager', email: null });
    });

    it('a duplicate id → 409; the same id in another org is fine', async () => {
      await http().post(USERS).set(bearer(tok.admin)).send({ id: 'u_dup', name: 'First' });
      const dup = await http().post(USERS).set(bearer(tok.admin)).send({ id: 'u_dup', name: 'Second' });
      expect(dup.status).toBe(409);
      expect(dup.body.code).toBe('already_exists');
      const other = await http().post(USERS).set(bearer(tok.otherOrg)).send({ id: 'u_dup', name: 'Other org' });
      expect(other.status).toBe(201);
      const mine = await http().get(`${USERS}/u_dup`).set(bearer(tok.admin));
      expect(mine.body.data.name).toBe('First');
    });

    it.each([
      ['missing name', { id: 'u_x1' }, 'name'],
      ['empty name', { id: 'u_x2', name: '' }, 'name'],
      ['bad email', { id: 'u_x3', name: 'X', email: 'not-an-email' }, 'email'],
      ['id with a space', { id: 'u x', name: 'X' }, 'id'],
      ['missing id', { name: 'X' }, 'id'],
      ['unknown field', { id: 'u_x4', name: 'X', colour: 'blue' }, 'colour'],
    ])('POST with %s → 400', async (_label, body, field) => {
      const res = await http().post(USERS).set(bearer(tok.admin)).send(body);
      expect(res.status).toBe(400);
      expect(res.body.errors[field]).toEqual(expect.arrayContaining([expect.any(String)]));
    });

    it.each(['rep', 'viewer'] as const)('POST as %s → 403', async (role) => {
      const res = await http()
        .post(USERS)
        .set(bearer(tok[role]))
        .send({ id: `u_by_${role}`, name: 'Nope' });
      expect(res.status).toBe(403);
      expect(res.body.code).toBe('forbidden');
      expect((await http().get(`${USERS}/u_by_${role}`).set(bearer(tok.admin))).status).toBe(404);
    });

    it('GET list: own org only, ordered by name, paged, searchable; readable by every role', async () => {
      const org = uniqueOrg('rconu');
      const admin = await t.token(org, 'adm', 'admin');
      const viewer = await t.token(org, 'vw', 'viewer');
      for (const [id, name, email] of [
        ['u3', 'Carla', 'carla@x.io'],
        ['u1', 'Anna', 'anna@x.io'],
        ['u2', 'Bert', null],
      ] as const) {
        expect(
          (
            await http()
              .post(USERS)
              .set(bearer(admin))
              .send({ id, name, ...(email ? { email } : {}) })
          ).status,
        ).toBe(201);
      }
      const all = await http().get(USERS).set(bearer(viewer));
      expect(all.status).toBe(200);
      expect(all.body.data.map((u: { id: string }) => u.id)).toEqual(['u1', 'u2', 'u3']);
      expect(all.body.meta).toMatchObject({ current_page: 1, per_page: 25, total: 3, last_page: 1 });
      const page2 = await http().get(`${USERS}?per_page=2&page=2`).set(bearer(viewer));
      expect(page2.body.data.map((u: { id: string }) => u.id)).toEqual(['u3']);
      expect(page2.body.meta).toMatchObject({ current_page: 2, per_page: 2, total: 3, last_page: 2 });
      const search = await http().get(`${USERS}?search=ANNA`).set(bearer(viewer));
      expect(search.body.data.map((u: { id: string }) => u.id)).toEqual(['u1']);
      expect((await http().get(`${USERS}?per_page=101`).set(bearer(viewer))).status).toBe(400);
      expect((await http().get(`${USERS}?colour=blue`).set(bearer(viewer))).status).toBe(400);
    });

    it('GET by id: 200; unknown → 404; another org’s user → 404; malformed id → 400', async () => {
      expect((await http().get(`${USERS}/u_zoe`).set(bearer(tok.viewer))).body.data).toMatchObject({ id: 'u_zoe', name: 'Zoe Zimmer' });
      expect((await http().get(`${USERS}/u_nobody`).set(bearer(tok.admin))).status).toBe(404);
      expect((await http().get(`${USERS}/u_zoe`).set(bearer(tok.otherOrg))).status).toBe(404);
      const bad = await http().get(`${USERS}/bad%20id`).set(bearer(tok.admin));
      expect(bad.status).toBe(400);
      expect(bad.body.errors.id).toBeDefined();
    });

    it('PATCH (manager) renames; the new name shows on deals the user owns', async () => {
      await http().post(USERS).set(bearer(tok.admin)).send({ id: 'u_ren', name: 'Old Name', email: 'old@example.com' });
      const { id } = await createDeal(tok.manager, { assigned_user_id: 'u_ren' });
      const res = await http().patch(`${USERS}/u_ren`).set(bearer(tok.manager)).send({ name: 'New Name' });
      expect(res.status).toBe(200);
      expect(res.body.message).toBe('User updated successfully');
      expect(res.body.data).toMatchObject({ id: 'u_ren', name: 'New Name', email: 'old@example.com' });
      const emailOnly = await http().patch(`${USERS}/u_ren`).set(bearer(tok.admin)).send({ email: 'new@example.com' });
      expect(emailOnly.body.data).toMatchObject({ name: 'New Name', email: 'new@example.com' });
      const deal = await http().get(`${OPPS}/${id}`).set(bearer(tok.manager));
      expect(deal.body.data.assigned_user).toEqual({ id: 'u_ren', name: 'New Name', email: 'new@example.com' });
    });

    it.each([
      ['empty name', { name: '' }, 'name'],
      ['bad email', { email: 'nope' }, 'email'],
      ['unknown field', { id: 'u_other' }, 'id'],
    ])('PATCH with %s → 400', async (_label, body, field) => {
      const res = await http().patch(`${USERS}/u_zoe`).set(bearer(tok.admin)).send(body);
      expect(res.status).toBe(400);
      expect(res.body.errors[field]).toBeDefined();
    });

    it('PATCH {"name": null} → 400 (name is required), never a 500, and nothing changes', async () => {
      const res = await http().patch(`${USERS}/u_zoe`).set(bearer(tok.admin)).send({ name: null });
      expect(res.status).toBe(400);
      expect(res.body.errors.name).toBeDefined();
      expect((await http().get(`${USERS}/u_zoe`).set(bearer(tok.admin))).body.data.name).toBe('Zoe Zimmer');
    });

    it('GET list with an absurd page number → 200 empty or 400, never a 500', async () => {
      const res = await http().get(`${USERS}?page=100000000000000000&per_page=100`).set(bearer(tok.admin));
      expect([200, 400]).toContain(res.status);
    });

    it('PATCH an unknown user → 404; another org’s user → 404', async () => {
      expect((await http().patch(`${USERS}/u_nobody`).set(bearer(tok.admin)).send({ name: 'X' })).status).toBe(404);
      expect((await http().patch(`${USERS}/u_zoe`).set(bearer(tok.otherOrg)).send({ name: 'Hijack' })).status).toBe(404);
      expect((await http().get(`${USERS}/u_zoe`).set(bearer(tok.admin))).body.data.name).toBe('Zoe Zimmer');
    });

    it.each(['rep', 'viewer'] as const)('PATCH as %s → 403 and nothing changes', async (role) => {
      const res = await http().patch(`${USERS}/u_zoe`).set(bearer(tok[role])).send({ name: 'Changed' });
      expect(res.status).toBe(403);
      expect((await http().get(`${USERS}/u_zoe`).set(bearer(tok.admin))).body.data.name).toBe('Zoe Zimmer');
    });
  });

  describe('customers directory', () => {
    const CUSTOMERS = `${API}/customers`;

    it('POST (rep may) with an integer id → {id, customer_number CUST-000568, company_name, email}', async () => {
      const res = await http()
        .post(CUSTOMERS)
        .set(bearer(tok.rep))
        .send({ id: 568, company_name: 'Acme Corporation', email: 'contact@acmecorp.com' });
      expect(res.status).toBe(201);
      expect(res.body.message).toBe('Customer created successfully');
      expect(res.body.data).toMatchObject({
        id: '568',
        customer_number: 'CUST-000568',
        company_name: 'Acme Corporation',
        email: 'contact@acmecorp.com',
      });
    });

    it('POST without an id → an id is generated', async () => {
      const res = await http().post(CUSTOMERS).set(bearer(tok.manager)).send({ company_name: 'No Id Ltd' });
      expect(res.status).toBe(201);
      expect(res.body.data.id).toEqual(expect.any(String));
      expect(res.body.data.id.length).toBeGreaterThan(0);
      expect(res.body.data.customer_number).toEqual(expect.any(String));
      expect((await http().get(`${CUSTOMERS}/${res.body.data.id}`).set(bearer(tok.manager))).body.data.company_name).toBe('No Id Ltd');
    });

    it('a duplicate id or customer_number → 409; the same ones in another org are fine', async () => {
      expect(
        (await http().post(CUSTOMERS).set(bearer(tok.admin)).send({ id: 'c_one', customer_number: 'NUM-1', company_name: 'One' })).status,
      ).toBe(201);
      const dupId = await http().post(CUSTOMERS).set(bearer(tok.admin)).send({ id: 'c_one', company_name: 'Again' });
      expect(dupId.status).toBe(409);
      expect(dupId.body.code).toBe('already_exists');
      const dupNumber = await http()
        .post(CUSTOMERS)
        .set(bearer(tok.admin))
        .send({ id: 'c_two', customer_number: 'NUM-1', company_name: 'Two' });
      expect(dupNumber.status).toBe(409);
      expect((await http().get(`${CUSTOMERS}/c_two`).set(bearer(tok.admin))).status).toBe(404);
      const other = await http()
        .post(CUSTOMERS)
        .set(bearer(tok.otherOrg))
        .send({ id: 'c_one', customer_number: 'NUM-1', company_name: 'Other org' });
      expect(other.status).toBe(201);
      expect((await http().get(`${CUSTOMERS}/c_one`).set(bearer(tok.admin))).body.data.company_name).toBe('One');
    });

    it.each([
      ['missing company_name', { id: 'c_x1' }, 'company_name'],
      ['empty company_name', { id: 'c_x2', company_name: '' }, 'company_name'],
      ['bad email', { company_name: 'X', email: 'x@' }, 'email'],
      ['id with a slash', { id: 'a/b', company_name: 'X' }, 'id'],
      ['unknown field', { company_name: 'X', phone: '123' }, 'phone'],
    ])('POST with %s → 400', async (_label, body, field) => {
      const res = await http().post(CUSTOMERS).set(bearer(tok.admin)).send(body);
      expect(res.status).toBe(400);
      expect(res.body.errors[field]).toEqual(expect.arrayContaining([expect.any(String)]));
    });

    it('POST as viewer → 403', async () => {
      const res = await http().post(CUSTOMERS).set(bearer(tok.viewer)).send({ id: 'c_viewer', company_name: 'Nope' });
      expect(res.status).toBe(403);
      expect((await http().get(`${CUSTOMERS}/c_viewer`).set(bearer(tok.admin))).status).toBe(404);
    });

    it('GET list: own org only, ordered by company name, searchable by name, email and number', async () => {
      const org = uniqueOrg('rconc');
      const admin = await t.token(org, 'adm', 'admin');
      for (const body of [
        { id: 'k3', company_name: 'Cyan Corp', email: 'hi@cyan.io' },
        { id: 'k1', company_name: 'Amber Inc', customer_number: 'AMB-77' },
        { id: 'k2', company_name: 'Beige LLC' },
      ]) {
        expect((await http().post(CUSTOMERS).set(bearer(admin)).send(body)).status).toBe(201);
      }
      const all = await http().get(CUSTOMERS).set(bearer(admin));
      expect(all.body.data.map((x: { id: string }) => x.id)).toEqual(['k1', 'k2', 'k3']);
      expect(all.body.meta).toMatchObject({ total: 3, last_page: 1 });
      expect((await http().get(`${CUSTOMERS}?search=cyan.io`).set(bearer(admin))).body.data.map((x: { id: string }) => x.id)).toEqual([
        'k3',
      ]);
      expect((await http().get(`${CUSTOMERS}?search=amb-7`).set(bearer(admin))).body.data.map((x: { id: string }) => x.id)).toEqual(['k1']);
      expect((await http().get(`${CUSTOMERS}?search=%25`).set(bearer(admin))).body.data).toEqual([]); // a literal %, not a wildcard
    });

    it('GET by id: another org → 404; malformed id → 400', async () => {
      expect((await http().get(`${CUSTOMERS}/568`).set(bearer(tok.viewer))).status).toBe(200);
      expect((await http().get(`${CUSTOMERS}/568`).set(bearer(tok.otherOrg))).status).toBe(404);
      expect((await http().get(`${CUSTOMERS}/bad%20id`).set(bearer(tok.admin))).status).toBe(400);
    });

    it('PATCH (rep may) updates; the change shows in includes=customer', async () => {
      expect(
        (await http().post(CUSTOMERS).set(bearer(tok.admin)).send({ id: 'c_patch', customer_number: 'CP-1', company_name: 'Before' }))
          .status,
      ).toBe(201);
      const { id } = await createDeal(tok.manager, { customer_id: 'c_patch' });
      const res = await http()
        .patch(`${CUSTOMERS}/c_patch`)
        .set(bearer(tok.rep))
        .send({ company_name: 'After', email: 'after@example.com' });
      expect(res.status).toBe(200);
      expect(res.body.message).toBe('Customer updated successfully');
      expect(res.body.data).toMatchObject({ id: 'c_patch', company_name: 'After', email: 'after@example.com', customer_number: 'CP-1' });
      const deal = await http().get(`${OPPS}/${id}?includes=customer`).set(bearer(tok.manager));
      expect(deal.body.data.customer).toEqual({
        id: 'c_patch',
        customer_number: 'CP-1',
        company_name: 'After',
        email: 'after@example.com',
      });
    });

    it('PATCH customer_number onto an existing one → 409 and nothing changes', async () => {
      await http().post(CUSTOMERS).set(bearer(tok.admin)).send({ id: 'c_p1', customer_number: 'P-1', company_name: 'P1' });
      await http().post(CUSTOMERS).set(bearer(tok.admin)).send({ id: 'c_p2', customer_number: 'P-2', company_name: 'P2' });
      const res = await http().patch(`${CUSTOMERS}/c_p2`).set(bearer(tok.admin)).send({ customer_number: 'P-1' });
      expect(res.status).toBe(409);
      expect(res.body.code).toBe('already_exists');
      expect((await http().get(`${CUSTOMERS}/c_p2`).set(bearer(tok.admin))).body.data.customer_number).toBe('P-2');
    });

    it.each([
      ['empty company_name', { company_name: '' }, 'company_name'],
      ['bad email', { email: 'nope' }, 'email'],
      ['unknown field', { id: 'c_new' }, 'id'],
    ])('PATCH with %s → 400', async (_label, body, field) => {
      const res = await http().patch(`${CUSTOMERS}/568`).set(bearer(tok.admin)).send(body);
      expect(res.status).toBe(400);
      expect(res.body.errors[field]).toBeDefined();
    });

    it.each([
      ['company_name', { company_name: null }],
      ['customer_number', { customer_number: null }],
    ])('PATCH {"%s": null} → 400 (required field), never a 500, and nothing changes', async (field, body) => {
      const res = await http().patch(`${CUSTOMERS}/568`).set(bearer(tok.admin)).send(body);
      expect(res.status).toBe(400);
      expect(res.body.errors[field]).toBeDefined();
      expect((await http().get(`${CUSTOMERS}/568`).set(bearer(tok.admin))).body.data).toMatchObject({
        company_name: 'Acme Corporation',
        customer_number: 'CUST-000568',
      });
    });

    it('PATCH unknown → 404; another org → 404; viewer → 403', async () => {
      expect((await http().patch(`${CUSTOMERS}/c_nobody`).set(bearer(tok.admin)).send({ company_name: 'X' })).status).toBe(404);
      expect((await http().patch(`${CUSTOMERS}/568`).set(bearer(tok.otherOrg)).send({ company_name: 'Hijack' })).status).toBe(404);
      expect((await http().patch(`${CUSTOMERS}/568`).set(bearer(tok.viewer)).send({ company_name: 'Viewer' })).status).toBe(403);
      expect((await http().get(`${CUSTOMERS}/568`).set(bearer(tok.admin))).body.data.company_name).toBe('Acme Corporation');
    });
  });
});
