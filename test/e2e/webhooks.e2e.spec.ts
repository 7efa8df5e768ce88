import { createServer, type IncomingMessage, type Server } from 'node:http';
import { type AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { testBackends } from '../support/test-database';
import { freePort } from '../support/api-process';
import { API, type TestApp, useTestApp } from '../support/test-app';

interface Received {
  headers: IncomingMessage['headers'];
  body: string;
  at: number;
}

type Answer = { status: number; headers?: Record<string, string> };

/**
 * A real HTTP receiver on loopback that answers from `respond` when set, else from a script of
 * status codes (then 200).
 */
class Receiver {
  readonly received: Received[] = [];
  private server: Server | null = null;
  script: Answer[] = [];
  respond: ((body: string) => Answer) | null = null;
  port = 0;

  async start(port = 0): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        this.received.push({ headers: req.headers, body, at: Date.now() });
        const next = this.respond?.(body) ?? this.script.shift() ?? { status: 200 };
        res.writeHead(next.status, { 'content-type': 'text/plain', ...(next.headers ?? {}) });
        res.end(`answer ${next.status}`);
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
    this.port = (this.server!.address() as AddressInfo).port;
    return this;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/hook`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server = null;
  }

  types(): string[] {
    return this.received.map((r) => JSON.parse(r.body).type);
  }
}

async function until<T>(what: string, probe: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** The Standard Webhooks signature check of a received request (throws when it does not verify). */
function verifySignature(secret: string, r: Received): unknown {
  return new Webhook(secret).verify(r.body, {
    'webhook-id': r.headers['webhook-id'] as string,
    'webhook-timestamp': r.headers['webhook-timestamp'] as string,
    'webhook-signature': r.headers['webhook-signature'] as string,
  });
}

/** POST /webhooks subscribing `url` to opportunity.won, answer unchecked. */
function postWebhook(t: TestApp, auth: Record<string, string>, url: string) {
  return t
    .http()
    .post(`${API}/webhooks`)
    .set(auth)
    .send({ url, event_types: ['opportunity.won'] });
}

const FAST = {
  WEBHOOK_ALLOWED_HOSTS: '127.0.0.1',
  WEBHOOK_RETRY_SCHEDULE: '0.05,0.05,0.05,0.05,0.05',
  WEBHOOK_POLL_MS: '20',
  PROJECTION_POLL_MS: '20',
};

for (const backend of testBackends()) {
  describe(`webhooks (${backend.name})`, () => {
    const t = useTestApp(backend, FAST);
    let admin: Record<string, string>;
    let org: string;

    beforeEach(async () => {
      org = `wh_${Math.random().toString(36).slice(2, 10)}`;
      admin = { Authorization: `Bearer ${await t.token(org, 'admin_1', 'admin')}` };
    });

    async function subscribe(url: string, eventTypes: string[]) {
      const res = await t.http().post(`${API}/webhooks`).set(admin).send({ url, event_types: eventTypes, description: 'test' });
      expect(res.status).toBe(201);
      expect(res.body.data.secret).toMatch(/^whsec_/);
      return res.body.data as { id: string; secret: string };
    }

    async function dealAt(stage: string, value = 1000) {
      const res = await t
        .http()
        .post(`${API}/opportunities`)
        .set(admin)
        .send({ name: `Deal ${stage}`, customer_id: 'c1', value, expected_close_date: '2031-01-31', stage });
      expect(res.status).toBe(201);
      return res.body.data.id as string;
    }

    async function deliveries(endpointId: string) {
      const res = await t.http().get(`${API}/webhooks/${endpointId}/deliveries`).set(admin);
      expect(res.status).toBe(200);
      return res.body.data as Array<{
        id: string;
        status: string;
        attempts: number;
        event_type: string;
        next_attempt_at: string | null;
        attempts_log: Array<{ attempt: number; status_code: number | null; latency_ms: number; error: string | null }>;
      }>;
    }

    /** Receivers of the running test: stopped after it, however it ends. */
    const receivers: Receiver[] = [];
    afterEach(async () => {
      await Promise.all(receivers.splice(0).map((r) => r.stop()));
    });
    const stoppedAfterTheTest = (receiver: Receiver) => {
      receivers.push(receiver);
      return receiver;
    };
    const startReceiver = async () => stoppedAfterTheTest(await new Receiver().start());

    it('delivers won and lost, signed per Standard Webhooks; a won-only subscriber never gets lost', async () => {
      const both = await startReceiver();
      const wonOnly = await startReceiver();
      const a = await subscribe(both.url, ['opportunity.won', 'opportunity.lost']);
      const b = await subscribe(wonOnly.url, ['opportunity.won']);
      const winner = await dealAt('verbal_commitment', 185000);
      const loser = await dealAt('proposal');
      expect(
        (await t.http().post(`${API}/opportunities/${winner}/win`).set(admin).send({ actual_value: 185000, close_date: '2031-01-15' }))
          .status,
      ).toBe(200);
      const lose = await t.http().post(`${API}/opportunities/${loser}/lose`).set(admin).send({ loss_reason: 'price' });
      expect(lose.status).toBe(200);
      await until('both deliveries at A', () => both.received.length >= 2);
      await until('the won delivery at B', () => wonOnly.received.length >= 1);
      await new Promise((r) => setTimeout(r, 300)); // anything else would arrive by now

      expect(both.types().sort()).toEqual(['opportunity.lost', 'opportunity.won']);
      expect(wonOnly.types()).toEqual(['opportunity.won']);
      for (const [receiver, secret] of [
        [both, a.secret],
        [wonOnly, b.secret],
      ] as const) {
        for (const r of receiver.received) {
          const verified = verifySignature(secret, r);
          expect(verified).toMatchObject({ type: JSON.parse(r.body).type });
        }
      }
      const won = JSON.parse(both.received.find((r) => JSON.parse(r.body).type === 'opportunity.won')!.body);
      expect(won.data.opportunity).toMatchObject({ id: winner, stage: 'won', status: 'won', value: 185000, actual_value: 185000 });
      expect(won.data.stream).toEqual({ id: `opportunity-${org}-${winner}`, version: 2 });
      expect(won.data.event).toMatchObject({ type: 'OpportunityWon', actor_id: 'admin_1' });
      expect(Number(won.data.position)).toBeGreaterThan(0);
      expect(both.received[0].headers['content-type']).toBe('application/json');
    });

    it('retries 500, 500, 500 then 200: one delivery, the same webhook-id on all four attempts, four in the log', async () => {
      const receiver = await startReceiver();
      receiver.script = [{ status: 500 }, { status: 500 }, { status: 500 }, { status: 200 }];
      const endpoint = await subscribe(receiver.url, ['opportunity.won']);
      const id = await dealAt('verbal_commitment');
      await t.http().post(`${API}/opportunities/${id}/win`).set(admin).send({});
      const [message] = await until('the delivery to succeed', async () => {
        const list = await deliveries(endpoint.id);
        return list.length === 1 && list[0].status === 'delivered' ? list : undefined;
      });
      expect(receiver.received).toHaveLength(4);
      const ids = new Set(receiver.received.map((r) => r.headers['webhook-id']));
      expect([...ids]).toEqual([message.id]);
      expect(message.attempts).toBe(4);
      expect(message.attempts_log.map((a) => a.status_code)).toEqual([500, 500, 500, 200]);
      expect(message.attempts_log.map((a) => a.attempt)).toEqual([1, 2, 3, 4]);
      for (const a of message.attempts_log) expect(a.latency_ms).toBeGreaterThanOrEqual(0);
      // Each retry is signed anew (timestamp per attempt), the body is the same bytes.
      expect(new Set(receiver.received.map((r) => r.body)).size).toBe(1);
    });

    it('delivers after a restart when the receiver was down at the time of the win', async () => {
      const port = await freePort();
      const endpoint = await subscribe(`http://127.0.0.1:${port}/hook`, ['opportunity.won']);
      const id = await dealAt('verbal_commitment');
      await t.http().post(`${API}/opportunities/${id}/win`).set(admin).send({});
      await until('a failed first attempt', async () => {
        const [m] = await deliveries(endpoint.id);
        return m && m.attempts_log.length >= 1 && m.attempts_log[0].error !== null;
      });
      const receiver = stoppedAfterTheTest(new Receiver());
      // The process goes away; the receiver comes back while it is down; a new process starts.
      await t.restart(async () => {
        await receiver.start(port);
      });
      admin = { Authorization: `Bearer ${await t.token(org, 'admin_2', 'admin')}` };
      await until('delivery after the restart', () => receiver.received.length >= 1, 30_000);
      expect(JSON.parse(receiver.received[0].body)).toMatchObject({ type: 'opportunity.won', data: { opportunity: { id } } });
      const [m] = await until('status delivered', async () => {
        const list = await deliveries(endpoint.id);
        return list[0]?.status === 'delivered' ? list : undefined;
      });
      expect(m.attempts_log.length).toBeGreaterThanOrEqual(2);
      expect(m.attempts_log[m.attempts_log.length - 1].status_code).toBe(200);
    });

    it('a schedule that runs out fails the message and disables the endpoint', async () => {
      const receiver = await startReceiver();
      receiver.script = Array.from({ length: 10 }, () => ({ status: 503 }));
      const endpoint = await subscribe(receiver.url, ['opportunity.won']);
      const id = await dealAt('verbal_commitment');
      await t.http().post(`${API}/opportunities/${id}/win`).set(admin).send({});
      const ep = await until('the endpoint to be disabled', async () => {
        const res = await t.http().get(`${API}/webhooks/${endpoint.id}`).set(admin);
        return res.body.data.enabled === false ? res.body.data : undefined;
      });
      expect(ep.disabled_reason).toMatch(/retry schedule exhausted/);
      const [m] = await deliveries(endpoint.id);
      expect(m.status).toBe('failed');
      expect(m.attempts_log).toHaveLength(6); // the first try + 5 retries of WEBHOOK_RETRY_SCHEDULE
      const enabled = await t.http().patch(`${API}/webhooks/${endpoint.id}`).set(admin).send({ enabled: true });
      expect(enabled.body.data).toMatchObject({ enabled: true, disabled_reason: null });
    });

    it("a message that exhausts the schedule leaves the endpoint's other messages pending, sent after re-enabling", async () => {
      const receiver = await startReceiver();
      let first = '';
      let second = '';
      // Always failing; the second message is told to come back in 2 s, so it is still early in its
      // schedule (and due again while the endpoint is disabled) when the first one runs out.
      receiver.respond = (body) =>
        JSON.parse(body).data.opportunity.id === second ? { status: 503, headers: { 'retry-after': '2' } } : { status: 503 };
      const opportunityOf = (m: { id: string }) =>
        JSON.parse(receiver.received.find((r) => r.headers['webhook-id'] === m.id)!.body).data.opportunity.id as string;
      const endpoint = await subscribe(receiver.url, ['opportunity.won']);
      first = await dealAt('verbal_commitment');
      second = await dealAt('verbal_commitment');
      await t.http().post(`${API}/opportunities/${second}/win`).set(admin).send({});
      await until('the first failed attempt of the second message', async () => {
        const list = await deliveries(endpoint.id);
        return list.length === 1 && list[0].attempts >= 1;
      });
      await t.http().post(`${API}/opportunities/${first}/win`).set(admin).send({});
      const ep = await until('the endpoint to be disabled', async () => {
        const res = await t.http().get(`${API}/webhooks/${endpoint.id}`).set(admin);
        return res.body.data.enabled === false ? res.body.data : undefined;
      });
      expect(ep.disabled_reason).toMatch(/retry schedule exhausted \(6 attempts\)/);

      let list = await deliveries(endpoint.id);
      expect(list).toHaveLength(2);
      const exhausted = list.find((m) => m.status === 'failed')!;
      expect(exhausted).toBeDefined();
      expect(opportunityOf(exhausted)).toBe(first);
      expect(exhausted.attempts).toBe(6);
      const waiting = list.find((m) => m.id !== exhausted.id)!;
      expect(opportunityOf(waiting)).toBe(second);
      expect(waiting.status).toBe('pending');
      expect(waiting.attempts).toBeGreaterThanOrEqual(1);
      expect(waiting.attempts).toBeLessThan(6);

      // Its retry falls due while the endpoint is disabled: it is neither sent nor failed.
      const due = new Date(waiting.next_attempt_at!).getTime();
      await new Promise((r) => setTimeout(r, Math.max(0, due - Date.now()) + 750));
      const sent = receiver.received.length;
      await new Promise((r) => setTimeout(r, 250));
      expect(receiver.received.length).toBe(sent);
      list = await deliveries(endpoint.id);
      const still = list.find((m) => m.id === waiting.id)!;
      expect(still).toMatchObject({ status: 'pending', attempts: waiting.attempts });
      expect(still.attempts_log).toHaveLength(waiting.attempts);

      receiver.respond = null; // the receiver is fixed (200 from now on)
      const enabled = await t.http().patch(`${API}/webhooks/${endpoint.id}`).set(admin).send({ enabled: true });
      expect(enabled.body.data).toMatchObject({ enabled: true, disabled_reason: null });
      const delivered = await until('the waiting message to be delivered', async () => {
        const m = (await deliveries(endpoint.id)).find((d) => d.id === waiting.id);
        return m?.status === 'delivered' ? m : undefined;
      });
      expect(delivered.attempts).toBe(waiting.attempts + 1);
      expect(delivered.attempts_log.map((a) => a.status_code)).toEqual([...Array(waiting.attempts).fill(503), 200]);
      const last = receiver.received[receiver.received.length - 1];
      expect(last.headers['webhook-id']).toBe(waiting.id);
      expect((await deliveries(endpoint.id)).find((d) => d.id === exhausted.id)).toMatchObject({ status: 'failed', attempts: 6 });
    });

    it('410 Gone disables the endpoint at once', async () => {
      const receiver = await startReceiver();
      receiver.script = [{ status: 410 }];
      const endpoint = await subscribe(receiver.url, ['opportunity.lost']);
      const id = await dealAt('qualification');
      await t.http().post(`${API}/opportunities/${id}/lose`).set(admin).send({ loss_reason: 'timing' });
      const ep = await until('disabled', async () => {
        const res = await t.http().get(`${API}/webhooks/${endpoint.id}`).set(admin);
        return res.body.data.enabled === false ? res.body.data : undefined;
      });
      expect(ep.disabled_reason).toMatch(/410/);
      expect(receiver.received).toHaveLength(1);
      expect((await deliveries(endpoint.id))[0]).toMatchObject({ status: 'failed', attempts: 1 });
    });

    it('honours Retry-After', async () => {
      const receiver = await startReceiver();
      receiver.script = [{ status: 503, headers: { 'retry-after': '1' } }];
      const endpoint = await subscribe(receiver.url, ['opportunity.won']);
      const id = await dealAt('verbal_commitment');
      await t.http().post(`${API}/opportunities/${id}/win`).set(admin).send({});
      await until('the retry', () => receiver.received.length >= 2);
      const gap = receiver.received[1].at - receiver.received[0].at;
      expect(gap).toBeGreaterThanOrEqual(950); // the schedule alone would retry after ~50 ms
      expect((await deliveries(endpoint.id))[0].status).toBe('delivered');
    });

    it('redelivers a delivery with the same webhook-id and sends a signed test ping', async () => {
      const receiver = await startReceiver();
      const endpoint = await subscribe(receiver.url, ['opportunity.created']);
      await dealAt('prospecting');
      await until('the created delivery', () => receiver.received.length >= 1);
      const [message] = await until('delivered', async () => {
        const list = await deliveries(endpoint.id);
        return list[0]?.status === 'delivered' ? list : undefined;
      });
      const again = await t.http().post(`${API}/webhooks/${endpoint.id}/deliveries/${message.id}/redeliver`).set(admin);
      expect(again.status).toBe(202);
      await until('the redelivery', () => receiver.received.length >= 2);
      expect(receiver.received[1].headers['webhook-id']).toBe(message.id);
      expect(receiver.received[1].body).toBe(receiver.received[0].body);
      const after = await until('two attempts logged', async () => {
        const [m] = await deliveries(endpoint.id);
        return m.attempts_log.length === 2 && m.status === 'delivered' ? m : undefined;
      });
      expect(after.attempts_log.map((a) => a.attempt)).toEqual([1, 2]);

      const ping = await t.http().post(`${API}/webhooks/${endpoint.id}/test`).set(admin);
      expect(ping.status).toBe(200);
      expect(ping.body.data).toMatchObject({ delivered: true, status_code: 200 });
      const last = receiver.received[receiver.received.length - 1];
      expect(JSON.parse(last.body).type).toBe('webhook.test');
      expect(() => verifySignature(endpoint.secret, last)).not.toThrow();
      const unknown = await t
        .http()
        .post(`${API}/webhooks/${endpoint.id}/deliveries/msg_${'0'.repeat(32)}/redeliver`)
        .set(admin);
      expect(unknown.status).toBe(404);
    });

    it('rotating the secret signs with both secrets during the overlap', async () => {
      const receiver = await startReceiver();
      const endpoint = await subscribe(receiver.url, ['opportunity.created']);
      const rotated = await t.http().post(`${API}/webhooks/${endpoint.id}/rotate-secret`).set(admin).send({ overlap_seconds: 3600 });
      expect(rotated.status).toBe(200);
      const fresh = rotated.body.data.secret as string;
      expect(fresh).toMatch(/^whsec_/);
      expect(fresh).not.toBe(endpoint.secret);
      await dealAt('prospecting');
      const r = await until('delivery', () => receiver.received[0]);
      expect(String(r.headers['webhook-signature']).split(' ')).toHaveLength(2);
      for (const secret of [fresh, endpoint.secret]) {
        expect(() => verifySignature(secret, r)).not.toThrow();
      }
      const listed = await t.http().get(`${API}/webhooks`).set(admin);
      expect(JSON.stringify(listed.body)).not.toContain('whsec_');
    });

    it.each([
      ['IPv4-compatible loopback', 'http://[::127.0.0.1]/hook'],
      ['IPv4-compatible loopback, hex', 'http://[::7f00:1]/hook'],
      ['NAT64 of loopback', 'http://[64:ff9b::7f00:1]/hook'],
      ['6to4 of loopback', 'http://[2002:7f00:1::]/hook'],
    ])('refuses a URL whose IPv6 address carries a loopback IPv4 (%s) and stores nothing', async (_form, url) => {
      const res = await postWebhook(t, admin, url);
      expect(res.status).toBe(400);
      expect(res.body.errors.url[0]).toMatch(/private, loopback or link-local/);
      const listed = await t.http().get(`${API}/webhooks`).set(admin);
      expect(listed.status).toBe(200);
      expect(listed.body.data).toEqual([]);
      // Nor can an existing endpoint be pointed there.
      const mine = await subscribe('http://127.0.0.1:9/x', ['opportunity.won']);
      const moved = await t.http().patch(`${API}/webhooks/${mine.id}`).set(admin).send({ url });
      expect(moved.status).toBe(400);
      expect(moved.body.errors.url).toBeDefined();
      expect((await t.http().get(`${API}/webhooks/${mine.id}`).set(admin)).body.data.url).toBe('http://127.0.0.1:9/x');
    });

    it('refuses private, loopback and link-local URLs that are not allowed, and bad input', async () => {
      for (const url of [
        'http://10.1.2.3/hook',
        'http://169.254.169.254/latest',
        'http://[::1]:8080/hook',
        'http://192.168.0.10/x',
        'ftp://example.com/x',
        'not a url',
      ]) {
        const res = await postWebhook(t, admin, url);
        expect(res.status).toBe(400);
        expect(res.body.errors.url).toBeDefined();
      }
      const badType = await t
        .http()
        .post(`${API}/webhooks`)
        .set(admin)
        .send({ url: 'http://127.0.0.1:9/x', event_types: ['opportunity.exploded'] });
      expect(badType.status).toBe(400);
      expect(badType.body.errors.event_types).toBeDefined();
      const rep = { Authorization: `Bearer ${await t.token(org, 'rep_1', 'rep')}` };
      expect((await t.http().get(`${API}/webhooks`).set(rep)).status).toBe(403);
      const other = { Authorization: `Bearer ${await t.token(`${org}_x`, 'admin_x', 'admin')}` };
      const mine = await subscribe('http://127.0.0.1:9/x', ['opportunity.won']);
      expect((await t.http().get(`${API}/webhooks/${mine.id}`).set(other)).status).toBe(404);
      expect((await t.http().delete(`${API}/webhooks/${mine.id}`).set(admin)).status).toBe(204);
      expect((await t.http().get(`${API}/webhooks/${mine.id}`).set(admin)).status).toBe(404);
    });
  });
}

describe('webhook URL policy without an allowlist', () => {
  const t = useTestApp(testBackends()[0]);

  it('refuses 127.0.0.1 and localhost', async () => {
    const admin = { Authorization: `Bearer ${await t.token('wh_policy', 'admin_1', 'admin')}` };
    for (const url of ['http://127.0.0.1:3000/hook', 'http://localhost:3000/hook']) {
      const res = await postWebhook(t, admin, url);
      expect(res.status).toBe(400);
      expect(res.body.errors.url[0]).toMatch(/private, loopback or link-local/);
    }
  });
});
