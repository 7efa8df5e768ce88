import { randomUUID } from 'node:crypto';
import { describeEachBackend, useTestApp } from '../support/test-app';
import { API, bearer, getDeal, ISO_INSTANT, OPPS, readStream, streamLength, uniqueOrg } from './helpers';
import { Clock } from './read-fixtures';

/**
 * A website lead from inquiry to customer: a prospect deal without a customer, assignment, a logged
 * call, follow-up stats, convert-to-customer and the win; then notes and categories.
 */

const c = new Clock();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describeEachBackend('lead workflow: a website lead to a customer, notes and categories (%s)', (backend) => {
  const t = useTestApp(backend);
  const http = () => t.http();

  /**
   * The lead's pipeline:
   *   open 10 · contacted 25 · qualified 50 · proposal 75 · won (is_won) · lost (is_lost); allow_skip.
   * The prospect deal: value 500.00 → weighted 50.00 at 10 %.
   */
  const org = uniqueOrg('leads');
  let admin: string;
  let token: string;
  const owner = 'mgr_4';
  const PIPELINE = 'website_leads';
  let dealId: string;
  let customerId: string;
  const PROSPECT = {
    name: 'Website Inquiry - Botox',
    prospect_name: 'Jane Doe',
    prospect_email: 'jane@example.com',
    prospect_phone: '+15551234567',
    source: 'website',
    description: 'Filled out inquiry form for Botox. First-time client.',
    value: 500,
  };

  const stats = () => http().get(`${OPPS}/stats?pipeline_id=${PIPELINE}`).set(bearer(token));

  beforeAll(async () => {
    admin = await t.token(org, 'admin_4', 'admin');
    token = await t.token(org, owner, 'manager');
  }, 60_000);

  it('creates the website-leads pipeline (open … proposal, won, lost; allow_skip)', async () => {
    const res = await http()
      .post(`${API}/pipelines`)
      .set(bearer(admin))
      .send({
        id: PIPELINE,
        name: 'Website Leads',
        stages: [
          { key: 'open', name: 'Open', display_order: 1, probability: 10 },
          { key: 'contacted', name: 'Contacted', display_order: 2, probability: 25 },
          { key: 'qualified', name: 'Qualified', display_order: 3, probability: 50 },
          { key: 'proposal', name: 'Proposal', display_order: 4, probability: 75 },
          { key: 'won', name: 'Won', display_order: 5, is_won: true },
          { key: 'lost', name: 'Lost', display_order: 6, is_lost: true },
        ],
        policy: { allow_skip: true },
      });
    expect(res.status).toBe(201);
    expect(res.body.data).toMatchObject({ id: PIPELINE, policy: { allow_skip: true, allow_backward: true } });
    expect(res.body.data.stages.map((s: { key: string }) => s.key)).toEqual(['open', 'contacted', 'qualified', 'proposal', 'won', 'lost']);
  });

  it('1. receives the inquiry: a prospect deal without customer_id, follow-up tomorrow', async () => {
    const res = await http()
      .post(OPPS)
      .set(bearer(token))
      .send({ ...PROSPECT, follow_up_date: c.day(1), pipeline_id: PIPELINE });
    expect(res.status).toBe(201);
    expect(res.body.data).toMatchObject({
      pipeline_id: PIPELINE,
      stage: 'open',
      probability: 10,
      value: 500,
      weighted_value: 50,
      customer_id: null,
      expected_close_date: null,
      prospect_name: 'Jane Doe',
      prospect_email: 'jane@example.com',
      prospect_phone: '+15551234567',
      source: 'website',
      description: PROSPECT.description,
      follow_up_date: c.day(1),
      assigned_user_id: owner,
    });
    dealId = res.body.data.id;
  });

  it('2. assigns it to sales staff with PATCH assigned_user_id', async () => {
    const res = await http().patch(`${OPPS}/${dealId}`).set(bearer(token)).send({ assigned_user_id: 'sales_staff_1' });
    expect(res.status).toBe(200);
    expect(res.body.data.assigned_user_id).toBe('sales_staff_1');
    expect((await readStream(t, org, dealId)).at(-1)).toMatchObject({
      type: 'OpportunityAssigned',
      data: { user_id: 'sales_staff_1', previous_owner_id: owner },
    });
  });

  it('3. logs the outreach call (activity_type call, outcome "Left voicemail")', async () => {
    const res = await http().post(`${API}/activities`).set(bearer(token)).send({
      opportunity_id: dealId,
      activity_type: 'call',
      description: 'Initial outreach call',
      outcome: 'Left voicemail',
    });
    expect(res.status).toBe(201);
    // Neither scheduled nor completed: an interaction that just happened.
    expect(res.body.data).toMatchObject({
      type: 'call',
      description: 'Initial outreach call',
      outcome: 'Left voicemail',
      status: 'completed',
    });
    const list = await http().get(`${OPPS}/${dealId}/activities`).set(bearer(token));
    expect(list.body.data).toHaveLength(1);
    expect(list.body.data[0]).toMatchObject({ id: res.body.data.id, outcome: 'Left voicemail', created_by: owner });
  });

  it('4. stats: needs_follow_up counts deals with follow_up_date ≤ today', async () => {
    const before = await stats();
    expect(before.status).toBe(200);
    expect(before.body.data).toMatchObject({
      counts: { open: 1, contacted: 0, qualified: 0, proposal: 0, won: 0, lost: 0 },
      total_value: 500,
      weighted_value: 50,
      needs_follow_up: 0, // follow-up is tomorrow
      total: 1,
    });
    const patch = await http().patch(`${OPPS}/${dealId}`).set(bearer(token)).send({ follow_up_date: c.today });
    expect(patch.status).toBe(200);
    const due = await stats();
    expect(due.body.data.needs_follow_up).toBe(1);
    const list = await http().get(`${OPPS}?needs_follow_up=true`).set(bearer(token));
    expect(list.body.data.map((d: { id: string }) => d.id)).toEqual([dealId]);
  });

  it('5. convert-to-customer: the customer exists, the deal is linked, an activity is logged', async () => {
    const res = await http().post(`${OPPS}/${dealId}/convert-to-customer`).set(bearer(token)).send({});
    expect(res.status).toBe(200);
    customerId = res.body.data.customer_id;
    expect(customerId).toEqual(expect.any(String));
    expect(res.body.data).toMatchObject({
      opportunity_id: dealId,
      customer: { id: customerId, company_name: 'Jane Doe', email: 'jane@example.com' },
      activity: { type: 'status_change', subject: 'Prospect converted to customer', status: 'completed' },
    });
    const customer = await http().get(`${API}/customers/${customerId}`).set(bearer(token));
    expect(customer.status).toBe(200);
    expect(customer.body.data).toMatchObject({ id: customerId, company_name: 'Jane Doe', email: 'jane@example.com' });
    const deal = await getDeal(t, token, dealId);
    expect(deal.body.data).toMatchObject({ customer_id: customerId, prospect_name: 'Jane Doe' });
    const withCustomer = await http().get(`${OPPS}/${dealId}?includes=customer`).set(bearer(token));
    expect(withCustomer.body.data.customer).toMatchObject({ id: customerId, company_name: 'Jane Doe' });
    const acts = await http().get(`${OPPS}/${dealId}/activities`).set(bearer(token));
    expect(acts.body.data.map((a: { type: string }) => a.type)).toEqual(['status_change', 'call']);
    expect(acts.body.data[0].subject).toBe('Prospect converted to customer');
    const tail = (await readStream(t, org, dealId)).slice(-2).map((e) => e.type);
    expect(tail).toEqual(['ProspectConverted', 'ActivityLogged']);
    // A second conversion is refused and creates nothing.
    const again = await http().post(`${OPPS}/${dealId}/convert-to-customer`).set(bearer(token)).send({});
    expect(again.status).toBe(409);
    const customers = await http().get(`${API}/customers`).set(bearer(token));
    expect(customers.body.meta.total).toBe(1);
  });

  it('6. qualifies straight from open (allow_skip) and closes won with POST /win', async () => {
    const qualify = await http()
      .patch(`${OPPS}/${dealId}/stage`)
      .set(bearer(token))
      .send({ stage: 'qualified', notes: 'Called back; ready to book' });
    expect(qualify.status).toBe(200);
    expect(qualify.body.data).toMatchObject({ stage: 'qualified', probability: 50, previous_stage: 'open' });
    const win = await http().post(`${OPPS}/${dealId}/win`).set(bearer(token)).send({ close_reason: 'Booked first treatment' });
    expect({ status: win.status, body: win.body }).toMatchObject({
      status: 200,
      body: { data: { stage: 'won', probability: 100, value: 500, actual_value: 500 } },
    });
    const s = await stats();
    expect(s.body.data).toMatchObject({
      counts: { open: 0, qualified: 0, won: 1 },
      total_value: 0,
      weighted_value: 0,
      needs_follow_up: 0,
      total: 1,
    });
  });

  it('notes: POST and GET /opportunities/{id}/notes (newest first, author and time)', async () => {
    const deal = await http()
      .post(OPPS)
      .set(bearer(token))
      .send({ name: 'Membership upgrade', customer_id: 'client_77', value: 1200, expected_close_date: c.day(20) });
    expect(deal.status).toBe(201);
    const noteDeal = deal.body.data.id;
    const before = Date.now();
    const first = await http()
      .post(`${OPPS}/${noteDeal}/notes`)
      .set(bearer(token))
      .send({ content: 'Called and left voicemail. Will try again tomorrow.' });
    expect(first.status).toBe(201);
    expect(first.body.data).toMatchObject({
      opportunity_id: noteDeal,
      content: 'Called and left voicemail. Will try again tomorrow.',
      created_by: owner,
    });
    await sleep(10);
    const second = await http()
      .post(`${OPPS}/${noteDeal}/notes`)
      .set(bearer(token))
      .send({ content: '  Spoke to client: wants the premium tier.  ' });
    expect(second.status).toBe(201);
    const after = Date.now();
    const list = await http().get(`${OPPS}/${noteDeal}/notes`).set(bearer(token));
    expect(list.status).toBe(200);
    expect(list.body.data.map((n: { id: string }) => n.id)).toEqual([second.body.data.id, first.body.data.id]);
    expect(list.body.data[0]).toMatchObject({ content: 'Spoke to client: wants the premium tier.', created_by: owner });
    for (const n of list.body.data) {
      expect(n.created_at).toMatch(ISO_INSTANT);
      expect(Date.parse(n.created_at)).toBeGreaterThanOrEqual(before - 1000);
      expect(Date.parse(n.created_at)).toBeLessThanOrEqual(after + 1000);
    }
    expect(list.body.meta).toMatchObject({ total: 2 });
    const events = await readStream(t, org, noteDeal);
    expect(events.slice(-2).map((e) => e.type)).toEqual(['NoteAdded', 'NoteAdded']);
    // Empty or blank content → 400, nothing appended.
    for (const content of ['', '   ']) {
      const bad = await http().post(`${OPPS}/${noteDeal}/notes`).set(bearer(token)).send({ content });
      expect(bad.status).toBe(400);
      expect(Object.keys(bad.body.errors)).toEqual(['content']);
    }
    expect(await streamLength(t, org, noteDeal)).toBe(3);
  });

  it('categories: CRUD, bad color → 400, duplicate name → 409', async () => {
    const CAT = `${API}/categories`;
    const botox = await http().post(CAT).set(bearer(token)).send({ name: 'Botox Inquiry', color: '#10b981' });
    expect(botox.status).toBe(201);
    expect(botox.body.data).toMatchObject({ name: 'Botox Inquiry', color: '#10b981', sort_order: 0, is_active: true });
    const membership = await http().post(CAT).set(bearer(token)).send({ name: 'Membership', color: '#3b82f6', sort_order: 2 });
    expect(membership.status).toBe(201);
    const renewal = await http().post(CAT).set(bearer(token)).send({ name: 'Renewal', sort_order: 1, is_active: false });
    expect(renewal.status).toBe(201);
    expect(renewal.body.data.color).toBeNull();

    const list = await http().get(CAT).set(bearer(token));
    expect(list.status).toBe(200);
    // sort_order, then name: Botox (0), Renewal (1), Membership (2)
    expect(list.body.data.map((x: { name: string }) => x.name)).toEqual(['Botox Inquiry', 'Renewal', 'Membership']);
    const active = await http().get(`${CAT}?is_active=true`).set(bearer(token));
    expect(active.body.data.map((x: { name: string }) => x.name)).toEqual(['Botox Inquiry', 'Membership']);

    const badColor = await http().post(CAT).set(bearer(token)).send({ name: 'Fillers', color: 'green' });
    expect(badColor.status).toBe(400);
    expect(Object.keys(badColor.body.errors)).toEqual(['color']);
    const duplicate = await http().post(CAT).set(bearer(token)).send({ name: 'Botox Inquiry', color: '#000000' });
    expect(duplicate.status).toBe(409);

    const patch = await http().patch(`${CAT}/${botox.body.data.id}`).set(bearer(token)).send({ color: '#f59e0b', sort_order: 5 });
    expect(patch.status).toBe(200);
    expect(patch.body.data).toMatchObject({ id: botox.body.data.id, name: 'Botox Inquiry', color: '#f59e0b', sort_order: 5 });
    const patchBadColor = await http().patch(`${CAT}/${botox.body.data.id}`).set(bearer(token)).send({ color: '#12345' });
    expect(patchBadColor.status).toBe(400);
    const rename = await http().patch(`${CAT}/${botox.body.data.id}`).set(bearer(token)).send({ name: 'Membership' });
    expect(rename.status).toBe(409);

    const del = await http().delete(`${CAT}/${renewal.body.data.id}`).set(bearer(token));
    expect(del.status).toBe(204);
    const after = await http().get(CAT).set(bearer(token));
    expect(after.body.data.map((x: { name: string }) => x.name)).toEqual(['Membership', 'Botox Inquiry']);
    expect((await http().delete(`${CAT}/${renewal.body.data.id}`).set(bearer(token))).status).toBe(404);
    expect((await http().patch(`${CAT}/${randomUUID()}`).set(bearer(token)).send({ name: 'x' })).status).toBe(404);
    // Another org does not see them.
    const otherOrgToken = await t.token(uniqueOrg('leads_b'), 'mgr_x', 'manager');
    expect((await http().get(CAT).set(bearer(otherOrgToken))).body.data).toEqual([]);
  });
});
