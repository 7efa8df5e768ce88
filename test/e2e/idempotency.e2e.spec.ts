import { sql } from 'kysely';
import { idempotencyRequestHash } from '@app/platform';
import { describeEachBackend, useTestApp, useTokens } from '../support/test-app';
import { bearer, dealBody, OPPS, readStream, uniqueOrg } from './helpers';

/**
 * Idempotency-Key: a repeat of the same request (same caller, path and body, whatever the key order)
 * replays the first response; a key whose request died is recovered; keys expire.
 */
describeEachBackend('Idempotency-Key (%s)', (backend) => {
  const t = useTestApp(backend, { IDEMPOTENCY_KEY_TTL_SECONDS: '2', IDEMPOTENCY_LEASE_SECONDS: '1' });
  const org = uniqueOrg('idem');
  const tok = useTokens(t, { manager: [org, 'mgr_1', 'manager'] });

  const post = (key: string, body: object, path = OPPS) =>
    t.http().post(path).set(bearer(tok.manager)).set('Idempotency-Key', key).send(body);

  /** The row of a request whose process died before storing its response (status null, lease over). */
  async function abandon(key: string, body: object, path = OPPS): Promise<void> {
    const hash = idempotencyRequestHash('mgr_1', path, body);
    await t.database.db
      .insertInto('idempotency_keys')
      .values({ org_id: org, key, request_hash: hash, locked_until: sql`now() - interval '1 second'` })
      .onConflict((oc) =>
        oc.columns(['org_id', 'key']).doUpdateSet({
          status_code: null,
          response_body: null,
          response_headers: null,
          locked_until: sql`now() - interval '1 second'`,
        }),
      )
      .execute();
  }

  it('the same body with its keys in another order is the same request: replayed, nothing appended', async () => {
    const body = { name: 'Order', customer_id: 'c1', value: 10, expected_close_date: '2031-01-31', priority: 'high' };
    const reordered = { priority: 'high', expected_close_date: '2031-01-31', value: 10, customer_id: 'c1', name: 'Order' };
    const first = await post('order-1', body);
    expect(first.status).toBe(201);
    const again = await post('order-1', reordered);
    expect(again.status).toBe(201);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.body.data.id).toBe(first.body.data.id);
    expect(await readStream(t, org, first.body.data.id)).toHaveLength(1);
  });

  it('a different request under a used key is refused', async () => {
    expect((await post('order-2', dealBody({ name: 'A' }))).status).toBe(201);
    const other = await post('order-2', dealBody({ name: 'B' }));
    expect(other.status).toBe(422);
    expect(other.body.code).toBe('idempotency_key_reused');
  });

  it('a key whose request died after appending: the retry finds the events and answers with them, appending nothing', async () => {
    const body = dealBody({ name: 'Died after append' });
    const first = await post('crash-after', body);
    expect(first.status).toBe(201);
    await abandon('crash-after', body);
    const retry = await post('crash-after', body);
    expect(retry.status).toBe(201);
    expect(retry.body.data.id).toBe(first.body.data.id);
    expect(await readStream(t, org, first.body.data.id)).toHaveLength(1);
    // and a stage move that died after appending is not applied twice
    const next = `${OPPS}/${first.body.data.id}/stage/next`;
    expect((await post('next-after', {}, next)).status).toBe(200);
    await abandon('next-after', {}, next);
    const retried = await post('next-after', {}, next);
    expect(retried.status).toBe(200);
    expect(retried.body.data.stage).toBe('qualification');
    expect(await readStream(t, org, first.body.data.id)).toHaveLength(2);
  });

  it('a key whose request died before appending: the retry runs the command', async () => {
    const body = dealBody({ name: 'Died before append' });
    await abandon('crash-before', body);
    const retry = await post('crash-before', body);
    expect(retry.status).toBe(201);
    expect(await readStream(t, org, retry.body.data.id)).toHaveLength(1);
    const replay = await post('crash-before', body);
    expect(replay.headers['idempotent-replayed']).toBe('true');
  });

  it('while the request holds its lease a repeat is 409 with Retry-After', async () => {
    const body = dealBody({ name: 'In flight' });
    await t.database.db
      .insertInto('idempotency_keys')
      .values({
        org_id: org,
        key: 'in-flight',
        request_hash: idempotencyRequestHash('mgr_1', OPPS, body),
        locked_until: sql`now() + interval '30 seconds'`,
      })
      .execute();
    const res = await post('in-flight', body);
    expect(res.status).toBe(409);
    expect(res.body.message).toMatch(/still in progress/);
    expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
  });

  it('keys expire after IDEMPOTENCY_KEY_TTL_SECONDS: the key is then free for a new request', async () => {
    expect((await post('ttl', dealBody({ name: 'First use' }))).status).toBe(201);
    expect((await post('ttl', dealBody({ name: 'Too soon' }))).status).toBe(422);
    await new Promise((r) => setTimeout(r, 2_200));
    const reused = await post('ttl', dealBody({ name: 'Second use' }));
    expect(reused.status).toBe(201);
    expect(reused.headers['idempotent-replayed']).toBeUndefined();
    expect(reused.body.data.name).toBe('Second use');
  });
});
