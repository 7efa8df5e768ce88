import { API, describeEachBackend, uniqueOrg, useTestApp } from '../support/test-app';

/**
 * A delivery the dispatcher has not attempted yet (here: no dispatcher in this process, as when
 * the worker is down) is listed as pending, with nothing about attempts it has not made.
 */
describeEachBackend('a webhook delivery not attempted yet (%s)', (backend) => {
  const t = useTestApp(backend, { RUN_WEBHOOK_DISPATCHER: 'false', WEBHOOK_ALLOWED_HOSTS: '127.0.0.1', PROJECTION_POLL_MS: '20' });

  it('is pending with 0 attempts, no last attempt, no status code, no delivery time and an empty log', async () => {
    const admin = { Authorization: `Bearer ${await t.token(uniqueOrg('wh_pending'), 'admin_1', 'admin')}` };
    const hook = await t
      .http()
      .post(`${API}/webhooks`)
      .set(admin)
      .send({ url: 'http://127.0.0.1:9/hook', event_types: ['opportunity.created'] });
    expect(hook.status).toBe(201);
    const deal = await t
      .http()
      .post(`${API}/opportunities`)
      .set(admin)
      .send({ name: 'Pending hook', customer_id: 'c1', value: 10, expected_close_date: '2031-01-31' });
    expect(deal.status).toBe(201);

    let listed: Array<Record<string, unknown>> = [];
    for (let i = 0; i < 400 && listed.length === 0; i++) {
      const res = await t.http().get(`${API}/webhooks/${hook.body.data.id}/deliveries`).set(admin);
      expect(res.status).toBe(200);
      listed = res.body.data as typeof listed;
      if (listed.length === 0) await new Promise((r) => setTimeout(r, 25));
    }
    expect(listed).toEqual([
      expect.objectContaining({
        event_type: 'opportunity.created',
        status: 'pending',
        attempts: 0,
        last_attempt_at: null,
        last_status_code: null,
        delivered_at: null,
        attempts_log: [],
      }),
    ]);
  });
});
