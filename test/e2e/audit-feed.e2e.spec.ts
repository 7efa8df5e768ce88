import type { Response, Test } from 'supertest';
import { describeEachBackend, useTestApp, useTokens } from '../support/test-app';
import { API, bearer, OPPS, readStream, uniqueOrg } from './helpers';

/**
 * GET /events?after=<position>&limit=: the org-wide audit feed (admins only), in commit order,
 * resumable with meta.next_after. Activity is written in two orgs, interleaved, one request at a
 * time; every command below appends exactly one event, so the feed must list the positions the
 * commands returned, in that order.
 */

const EVENTS = `${API}/events`;
const CLOSE = '2030-06-30';

interface Write {
  org: 'A' | 'B';
  position: string;
}

describeEachBackend('audit: org-wide event feed (%s)', (backend) => {
  const t = useTestApp(backend);
  const orgs = { A: uniqueOrg('feeda'), B: uniqueOrg('feedb') };
  const tok = useTokens(t, {
    admin_a: [orgs.A, 'admin_a', 'admin'],
    mgr_a: [orgs.A, 'mgr_a', 'manager'],
    rep_a: [orgs.A, 'rep_a', 'rep'],
    viewer_a: [orgs.A, 'viewer_a', 'viewer'],
    admin_b: [orgs.B, 'admin_b', 'admin'],
    mgr_b: [orgs.B, 'mgr_b', 'manager'],
  });
  const deals: Record<'A' | 'B', string[]> = { A: [], B: [] };
  const writes: Write[] = [];
  const http = () => t.http();
  const feed = (query: string, token = tok.admin_a) => http().get(`${EVENTS}${query}`).set(bearer(token));

  async function write(org: 'A' | 'B', req: Test, status = 200): Promise<Response> {
    const res = await req.set(bearer(org === 'A' ? tok.mgr_a : tok.mgr_b));
    expect(res.status).toBe(status);
    writes.push({ org, position: res.headers['x-global-position'] });
    return res;
  }

  async function create(org: 'A' | 'B', n: number): Promise<void> {
    const res = await write(
      org,
      http()
        .post(OPPS)
        .send({ name: `Feed ${org}${n}`, customer_id: n, value: 1000 * n, expected_close_date: CLOSE }),
      201,
    );
    deals[org].push(res.body.data.id);
  }

  /** Every event id in the org's streams. */
  async function storedIds(org: 'A' | 'B'): Promise<string[]> {
    const out: string[] = [];
    for (const id of deals[org]) out.push(...(await readStream(t, orgs[org], id)).map((e) => e.eventId));
    return out;
  }

  /** Pages through the feed from `after` with `limit`, following meta.next_after until a page comes back empty. */
  async function pageThrough(token: string, limit: number, after?: string) {
    const items: any[] = [];
    const metas: any[] = [];
    let cursor = after;
    for (let guard = 0; guard < 1000; guard++) {
      const res = await feed(`?limit=${limit}${cursor === undefined ? '' : `&after=${cursor}`}`, token);
      expect(res.status).toBe(200);
      metas.push(res.body.meta);
      if (res.body.data.length === 0) return { items, metas };
      expect(res.body.data.length).toBeLessThanOrEqual(limit);
      items.push(...res.body.data);
      cursor = res.body.meta.next_after;
    }
    throw new Error('feed never ran dry');
  }

  /**
   * The feed only shows events below the oldest transaction still running (so a cursor can never
   * skip a slow writer's event); on a server an event can therefore appear a moment after its
   * command returned. Polls (bounded) until `query` returns at least `count` events.
   */
  async function feedSettled(query: string, count: number, token = tok.admin_a): Promise<Response> {
    const deadline = Date.now() + 5_000;
    for (;;) {
      const res = await feed(query, token);
      expect(res.status).toBe(200);
      if (res.body.data.length >= count || Date.now() > deadline) return res;
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  beforeAll(async () => {
    // Interleaved activity in both orgs (13 events in A, 8 in B).
    for (let n = 1; n <= 4; n++) {
      await create('A', n);
      await create('B', n);
    }
    for (const [i, id] of deals.A.entries()) {
      await write('A', http().post(`${OPPS}/${id}/stage/next`).send({}));
      if (i < 2) await write('B', http().post(`${OPPS}/${deals.B[i]}/stage/next`).send({}));
      if (i % 2 === 0)
        await write(
          'A',
          http()
            .patch(`${OPPS}/${id}`)
            .send({ next_step: `step ${i}` }),
        );
    }
    await write('A', http().post(`${OPPS}/${deals.A[0]}/assign`).send({ user_id: 'rep_a' }));
    await write('B', http().post(`${OPPS}/${deals.B[3]}/lose`).send({ loss_reason: 'price' }));
    await write('A', http().post(`${OPPS}/${deals.A[1]}/lose`).send({ loss_reason: 'timing' }));
    await write('B', http().delete(`${OPPS}/${deals.B[2]}`), 204);
    await write('A', http().delete(`${OPPS}/${deals.A[3]}`), 204);
    await feedSettled('?limit=1000', 13);
    await feedSettled('?limit=1000', 8, tok.admin_b);
  }, 120_000);

  it('the setup wrote one event per command in both orgs', async () => {
    expect(writes.filter((w) => w.org === 'A')).toHaveLength(13);
    expect(writes.filter((w) => w.org === 'B')).toHaveLength(8);
    expect(await storedIds('A')).toHaveLength(13);
  });

  it("paging with after=meta.next_after returns every one of the org's events exactly once", async () => {
    const { items, metas } = await pageThrough(tok.admin_a, 4);
    const ids = items.map((e) => e.event_id);
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual((await storedIds('A')).sort());
    expect(metas.map((m) => m.count)).toEqual([4, 4, 4, 1, 0]);
    // the empty page keeps the cursor where it was
    const lastMeta = metas[metas.length - 1];
    expect(lastMeta.next_after).toBe(items[items.length - 1].position);
    expect(lastMeta.after).toBe(items[items.length - 1].position);
  });

  it('is in commit order: exactly the positions the commands returned, in the order they were sent, strictly increasing', async () => {
    const { items } = await pageThrough(tok.admin_a, 5);
    const positions = items.map((e) => e.position);
    expect(positions).toEqual(writes.filter((w) => w.org === 'A').map((w) => w.position));
    for (let i = 1; i < positions.length; i++) expect(BigInt(positions[i])).toBeGreaterThan(BigInt(positions[i - 1]));
  });

  it('meta: after, limit, count and next_after (the last position of the page)', async () => {
    const first = await feed('?limit=3');
    expect(first.status).toBe(200);
    expect(first.body.meta).toEqual({ after: null, limit: 3, count: 3, next_after: first.body.data[2].position });
    const second = await feed(`?limit=3&after=${first.body.meta.next_after}`);
    expect(second.body.meta).toMatchObject({ after: first.body.meta.next_after, limit: 3, count: 3 });
    expect(BigInt(second.body.data[0].position)).toBeGreaterThan(BigInt(first.body.meta.next_after));
  });

  it('each item names its stream and carries type, version, position, actor, time, correlation id and data', async () => {
    const res = await feed('?limit=1000');
    const stream = await readStream(t, orgs.A, deals.A[0]);
    const first = res.body.data.find((e: { event_id: string }) => e.event_id === stream[0].eventId);
    expect(first).toMatchObject({
      stream_id: `opportunity-${orgs.A}-${deals.A[0]}`,
      type: 'OpportunityCreated',
      version: 1,
      position: stream[0].position,
      actor_id: 'mgr_a',
      recorded_at: stream[0].recordedAt.toISOString(),
      correlation_id: expect.any(String),
      data: { name: 'Feed A1', value_minor: 100_000 },
    });
  });

  it("contains only this org's events (each org's admin sees its own)", async () => {
    const a = (await feed('?limit=1000')).body.data as { stream_id: string; event_id: string }[];
    const b = (await feed('?limit=1000', tok.admin_b)).body.data as { stream_id: string; event_id: string }[];
    expect(a).toHaveLength(13);
    expect(b).toHaveLength(8);
    expect(a.every((e) => e.stream_id.startsWith(`opportunity-${orgs.A}-`))).toBe(true);
    expect(b.every((e) => e.stream_id.startsWith(`opportunity-${orgs.B}-`))).toBe(true);
    expect([...b.map((e) => e.event_id)].sort()).toEqual((await storedIds('B')).sort());
  });

  it('no after and after=0 both start at the beginning', async () => {
    const none = await feed('?limit=1000');
    const zero = await feed('?limit=1000&after=0');
    expect(zero.status).toBe(200);
    expect(zero.body.data).toEqual(none.body.data);
  });

  it("after = another org's position resumes after that point in the log", async () => {
    const bWrites = writes.filter((w) => w.org === 'B');
    const pivot = bWrites[3].position;
    const res = await feed(`?limit=1000&after=${pivot}`);
    expect(res.status).toBe(200);
    expect(res.body.data.map((e: { position: string }) => e.position)).toEqual(
      writes.filter((w) => w.org === 'A' && BigInt(w.position) > BigInt(pivot)).map((w) => w.position),
    );
  });

  it('resumes across new writes: the saved cursor returns exactly the events written since', async () => {
    const { metas } = await pageThrough(tok.admin_a, 100);
    const cursor = metas[metas.length - 1].next_after;
    const before = writes.length;
    await write('B', http().post(`${OPPS}/${deals.B[0]}/stage/next`).send({}));
    await write('A', http().post(`${OPPS}/${deals.A[2]}/stage/next`).send({}));
    await write('A', http().patch(`${OPPS}/${deals.A[2]}`).send({ next_step: 'after the cursor' }));
    const res = await feedSettled(`?after=${cursor}`, 2);
    expect(res.body.data.map((e: { position: string }) => e.position)).toEqual(
      writes
        .slice(before)
        .filter((w) => w.org === 'A')
        .map((w) => w.position),
    );
    expect(res.body.data.map((e: { type: string }) => e.type)).toEqual(['OpportunityStageChanged', 'OpportunityUpdated']);
  });

  it.each([['mgr_a'], ['rep_a'], ['viewer_a']] as const)('admins only: %s → 403', async (who) => {
    const res = await feed('', tok[who]);
    expect(res.status).toBe(403);
    expect(res.body.code).toBe('forbidden');
  });

  it('without a token → 401', async () => {
    expect((await http().get(EVENTS)).status).toBe(401);
  });

  it.each([['abc'], ['-1'], ['1.5'], ['1e3'], ['12345678901234567890'], ['9999999999999999999'], ['999999999999']])(
    'after=%s (not a position) → 400',
    async (after) => {
      const res = await feed(`?after=${after}`);
      expect(res.status).toBe(400);
      expect(res.body.code).toBe('validation_failed');
      expect(res.body.errors).toHaveProperty('after');
    },
  );

  it.each([['1001'], ['0'], ['-5'], ['abc'], ['2.5']])('limit=%s → 400', async (limit) => {
    const res = await feed(`?limit=${limit}`);
    expect(res.status).toBe(400);
    expect(res.body.errors).toHaveProperty('limit');
  });

  it('limit=1000 is allowed; the default page size is 100', async () => {
    const max = await feed('?limit=1000');
    expect(max.status).toBe(200);
    expect(max.body.meta.limit).toBe(1000);
    const dflt = await feed('');
    expect(dflt.status).toBe(200);
    expect(dflt.body.meta.limit).toBe(100);
  });
});
