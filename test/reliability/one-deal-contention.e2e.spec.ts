import type { Response } from 'supertest';
import {
  bearer,
  createDeal,
  describeEachBackend,
  describeResponse,
  OPPS,
  readStream,
  seeded,
  uniqueOrg,
  useTestApp,
  useTokens,
} from './support/app';

/**
 * 50 concurrent commands on ONE deal at verbal_commitment: win, lose, stage/next and PATCH.
 * Exactly one close may win the race; everything else must be refused cleanly (422 or 409),
 * never a 5xx, and the stream must stay gap-free with every acknowledged write in it.
 */
const REQUESTS = 50;
const ROUNDS = [20261121, 7, 424242];

type Kind = 'win' | 'lose' | 'next' | 'patch';
interface Outcome {
  kind: Kind;
  index: number;
  res: Response;
}

const CLOSE_TYPES: Record<'win' | 'lose', string> = { win: 'OpportunityWon', lose: 'OpportunityLost' };

describeEachBackend('one deal under contention (%s)', (backend) => {
  const t = useTestApp(backend, {}, { maxConnections: 12 });
  const org = uniqueOrg('contend');
  const tok = useTokens(t, { manager: [org, 'manager_1', 'manager'] });

  beforeAll(async () => {
    // Listen once: concurrent supertest calls then share one server instead of racing to bind it.
    await t.app.listen(0);
  }, 60_000);

  function send(kind: Kind, id: string, index: number): Promise<Response> {
    const http = t.http();
    switch (kind) {
      case 'win':
        return http
          .post(`${OPPS}/${id}/win`)
          .set(bearer(tok.manager))
          .send({ close_reason: `race ${index}` });
      case 'lose':
        return http
          .post(`${OPPS}/${id}/lose`)
          .set(bearer(tok.manager))
          .send({ loss_reason: 'price', loss_notes: `race ${index}` });
      case 'next':
        return http.post(`${OPPS}/${id}/stage/next`).set(bearer(tok.manager)).send({});
      case 'patch':
        return http
          .patch(`${OPPS}/${id}`)
          .set(bearer(tok.manager))
          .send({ next_step: `step ${index}` });
    }
  }

  it.each(ROUNDS)('seed %i: exactly one close, contiguous versions, acknowledged writes stored, losers 422/409', async (seed) => {
    const id = await createDeal(t, tok.manager, { name: `Contended ${seed}` });
    for (let i = 0; i < 5; i++) {
      const res = await t.http().post(`${OPPS}/${id}/stage/next`).set(bearer(tok.manager)).send({});
      expect(res.status).toBe(200);
    }
    const before = await readStream(t, org, id);
    expect(before.at(-1)?.data).toMatchObject({ to_stage: 'verbal_commitment' });

    const random = seeded(seed);
    const kinds: Kind[] = Array.from({ length: REQUESTS }, (_, i) =>
      // The first two guarantee that a win and a lose really race each other.
      i === 0 ? 'win' : i === 1 ? 'lose' : (['win', 'lose', 'next', 'patch'] as const)[Math.floor(random() * 4)],
    );
    // Shuffle so the forced pair does not always start first.
    for (let i = kinds.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [kinds[i], kinds[j]] = [kinds[j], kinds[i]];
    }
    const outcomes: Outcome[] = await Promise.all(kinds.map(async (kind, index) => ({ kind, index, res: await send(kind, id, index) })));

    const stream = await readStream(t, org, id);
    const mix = Object.fromEntries((['win', 'lose', 'next', 'patch'] as const).map((k) => [k, kinds.filter((x) => x === k).length]));
    const statuses = outcomes.reduce<Record<string, number>>(
      (m, o) => ({ ...m, [`${o.kind} ${o.res.status}`]: (m[`${o.kind} ${o.res.status}`] ?? 0) + 1 }),
      {},
    );
    console.log(
      `[contention ${backend.name} seed ${seed}] mix ${JSON.stringify(mix)} → ${JSON.stringify(statuses)}; stream ${before.length} → ${stream.length} events`,
    );

    // Never a server error.
    const serverErrors = outcomes.filter((o) => o.res.status >= 500);
    expect(serverErrors.map((o) => `${o.kind}#${o.index}: ${describeResponse(o.res)}`)).toEqual([]);

    // Versions 1..n without gaps or repeats.
    expect(stream.map((e) => e.streamVersion)).toEqual(stream.map((_, i) => i + 1));

    // Exactly one close (won XOR lost), and it is the last event: nothing is accepted after it.
    const closes = stream.filter((e) => e.type === 'OpportunityWon' || e.type === 'OpportunityLost');
    expect(closes.map((e) => e.type)).toHaveLength(1);
    expect(stream.at(-1)!.eventId).toBe(closes[0].eventId);
    // Before the race the deal was open; the only events appended are PATCH updates and the close.
    expect(stream.slice(before.length, -1).every((e) => e.type === 'OpportunityUpdated')).toBe(true);

    // Every 2xx response's event is in the stream at the version and position it reported.
    const acknowledged = outcomes.filter((o) => o.res.status >= 200 && o.res.status < 300);
    for (const o of acknowledged) {
      const version = Number(String(o.res.headers.etag).replace(/"/g, ''));
      const event = stream.find((e) => e.streamVersion === version);
      expect({ who: `${o.kind}#${o.index}`, type: event?.type, position: event?.position }).toEqual({
        who: `${o.kind}#${o.index}`,
        type: o.kind === 'patch' ? 'OpportunityUpdated' : CLOSE_TYPES[o.kind as 'win' | 'lose'],
        position: o.res.headers['x-global-position'],
      });
    }
    const closeAcks = acknowledged.filter((o) => o.kind === 'win' || o.kind === 'lose');
    expect(closeAcks).toHaveLength(1);
    expect(CLOSE_TYPES[closeAcks[0].kind as 'win' | 'lose']).toBe(closes[0].type);
    // No 2xx stage/next: the deal is at the last active stage.
    expect(acknowledged.filter((o) => o.kind === 'next')).toEqual([]);
    // Acknowledged PATCHes each appended exactly one event, and no unacknowledged one did.
    const patchVersions = acknowledged.filter((o) => o.kind === 'patch').map((o) => Number(String(o.res.headers.etag).replace(/"/g, '')));
    expect(new Set(patchVersions).size).toBe(patchVersions.length);
    expect(stream.length - before.length).toBe(patchVersions.length + 1);

    // Losers are refused as an invalid transition (422) or a concurrency conflict (409).
    const refused = outcomes.filter((o) => !(o.res.status >= 200 && o.res.status < 300));
    for (const o of refused) {
      const ok =
        (o.res.status === 422 && o.res.body?.message === 'Invalid stage transition') ||
        (o.res.status === 409 && o.res.body?.code === 'concurrency_conflict');
      expect({ who: `${o.kind}#${o.index}`, ok, res: ok ? '' : describeResponse(o.res) }).toEqual({
        who: `${o.kind}#${o.index}`,
        ok: true,
        res: '',
      });
    }

    // The read model agrees with the stream once it has caught up to the close.
    const lastPosition = stream.at(-1)!.position;
    let read = await t.http().get(`${OPPS}/${id}`).set(bearer(tok.manager)).set('X-Consistency-Token', lastPosition);
    // Each wait is bounded (CONSISTENCY_TIMEOUT_MS); on a busy machine ask again rather than fail.
    for (let i = 0; i < 10 && read.headers['x-consistency'] !== 'reached'; i++) {
      read = await t.http().get(`${OPPS}/${id}`).set(bearer(tok.manager)).set('X-Consistency-Token', lastPosition);
    }
    expect(read.status).toBe(200);
    expect(read.headers['x-consistency']).toBe('reached');
    expect(read.headers.etag).toBe(`"${stream.length}"`);
    expect(read.body.data.stage).toBe(closes[0].type === 'OpportunityWon' ? 'won' : 'lost');
  });
});
