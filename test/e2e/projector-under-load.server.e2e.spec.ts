import { testBackends } from '../support/test-database';
import { API, useTestApp } from '../support/test-app';

const WRITERS = 16;
const DEALS_PER_WRITER = 12;

/** Many concurrent HTTP writers while the in-process projector follows: nothing may be skipped. */
for (const backend of testBackends().filter((b) => b.name === 'postgres')) {
  describe(`projector under ${WRITERS} concurrent writers on ${backend.name}`, () => {
    const t = useTestApp(backend, { PROJECTION_POLL_MS: '50' }, { maxConnections: WRITERS + 8 });

    it('lists every opportunity created, with every stage change applied', async () => {
      const token = await t.token('load_org', 'manager_1', 'manager');
      const auth = { Authorization: `Bearer ${token}` };
      const created: string[] = [];
      let lastPosition = 0n;
      await Promise.all(
        Array.from({ length: WRITERS }, async (_, w) => {
          for (let i = 0; i < DEALS_PER_WRITER; i++) {
            const res = await t
              .http()
              .post(`${API}/opportunities`)
              .set(auth)
              .send({ name: `Load ${w}-${i}`, customer_id: `c${w}`, value: 1000 + i, expected_close_date: '2031-01-31' });
            expect(res.status).toBe(201);
            created.push(res.body.data.id);
            const next = await t.http().post(`${API}/opportunities/${res.body.data.id}/stage/next`).set(auth).send({});
            expect(next.status).toBe(200);
            const position = BigInt(next.headers['x-global-position']);
            if (position > lastPosition) lastPosition = position;
          }
        }),
      );
      const list = await t
        .http()
        .get(`${API}/opportunities?per_page=100&stage=qualification`)
        .set(auth)
        .set('X-Consistency-Token', String(lastPosition));
      expect(list.status).toBe(200);
      expect(list.headers['x-consistency']).toBe('reached');
      expect(list.body.meta.total).toBe(WRITERS * DEALS_PER_WRITER);
      expect(list.body.summary.total_opportunities).toBe(created.length);
      const all = await t.http().get(`${API}/opportunities?per_page=1`).set(auth);
      expect(all.body.meta.total).toBe(created.length);
      const status = await t
        .http()
        .get(`${API}/projections`)
        .set({ Authorization: `Bearer ${await t.token('load_org', 'admin_1', 'admin')}` });
      expect(status.body.data[0]).toMatchObject({ projection: 'opportunities', dead_letters: 0 });
      expect(Number(status.body.data[0].events_processed)).toBeGreaterThanOrEqual(2 * created.length);
    });
  });
}
