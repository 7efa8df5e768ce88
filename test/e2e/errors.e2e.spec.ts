import type { Response } from 'supertest';
import { describeEachBackend, useTestApp, useTokens } from '../support/test-app';
import { bearer, createDeal, dealBody, etagVersion, getDeal, OPPS, readStream, uniqueOrg } from './helpers';

const VALIDATION = { message: 'The given data was invalid.', code: 'validation_failed' };
const INVALID_TRANSITION = { message: 'Invalid stage transition', code: 'invalid_stage_transition' };
const UNKNOWN_ID = '3f6c2b1e-9a4d-4c1b-8e2f-0a1b2c3d4e5f';

describeEachBackend('error responses (%s)', (backend) => {
  const t = useTestApp(backend);
  const org = uniqueOrg('err');
  const tokens = useTokens(t, { manager: [org, 'mgr_1', 'manager'] });

  const http = () => t.http();

  /** Creates a deal and moves it forward `steps` stages (prospecting + steps). */
  async function dealAt(steps: number, tok = tokens.manager, overrides: Record<string, unknown> = {}): Promise<string> {
    const { id } = await createDeal(t, tok, overrides);
    for (let i = 0; i < steps; i++) {
      const res = await http().post(`${OPPS}/${id}/stage/next`).set(bearer(tok)).send({});
      expect(res.status).toBe(200);
    }
    return id;
  }

  /** GET's ETag and the raw stream length agree on the version. */
  async function versionOf(id: string, orgId = org, tok = tokens.manager): Promise<number> {
    const res = await getDeal(t, tok, id);
    expect(res.status).toBe(200);
    const v = etagVersion(res);
    expect((await readStream(t, orgId, id)).length).toBe(v);
    return v;
  }

  describe('401 unauthenticated', () => {
    it('no token on GET → 401', async () => {
      const res = await http().get(`${OPPS}/${UNKNOWN_ID}`);
      expect(res.status).toBe(401);
      expect(res.body).toMatchObject({ message: 'Missing bearer token', code: 'unauthenticated' });
    });

    it('no token on POST create → 401 and nothing is created', async () => {
      const res = await http().post(OPPS).set('Idempotency-Key', 'no-token-create').send(dealBody());
      expect(res.status).toBe(401);
      expect(res.body).toMatchObject({ message: 'Missing bearer token', code: 'unauthenticated' });
    });

    it('a non-Bearer Authorization header → 401', async () => {
      const res = await http().get(`${OPPS}/${UNKNOWN_ID}`).set('Authorization', 'Basic dXNlcjpwYXNz');
      expect(res.status).toBe(401);
      expect(res.body).toMatchObject({ message: 'Missing bearer token', code: 'unauthenticated' });
    });

    it('an unknown token → 401', async () => {
      const res = await http().get(`${OPPS}/${UNKNOWN_ID}`).set(bearer('opp_not-a-real-token'));
      expect(res.status).toBe(401);
      expect(res.body).toMatchObject({ message: 'Invalid or revoked token', code: 'unauthenticated' });
    });

    it('an unknown token on a command → 401', async () => {
      const id = await dealAt(0);
      const res = await http()
        .patch(`${OPPS}/${id}`)
        .set(bearer(`${tokens.manager}x`))
        .send({ next_step: 'x' });
      expect(res.status).toBe(401);
      expect(res.body).toMatchObject({ message: 'Invalid or revoked token', code: 'unauthenticated' });
      expect(await versionOf(id)).toBe(1);
    });
  });

  describe('400 field-level validation on create', () => {
    it.each([
      ['unknown field', { colour: 'blue' }, 'colour', 'colour is not an allowed field'],
      ['name of the wrong type', { name: 123 }, 'name', 'name must be a string'],
      ['boolean of the wrong type', { budget_confirmed: 'yes' }, 'budget_confirmed', 'budget_confirmed must be a boolean value'],
      ['value of the wrong type', { value: 'lots' }, 'value', 'value must be a non-negative amount with at most 2 decimal places'],
      ['customer_id of the wrong type', { customer_id: { id: 568 } }, 'customer_id', 'customer_id must be a string or integer id'],
      ['bad enum priority', { priority: 'urgent' }, 'priority', 'priority must be one of: low, medium, high'],
      [
        'date that does not exist',
        { expected_close_date: '2026-02-30' },
        'expected_close_date',
        'expected_close_date must be a valid date in the form YYYY-MM-DD, between 1900-01-01 and 9999-12-31',
      ],
      [
        'date in another format',
        { expected_close_date: '30/04/2026' },
        'expected_close_date',
        'expected_close_date must be a valid date in the form YYYY-MM-DD, between 1900-01-01 and 9999-12-31',
      ],
      ['negative value', { value: -5 }, 'value', 'value must not be negative'],
      ['more than 2 decimals', { value: 100.123 }, 'value', 'value must have at most 2 decimal places'],
      ['10^13 or more', { value: 10000000000000 }, 'value', 'value must be at most 9999999999999.99'],
      ['10^13 or more as a string', { value: '12345678901234.5' }, 'value', 'value must be at most 9999999999999.99'],
      ['probability above 100', { probability: 101 }, 'probability', 'probability must not be greater than 100'],
      ['bad currency', { currency: 'usd' }, 'currency', 'currency must be a 3-letter ISO 4217 code (e.g. USD)'],
    ])('%s → 400 errors.%s', async (_label, override, field, message) => {
      const res = await http()
        .post(OPPS)
        .set(bearer(tokens.manager))
        .send(dealBody(override as Record<string, unknown>));
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject(VALIDATION);
      expect(Object.keys(res.body.errors)).toEqual([field]);
      expect(res.body.errors[field]).toContain(message);
    });

    it('missing required fields → 400 naming each', async () => {
      const res = await http().post(OPPS).set(bearer(tokens.manager)).send({ value: 10 });
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject(VALIDATION);
      expect(res.body.errors.name).toEqual(['name should not be empty', 'name must be a string']);
    });

    it('a domain rule on create (no customer_id, no prospect) → 400 errors.customer_id', async () => {
      const body = dealBody();
      delete body.customer_id;
      const res = await http().post(OPPS).set(bearer(tokens.manager)).send(body);
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject(VALIDATION);
      expect(res.body.errors.customer_id).toHaveLength(1);
    });

    const malformed = () =>
      http().post(OPPS).set(bearer(tokens.manager)).set('Content-Type', 'application/json').send('{"name": "Acme", "customer_id": 568,');
    const oversized = () =>
      http()
        .post(OPPS)
        .set(bearer(tokens.manager))
        .set('Content-Type', 'application/json')
        .send(JSON.stringify(dealBody({ description: 'x'.repeat(300 * 1024) })));

    it('malformed JSON → 400 validation_failed', async () => {
      const res = await malformed();
      expect(res.status).toBe(400);
      expect(res.body.code).toBe('validation_failed');
      expect(typeof res.body.message).toBe('string');
    });

    // ErrorFilter.describeParserError defines the message; it must not be the JSON parser's own text.
    it('malformed JSON → message "Request body is not valid JSON"', async () => {
      const res = await malformed();
      expect(res.body).toMatchObject({ message: 'Request body is not valid JSON', code: 'validation_failed' });
    });

    it('a body above 256kb → 413 payload_too_large', async () => {
      const res = await oversized();
      expect(res.status).toBe(413);
      expect(res.body.code).toBe('payload_too_large');
    });

    it('a body above 256kb → message "Request body is too large"', async () => {
      const res = await oversized();
      expect(res.body).toMatchObject({ message: 'Request body is too large', code: 'payload_too_large' });
    });

    it('a body just under the limit is parsed (and then validated)', async () => {
      const res = await http()
        .post(OPPS)
        .set(bearer(tokens.manager))
        .set('Content-Type', 'application/json')
        .send(JSON.stringify(dealBody({ description: 'x'.repeat(5001) })));
      expect(res.status).toBe(400);
      expect(Object.keys(res.body.errors)).toEqual(['description']);
    });
  });

  describe('400 malformed id in the path', () => {
    it.each([
      ['GET', (id: string) => http().get(`${OPPS}/${id}`)],
      ['PATCH', (id: string) => http().patch(`${OPPS}/${id}`).send({ next_step: 'x' })],
      ['PUT', (id: string) => http().put(`${OPPS}/${id}`).send({ next_step: 'x' })],
      ['DELETE', (id: string) => http().delete(`${OPPS}/${id}`)],
      ['PATCH stage', (id: string) => http().patch(`${OPPS}/${id}/stage`).send({ stage: 'qualification' })],
      ['stage/next', (id: string) => http().post(`${OPPS}/${id}/stage/next`).send({})],
      ['stage/previous', (id: string) => http().post(`${OPPS}/${id}/stage/previous`).send({ reason: 'r' })],
      ['win', (id: string) => http().post(`${OPPS}/${id}/win`).send({})],
      ['lose', (id: string) => http().post(`${OPPS}/${id}/lose`).send({ loss_reason: 'price' })],
      ['assign', (id: string) => http().post(`${OPPS}/${id}/assign`).send({ user_id: 'u2' })],
    ])('%s /opportunities/not-a-uuid → 400 errors.id', async (_label, send) => {
      const res = await send('not-a-uuid').set(bearer(tokens.manager));
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject(VALIDATION);
      expect(res.body.errors).toEqual({ id: ['id must be a UUID'] });
    });
  });

  describe('ids are UUIDs, compared case-insensitively (RFC 4122: hex digits are case-insensitive on input)', () => {
    it('an upper-case spelling of an existing id reaches the same deal', async () => {
      const id = await dealAt(0);
      const upper = id.toUpperCase();
      const get = await http().get(`${OPPS}/${upper}`).set(bearer(tokens.manager));
      expect(get.status).toBe(200);
      expect(get.body.data.id).toBe(id);
    });

    it('a command on the upper-case spelling changes the same stream', async () => {
      const id = await dealAt(0);
      const patch = await http().patch(`${OPPS}/${id.toUpperCase()}`).set(bearer(tokens.manager)).send({ next_step: 'Upper' });
      expect(patch.status).toBe(200);
      expect(patch.headers.etag).toBe('"2"');
      expect(await versionOf(id)).toBe(2);
    });
  });

  describe('X-Correlation-Id', () => {
    it('a safe value is echoed; an unsafe one is replaced by a generated id', async () => {
      const id = await dealAt(0);
      const safe = await http().get(`${OPPS}/${id}`).set(bearer(tokens.manager)).set('X-Correlation-Id', 'req-123.abc');
      expect(safe.headers['x-correlation-id']).toBe('req-123.abc');
      const unsafe = await http()
        .patch(`${OPPS}/${id}`)
        .set(bearer(tokens.manager))
        .set('X-Correlation-Id', 'bad value <script>')
        .send({ next_step: 'c' });
      expect(unsafe.status).toBe(200);
      expect(unsafe.headers['x-correlation-id']).toMatch(/^[0-9a-f-]{36}$/);
      const last = (await readStream(t, org, id)).at(-1)!;
      expect(last.metadata.correlation_id).toBe(unsafe.headers['x-correlation-id']);
    });
  });

  describe('a rejected command appends nothing', () => {
    it('invalid PATCH / stage / lose / If-Match requests leave the stream at its version', async () => {
      const id = await dealAt(1); // qualification, version 2
      expect(await versionOf(id)).toBe(2);
      const rejected = [
        await http().patch(`${OPPS}/${id}`).set(bearer(tokens.manager)).send({ colour: 'blue', next_step: 'x' }),
        await http().patch(`${OPPS}/${id}`).set(bearer(tokens.manager)).send({ value: -1, next_step: 'x' }),
        await http().patch(`${OPPS}/${id}`).set(bearer(tokens.manager)).send({ proposal_date: '2026-02-30' }),
        await http().patch(`${OPPS}/${id}`).set(bearer(tokens.manager)).send({ stage: 'needs_analysis' }),
        await http().patch(`${OPPS}/${id}`).set(bearer(tokens.manager)).send({ customer_id: null, next_step: 'x' }),
        await http().patch(`${OPPS}/${id}/stage`).set(bearer(tokens.manager)).send({ stage: 'negotiation' }),
        await http().patch(`${OPPS}/${id}/stage`).set(bearer(tokens.manager)).send({ stage: 'nowhere' }),
        await http().post(`${OPPS}/${id}/lose`).set(bearer(tokens.manager)).send({ loss_reason: 'bad_luck' }),
        await http().post(`${OPPS}/${id}/win`).set(bearer(tokens.manager)).send({ actual_value: 1 }),
        await http().post(`${OPPS}/${id}/stage/previous`).set(bearer(tokens.manager)).send({}),
        await http().post(`${OPPS}/${id}/stage/next`).set(bearer(tokens.manager)).set('If-Match', '"1"').send({}),
      ];
      for (const res of rejected) {
        expect(res.status).toBeGreaterThanOrEqual(400);
        expect(res.status).toBeLessThan(500);
        expect(res.headers['x-global-position']).toBeUndefined();
      }
      expect(rejected.map((r) => r.status)).toEqual([400, 400, 400, 400, 400, 422, 400, 400, 422, 400, 412]);
      expect(await versionOf(id)).toBe(2);
    });

    it('a PATCH that changes nothing appends nothing (same ETag, no position)', async () => {
      const id = await dealAt(0, tokens.manager, { next_step: 'Call CTO' });
      const res = await http().patch(`${OPPS}/${id}`).set(bearer(tokens.manager)).send({ next_step: 'Call CTO', value: 200000 });
      expect(res.status).toBe(200);
      expect(res.headers.etag).toBe('"1"');
      expect(res.headers['x-global-position']).toBeUndefined();
      expect(await versionOf(id)).toBe(1);
    });
  });

  describe('404', () => {
    it('unknown id → 404 on GET and on commands', async () => {
      const get = await http().get(`${OPPS}/${UNKNOWN_ID}`).set(bearer(tokens.manager));
      expect(get.status).toBe(404);
      expect(get.body).toMatchObject({ message: 'Opportunity not found', code: 'not_found' });
      const patch = await http().patch(`${OPPS}/${UNKNOWN_ID}`).set(bearer(tokens.manager)).send({ next_step: 'x' });
      expect(patch.status).toBe(404);
      expect(patch.body).toMatchObject({ message: 'Opportunity not found', code: 'not_found' });
      const next = await http().post(`${OPPS}/${UNKNOWN_ID}/stage/next`).set(bearer(tokens.manager)).send({});
      expect(next.status).toBe(404);
      expect(await readStream(t, org, UNKNOWN_ID)).toEqual([]);
    });

    describe("another org's opportunity is a 404 (tenancy)", () => {
      const otherOrg = uniqueOrg('other');
      let otherToken: string;
      let id: string;

      beforeAll(async () => {
        // An admin of the other org, with the very same user id as the owner.
        otherToken = await t.token(otherOrg, 'mgr_1', 'admin');
        id = await dealAt(5); // verbal_commitment in `org`, version 6
      });

      it('GET → 404', async () => {
        const res = await http().get(`${OPPS}/${id}`).set(bearer(otherToken));
        expect(res.status).toBe(404);
        expect(res.body).toMatchObject({ message: 'Opportunity not found', code: 'not_found' });
      });

      it.each([
        ['PATCH', (i: string) => http().patch(`${OPPS}/${i}`).send({ next_step: 'steal' })],
        ['PUT', (i: string) => http().put(`${OPPS}/${i}`).send({ next_step: 'steal' })],
        ['PATCH stage', (i: string) => http().patch(`${OPPS}/${i}/stage`).send({ stage: 'on_hold' })],
        ['stage/next', (i: string) => http().post(`${OPPS}/${i}/stage/next`).send({})],
        ['stage/previous', (i: string) => http().post(`${OPPS}/${i}/stage/previous`).send({ reason: 'r' })],
        ['win', (i: string) => http().post(`${OPPS}/${i}/win`).send({})],
        ['lose', (i: string) => http().post(`${OPPS}/${i}/lose`).send({ loss_reason: 'price' })],
        ['assign', (i: string) => http().post(`${OPPS}/${i}/assign`).send({ user_id: 'thief' })],
        ['DELETE', (i: string) => http().delete(`${OPPS}/${i}`)],
        ['PATCH with If-Match', (i: string) => http().patch(`${OPPS}/${i}`).set('If-Match', '"6"').send({ next_step: 'steal' })],
      ])('%s → 404', async (_label, send) => {
        const res = await send(id).set(bearer(otherToken));
        expect(res.status).toBe(404);
        expect(res.body).toMatchObject({ message: 'Opportunity not found', code: 'not_found' });
      });

      it('the owner org still sees its deal untouched, and nothing was written under the other org', async () => {
        expect(await versionOf(id)).toBe(6);
        const res = await getDeal(t, tokens.manager, id);
        expect(res.body.data).toMatchObject({ stage: 'verbal_commitment', assigned_user_id: 'mgr_1', next_step: null });
        expect(await readStream(t, otherOrg, id)).toEqual([]);
      });

      it('creating with the same Idempotency-Key in two orgs gives two distinct deals', async () => {
        const a = await http().post(OPPS).set(bearer(tokens.manager)).set('Idempotency-Key', 'shared-key-1').send(dealBody());
        const b = await http().post(OPPS).set(bearer(otherToken)).set('Idempotency-Key', 'shared-key-1').send(dealBody());
        expect(a.status).toBe(201);
        expect(b.status).toBe(201);
        expect(b.headers['idempotent-replayed']).toBeUndefined();
        expect(a.body.data.id).not.toBe(b.body.data.id);
        expect((await getDeal(t, otherToken, a.body.data.id)).status).toBe(404);
      });
    });
  });

  describe('concurrency', () => {
    it('20 concurrent PATCHes without If-Match all succeed and none is lost', async () => {
      const id = await dealAt(0);
      const N = 20;
      const results = await Promise.all(
        Array.from({ length: N }, (_, i) =>
          http()
            .patch(`${OPPS}/${id}`)
            .set(bearer(tokens.manager))
            .send({ next_step: `step ${i}` }),
        ),
      );
      expect(results.map((r) => r.status)).toEqual(Array(N).fill(200));
      const versions = results.map((r) => etagVersion(r)).sort((a, b) => a - b);
      // Each request appended exactly one event: the ETags are 2..21, each once.
      expect(versions).toEqual(Array.from({ length: N }, (_, i) => i + 2));
      expect(await versionOf(id)).toBe(1 + N);
      const events = [...(await readStream(t, org, id))].sort((a, b) => a.streamVersion - b.streamVersion);
      expect(events.map((e) => e.streamVersion)).toEqual(Array.from({ length: N + 1 }, (_, i) => i + 1));
      expect(events.slice(1).every((e) => e.type === 'OpportunityUpdated')).toBe(true);
      const steps = events.slice(1).map((e) => (e.data as { changes: { next_step: string } }).changes.next_step);
      expect(new Set(steps)).toEqual(new Set(Array.from({ length: N }, (_, i) => `step ${i}`)));
      // The response that got the highest ETag wrote the final value.
      const lastWriter = results.find((r) => etagVersion(r) === N + 1)!;
      expect(lastWriter.body.data.next_step).toBe(steps[N - 1]);
    });

    /** PATCHes next_step 'step 1' … 'step n' one after another, each → 200; the responses in order. */
    async function patchSteps(id: string, n: number): Promise<Response[]> {
      const responses: Response[] = [];
      for (let i = 1; i <= n; i++) {
        const res = await http()
          .patch(`${OPPS}/${id}`)
          .set(bearer(tokens.manager))
          .send({ next_step: `step ${i}` });
        expect(res.status).toBe(200);
        responses.push(res);
      }
      return responses;
    }

    it('readStream returns a stream of more than 9 events in version order', async () => {
      const id = await dealAt(0);
      await patchSteps(id, 10);
      const events = await readStream(t, org, id);
      expect(events.map((e) => e.streamVersion)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    });

    it('GET shows the latest write once a stream has more than 9 events', async () => {
      const id = await dealAt(0);
      const patches = await patchSteps(id, 10);
      expect(patches.map((r) => r.headers.etag)).toEqual(Array.from({ length: 10 }, (_, i) => `"${i + 2}"`));
      const res = await getDeal(t, tokens.manager, id);
      expect(res.headers.etag).toBe('"11"');
      expect(res.body.data.next_step).toBe('step 10');
    });

    it('stage and the next transition are decided on the latest state once a stream has more than 9 events', async () => {
      const id = await dealAt(1); // v2: qualification
      await patchSteps(id, 7); // v3..v9
      const tenth = await http().post(`${OPPS}/${id}/stage/next`).set(bearer(tokens.manager)).send({});
      expect(tenth.status).toBe(200);
      expect(tenth.body.data).toMatchObject({ stage: 'needs_analysis', previous_stage: 'qualification' });
      expect(tenth.headers.etag).toBe('"10"');

      const get = await getDeal(t, tokens.manager, id);
      expect(get.body.data).toMatchObject({ stage: 'needs_analysis', probability: 40, next_step: 'step 7' });

      const eleventh = await http().post(`${OPPS}/${id}/stage/next`).set(bearer(tokens.manager)).send({});
      expect(eleventh.status).toBe(200);
      expect(eleventh.body.data).toMatchObject({ stage: 'proposal', probability: 60, previous_stage: 'needs_analysis' });
    });
  });

  describe('412 If-Match', () => {
    it('a stale If-Match → 412 with the versions; the right one (quoted or bare) succeeds', async () => {
      const id = await dealAt(0);
      const stale = await http().patch(`${OPPS}/${id}`).set(bearer(tokens.manager)).set('If-Match', '"5"').send({ next_step: 'a' });
      expect(stale.status).toBe(412);
      expect(stale.body).toMatchObject({
        message: 'The opportunity has changed since the version given in If-Match',
        code: 'precondition_failed',
        expected_version: 5,
        current_version: 1,
      });
      expect(await versionOf(id)).toBe(1);

      const quoted = await http().patch(`${OPPS}/${id}`).set(bearer(tokens.manager)).set('If-Match', '"1"').send({ next_step: 'a' });
      expect(quoted.status).toBe(200);
      expect(quoted.headers.etag).toBe('"2"');

      const bare = await http().post(`${OPPS}/${id}/stage/next`).set(bearer(tokens.manager)).set('If-Match', '2').send({});
      expect(bare.status).toBe(200);
      expect(bare.headers.etag).toBe('"3"');

      const old = await http().post(`${OPPS}/${id}/stage/next`).set(bearer(tokens.manager)).set('If-Match', '2').send({});
      expect(old.status).toBe(412);
      expect(old.body).toMatchObject({ code: 'precondition_failed', expected_version: 2, current_version: 3 });
      expect(await versionOf(id)).toBe(3);
    });

    it('a malformed If-Match → 400', async () => {
      const id = await dealAt(0);
      const res = await http().patch(`${OPPS}/${id}`).set(bearer(tokens.manager)).set('If-Match', 'banana').send({ next_step: 'a' });
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject(VALIDATION);
      expect(Object.keys(res.body.errors)).toEqual(['If-Match']);
      expect(await versionOf(id)).toBe(1);
    });
  });

  describe('422 Invalid stage transition', () => {
    it('skipping prospecting → proposal → 422 with allowed_stages', async () => {
      const id = await dealAt(0);
      const res = await http().patch(`${OPPS}/${id}/stage`).set(bearer(tokens.manager)).send({ stage: 'proposal' });
      expect(res.status).toBe(422);
      expect(res.body).toMatchObject({
        ...INVALID_TRANSITION,
        current_stage: 'prospecting',
        requested_stage: 'proposal',
        allowed_stages: ['qualification', 'lost', 'on_hold'],
      });
      expect(await versionOf(id)).toBe(1);
    });

    it('backward via PATCH stage without a reason → 422; with a reason → 200 and the reason is recorded', async () => {
      const id = await dealAt(2); // needs_analysis, version 3
      const refused = await http().patch(`${OPPS}/${id}/stage`).set(bearer(tokens.manager)).send({ stage: 'qualification' });
      expect(refused.status).toBe(422);
      expect(refused.body).toMatchObject({
        ...INVALID_TRANSITION,
        current_stage: 'needs_analysis',
        requested_stage: 'qualification',
        allowed_stages: ['proposal', 'lost', 'on_hold'],
        allowed_with_reason: ['prospecting', 'qualification'],
      });
      expect(await versionOf(id)).toBe(3);

      const reason = 'Customer requested additional qualification of the new budget holder';
      const ok = await http().patch(`${OPPS}/${id}/stage`).set(bearer(tokens.manager)).send({ stage: 'qualification', reason });
      expect(ok.status).toBe(200);
      expect(ok.body.message).toBe('Opportunity stage updated successfully');
      expect(ok.body.data).toMatchObject({ id, stage: 'qualification', probability: 25, previous_stage: 'needs_analysis' });
      expect(ok.headers.etag).toBe('"4"');
      const events = await readStream(t, org, id);
      expect(events[3]).toMatchObject({
        type: 'OpportunityStageChanged',
        streamVersion: 4,
        data: { from_stage: 'needs_analysis', to_stage: 'qualification', movement: 'backward', reason },
      });
    });

    it('stage/previous without a reason → 400 errors.reason; with one → 200 and recorded', async () => {
      const id = await dealAt(3); // proposal, version 4
      for (const body of [{}, { reason: '' }, { notes: 'only notes' }]) {
        const res = await http().post(`${OPPS}/${id}/stage/previous`).set(bearer(tokens.manager)).send(body);
        expect(res.status).toBe(400);
        expect(res.body).toMatchObject(VALIDATION);
        // Once, and nothing untrue about a length the missing reason does not have.
        expect(res.body.errors.reason).toEqual(['reason is required to move an opportunity backward']);
      }
      expect(await versionOf(id)).toBe(4);

      const reason = 'Customer requested additional discovery on integration requirements';
      const ok = await http().post(`${OPPS}/${id}/stage/previous`).set(bearer(tokens.manager)).send({ reason, notes: 'back to discovery' });
      expect(ok.status).toBe(200);
      expect(ok.body.message).toBe('Opportunity moved to previous stage successfully');
      expect(ok.body.data).toMatchObject({ stage: 'needs_analysis', probability: 40, previous_stage: 'proposal' });
      const last = (await readStream(t, org, id)).at(-1)!;
      expect(last.data).toMatchObject({ movement: 'backward', reason, notes: 'back to discovery' });
    });

    it('resuming from on_hold to a never-reached stage → 422; to a reached one → 200', async () => {
      const id = await dealAt(1); // qualification (reached: prospecting, qualification)
      const hold = await http()
        .patch(`${OPPS}/${id}/stage`)
        .set(bearer(tokens.manager))
        .send({ stage: 'on_hold', notes: 'Unable to reach decision maker' });
      expect(hold.status).toBe(200);
      expect(hold.body.data).toMatchObject({ stage: 'on_hold', probability: 0, previous_stage: 'qualification' });
      expect(hold.headers.etag).toBe('"3"');

      const jump = await http().patch(`${OPPS}/${id}/stage`).set(bearer(tokens.manager)).send({ stage: 'needs_analysis' });
      expect(jump.status).toBe(422);
      expect(jump.body).toMatchObject({
        ...INVALID_TRANSITION,
        current_stage: 'on_hold',
        requested_stage: 'needs_analysis',
        allowed_stages: ['prospecting', 'qualification', 'lost'],
      });
      const next = await http().post(`${OPPS}/${id}/stage/next`).set(bearer(tokens.manager)).send({});
      expect(next.status).toBe(422);
      expect(await versionOf(id)).toBe(3);

      const resume = await http().patch(`${OPPS}/${id}/stage`).set(bearer(tokens.manager)).send({ stage: 'qualification' });
      expect(resume.status).toBe(200);
      expect(resume.body.data).toMatchObject({ stage: 'qualification', probability: 25, previous_stage: 'on_hold' });
      expect(await versionOf(id)).toBe(4);
    });

    it('win before verbal_commitment → 422', async () => {
      const id = await dealAt(3);
      const res = await http().post(`${OPPS}/${id}/win`).set(bearer(tokens.manager)).send({});
      expect(res.status).toBe(422);
      expect(res.body).toMatchObject({ ...INVALID_TRANSITION, current_stage: 'proposal', requested_stage: 'won' });
      expect(await versionOf(id)).toBe(4);
    });

    it('lose with an unknown loss_reason → 400 errors.loss_reason; a known one → 200', async () => {
      const id = await dealAt(2);
      const bad = await http().post(`${OPPS}/${id}/lose`).set(bearer(tokens.manager)).send({ loss_reason: 'bad_luck' });
      expect(bad.status).toBe(400);
      expect(bad.body).toMatchObject(VALIDATION);
      expect(bad.body.errors).toEqual({
        loss_reason: [
          'loss_reason must be one of: price, competitor, no_decision, timing, lack_of_features, internal_champion_left, budget_cuts, other',
        ],
      });
      const missing = await http().post(`${OPPS}/${id}/lose`).set(bearer(tokens.manager)).send({});
      expect(missing.status).toBe(400);
      expect(Object.keys(missing.body.errors)).toEqual(['loss_reason']);
      expect(await versionOf(id)).toBe(3);

      const ok = await http()
        .post(`${OPPS}/${id}/lose`)
        .set(bearer(tokens.manager))
        .send({ loss_reason: 'competitor', competitor: 'Competitor Y' });
      expect(ok.status).toBe(200);
      expect(ok.body.message).toBe('Opportunity marked as lost');
      expect(ok.body.data).toMatchObject({ stage: 'lost', probability: 0, loss_reason: 'competitor', competitor: 'Competitor Y' });
    });
  });

  describe('Idempotency-Key', () => {
    it('a repeated POST create returns the first result and appends nothing', async () => {
      const key = `create-${org}-1`;
      const body = dealBody({ name: 'Idempotent deal' });
      const first = await http().post(OPPS).set(bearer(tokens.manager)).set('Idempotency-Key', key).send(body);
      expect(first.status).toBe(201);
      expect(first.headers['idempotent-replayed']).toBeUndefined();
      const second = await http().post(OPPS).set(bearer(tokens.manager)).set('Idempotency-Key', key).send(body);
      expect(second.status).toBe(201);
      expect(second.headers['idempotent-replayed']).toBe('true');
      expect(second.body).toEqual(first.body);
      expect(second.body.data.id).toBe(first.body.data.id);
      expect(second.headers.etag).toBe(first.headers.etag);
      expect(second.headers.etag).toBe('"1"');
      expect(second.headers['x-global-position']).toBe(first.headers['x-global-position']);
      expect(second.headers.location).toBe(first.headers.location);
      expect(await versionOf(first.body.data.id)).toBe(1);
    });

    it('the same key with a different body → 422 and nothing is created', async () => {
      const key = `create-${org}-2`;
      const first = await http()
        .post(OPPS)
        .set(bearer(tokens.manager))
        .set('Idempotency-Key', key)
        .send(dealBody({ name: 'First' }));
      expect(first.status).toBe(201);
      const other = await http()
        .post(OPPS)
        .set(bearer(tokens.manager))
        .set('Idempotency-Key', key)
        .send(dealBody({ name: 'Second' }));
      expect(other.status).toBe(422);
      expect(other.body).toMatchObject({
        message: 'This Idempotency-Key was already used for a different request',
        code: 'idempotency_key_reused',
      });
      expect(await versionOf(first.body.data.id)).toBe(1);
      expect((await getDeal(t, tokens.manager, first.body.data.id)).body.data.name).toBe('First');
    });

    it('a failed first attempt does not consume the key', async () => {
      const key = `create-${org}-3`;
      const bad = await http()
        .post(OPPS)
        .set(bearer(tokens.manager))
        .set('Idempotency-Key', key)
        .send(dealBody({ value: -1 }));
      expect(bad.status).toBe(400);
      const good = await http()
        .post(OPPS)
        .set(bearer(tokens.manager))
        .set('Idempotency-Key', key)
        .send(dealBody({ value: -1 }));
      expect(good.status).toBe(400); // the same bad request is evaluated again, not replayed from a stored failure
      const fixed = await http().post(OPPS).set(bearer(tokens.manager)).set('Idempotency-Key', key).send(dealBody());
      expect(fixed.status).toBe(201);
      expect(fixed.headers['idempotent-replayed']).toBeUndefined();
    });

    it('a repeated POST win with the same key returns the first 200 instead of 422', async () => {
      const id = await dealAt(5); // verbal_commitment, version 6
      const key = `win-${id}`;
      const body = { actual_value: 185000.0, close_date: '2025-12-28', close_reason: 'Signed' };
      const first = await http().post(`${OPPS}/${id}/win`).set(bearer(tokens.manager)).set('Idempotency-Key', key).send(body);
      expect(first.status).toBe(200);
      expect(first.headers.etag).toBe('"7"');
      const again = await http().post(`${OPPS}/${id}/win`).set(bearer(tokens.manager)).set('Idempotency-Key', key).send(body);
      expect(again.status).toBe(200);
      expect(again.headers['idempotent-replayed']).toBe('true');
      expect(again.body).toEqual(first.body);
      expect(again.headers.etag).toBe('"7"');
      // Without the key the same request is a new command on a won deal.
      const fresh = await http().post(`${OPPS}/${id}/win`).set(bearer(tokens.manager)).send(body);
      expect(fresh.status).toBe(422);
      expect(await versionOf(id)).toBe(7);
    });
  });

  describe('DELETE', () => {
    it('204, then GET → 404 and commands → 404, but the events remain with OpportunityDeleted last', async () => {
      const id = await dealAt(1);
      const del = await http().delete(`${OPPS}/${id}`).query({ reason: 'duplicate' }).set(bearer(tokens.manager));
      expect(del.status).toBe(204);
      expect(del.text).toBe('');
      expect(del.headers.etag).toBe('"3"');

      const get = await getDeal(t, tokens.manager, id);
      expect(get.status).toBe(404);
      expect(get.body).toMatchObject({ message: 'Opportunity not found', code: 'not_found' });
      const patch = await http().patch(`${OPPS}/${id}`).set(bearer(tokens.manager)).send({ next_step: 'x' });
      expect(patch.status).toBe(404);
      const again = await http().delete(`${OPPS}/${id}`).set(bearer(tokens.manager));
      expect(again.status).toBe(404);

      const events = await readStream(t, org, id);
      expect(events.map((e) => e.type)).toEqual(['OpportunityCreated', 'OpportunityStageChanged', 'OpportunityDeleted']);
      expect(events.map((e) => e.streamVersion)).toEqual([1, 2, 3]);
      expect(events[2].data).toMatchObject({ reason: 'duplicate' });
      expect(events[2].metadata).toMatchObject({ actor_id: 'mgr_1', org_id: org });
    });
  });
});
