import type { Response } from 'supertest';
import { describeEachBackend, useTestApp, useTokens } from '../support/test-app';
import { API, bearer, createDeal, OPPS, uniqueOrg } from './helpers';

/**
 * Conditional GET (RFC 9110 §13.1.2, §13.2): If-None-Match is evaluated by the server whatever the
 * request's Cache-Control says (no-cache is what fetch and browsers send on a revalidation), with
 * the weak comparison, a comma list of tags and `*`. A match is a 304 with the ETag and no body;
 * only GET and HEAD of a resource with an ETag (a deal, a pipeline, the custom fields) are answered so.
 */

const UNKNOWN_ID = '3f6c2b1e-9a4d-4c1b-8e2f-0a1b2c3d4e5f';
const PIPES = `${API}/pipelines`;
const FIELDS = `${API}/custom-fields`;

function expectNotModified(res: Response, etag: string): void {
  expect(res.status).toBe(304);
  expect(res.headers.etag).toBe(etag);
  expect(res.text ?? '').toBe('');
  expect(res.headers['content-type']).toBeUndefined();
}

describeEachBackend('conditional GET with If-None-Match (%s)', (backend) => {
  const t = useTestApp(backend);
  const org = uniqueOrg('cond');
  const tok = useTokens(t, { manager: [org, 'mgr_c', 'manager'], admin: [org, 'admin_c', 'admin'] });
  const http = () => t.http();
  const auth = () => bearer(tok.manager);

  describe('a deal', () => {
    it('a matching If-None-Match is a 304 with Cache-Control: no-cache too (as fetch and browsers send it)', async () => {
      const { id } = await createDeal(t, tok.manager);
      const plain = await http().get(`${OPPS}/${id}`).set(auth()).set('If-None-Match', '"1"');
      expectNotModified(plain, '"1"');
      for (const cacheControl of ['no-cache', 'max-age=0', 'no-cache, no-store']) {
        const res = await http().get(`${OPPS}/${id}`).set(auth()).set('Cache-Control', cacheControl).set('If-None-Match', '"1"');
        expectNotModified(res, '"1"');
      }
      const pragma = await http().get(`${OPPS}/${id}`).set(auth()).set('Pragma', 'no-cache').set('If-None-Match', '"1"');
      expectNotModified(pragma, '"1"');
    });

    it('weak comparison, a list of tags and * match; another version is the full 200', async () => {
      const { id } = await createDeal(t, tok.manager);
      const get = (ifNoneMatch: string) =>
        http().get(`${OPPS}/${id}`).set(auth()).set('Cache-Control', 'no-cache').set('If-None-Match', ifNoneMatch);
      expectNotModified(await get('W/"1"'), '"1"');
      expectNotModified(await get('"7", W/"1"'), '"1"');
      expectNotModified(await get('"7","1"'), '"1"');
      expectNotModified(await get('*'), '"1"');
      for (const other of ['"2"', '"11"', '"7", "8"', '1']) {
        const res = await get(other);
        expect(res.status).toBe(200);
        expect(res.headers.etag).toBe('"1"');
        expect(res.body.data.id).toBe(id);
      }
    });

    it('after a change the old ETag no longer matches: 200 with the new one, which then matches', async () => {
      const { id } = await createDeal(t, tok.manager);
      const next = await http().post(`${OPPS}/${id}/stage/next`).set(auth()).send({});
      expect(next.status).toBe(200);
      const stale = await http().get(`${OPPS}/${id}`).set(auth()).set('Cache-Control', 'no-cache').set('If-None-Match', '"1"');
      expect(stale.status).toBe(200);
      expect(stale.headers.etag).toBe('"2"');
      expect(stale.body.data.stage).toBe('qualification');
      const current = await http()
        .get(`${OPPS}/${id}`)
        .set(auth())
        .set('Cache-Control', 'no-cache')
        .set('If-None-Match', stale.headers.etag);
      expectNotModified(current, '"2"');
    });

    it('HEAD is conditional too', async () => {
      const { id } = await createDeal(t, tok.manager);
      const match = await http().head(`${OPPS}/${id}`).set(auth()).set('Cache-Control', 'no-cache').set('If-None-Match', '"1"');
      expect(match.status).toBe(304);
      expect(match.headers.etag).toBe('"1"');
      const other = await http().head(`${OPPS}/${id}`).set(auth()).set('Cache-Control', 'no-cache').set('If-None-Match', '"9"');
      expect(other.status).toBe(200);
      expect(other.headers.etag).toBe('"1"');
    });

    it('errors and responses without an ETag are never 304: an unknown deal is 404, a list is 200', async () => {
      const missing = await http().get(`${OPPS}/${UNKNOWN_ID}`).set(auth()).set('If-None-Match', '*');
      expect(missing.status).toBe(404);
      expect(missing.body.code).toBe('not_found');
      const list = await http().get(`${OPPS}?per_page=1`).set(auth()).set('If-None-Match', '*');
      expect(list.status).toBe(200);
      expect(list.headers.etag).toBeUndefined();
    });

    it('a write is never answered 304: a PATCH with a matching If-None-Match is applied', async () => {
      const { id } = await createDeal(t, tok.manager);
      const res = await http().patch(`${OPPS}/${id}`).set(auth()).set('If-None-Match', '"1"').send({ next_step: 'Call back' });
      expect(res.status).toBe(200);
      expect(res.headers.etag).toBe('"2"');
      const after = await http().get(`${OPPS}/${id}`).set(auth());
      expect(after.body.data.next_step).toBe('Call back');
    });
  });

  describe('a pipeline and the custom fields', () => {
    it('GET /pipelines/{id}: 304 for its version with no-cache, 200 once it changed', async () => {
      const created = await http()
        .post(PIPES)
        .set(bearer(tok.admin))
        .send({
          name: 'Cond Sales',
          stages: [
            { name: 'Lead', display_order: 1, probability: 10 },
            { name: 'Won', display_order: 2, is_won: true },
            { name: 'Lost', display_order: 3, is_lost: true },
          ],
        });
      expect(created.status).toBe(201);
      const path = `${PIPES}/${created.body.data.id}`;
      const first = await http().get(path).set(auth());
      expect(first.status).toBe(200);
      const etag = first.headers.etag;
      expect(etag).toMatch(/^"\d+"$/);
      expectNotModified(await http().get(path).set(auth()).set('Cache-Control', 'no-cache').set('If-None-Match', etag), etag);
      expectNotModified(await http().get(path).set(auth()).set('Cache-Control', 'no-cache').set('If-None-Match', `W/${etag}`), etag);

      const renamed = await http().patch(path).set(bearer(tok.admin)).send({ name: 'Cond Sales 2' });
      expect(renamed.status).toBe(200);
      const changed = await http().get(path).set(auth()).set('Cache-Control', 'no-cache').set('If-None-Match', etag);
      expect(changed.status).toBe(200);
      expect(changed.headers.etag).not.toBe(etag);
      expect(changed.body.data.name).toBe('Cond Sales 2');
    });

    it('GET /custom-fields and /custom-fields/{key}: 304 for the definitions version with no-cache', async () => {
      const defined = await http().post(FIELDS).set(bearer(tok.admin)).send({ key: 'region', label: 'Region', type: 'text' });
      expect(defined.status).toBe(201);
      const list = await http().get(FIELDS).set(auth());
      expect(list.status).toBe(200);
      const etag = list.headers.etag;
      expect(etag).toMatch(/^"\d+"$/);
      expectNotModified(await http().get(FIELDS).set(auth()).set('Cache-Control', 'no-cache').set('If-None-Match', etag), etag);
      const one = await http().get(`${FIELDS}/region`).set(auth()).set('Cache-Control', 'no-cache').set('If-None-Match', `"0", ${etag}`);
      expectNotModified(one, etag);
      const other = await http().get(`${FIELDS}/region`).set(auth()).set('Cache-Control', 'no-cache').set('If-None-Match', '"0"');
      expect(other.status).toBe(200);
      expect(other.body.data.key).toBe('region');
    });
  });
});
