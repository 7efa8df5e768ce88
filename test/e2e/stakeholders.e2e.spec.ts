import { describeEachBackend, useTestApp, useTokens } from '../support/test-app';
import { API, bearer, OPPS, streamLength, uniqueOrg } from './helpers';

/**
 * Contacts (a directory like users and customers) and the deals they are stakeholders of: a create
 * that names them, adding one with a role, changing the role, removing it; the detail and the list
 * return full contact records with `includes=stakeholders`; `?contact_id=` lists a contact's deals;
 * history and `as_of` show who was involved when. A contact of another org, or unknown, is a 400
 * naming the field, and nothing is appended.
 */

const CONTACTS = `${API}/contacts`;

describeEachBackend('contacts and stakeholders (%s)', (backend) => {
  const t = useTestApp(backend);
  const org = uniqueOrg('stake');
  const other = uniqueOrg('stake_other');
  const tokens = useTokens(t, {
    admin: [org, 'admin_1', 'admin'],
    manager: [org, 'mgr_1', 'manager'],
    viewer: [org, 'viewer_1', 'viewer'],
    outsider: [other, 'mgr_9', 'manager'],
  });
  const as = (who: keyof typeof tokens) => bearer(tokens[who]);

  let dana: string;
  let lee: string;
  let sam: string;
  let foreign: string;
  let dealId: string;

  async function contact(who: keyof typeof tokens, body: Record<string, unknown>) {
    const res = await t.http().post(CONTACTS).set(as(who)).send(body);
    expect(res.status).toBe(201);
    return res.body.data as { id: string } & Record<string, unknown>;
  }

  beforeAll(async () => {
    dana = (
      await contact('manager', { first_name: 'Dana', last_name: 'Cole', email: 'dana@acme.test', title: 'CFO', customer_id: 'cust_1' })
    ).id;
    lee = (await contact('manager', { first_name: 'Lee', last_name: 'Park', phone: '+1 (555) 010-2000', customer_id: 'cust_1' })).id;
    sam = (await contact('manager', { id: 'sam-it', first_name: 'Sam', last_name: 'Ito', title: 'IT lead' })).id;
    foreign = (await contact('outsider', { first_name: 'Outside', last_name: 'Person' })).id;
  });

  describe('the contact directory', () => {
    it('lists the org’s contacts by name, searchable and by customer; reads and updates one', async () => {
      const all = await t.http().get(CONTACTS).set(as('manager'));
      expect(all.status).toBe(200);
      expect(all.body.data.map((c: { first_name: string }) => c.first_name)).toEqual(['Dana', 'Sam', 'Lee']); // by last name: Cole, Ito, Park
      expect(all.body.meta).toMatchObject({ total: 3, current_page: 1 });
      const atCustomer = await t.http().get(`${CONTACTS}?customer_id=cust_1`).set(as('manager'));
      expect(atCustomer.body.data.map((c: { id: string }) => c.id).sort()).toEqual([dana, lee].sort());
      const found = await t.http().get(`${CONTACTS}?search=cfo`).set(as('manager'));
      expect(found.body.data.map((c: { id: string }) => c.id)).toEqual([dana]);

      const one = await t.http().get(`${CONTACTS}/${sam}`).set(as('viewer'));
      expect(one.status).toBe(200);
      expect(one.body.data).toMatchObject({
        id: 'sam-it',
        first_name: 'Sam',
        last_name: 'Ito',
        title: 'IT lead',
        email: null,
        customer_id: null,
      });
      const patched = await t.http().patch(`${CONTACTS}/${sam}`).set(as('manager')).send({ title: 'CTO', email: 'sam@acme.test' });
      expect(patched.status).toBe(200);
      expect(patched.body.data).toMatchObject({ title: 'CTO', email: 'sam@acme.test', first_name: 'Sam' });
    });

    it('keeps organisations apart and refuses bad input with a 400 naming the field', async () => {
      expect((await t.http().get(`${CONTACTS}/${foreign}`).set(as('manager'))).status).toBe(404);
      expect((await t.http().patch(`${CONTACTS}/${foreign}`).set(as('manager')).send({ title: 'x' })).status).toBe(404);
      for (const [body, field] of [
        [{ first_name: 'A', last_name: 'B', email: 'not-an-email' }, 'email'],
        [{ first_name: 'A' }, 'last_name'],
        [{ first_name: '   ', last_name: 'B' }, 'first_name'],
        [{ first_name: 'A', last_name: 'B', phone: 'call me' }, 'phone'],
        [{ first_name: 'A'.repeat(101), last_name: 'B' }, 'first_name'],
      ] as const) {
        const res = await t.http().post(CONTACTS).set(as('manager')).send(body);
        expect(res.status).toBe(400);
        expect(Object.keys(res.body.errors)).toEqual([field]);
      }
      expect((await t.http().post(CONTACTS).set(as('manager')).send({ id: 'sam-it', first_name: 'X', last_name: 'Y' })).status).toBe(409);
      expect((await t.http().post(CONTACTS).set(as('viewer')).send({ first_name: 'V', last_name: 'W' })).status).toBe(403);
      expect((await t.http().get(CONTACTS).set(as('manager'))).body.meta.total).toBe(3);
    });
  });

  describe('stakeholders on a deal', () => {
    it('a create names its stakeholders and gets them back as contact records with roles', async () => {
      const res = await t
        .http()
        .post(OPPS)
        .set(as('manager'))
        .send({
          name: 'Platform renewal',
          customer_id: 'cust_1',
          value: 50000,
          expected_close_date: '2031-03-31',
          stakeholders: [{ contact_id: dana, role: 'decision_maker' }],
          stakeholder_ids: [lee],
        });
      expect(res.status).toBe(201);
      dealId = res.body.data.id;
      expect(res.body.data.stakeholders).toEqual([
        expect.objectContaining({
          contact_id: dana,
          role: 'decision_maker',
          contact: expect.objectContaining({ first_name: 'Dana', title: 'CFO' }),
        }),
        expect.objectContaining({ contact_id: lee, role: 'other', contact: expect.objectContaining({ first_name: 'Lee' }) }),
      ]);
    });

    it('the detail shows them with includes=stakeholders, not without', async () => {
      const plain = await t.http().get(`${OPPS}/${dealId}`).set(as('manager'));
      expect(plain.body.data).not.toHaveProperty('stakeholders');
      const detail = await t.http().get(`${OPPS}/${dealId}?includes=stakeholders`).set(as('viewer'));
      expect(detail.status).toBe(200);
      expect(detail.body.data.stakeholders.map((s: { contact_id: string; role: string }) => [s.contact_id, s.role])).toEqual([
        [dana, 'decision_maker'],
        [lee, 'other'],
      ]);
      expect(detail.body.data.stakeholders[0].contact).toMatchObject({
        id: dana,
        last_name: 'Cole',
        email: 'dana@acme.test',
        customer_id: 'cust_1',
      });
    });

    it('adds one with a role, changes its role, and the same role again appends nothing', async () => {
      const added = await t.http().post(`${OPPS}/${dealId}/stakeholders`).set(as('manager')).send({ contact_id: sam, role: 'influencer' });
      expect(added.status).toBe(200);
      expect(added.body.data.stakeholders.map((s: { contact_id: string }) => s.contact_id)).toEqual([dana, lee, sam]);
      const changed = await t.http().post(`${OPPS}/${dealId}/stakeholders`).set(as('manager')).send({ contact_id: sam, role: 'champion' });
      expect(changed.body.data.stakeholders[2]).toMatchObject({ contact_id: sam, role: 'champion', contact: { title: 'CTO' } });
      const before = await streamLength(t, org, dealId);
      const again = await t.http().post(`${OPPS}/${dealId}/stakeholders`).set(as('manager')).send({ contact_id: sam, role: 'champion' });
      expect(again.status).toBe(200);
      expect(await streamLength(t, org, dealId)).toBe(before);
    });

    it('refuses another org’s contact, an unknown one and an unknown role, naming the field; appends nothing', async () => {
      const before = await streamLength(t, org, dealId);
      for (const [body, field] of [
        [{ contact_id: foreign, role: 'user' }, 'contact_id'],
        [{ contact_id: 'nobody', role: 'user' }, 'contact_id'],
        [{ contact_id: dana, role: 'boss' }, 'role'],
        [{ role: 'user' }, 'contact_id'],
      ] as const) {
        const res = await t.http().post(`${OPPS}/${dealId}/stakeholders`).set(as('manager')).send(body);
        expect(res.status).toBe(400);
        expect(Object.keys(res.body.errors)).toEqual([field]);
      }
      expect((await t.http().post(`${OPPS}/${dealId}/stakeholders`).set(as('viewer')).send({ contact_id: dana })).status).toBe(403);
      expect(await streamLength(t, org, dealId)).toBe(before);

      const creates = [
        [{ stakeholder_ids: [foreign] }, 'stakeholder_ids.0'],
        [{ stakeholders: [{ contact_id: dana }, { contact_id: 'ghost', role: 'user' }] }, 'stakeholders.1.contact_id'],
        [{ stakeholder_ids: [dana, dana] }, 'stakeholder_ids.1'],
      ] as const;
      const eventsBefore = await t.countEvents(org);
      for (const [extra, field] of creates) {
        const res = await t
          .http()
          .post(OPPS)
          .set(as('manager'))
          .send({ name: 'Refused', customer_id: 'cust_1', value: 1, expected_close_date: '2031-03-31', ...extra });
        expect(res.status).toBe(400);
        expect(Object.keys(res.body.errors)).toEqual([field]);
      }
      expect(await t.countEvents(org)).toBe(eventsBefore);
    });

    it('?contact_id= lists the deals a contact is on; the list returns records with includes=stakeholders', async () => {
      const other = await t
        .http()
        .post(OPPS)
        .set(as('manager'))
        .send({ name: 'Side deal', customer_id: 'cust_2', value: 10, expected_close_date: '2031-03-31', stakeholder_ids: [sam] });
      expect(other.status).toBe(201);
      const ofSam = await t
        .http()
        .get(`${OPPS}?contact_id=${sam}&includes=stakeholders&sort_by=name&sort_direction=asc`)
        .set(as('manager'));
      expect(ofSam.status).toBe(200);
      expect(ofSam.body.data.map((d: { name: string }) => d.name)).toEqual(['Platform renewal', 'Side deal']);
      expect(ofSam.body.meta.total).toBe(2);
      expect(ofSam.body.data[1].stakeholders).toEqual([
        expect.objectContaining({ contact_id: sam, role: 'other', contact: expect.objectContaining({ id: sam }) }),
      ]);
      const ofDana = await t.http().get(`${OPPS}?contact_id=${dana}`).set(as('manager'));
      expect(ofDana.body.data.map((d: { id: string }) => d.id)).toEqual([dealId]);
      expect(ofDana.body.data[0]).not.toHaveProperty('stakeholders');
      expect((await t.http().get(`${OPPS}?contact_id=${foreign}`).set(as('manager'))).body.meta.total).toBe(0);
    });

    it('removes one; removing it again is 404; history and as_of show who was involved when', async () => {
      const history0 = await t.http().get(`${OPPS}/${dealId}/history?per_page=100`).set(as('manager'));
      const beforeRemoval = history0.body.data.at(-1).recorded_at as string;
      const removed = await t.http().delete(`${OPPS}/${dealId}/stakeholders/${lee}`).set(as('manager'));
      expect(removed.status).toBe(200);
      expect(removed.body.data.stakeholders.map((s: { contact_id: string }) => s.contact_id)).toEqual([dana, sam]);
      expect((await t.http().delete(`${OPPS}/${dealId}/stakeholders/${lee}`).set(as('manager'))).status).toBe(404);
      const ofLee = await t.http().get(`${OPPS}?contact_id=${lee}`).set(as('manager'));
      expect(ofLee.body.meta.total).toBe(0);

      const history = await t.http().get(`${OPPS}/${dealId}/history?per_page=100`).set(as('manager'));
      expect(history.body.data.map((e: { type: string }) => e.type)).toEqual([
        'OpportunityCreated',
        'StakeholderAdded',
        'StakeholderAdded',
        'StakeholderAdded',
        'StakeholderRoleChanged',
        'StakeholderRemoved',
      ]);
      expect(history.body.data[4].data).toMatchObject({ contact_id: sam, role: 'champion', previous_role: 'influencer' });
      expect(history.body.data[5].data).toMatchObject({ contact_id: lee, role: 'other' });

      const then = await t
        .http()
        .get(`${OPPS}/${dealId}?includes=stakeholders&as_of=${encodeURIComponent(beforeRemoval)}`)
        .set(as('manager'));
      expect(then.status).toBe(200);
      expect(then.body.data.stakeholders.map((s: { contact_id: string }) => s.contact_id)).toEqual([dana, lee, sam]);
    });
  });

  it('the whole flow: stakeholders and typed custom fields on one deal, its detail, a number-range filter', async () => {
    const seats = await t.http().post(`${API}/custom-fields`).set(as('admin')).send({ key: 'seats', label: 'Seats', type: 'number' });
    expect(seats.status).toBe(201);
    const created = await t
      .http()
      .post(OPPS)
      .set(as('manager'))
      .send({
        name: 'Seats expansion',
        customer_id: 'cust_1',
        value: 12000,
        expected_close_date: '2031-06-30',
        stakeholders: [{ contact_id: dana, role: 'champion' }],
        custom_fields: { seats: 250 },
      });
    expect(created.status).toBe(201);
    const id = created.body.data.id as string;
    const refused = await t
      .http()
      .post(OPPS)
      .set(as('manager'))
      .send({ name: 'Bad seats', customer_id: 'cust_1', value: 1, expected_close_date: '2031-06-30', custom_fields: { seats: 'many' } });
    expect(refused.status).toBe(400);
    expect(Object.keys(refused.body.errors)).toEqual(['custom_fields.seats']);

    const detail = await t.http().get(`${OPPS}/${id}?includes=stakeholders`).set(as('manager'));
    expect(detail.status).toBe(200);
    expect(detail.body.data.stakeholders).toEqual([
      expect.objectContaining({
        contact_id: dana,
        role: 'champion',
        contact: expect.objectContaining({ first_name: 'Dana', last_name: 'Cole' }),
      }),
    ]);
    expect(detail.body.data.custom_field_definitions).toEqual([expect.objectContaining({ key: 'seats', type: 'number' })]);
    expect(detail.body.data.custom_fields).toEqual({ seats: 250 });

    const inRange = await t.http().get(`${OPPS}?cf_seats__gte=200&cf_seats__lte=300&contact_id=${dana}`).set(as('manager'));
    expect(inRange.body.data.map((d: { id: string }) => d.id)).toEqual([id]);
    const outOfRange = await t.http().get(`${OPPS}?cf_seats__gte=251`).set(as('manager'));
    expect(outOfRange.body.meta.total).toBe(0);
  });
});
