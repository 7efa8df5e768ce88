import { describeEachBackend, useTestApp, useTokens } from '../support/test-app';
import { API, bearer, OPPS, streamLength, uniqueOrg } from './helpers';
import type { WebhookTables } from '@app/webhooks';

/**
 * A won deal can name its sale in another system (`transaction_id` on win): kept as given, shown by
 * the win response, the detail, the history and the won webhook's payload; refused with a 400 naming
 * the field when it cannot be stored, and then nothing is appended.
 */

describeEachBackend('sale reference on won deals (%s)', (backend) => {
  const t = useTestApp(backend, { WEBHOOK_ALLOWED_HOSTS: '127.0.0.1', PROJECTION_POLL_MS: '20' });
  const org = uniqueOrg('sale');
  const tokens = useTokens(t, { admin: [org, 'admin_1', 'admin'] });
  const auth = () => bearer(tokens.admin);

  async function dealInVerbalCommitment(): Promise<string> {
    const res = await t
      .http()
      .post(OPPS)
      .set(auth())
      .send({ name: 'Renewal', customer_id: 'c1', value: 1200, expected_close_date: '2031-01-31', stage: 'verbal_commitment' });
    expect(res.status).toBe(201);
    return res.body.data.id as string;
  }

  it('is shown by the win response, the detail, the history and the queued won webhook', async () => {
    const hook = await t
      .http()
      .post(`${API}/webhooks`)
      .set(auth())
      .send({ url: 'http://127.0.0.1:9/hook', event_types: ['opportunity.won'] });
    expect(hook.status).toBe(201);
    const id = await dealInVerbalCommitment();

    const won = await t.http().post(`${OPPS}/${id}/win`).set(auth()).send({ transaction_id: ' INV-2026/0042 ' });
    expect(won.status).toBe(200);
    expect(won.body.data).toMatchObject({ stage: 'won', transaction_id: 'INV-2026/0042' });

    const detail = await t.http().get(`${OPPS}/${id}`).set(auth());
    expect(detail.status).toBe(200);
    expect(detail.body.data.transaction_id).toBe('INV-2026/0042');

    const history = await t.http().get(`${OPPS}/${id}/history`).set(auth());
    expect(history.status).toBe(200);
    const entry = (history.body.data as Array<{ type: string; data: Record<string, unknown> }>).find((e) => e.type === 'OpportunityWon');
    expect(entry?.data.transaction_id).toBe('INV-2026/0042');

    // The message the dispatcher will send, byte for byte, as the outbox holds it.
    let payload: { type: string; data: { opportunity: Record<string, unknown> } } | undefined;
    for (let i = 0; i < 200 && !payload; i++) {
      const row = await t.database
        .tables<WebhookTables>()
        .selectFrom('webhook_messages')
        .select('body')
        .where('endpoint_id', '=', hook.body.data.id)
        .executeTakeFirst();
      if (row) payload = JSON.parse(String(row.body));
      else await new Promise((resolve) => setTimeout(resolve, 25));
    }
    expect(payload?.type).toBe('opportunity.won');
    expect(payload?.data.opportunity.transaction_id).toBe('INV-2026/0042');
  });

  it('a JSON integer is kept as its string; a win without one shows null', async () => {
    const numbered = await dealInVerbalCommitment();
    const res = await t.http().post(`${OPPS}/${numbered}/win`).set(auth()).send({ transaction_id: 987654321 });
    expect(res.status).toBe(200);
    expect(res.body.data.transaction_id).toBe('987654321');

    const plain = await dealInVerbalCommitment();
    const bare = await t.http().post(`${OPPS}/${plain}/win`).set(auth()).send({});
    expect(bare.status).toBe(200);
    expect(bare.body.data.transaction_id).toBeNull();
  });

  it.each([
    ['blank', '   '],
    ['too long', 'x'.repeat(201)],
    ['with a control character', 'INV\u0000042'],
    ['an object', { id: 1 }],
    ['a fractional number', 1.5],
  ])('refuses a reference that is %s with a 400 naming transaction_id, appending nothing', async (_, transaction_id) => {
    const id = await dealInVerbalCommitment();
    const before = await streamLength(t, org, id);
    const res = await t.http().post(`${OPPS}/${id}/win`).set(auth()).send({ transaction_id });
    expect(res.status).toBe(400);
    expect(Object.keys(res.body.errors)).toEqual(['transaction_id']);
    expect(await streamLength(t, org, id)).toBe(before);
  });
});
