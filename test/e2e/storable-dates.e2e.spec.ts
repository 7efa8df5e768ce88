import { opportunityStreamId } from '@app/domain';
import type { Response } from 'supertest';
import { randomUUID } from 'node:crypto';
import { EventStore } from '@app/event-store';
import { PROJECTION_KINDS, type ReadModelTables, replayProjection } from '@app/read-models';
import { describeEachBackend, useTestApp, useTokens } from '../support/test-app';
import { API, bearer, createDeal, dealBody, OPPS, readStream, uniqueOrg } from './helpers';

/**
 * Every date and instant the API accepts must be one the read models can store: the log is
 * append-only, so an event the projections cannot apply stays in it for good.
 */
describeEachBackend('dates the read models can store (%s)', (backend) => {
  const t = useTestApp(backend);
  const org = uniqueOrg('dates');
  const tok = useTokens(t, { manager: [org, 'mgr_1', 'manager'] });

  const http = () => t.http();
  const auth = () => bearer(tok.manager);

  /** Events of this org in the log, on any event store. */
  const eventCount = () => t.countEvents(org);

  const UNSTORABLE_DATES = ['0000-01-01', '0100-06-01', '1899-12-31', '10000-01-01', '+02026-01-01'];

  describe('commands refuse dates outside 1900-01-01 … 9999-12-31 (400 naming the field, nothing appended)', () => {
    let deal: string;
    let wonCandidate: string;
    beforeAll(async () => {
      deal = (await createDeal(t, tok.manager)).id;
      wonCandidate = (await createDeal(t, tok.manager, { stage: 'verbal_commitment' })).id;
    });

    const cases: [string, (date: string) => Promise<Response>, string][] = [
      [
        'create expected_close_date',
        (d) => http().post(OPPS).set(auth()).send({ name: 'x', value: 1, expected_close_date: d }),
        'expected_close_date',
      ],
      [
        'PATCH expected_close_date',
        (d) => http().patch(`${OPPS}/${deal}`).set(auth()).send({ expected_close_date: d }),
        'expected_close_date',
      ],
      ['PATCH follow_up_date', (d) => http().patch(`${OPPS}/${deal}`).set(auth()).send({ follow_up_date: d }), 'follow_up_date'],
      ['PUT demo_date', (d) => http().put(`${OPPS}/${deal}`).set(auth()).send({ demo_date: d }), 'demo_date'],
      ['win close_date', (d) => http().post(`${OPPS}/${wonCandidate}/win`).set(auth()).send({ close_date: d }), 'close_date'],
      [
        'lose close_date',
        (d) => http().post(`${OPPS}/${deal}/lose`).set(auth()).send({ loss_reason: 'price', close_date: d }),
        'close_date',
      ],
    ];

    it.each(cases.flatMap(([label, send, field]) => UNSTORABLE_DATES.map((d) => [`${label} = ${d}`, send, field, d] as const)))(
      '%s',
      async (_label, send, field, date) => {
        const before = await eventCount();
        const res = await send(date);
        expect(res.status).toBe(400);
        expect(res.body.code).toBe('validation_failed');
        expect(Object.keys(res.body.errors)).toContain(field);
        expect(res.body.errors[field].join(' ')).toMatch(/between 1900-01-01 and 9999-12-31/);
        expect(await eventCount()).toBe(before);
      },
    );

    it.each(UNSTORABLE_DATES)('bulk update_close_date = %s: the item fails with 400, nothing appended', async (date) => {
      const before = await eventCount();
      const res = await http()
        .post(`${OPPS}/bulk-actions`)
        .set(auth())
        .send({ action: 'update_close_date', opportunity_ids: [deal], parameters: { expected_close_date: date } });
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
      expect(JSON.stringify(res.body)).toMatch(/expected_close_date/);
      expect(await eventCount()).toBe(before);
    });

    it.each(['0000-01-01T00:00:00Z', '0999-12-31T23:59:59Z', '9999-12-31T23:00:00-05:00', '1899-12-31T23:59:59Z'])(
      'activity scheduled_at = %s → 400, nothing appended',
      async (at) => {
        const before = await eventCount();
        const res = await http()
          .post(`${API}/activities`)
          .set(auth())
          .send({ opportunity_id: deal, type: 'call', subject: 'x', scheduled_at: at });
        expect(res.status).toBe(400);
        expect(Object.keys(res.body.errors)).toContain('scheduled_at');
        expect(await eventCount()).toBe(before);
      },
    );

    it('the bounds themselves are accepted, stored and listed', async () => {
      const early = await http()
        .post(OPPS)
        .set(auth())
        .send(dealBody({ name: 'Early', expected_close_date: '1900-01-01' }));
      const late = await http()
        .post(OPPS)
        .set(auth())
        .send(dealBody({ name: 'Late', expected_close_date: '9999-12-31' }));
      expect([early.status, late.status]).toEqual([201, 201]);
      const list = await http()
        .get(`${OPPS}?expected_close_date_from=1900-01-01&expected_close_date_to=9999-12-31&per_page=100`)
        .set(auth())
        .set('X-Consistency-Token', late.headers['x-global-position']);
      expect(list.status).toBe(200);
      const dates = Object.fromEntries(
        list.body.data.map((d: { name: string; expected_close_date: string }) => [d.name, d.expected_close_date]),
      );
      expect(dates).toMatchObject({ Early: '1900-01-01', Late: '9999-12-31' });
    });
  });

  describe('queries with years outside the bounds answer 400, never 500', () => {
    it.each([
      `${OPPS}/forecast?as_of=0100-06-01`,
      `${OPPS}/pipeline-data?as_of=0001-01-01&date_range=this_quarter`,
      `${OPPS}?expected_close_date_from=0001-01-01`,
      `${OPPS}?expected_close_date_to=0999-12-31`,
      `${OPPS}/forecast/monthly?from=0100-01-01`,
      `${OPPS}/forecast/monthly?close_date__gte=0001-01-01&close_date__lte=0002-01-01`,
      `${OPPS}/pipeline-data?as_of=9999-12-31T23:00:00-05:00`,
      `${OPPS}/pipeline-data?as_of=9999-12-31&date_range=next_year`,
      `${OPPS}/pipeline-data?as_of=9999-11-30&date_range=next_quarter`,
    ])('%s', async (url) => {
      const res = await http().get(url).set(auth());
      expect(res.status).toBe(400);
      expect(JSON.stringify(res.body.errors)).toMatch(/between 1900-01-01 and 9999-12-31/);
    });

    it.each([
      `${OPPS}/forecast?as_of=1900-06-01`,
      `${OPPS}/pipeline-data?as_of=1900-01-01&date_range=this_quarter`,
      `${OPPS}/pipeline-data?as_of=9999-12-31&date_range=this_year`,
      `${OPPS}/forecast/monthly?from=1900-01-01&to=9999-12-31`,
    ])('in bounds: %s → 200', async (url) => {
      const res = await http().get(url).set(auth());
      expect(res.status).toBe(200);
    });
  });
});

/**
 * A log written before these checks existed may hold an event no projection can apply. It must
 * neither block a rebuild nor pass unnoticed: a halted projection makes readiness fail.
 */
describeEachBackend('an event the read models cannot store (%s)', (backend) => {
  const t = useTestApp(backend, { PROJECTION_HALT_ON_POISON: 'true', PROJECTION_POLL_MS: '50' });
  const org = uniqueOrg('poison');
  const tok = useTokens(t, { admin: [org, 'admin_1', 'admin'] });

  /** A copy of a real creation event in a new stream, with a date PostgreSQL has no room for. */
  async function appendUnstorableDeal(): Promise<string> {
    const { id } = await createDeal(t, tok.admin);
    const [created] = await readStream(t, org, id);
    const poisonId = randomUUID();
    await t.app.get(EventStore).append(
      opportunityStreamId(org, poisonId),
      [
        {
          eventId: randomUUID(),
          type: created.type,
          schemaVersion: created.schemaVersion,
          data: { ...(created.data as object), opportunity_id: poisonId, expected_close_date: '0000-01-01' },
          metadata: created.metadata,
        },
      ],
      'no_stream',
    );
    return poisonId;
  }

  it('halts the projection (haltOnPoison), readiness answers 503 naming it, and a rebuild sets the event aside and completes', async () => {
    const ready = await t.http().get(`${API}/health/ready`);
    expect(ready.status).toBe(200);
    await appendUnstorableDeal();
    const healthy = await createDeal(t, tok.admin, { name: 'After the poison' });

    let res = await t.http().get(`${API}/health/ready`);
    for (let i = 0; i < 100 && res.status === 200; i++) {
      await new Promise((r) => setTimeout(r, 50));
      res = await t.http().get(`${API}/health/ready`);
    }
    expect(res.status).toBe(503);
    expect(JSON.stringify(res.body)).toMatch(/halted/);
    expect(res.body.error.projections.halted).toEqual(['opportunities']);
    expect(JSON.stringify(res.body)).not.toContain(org);

    const status = await t.http().get(`${API}/projections`).set(bearer(tok.admin));
    expect(status.status).toBe(200);
    const opportunities = status.body.data.find((p: { projection: string }) => p.projection === 'opportunities');
    expect(opportunities).toMatchObject({ running: false });
    expect(opportunities.halted_reason).toMatch(new RegExp(`halted at opportunity-${org}-`));
    // Another org's admin sees that it halted, not where.
    const other = await t
      .http()
      .get(`${API}/projections`)
      .set(bearer(await t.token(uniqueOrg('other'), 'admin_9', 'admin')));
    const seen = other.body.data.find((p: { projection: string }) => p.projection === 'opportunities');
    expect(seen.halted_reason).toBe('halted at an event of another organisation');
    expect(JSON.stringify(other.body)).not.toContain(org);

    // The rebuild does not stop at the event: it is dead-lettered and the rest is applied.
    const kind = PROJECTION_KINDS.find((k) => k.name === 'opportunities')!;
    const result = await replayProjection(t.database, t.app.get(EventStore), kind);
    // COPY refuses the row; the rebuild starts over in batches, which sets exactly that event aside.
    expect(result.mode).toBe('batches');
    expect(result.fallback).toMatch(/in-memory rebuild failed/);
    expect(result.deadLettered).toBe(1);
    const row = await t.database
      .tables<ReadModelTables>()
      .selectFrom('opportunity_list')
      .select('name')
      .where('id', '=', healthy.id)
      .executeTakeFirst();
    expect(row).toEqual({ name: 'After the poison' });

    // Dead letters are counted per org: the other org has none.
    const deadFor = async (tok: string) =>
      (await t.http().get(`${API}/projections`).set(bearer(tok))).body.data.find(
        (p: { projection: string }) => p.projection === 'opportunities',
      ).dead_letters;
    expect(await deadFor(tok.admin)).toBe(1);
    expect(await deadFor(await t.token(uniqueOrg('other'), 'admin_9', 'admin'))).toBe(0);
  });
});
