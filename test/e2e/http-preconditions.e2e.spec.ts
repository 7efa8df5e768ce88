import { bearer, dealBody, describeEachBackend, OPPS, uniqueOrg, useTestApp, useTokens } from '../support/test-app';

/** A well-formed id no deal has. */
const UNKNOWN_ID = '3f6c2b1e-9a4d-4c1b-8e2f-0a1b2c3d4e5f';

describeEachBackend('If-Match by RFC 9110 (%s)', (backend) => {
  const t = useTestApp(backend);
  const org = uniqueOrg('ifmatch');
  const tokens = useTokens(t, { manager: [org, 'mgr_1', 'manager'] });
  const create = async () => {
    const res = await t.http().post(OPPS).set(bearer(tokens.manager)).send(dealBody()).expect(201);
    return res.body.data.id as string;
  };
  const version = async (id: string) => (await t.http().get(`${OPPS}/${id}`).set(bearer(tokens.manager)).expect(200)).headers.etag;

  it('a weak ETag never matches (strong comparison): 412, and nothing is appended', async () => {
    const id = await create();
    const before = await t.countEvents(org);
    const res = await t.http().patch(`${OPPS}/${id}`).set(bearer(tokens.manager)).set('If-Match', 'W/"1"').send({ next_step: 'weak' });
    expect(res.status).toBe(412);
    expect(res.body).toMatchObject({ code: 'precondition_failed', message: expect.stringContaining('weak ETag (W/"1") never matches') });
    expect(await t.countEvents(org)).toBe(before);
    expect(await version(id)).toBe('"1"');
  });

  it('If-Match: * matches the current version, whatever it is', async () => {
    const id = await create();
    await t.http().post(`${OPPS}/${id}/stage/next`).set(bearer(tokens.manager)).send({}).expect(200);
    const res = await t.http().patch(`${OPPS}/${id}`).set(bearer(tokens.manager)).set('If-Match', '*').send({ next_step: 'any' });
    expect(res.status).toBe(200);
    expect(res.headers.etag).toBe('"3"');
  });

  it('If-Match: * on a deal that does not exist is still a 404', async () => {
    const res = await t.http().patch(`${OPPS}/${UNKNOWN_ID}`).set(bearer(tokens.manager)).set('If-Match', '*').send({ next_step: 'none' });
    expect(res.status).toBe(404);
    expect(res.body).toMatchObject({ code: 'not_found' });
  });
});
