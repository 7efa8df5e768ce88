import { Logger } from '@nestjs/common';
import express from 'express';
import request, { type Response } from 'supertest';
import { ErrorFilter, loadConfig, PROBLEM_CONTENT_TYPE } from '@app/platform';
import { describeEachBackend, useTestApp, useTokens } from '../support/test-app';
import { API, bearer, createDeal, dealBody, OPPS, uniqueOrg } from './helpers';

const UNKNOWN_ID = '3f6c2b1e-9a4d-4c1b-8e2f-0a1b2c3d4e5f';
const PROBLEM_MEMBERS = ['type', 'title', 'status', 'detail', 'message', 'code'];

/** An RFC 9457 problem document: its content type, the members in order, detail = message. */
function expectProblem(res: Response, status: number, title: string, members: Record<string, unknown> = {}): void {
  expect(res.status).toBe(status);
  expect(res.headers['content-type']).toBe(PROBLEM_CONTENT_TYPE);
  expect(Object.keys(res.body).slice(0, PROBLEM_MEMBERS.length)).toEqual(PROBLEM_MEMBERS);
  expect(res.body).toMatchObject({ type: 'about:blank', title, status, ...members });
  expect(typeof res.body.message).toBe('string');
  expect(res.body.detail).toBe(res.body.message);
}

describeEachBackend('HTTP conventions (%s)', (backend) => {
  const t = useTestApp(backend);
  const org = uniqueOrg('http');
  const tok = useTokens(t, {
    manager: [org, 'mgr_1', 'manager'],
    viewer: [org, 'viewer_1', 'viewer'],
    admin: [org, 'admin_1', 'admin'],
  });
  const http = () => t.http();
  const auth = () => bearer(tok.manager);

  describe('errors are problem details (RFC 9457)', () => {
    it('400 of validation: the problem members, then message, code and errors as before', async () => {
      const res = await http()
        .post(OPPS)
        .set(auth())
        .send(dealBody({ priority: 'urgent' }));
      expectProblem(res, 400, 'Bad Request');
      expect(res.body).toEqual({
        type: 'about:blank',
        title: 'Bad Request',
        status: 400,
        detail: 'The given data was invalid.',
        message: 'The given data was invalid.',
        code: 'validation_failed',
        errors: { priority: ['priority must be one of: low, medium, high'] },
      });
    });

    it('400 of the input guard (a reserved field name) and of the body parser (malformed JSON)', async () => {
      const guarded = await http().post(OPPS).set(auth()).set('Content-Type', 'application/json').send('{"name":"x","toString":"y"}');
      expectProblem(guarded, 400, 'Bad Request', { code: 'validation_failed', errors: { toString: ['toString is not an allowed field'] } });
      const malformed = await http().post(OPPS).set(auth()).set('Content-Type', 'application/json').send('{"name": "Acme",');
      expect(malformed.body).toEqual({
        type: 'about:blank',
        title: 'Bad Request',
        status: 400,
        detail: 'Request body is not valid JSON',
        message: 'Request body is not valid JSON',
        code: 'validation_failed',
      });
      expect(malformed.headers['content-type']).toBe(PROBLEM_CONTENT_TYPE);
    });

    it('401, 403 and 404 of an unknown deal', async () => {
      expectProblem(await http().get(`${OPPS}/${UNKNOWN_ID}`), 401, 'Unauthorized', {
        code: 'unauthenticated',
        detail: 'Missing bearer token',
      });
      const { id } = await createDeal(t, tok.manager);
      const forbidden = await http().patch(`${OPPS}/${id}`).set(bearer(tok.viewer)).send({ next_step: 'x' });
      expectProblem(forbidden, 403, 'Forbidden', { code: 'forbidden' });
      const missing = await http().get(`${OPPS}/${UNKNOWN_ID}`).set(auth());
      expect(missing.body).toEqual({
        type: 'about:blank',
        title: 'Not Found',
        status: 404,
        detail: 'Opportunity not found',
        message: 'Opportunity not found',
        code: 'not_found',
      });
    });

    it('404 of an unknown route, under the prefix and outside it', async () => {
      expectProblem(await http().get(`${API}/no-such-thing`).set(auth()), 404, 'Not Found', { code: 'not_found' });
      expectProblem(await http().get('/no-such-thing'), 404, 'Not Found', { code: 'not_found' });
    });

    it('409 of a name already taken, 412 of a stale If-Match', async () => {
      const name = `Taken ${org}`;
      expect((await http().post(`${API}/categories`).set(auth()).send({ name })).status).toBe(201);
      const taken = await http().post(`${API}/categories`).set(auth()).send({ name });
      expectProblem(taken, 409, 'Conflict', { code: 'already_exists' });

      const { id } = await createDeal(t, tok.manager);
      const stale = await http().patch(`${OPPS}/${id}`).set(auth()).set('If-Match', '"5"').send({ next_step: 'a' });
      expectProblem(stale, 412, 'Precondition Failed', { code: 'precondition_failed', expected_version: 5, current_version: 1 });
    });

    it('413 of a body over the limit, 415 of a body that is not JSON', async () => {
      const big = await http()
        .post(OPPS)
        .set(auth())
        .set('Content-Type', 'application/json')
        .send(JSON.stringify(dealBody({ description: 'x'.repeat(300 * 1024) })));
      expectProblem(big, 413, 'Content Too Large', { code: 'payload_too_large', message: 'Request body is too large' });
      const form = await http().post(OPPS).set(auth()).set('Content-Type', 'text/plain').send('name=x');
      expectProblem(form, 415, 'Unsupported Media Type', { code: 'unsupported_media_type' });
    });

    it('422 of a refused transition keeps its members; 422 of a bulk action no deal took keeps its results', async () => {
      const { id } = await createDeal(t, tok.manager);
      const refused = await http().patch(`${OPPS}/${id}/stage`).set(auth()).send({ stage: 'proposal' });
      expectProblem(refused, 422, 'Unprocessable Content', {
        code: 'invalid_stage_transition',
        message: 'Invalid stage transition',
        current_stage: 'prospecting',
        requested_stage: 'proposal',
      });
      const bulk = await http()
        .post(`${OPPS}/bulk-actions`)
        .set(auth())
        .send({ action: 'update_close_date', opportunity_ids: ['not-a-uuid'], parameters: { expected_close_date: '2031-01-31' } });
      expectProblem(bulk, 422, 'Unprocessable Content', {
        code: 'bulk_action_failed',
        message: 'Bulk action failed for every opportunity',
      });
      expect(bulk.body.data).toMatchObject({ total: 1, succeeded: 0, failed: 1 });
      // The per-id results stay plain: status 'error', http_status, code, message.
      expect(bulk.body.data.results[0]).toEqual({
        id: 'not-a-uuid',
        status: 'error',
        http_status: 400,
        code: 'validation_failed',
        message: 'id must be a UUID',
      });
    });

    it('a repeat of a failed POST under its Idempotency-Key is evaluated again and is a problem document again', async () => {
      const send = () =>
        http()
          .post(OPPS)
          .set(auth())
          .set('Idempotency-Key', `problem-${org}`)
          .send(dealBody({ value: -1 }));
      const first = await send();
      const again = await send();
      expectProblem(first, 400, 'Bad Request', { code: 'validation_failed' });
      expectProblem(again, 400, 'Bad Request', { code: 'validation_failed' });
      expect(again.headers['idempotent-replayed']).toBeUndefined();
      expect(again.body).toEqual(first.body);
    });

    it('a response that is not an error keeps application/json', async () => {
      const { res } = await createDeal(t, tok.manager);
      expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
    });
  });
  describe('WWW-Authenticate on every 401 (RFC 9110 §11.6.1, RFC 6750 §3)', () => {
    const PLAIN = 'Bearer realm="opportunity-pipeline"';
    const invalid = (description: string) => `${PLAIN}, error="invalid_token", error_description="${description}"`;

    it.each([
      ['no Authorization header', undefined],
      ['another scheme', 'Basic dXNlcjpwYXNz'],
      ['"Bearer" without a token', 'Bearer '],
    ])('%s: the scheme and realm alone', async (_label, authorization) => {
      const req = http().get(`${OPPS}/${UNKNOWN_ID}`);
      const res = await (authorization === undefined ? req : req.set('Authorization', authorization));
      expectProblem(res, 401, 'Unauthorized', { code: 'unauthenticated', message: 'Missing bearer token' });
      expect(res.headers['www-authenticate']).toBe(PLAIN);
    });

    it('an unknown token: invalid_token', async () => {
      const res = await http().post(OPPS).set(bearer('opp_not-a-real-token')).send(dealBody());
      expectProblem(res, 401, 'Unauthorized', { code: 'unauthenticated', message: 'Invalid or revoked token' });
      expect(res.headers['www-authenticate']).toBe(invalid('The token is unknown or revoked'));
    });

    it('a malformed token: invalid_token', async () => {
      const res = await http().get(`${OPPS}/${UNKNOWN_ID}`).set('Authorization', 'Bearer two parts');
      expectProblem(res, 401, 'Unauthorized', { code: 'unauthenticated', message: 'Malformed bearer token' });
      expect(res.headers['www-authenticate']).toBe(invalid('The bearer token is malformed'));
    });

    it('a revoked token: invalid_token; a valid token gets no challenge', async () => {
      const minted = await http().post(`${API}/tokens`).set(bearer(tok.admin)).send({ user_id: 'rep_9', role: 'rep' });
      expect(minted.status).toBe(201);
      const ok = await http().get(`${OPPS}?per_page=1`).set(bearer(minted.body.data.token));
      expect(ok.status).toBe(200);
      expect(ok.headers['www-authenticate']).toBeUndefined();
      expect((await http().delete(`${API}/tokens/${minted.body.data.id}`).set(bearer(tok.admin))).status).toBe(204);
      const res = await http().get(`${OPPS}?per_page=1`).set(bearer(minted.body.data.token));
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toBe(invalid('The token is unknown or revoked'));
    });

    it('a 403 has no challenge', async () => {
      const res = await http().post(OPPS).set(bearer(tok.viewer)).send(dealBody());
      expect(res.status).toBe(403);
      expect(res.headers['www-authenticate']).toBeUndefined();
    });
  });
  describe('headers of the framework', () => {
    it('CORS is off unless CORS_ORIGINS is set: no CORS header, not even for a preflight', async () => {
      const pre = await http().options(OPPS).set('Origin', 'https://app.example.com').set('Access-Control-Request-Method', 'POST');
      expect(pre.status).toBe(204);
      expect(pre.headers.allow).toBe('GET, HEAD, POST, OPTIONS');
      const get = await http().get(`${OPPS}?per_page=1`).set(auth()).set('Origin', 'https://app.example.com');
      for (const res of [pre, get]) {
        expect(Object.keys(res.headers).filter((h) => h.startsWith('access-control-'))).toEqual([]);
        expect(res.headers.vary).toBeUndefined();
      }
    });

    it('no X-Powered-By on a success, an error or a 404', async () => {
      const ok = await http().get(`${OPPS}?per_page=1`).set(auth());
      const missing = await http().get(`${OPPS}/${UNKNOWN_ID}`).set(auth());
      const unknown = await http().get(`${API}/no-such-thing`);
      for (const res of [ok, missing, unknown]) expect(res.headers['x-powered-by']).toBeUndefined();
      expect(ok.status).toBe(200);
    });

    it('no ETag of Express on lists, errors and health; the versions handlers set stay', async () => {
      const list = await http().get(`${OPPS}?per_page=1`).set(auth());
      const health = await http().get(`${API}/health`);
      const missing = await http().get(`${OPPS}/${UNKNOWN_ID}`).set(auth());
      for (const res of [list, health, missing]) expect(res.headers.etag).toBeUndefined();

      const { id, res: created } = await createDeal(t, tok.manager);
      expect(created.headers.etag).toBe('"1"');
      const next = await http().post(`${OPPS}/${id}/stage/next`).set(auth()).send({});
      expect(next.headers.etag).toBe('"2"');
      const detail = await http().get(`${OPPS}/${id}`).set(auth());
      expect(detail.headers.etag).toBe('"2"');
      // A conditional GET with the resource's ETag is still answered 304.
      const fresh = await http().get(`${OPPS}/${id}`).set(auth()).set('If-None-Match', '"2"');
      expect(fresh.status).toBe(304);
    });
  });
  describe('OPTIONS and 405 from the routes the app registered', () => {
    const COLLECTION = 'GET, HEAD, POST, OPTIONS';
    const DEAL = 'GET, HEAD, PUT, PATCH, DELETE, OPTIONS';

    it.each([
      [OPPS, COLLECTION],
      [`${OPPS}/`, COLLECTION],
      [`${OPPS}/${UNKNOWN_ID}`, DEAL],
      [`${OPPS}/${UNKNOWN_ID}/stage/next`, 'POST, OPTIONS'],
      [`${OPPS}/${UNKNOWN_ID}/stage`, 'PATCH, OPTIONS'],
      [`${API}/health`, 'GET, HEAD, OPTIONS'],
      [`${API}/docs-json`, 'GET, HEAD, OPTIONS'],
    ])('OPTIONS %s → 204, Allow: %s, no token needed', async (path, allow) => {
      const res = await http().options(path);
      expect(res.status).toBe(204);
      expect(res.headers.allow).toBe(allow);
      expect(res.text).toBe('');
    });

    it.each([
      ['delete', OPPS, COLLECTION],
      ['put', OPPS, COLLECTION],
      ['post', `${OPPS}/${UNKNOWN_ID}`, DEAL],
      ['get', `${OPPS}/${UNKNOWN_ID}/stage/next`, 'POST, OPTIONS'],
      ['delete', `${API}/health`, 'GET, HEAD, OPTIONS'],
    ] as const)('%s %s → 405 problem with Allow: %s, with a token or without', async (method, path, allow) => {
      for (const withToken of [false, true]) {
        const req = http()[method](path);
        const res = await (withToken ? req.set(auth()) : req);
        expectProblem(res, 405, 'Method Not Allowed', { code: 'method_not_allowed' });
        expect(res.headers.allow).toBe(allow);
        expect(res.headers['www-authenticate']).toBeUndefined();
      }
    });

    it('a 405 changes nothing', async () => {
      const before = await t.countEvents(org);
      const res = await http().put(OPPS).set(auth()).send(dealBody());
      expect(res.status).toBe(405);
      expect(await t.countEvents(org)).toBe(before);
    });

    it('HEAD where GET is is served (200, no body); HEAD of a POST-only path is a 405', async () => {
      const head = await http().head(`${API}/health`);
      expect(head.status).toBe(200);
      const post = await http().head(`${OPPS}/${UNKNOWN_ID}/stage/next`);
      expect(post.status).toBe(405);
      expect(post.headers.allow).toBe('POST, OPTIONS');
    });

    it('an unknown path stays a 404, for OPTIONS and any other method', async () => {
      for (const res of [await http().options(`${API}/no-such-thing`), await http().delete(`${API}/no-such-thing`)]) {
        expectProblem(res, 404, 'Not Found', { code: 'not_found' });
        expect(res.headers.allow).toBeUndefined();
      }
    });

    it('a served method still needs its token: 401, not 405', async () => {
      const res = await http().delete(`${OPPS}/${UNKNOWN_ID}`);
      expect(res.status).toBe(401);
    });
  });
});

describeEachBackend('CORS (%s)', (backend) => {
  const ALLOWED = 'https://app.example.com';
  const OTHER = 'http://localhost:5173';
  const t = useTestApp(backend, { CORS_ORIGINS: `${ALLOWED}, ${OTHER}` });
  const org = uniqueOrg('cors');
  const tok = useTokens(t, { manager: [org, 'mgr_1', 'manager'] });
  const corsHeaders = (res: Response) => Object.keys(res.headers).filter((h) => h.startsWith('access-control-'));
  const preflight = (origin: string, path = OPPS) =>
    t
      .http()
      .options(path)
      .set('Origin', origin)
      .set('Access-Control-Request-Method', 'POST')
      .set('Access-Control-Request-Headers', 'authorization, content-type, idempotency-key');

  it('a preflight from an allowed origin: 204 with the origin, methods, headers and max age', async () => {
    for (const origin of [ALLOWED, OTHER]) {
      const res = await preflight(origin);
      expect(res.status).toBe(204);
      expect(res.headers['access-control-allow-origin']).toBe(origin);
      expect(res.headers.vary).toMatch(/\bOrigin\b/);
      expect(res.headers['access-control-allow-methods']).toBe('GET, HEAD, POST, PUT, PATCH, DELETE');
      expect(res.headers['access-control-allow-headers']).toBe(
        'Authorization, Content-Type, Idempotency-Key, If-Match, If-None-Match, X-Consistency-Token, X-Correlation-Id',
      );
      expect(res.headers['access-control-max-age']).toBe('600');
      expect(res.text).toBe('');
    }
  });

  it('responses to an allowed origin carry Allow-Origin and Expose-Headers, errors too', async () => {
    const created = await t.http().post(OPPS).set(bearer(tok.manager)).set('Origin', ALLOWED).send(dealBody());
    expect(created.status).toBe(201);
    const missing = await t.http().get(`${OPPS}/${UNKNOWN_ID}`).set('Origin', ALLOWED);
    expect(missing.status).toBe(401);
    const malformed = await t
      .http()
      .post(OPPS)
      .set(bearer(tok.manager))
      .set('Origin', ALLOWED)
      .set('Content-Type', 'application/json')
      .send('{');
    expect(malformed.status).toBe(400);
    for (const res of [created, missing, malformed]) {
      expect(res.headers['access-control-allow-origin']).toBe(ALLOWED);
      expect(res.headers.vary).toMatch(/\bOrigin\b/);
      const exposed = String(res.headers['access-control-expose-headers']).split(', ');
      expect(exposed).toEqual(
        expect.arrayContaining(['ETag', 'Location', 'X-Global-Position', 'X-Correlation-Id', 'Retry-After', 'WWW-Authenticate']),
      );
      expect(res.headers['access-control-allow-methods']).toBeUndefined();
    }
  });

  it('another origin gets no CORS header at all: the browser refuses the response', async () => {
    const pre = await preflight('https://evil.example.com');
    expect(corsHeaders(pre)).toEqual([]);
    // Not answered as a preflight: the plain OPTIONS answer of the path.
    expect(pre.status).toBe(204);
    expect(pre.headers.allow).toBe('GET, HEAD, POST, OPTIONS');
    const get = await t.http().get(`${OPPS}?per_page=1`).set(bearer(tok.manager)).set('Origin', 'https://app.example.com.evil.example');
    expect(get.status).toBe(200);
    expect(corsHeaders(get)).toEqual([]);
    expect(get.headers.vary).toMatch(/\bOrigin\b/);
  });

  it('a request without Origin gets no CORS header; OPTIONS with an allowed Origin but no requested method is the plain OPTIONS answer', async () => {
    const plain = await t.http().get(`${OPPS}?per_page=1`).set(bearer(tok.manager));
    expect(corsHeaders(plain)).toEqual([]);
    const options = await t.http().options(OPPS).set('Origin', ALLOWED);
    expect(options.status).toBe(204);
    expect(options.headers.allow).toBe('GET, HEAD, POST, OPTIONS');
    expect(options.headers['access-control-allow-origin']).toBe(ALLOWED);
    expect(options.headers['access-control-max-age']).toBeUndefined();
  });
});

describeEachBackend('CORS for every origin (%s)', (backend) => {
  const t = useTestApp(backend, { CORS_ORIGINS: '*' });

  it('any origin is allowed with *, and no Vary is needed', async () => {
    const pre = await t.http().options(OPPS).set('Origin', 'https://anywhere.example').set('Access-Control-Request-Method', 'DELETE');
    expect(pre.status).toBe(204);
    expect(pre.headers['access-control-allow-origin']).toBe('*');
    expect(pre.headers.vary).toBeUndefined();
    const health = await t.http().get(`${API}/health`).set('Origin', 'https://anywhere.example');
    expect(health.headers['access-control-allow-origin']).toBe('*');
  });
});

describe('CORS_ORIGINS', () => {
  it('is off unless set, * or a list of exact origins', () => {
    expect(loadConfig({}).corsOrigins).toBeNull();
    expect(loadConfig({ CORS_ORIGINS: '' }).corsOrigins).toBeNull();
    expect(loadConfig({ CORS_ORIGINS: '*' }).corsOrigins).toBe('*');
    expect(loadConfig({ CORS_ORIGINS: 'https://a.example, http://localhost:3001' }).corsOrigins).toEqual([
      'https://a.example',
      'http://localhost:3001',
    ]);
  });

  it.each([['https://a.example/'], ['https://a.example/app'], ['a.example'], ['ftp://a.example'], ['https://a.example,*']])(
    '%s stops the start with a clear message',
    (value) => {
      expect(() => loadConfig({ CORS_ORIGINS: value })).toThrow(/^CORS_ORIGINS must be \* or comma-separated origins/);
    },
  );
});

describe('the error filter outside the app', () => {
  beforeAll(() => Logger.overrideLogger(false));
  /** Express with one route that hands `error` to the filter, as Nest does. */
  function failing(error: unknown) {
    const app = express();
    app.get('/', (req, res) => {
      const host = { switchToHttp: () => ({ getRequest: () => req, getResponse: () => res }) };
      new ErrorFilter().catch(error, host as never);
    });
    return request(app).get('/');
  }

  it('an unexpected error is a 500 problem that says nothing of it', async () => {
    const res = await failing(new Error('secret detail'));
    expect(res.headers['content-type']).toBe(PROBLEM_CONTENT_TYPE);
    expect(res.body).toEqual({
      type: 'about:blank',
      title: 'Internal Server Error',
      status: 500,
      detail: 'Internal server error',
      message: 'Internal server error',
      code: 'internal_error',
    });
  });

  it('an unavailable event store is a 503 problem with Retry-After', async () => {
    const res = await failing(Object.assign(new Error('EventStoreDB is unavailable'), { httpStatus: 503 }));
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBe('5');
    expect(res.body).toMatchObject({ title: 'Service Unavailable', status: 503, code: 'event_store_unavailable' });
  });
});
