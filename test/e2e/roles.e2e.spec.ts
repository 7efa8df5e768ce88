import type { Test } from 'supertest';
import { describeEachBackend, useTestApp, useTokens } from '../support/test-app';
import { bearer, createDeal, dealBody, etagVersion, getDeal, OPPS, readStream, uniqueOrg } from './helpers';

const FORBIDDEN_CODE = 'forbidden';

describeEachBackend('roles (%s)', (backend) => {
  const t = useTestApp(backend);
  const org = uniqueOrg('roles');
  const tokens = useTokens(t, {
    admin: [org, 'admin_1', 'admin'],
    manager: [org, 'manager_1', 'manager'],
    rep: [org, 'rep_1', 'rep'],
    rep2: [org, 'rep_2', 'rep'],
    viewer: [org, 'viewer_1', 'viewer'],
  });

  const http = () => t.http();

  async function dealAt(steps: number, token: string, overrides: Record<string, unknown> = {}): Promise<string> {
    const { id } = await createDeal(t, token, overrides);
    for (let i = 0; i < steps; i++) {
      expect((await http().post(`${OPPS}/${id}/stage/next`).set(bearer(token)).send({})).status).toBe(200);
    }
    return id;
  }

  async function version(id: string): Promise<number> {
    const res = await getDeal(t, tokens.manager, id);
    expect(res.status).toBe(200);
    return etagVersion(res);
  }

  /** Every write endpoint, each with a body that would be valid for a deal in verbal_commitment. */
  const WRITES: [string, (id: string) => Test][] = [
    ['PATCH', (id) => http().patch(`${OPPS}/${id}`).send({ next_step: 'changed' })],
    ['PUT', (id) => http().put(`${OPPS}/${id}`).send({ next_step: 'changed' })],
    ['PATCH stage', (id) => http().patch(`${OPPS}/${id}/stage`).send({ stage: 'on_hold' })],
    ['stage/next', (id) => http().post(`${OPPS}/${id}/stage/next`).send({})],
    ['stage/previous', (id) => http().post(`${OPPS}/${id}/stage/previous`).send({ reason: 'recheck' })],
    ['win', (id) => http().post(`${OPPS}/${id}/win`).send({ actual_value: 1000 })],
    ['lose', (id) => http().post(`${OPPS}/${id}/lose`).send({ loss_reason: 'price' })],
    ['assign', (id) => http().post(`${OPPS}/${id}/assign`).send({ user_id: 'rep_1' })],
    ['DELETE', (id) => http().delete(`${OPPS}/${id}`)],
  ];

  describe('viewer', () => {
    let id: string;

    beforeAll(async () => {
      id = await dealAt(5, tokens.manager, { assigned_user_id: 'viewer_1' }); // even a deal "owned" by the viewer
    });

    it('can GET', async () => {
      const res = await getDeal(t, tokens.viewer, id);
      expect(res.status).toBe(200);
      expect(res.body.data).toMatchObject({ id, stage: 'verbal_commitment', assigned_user_id: 'viewer_1' });
    });

    it('cannot create → 403', async () => {
      const res = await http().post(OPPS).set(bearer(tokens.viewer)).send(dealBody());
      expect(res.status).toBe(403);
      expect(res.body).toMatchObject({ message: 'Viewers cannot change opportunities', code: FORBIDDEN_CODE });
    });

    it.each(WRITES)('%s → 403 and nothing is appended', async (_label, send) => {
      const before = await version(id);
      const res = await send(id).set(bearer(tokens.viewer));
      expect(res.status).toBe(403);
      expect(res.body).toMatchObject({ message: 'Viewers cannot change opportunities', code: FORBIDDEN_CODE });
      expect(await version(id)).toBe(before);
    });
  });

  describe('rep', () => {
    it('creates a deal; the owner defaults to the rep', async () => {
      const res = await http()
        .post(OPPS)
        .set(bearer(tokens.rep))
        .send(dealBody({ name: 'Rep deal' }));
      expect(res.status).toBe(201);
      expect(res.body.data).toMatchObject({ assigned_user_id: 'rep_1', assigned_user: { id: 'rep_1' }, created_by: 'rep_1' });
      const [created] = await readStream(t, org, res.body.data.id);
      expect(created.metadata).toMatchObject({ actor_id: 'rep_1', org_id: org, actor_role: 'rep' });
    });

    it('may name itself as owner on create, but not someone else (403)', async () => {
      const self = await http()
        .post(OPPS)
        .set(bearer(tokens.rep))
        .send(dealBody({ assigned_user_id: 'rep_1' }));
      expect(self.status).toBe(201);
      const other = await http()
        .post(OPPS)
        .set(bearer(tokens.rep))
        .send(dealBody({ assigned_user_id: 'rep_2' }));
      expect(other.status).toBe(403);
      expect(other.body).toMatchObject({ message: 'Reps cannot assign opportunities to other users', code: FORBIDDEN_CODE });
    });

    it('changes its own deal: PATCH, stage/next, previous, stage, lose', async () => {
      const id = await dealAt(0, tokens.rep);
      const patch = await http().patch(`${OPPS}/${id}`).set(bearer(tokens.rep)).send({ next_step: 'Discovery call', priority: 'high' });
      expect(patch.status).toBe(200);
      expect(patch.body.data).toMatchObject({ next_step: 'Discovery call', priority: 'high' });
      const next = await http().post(`${OPPS}/${id}/stage/next`).set(bearer(tokens.rep)).send({ notes: 'qualified' });
      expect(next.status).toBe(200);
      expect(next.body.data).toMatchObject({ stage: 'qualification', probability: 25 });
      const back = await http().post(`${OPPS}/${id}/stage/previous`).set(bearer(tokens.rep)).send({ reason: 'budget unclear' });
      expect(back.status).toBe(200);
      expect(back.body.data.stage).toBe('prospecting');
      const hold = await http().patch(`${OPPS}/${id}/stage`).set(bearer(tokens.rep)).send({ stage: 'on_hold' });
      expect(hold.status).toBe(200);
      const lose = await http().post(`${OPPS}/${id}/lose`).set(bearer(tokens.rep)).send({ loss_reason: 'no_decision' });
      expect(lose.status).toBe(200);
      expect(lose.body.data).toMatchObject({ stage: 'lost', loss_reason: 'no_decision' });
      expect(await version(id)).toBe(6);
    });

    it('wins and deletes its own deal', async () => {
      const id = await dealAt(5, tokens.rep);
      const win = await http().post(`${OPPS}/${id}/win`).set(bearer(tokens.rep)).send({ actual_value: 150000.5, close_date: '2026-11-01' });
      expect(win.status).toBe(200);
      expect(win.body.data).toMatchObject({ stage: 'won', value: 150000.5 });
      const other = await dealAt(0, tokens.rep);
      expect((await http().delete(`${OPPS}/${other}`).set(bearer(tokens.rep))).status).toBe(204);
    });

    it('assigning its own deal to itself is allowed (no change, nothing appended)', async () => {
      const id = await dealAt(0, tokens.rep);
      const res = await http().post(`${OPPS}/${id}/assign`).set(bearer(tokens.rep)).send({ user_id: 'rep_1' });
      expect(res.status).toBe(200);
      expect(res.headers.etag).toBe('"1"');
      expect(res.body.data).toMatchObject({ assigned_user_id: 'rep_1' });
    });

    describe('a deal assigned to someone else', () => {
      let id: string;

      beforeAll(async () => {
        id = await dealAt(5, tokens.manager, { assigned_user_id: 'rep_2' }); // verbal_commitment, owned by rep_2
      });

      it('can be read', async () => {
        const res = await getDeal(t, tokens.rep, id);
        expect(res.status).toBe(200);
        expect(res.body.data.assigned_user_id).toBe('rep_2');
      });

      it.each(WRITES.filter(([label]) => label !== 'assign'))('%s → 403 and nothing is appended', async (_label, send) => {
        const before = await version(id);
        const res = await send(id).set(bearer(tokens.rep));
        expect(res.status).toBe(403);
        expect(res.body).toMatchObject({ message: 'Reps can change only opportunities assigned to them', code: FORBIDDEN_CODE });
        expect(await version(id)).toBe(before);
      });

      it('taking it over by assigning it to itself → 403', async () => {
        const before = await version(id);
        const res = await http().post(`${OPPS}/${id}/assign`).set(bearer(tokens.rep)).send({ user_id: 'rep_1' });
        expect(res.status).toBe(403);
        expect(res.body).toMatchObject({ message: 'Reps can change only opportunities assigned to them', code: FORBIDDEN_CODE });
        expect(await version(id)).toBe(before);
      });
    });

    it('assigning its own deal to another user → 403 (assign and PATCH assigned_user_id)', async () => {
      const id = await dealAt(0, tokens.rep);
      const assign = await http().post(`${OPPS}/${id}/assign`).set(bearer(tokens.rep)).send({ user_id: 'rep_2' });
      expect(assign.status).toBe(403);
      expect(assign.body).toMatchObject({ message: 'Reps cannot assign opportunities to other users', code: FORBIDDEN_CODE });
      const patch = await http().patch(`${OPPS}/${id}`).set(bearer(tokens.rep)).send({ assigned_user_id: 'rep_2', next_step: 'x' });
      expect(patch.status).toBe(403);
      expect(patch.body.code).toBe(FORBIDDEN_CODE);
      expect(await version(id)).toBe(1);
      expect((await getDeal(t, tokens.rep, id)).body.data).toMatchObject({ assigned_user_id: 'rep_1', next_step: null });
    });

    it('loses the right to change a deal once it is reassigned away', async () => {
      const id = await dealAt(0, tokens.rep);
      const assign = await http().post(`${OPPS}/${id}/assign`).set(bearer(tokens.manager)).send({ user_id: 'rep_2' });
      expect(assign.status).toBe(200);
      const res = await http().patch(`${OPPS}/${id}`).set(bearer(tokens.rep)).send({ next_step: 'x' });
      expect(res.status).toBe(403);
      const owner = await http().patch(`${OPPS}/${id}`).set(bearer(tokens.rep2)).send({ next_step: 'x' });
      expect(owner.status).toBe(200);
    });
  });

  describe('manager', () => {
    it("changes any deal in the org (a rep's deal): PATCH, stage, next, win", async () => {
      const id = await dealAt(3, tokens.rep); // proposal, owned by rep_1, version 4
      const patch = await http().patch(`${OPPS}/${id}`).set(bearer(tokens.manager)).send({ value: 175000, probability: 65 });
      expect(patch.status).toBe(200);
      // 175,000.00 × 65% = 113,750.00
      expect(patch.body.data).toMatchObject({ value: 175000, probability: 65, weighted_value: 113750, probability_is_override: true });
      const next = await http().post(`${OPPS}/${id}/stage/next`).set(bearer(tokens.manager)).send({});
      expect(next.status).toBe(200);
      // The override is dropped at the next stage change.
      expect(next.body.data).toMatchObject({ stage: 'negotiation', probability: 75, previous_stage: 'proposal' });
      const stage = await http().patch(`${OPPS}/${id}/stage`).set(bearer(tokens.manager)).send({ stage: 'verbal_commitment' });
      expect(stage.status).toBe(200);
      const win = await http().post(`${OPPS}/${id}/win`).set(bearer(tokens.manager)).send({});
      expect(win.status).toBe(200);
      expect(win.body.data).toMatchObject({ stage: 'won', probability: 100, value: 175000 });
      const events = await readStream(t, org, id);
      expect(events.map((e) => e.metadata.actor_id)).toEqual([
        'rep_1',
        'rep_1',
        'rep_1',
        'rep_1',
        'manager_1',
        'manager_1',
        'manager_1',
        'manager_1',
      ]);
      // The deal stays with its owner.
      expect((await getDeal(t, tokens.manager, id)).body.data.assigned_user_id).toBe('rep_1');
    });

    it('reassigns: the response carries previous_owner_id and assigned_at', async () => {
      const id = await dealAt(1, tokens.rep);
      const before = Date.now();
      const res = await http()
        .post(`${OPPS}/${id}/assign`)
        .set(bearer(tokens.manager))
        .send({ user_id: 'rep_2', reason: 'Reassigning to enterprise specialist', notify: true });
      const after = Date.now();
      expect(res.status).toBe(200);
      expect(res.body.message).toBe('Opportunity assigned successfully');
      expect(res.body.data).toMatchObject({
        id,
        assigned_user_id: 'rep_2',
        assigned_user: { id: 'rep_2' },
        previous_owner_id: 'rep_1',
      });
      expect(res.body.data.assigned_at).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/);
      const at = Date.parse(res.body.data.assigned_at);
      expect(at).toBeGreaterThanOrEqual(before - 1000);
      expect(at).toBeLessThanOrEqual(after + 1000);
      expect(res.headers.etag).toBe('"3"');

      const last = (await readStream(t, org, id)).at(-1)!;
      expect(last).toMatchObject({
        type: 'OpportunityAssigned',
        streamVersion: 3,
        data: { user_id: 'rep_2', previous_owner_id: 'rep_1', reason: 'Reassigning to enterprise specialist', notify: true },
        metadata: { actor_id: 'manager_1', org_id: org },
      });

      // A second reassignment reports the new previous owner; integers are accepted as ids.
      const again = await http().post(`${OPPS}/${id}/assign`).set(bearer(tokens.manager)).send({ user_id: 9 });
      expect(again.status).toBe(200);
      expect(again.body.data).toMatchObject({ assigned_user_id: '9', previous_owner_id: 'rep_2' });
    });

    it('creates a deal for another user', async () => {
      const res = await http()
        .post(OPPS)
        .set(bearer(tokens.manager))
        .send(dealBody({ assigned_user_id: 'rep_2' }));
      expect(res.status).toBe(201);
      expect(res.body.data).toMatchObject({ assigned_user_id: 'rep_2', created_by: 'manager_1' });
    });

    it("cannot touch another org's deal (404)", async () => {
      const otherOrg = uniqueOrg('roles_other');
      const otherManager = await t.token(otherOrg, 'manager_1', 'manager');
      const id = await dealAt(0, tokens.rep);
      const res = await http().post(`${OPPS}/${id}/assign`).set(bearer(otherManager)).send({ user_id: 'manager_1' });
      expect(res.status).toBe(404);
      expect(await version(id)).toBe(1);
    });
  });

  describe('admin', () => {
    it('changes any deal in the org', async () => {
      const id = await dealAt(0, tokens.rep);
      const res = await http().patch(`${OPPS}/${id}`).set(bearer(tokens.admin)).send({ next_step: 'admin touch' });
      expect(res.status).toBe(200);
      const assign = await http().post(`${OPPS}/${id}/assign`).set(bearer(tokens.admin)).send({ user_id: 'manager_1' });
      expect(assign.status).toBe(200);
      expect(assign.body.data).toMatchObject({ assigned_user_id: 'manager_1', previous_owner_id: 'rep_1' });
    });
  });
});
