import { describeEachBackend, useTestApp, useTokens } from '../support/test-app';
import { API, bearer, createDeal, dealBody, OPPS, uniqueOrg } from './helpers';

/** Edges found by an adversarial run: each answered clearly, none changing anything it should not. */
describeEachBackend('request edges (%s)', (backend) => {
  const t = useTestApp(backend);
  const org = uniqueOrg('edges');
  const tok = useTokens(t, { manager: [org, 'mgr_1', 'manager'] });

  beforeAll(async () => {
    for (let i = 0; i < 5; i++) await createDeal(t, tok.manager, { name: `Edge ${i}`, custom_fields: { region: 'emea' } });
  });

  const http = () => t.http();
  const auth = () => bearer(tok.manager);
  /** Events of this org in the log, on any event store. */
  const eventCount = () => t.countEvents(org);

  it.each([['cf___proto__'], ['cf_constructor'], ['cf_toString']])('%s=v is a filter like any other: it matches no deal', async (param) => {
    const all = await http().get(`${OPPS}?per_page=1`).set(auth());
    expect(all.body.meta.total).toBe(5);
    const res = await http().get(`${OPPS}?${param}=v&per_page=1`).set(auth());
    expect(res.status).toBe(200);
    expect(res.body.meta.total).toBe(0);
    expect(res.body.data).toEqual([]);
  });

  it('a custom-field filter still matches', async () => {
    const res = await http().get(`${OPPS}?cf_region=emea&per_page=1`).set(auth());
    expect(res.body.meta.total).toBe(5);
  });

  it.each([
    ['text/plain', 'name=x'],
    ['application/x-www-form-urlencoded', 'name=x&value=1'],
    ['multipart/form-data; boundary=b', '--b\r\nContent-Disposition: form-data; name="name"\r\n\r\nx\r\n--b--'],
  ])('a %s body is 415, nothing appended', async (type, body) => {
    const before = await eventCount();
    const res = await http().post(OPPS).set(auth()).set('Content-Type', type).send(body);
    expect(res.status).toBe(415);
    expect(res.body).toMatchObject({ code: 'unsupported_media_type' });
    expect(res.body.message).toMatch(/Content-Type must be application\/json/);
    expect(await eventCount()).toBe(before);
  });

  it('a JSON body with a charset, and a command with no body at all, still work', async () => {
    const created = await http()
      .post(OPPS)
      .set(auth())
      .set('Content-Type', 'application/json; charset=utf-8')
      .send(JSON.stringify(dealBody({ name: 'Charset' })));
    expect(created.status).toBe(201);
    const next = await http().post(`${OPPS}/${created.body.data.id}/stage/next`).set(auth());
    expect(next.status).toBe(200);
  });

  it('past the last page meta.from and meta.to are null, as for an empty result', async () => {
    const res = await http().get(`${OPPS}?per_page=2`).set(auth());
    expect(res.status).toBe(200);
    const total = res.body.meta.total as number;
    const beyond = await http()
      .get(`${OPPS}?per_page=2&page=${Math.ceil(total / 2) + 1}`)
      .set(auth());
    expect(beyond.body.data).toEqual([]);
    expect(beyond.body.meta).toMatchObject({ from: null, to: null, total });
    const last = await http()
      .get(`${OPPS}?per_page=2&page=${Math.ceil(total / 2)}`)
      .set(auth());
    expect(last.body.meta.from).toBeLessThanOrEqual(last.body.meta.to);
    expect(last.body.meta.to).toBe(total);
  });

  it('a bulk action no deal took is 422 with every per-id result; one success is 200', async () => {
    const lost = (await createDeal(t, tok.manager, { name: 'Lost one' })).id;
    expect((await http().post(`${OPPS}/${lost}/lose`).set(auth()).send({ loss_reason: 'price' })).status).toBe(200);
    const none = await http()
      .post(`${OPPS}/bulk-actions`)
      .set(auth())
      .send({ action: 'update_close_date', opportunity_ids: [lost, 'not-a-uuid'], parameters: { expected_close_date: '2031-01-31' } });
    expect(none.status).toBe(422);
    expect(none.body).toMatchObject({ message: 'Bulk action failed for every opportunity', code: 'bulk_action_failed' });
    expect(none.body.data).toMatchObject({ total: 2, succeeded: 0, failed: 2 });
    expect(none.body.data.results.map((r: { http_status: number }) => r.http_status)).toEqual([422, 400]);

    const open = (await createDeal(t, tok.manager, { name: 'Open one' })).id;
    const some = await http()
      .post(`${OPPS}/bulk-actions`)
      .set(auth())
      .send({ action: 'update_close_date', opportunity_ids: [lost, open], parameters: { expected_close_date: '2031-01-31' } });
    expect(some.status).toBe(200);
    expect(some.body.data).toMatchObject({ succeeded: 1, failed: 1 });
  });

  describe('category_id names one of the org’s categories', () => {
    let own: string;
    let foreign: string;
    beforeAll(async () => {
      const mine = await http().post(`${API}/categories`).set(auth()).send({ name: 'Mine' });
      expect(mine.status).toBe(201);
      own = mine.body.data.id;
      const otherToken = await t.token(uniqueOrg('edges_other'), 'mgr_9', 'manager');
      const theirs = await http().post(`${API}/categories`).set(bearer(otherToken)).send({ name: 'Theirs' });
      foreign = theirs.body.data.id;
    });

    it.each([
      ['unknown', () => '3f6c2b1e-9a4d-4c1b-8e2f-0a1b2c3d4e5f'],
      ['another org’s', () => foreign],
      ['not an id of any category', () => 'cat-42'],
    ])('%s category on create and PATCH → 400 on category_id, nothing appended', async (_label, id) => {
      const before = await eventCount();
      const created = await http()
        .post(OPPS)
        .set(auth())
        .send(dealBody({ category_id: id() }));
      expect(created.status).toBe(400);
      expect(Object.keys(created.body.errors)).toEqual(['category_id']);
      const deal = (await createDeal(t, tok.manager)).id;
      const mid = await eventCount();
      const patched = await http().patch(`${OPPS}/${deal}`).set(auth()).send({ category_id: id() });
      expect(patched.status).toBe(400);
      expect(Object.keys(patched.body.errors)).toEqual(['category_id']);
      expect(await eventCount()).toBe(mid);
      expect(mid).toBe(before + 1);
    });

    it('its own category is accepted, and null clears it', async () => {
      const created = await http()
        .post(OPPS)
        .set(auth())
        .send(dealBody({ category_id: own }));
      expect(created.status).toBe(201);
      expect(created.body.data.category_id).toBe(own);
      const cleared = await http().patch(`${OPPS}/${created.body.data.id}`).set(auth()).send({ category_id: null });
      expect(cleared.status).toBe(200);
    });
  });

  it.each([[['']], [['  ']], [['ok', '']]])('tags %j → 400 on tags, nothing appended', async (tags) => {
    const before = await eventCount();
    const res = await http().post(OPPS).set(auth()).send(dealBody({ tags }));
    expect(res.status).toBe(400);
    expect(res.body.errors.tags).toContain('tags must not contain an empty tag');
    expect(await eventCount()).toBe(before);
  });
});
