import { randomBytes } from 'node:crypto';
import { foldStored } from '@app/domain';
import { PostgresEventStore } from '@app/event-store';
import { PROJECTION_KINDS, verifyProjection } from '@app/read-models';
import type { ApiProcess } from '../support/api-process';
import { seeded } from './support/app';
import { call as callApi, onTarget, processTargets, useBuiltApi } from './support/targets';

/**
 * The real API process under a command load from several clients is killed with SIGKILL, then
 * started again on the same data: every acknowledged command must be in its stream, and the
 * read models must converge to a fold of the streams (`npm run verify` finds no difference).
 */
const CLIENTS = 6;
const KILL_AFTER_ACKS = 90;
const KILL_AFTER_MS = 4_000;
const ADMIN = `opp_reliability_${randomBytes(12).toString('hex')}`;

interface Sent {
  kind: 'create' | 'next' | 'win';
  deal?: string;
  status?: number;
  version?: number;
  position?: string;
  error?: string;
}

const EXPECTED_TYPE: Record<Sent['kind'], string> = {
  create: 'OpportunityCreated',
  next: 'OpportunityStageChanged',
  win: 'OpportunityWon',
};

const call = (api: ApiProcess, method: 'GET' | 'POST', path: string, body?: unknown, headers: Record<string, string> = {}) =>
  callApi(api, ADMIN, method, path, body, headers);

/** One client: create a deal, move it forward a random number of stages, sometimes win it. */
async function client(api: ApiProcess, index: number, sent: Sent[], stop: { now: boolean }): Promise<void> {
  const random = seeded(1000 + index);
  while (!stop.now) {
    const record = async (s: Sent, method: 'POST', path: string, body: unknown) => {
      sent.push(s);
      try {
        const res = await call(api, method, path, body);
        s.status = res.status;
        s.version = res.etag ? Number(res.etag.replace(/"/g, '')) : undefined;
        s.position = res.position;
        return res;
      } catch (error) {
        s.error = String((error as Error).message ?? error);
        stop.now = true;
        return null;
      }
    };
    const cents = 100_000 + Math.floor(random() * 10_000_000);
    const creation: Sent = { kind: 'create' };
    const created = await record(creation, 'POST', '/opportunities', {
      name: `Crash ${index}`,
      customer_id: `c${index}`,
      value: `${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, '0')}`,
      expected_close_date: '2027-06-30',
    });
    if (!created || created.status !== 201) continue;
    const id = created.body.data.id as string;
    creation.deal = id;
    const steps = Math.floor(random() * 7);
    for (let i = 0; i < Math.min(steps, 5) && !stop.now; i++) {
      const res = await record({ kind: 'next', deal: id }, 'POST', `/opportunities/${id}/stage/next`, {});
      if (!res || res.status !== 200) break;
      if (i === 4 && steps === 6) await record({ kind: 'win', deal: id }, 'POST', `/opportunities/${id}/win`, {});
    }
  }
}

const targets = processTargets('reliability-kill');

describe('kill -9 mid-load and restart', () => {
  useBuiltApi('kill-restart');

  it.each(targets)('%s: acknowledged commands survive and the read models converge', async (_name, make) => {
    const started = Date.now();
    await onTarget(make(), { ADMIN_TOKEN: ADMIN, RUN_WEBHOOK_DISPATCHER: 'false', PROJECTION_POLL_MS: '100' }, async (start, target) => {
      let api = await start();

      // Load from several clients, then SIGKILL while requests are in flight.
      const sent: Sent[] = [];
      const stop = { now: false };
      const load = Promise.all(Array.from({ length: CLIENTS }, (_, i) => client(api, i, sent, stop)));
      const loadStart = Date.now();
      while (
        sent.filter((s) => s.status !== undefined && s.status < 300).length < KILL_AFTER_ACKS &&
        Date.now() - loadStart < KILL_AFTER_MS
      ) {
        await new Promise((r) => setTimeout(r, 20));
      }
      const inFlightAtKill = sent.filter((s) => s.status === undefined && s.error === undefined).length;
      await api.kill9();
      stop.now = true;
      await load;
      const acked = sent.filter((s) => s.status !== undefined && s.status >= 200 && s.status < 300);
      const refused = sent.filter((s) => s.status !== undefined && s.status >= 300);
      const unknown = sent.filter((s) => s.status === undefined);
      console.log(
        `[kill-restart ${target.name}] ${sent.length} commands sent in ${Date.now() - loadStart} ms: ${acked.length} acknowledged, ` +
          `${refused.length} refused, ${unknown.length} without an answer (${inFlightAtKill} in flight at the kill)`,
      );
      expect(refused.map((s) => `${s.kind} ${s.deal} → ${s.status} ${s.error ?? ''}`)).toEqual([]);
      expect(acked.length).toBeGreaterThan(20);

      // Restart on the same data.
      const restartAt = Date.now();
      api = await start();
      console.log(`[kill-restart ${target.name}] restarted in ${Date.now() - restartAt} ms`);

      // Every deal stream of the org, from the audit feed.
      const feed: { stream_id: string; version: number; position: string; type: string; data: unknown }[] = [];
      let after: string | null = null;
      for (;;) {
        const page = await call(api, 'GET', `/events?limit=1000${after ? `&after=${after}` : ''}`);
        expect(page.status).toBe(200);
        feed.push(...page.body.data);
        if (page.body.data.length < 1000) break;
        after = page.body.meta.next_after;
      }
      const dealIds = [
        ...new Set(
          feed.filter((e) => e.stream_id.startsWith('opportunity-default-')).map((e) => e.stream_id.slice('opportunity-default-'.length)),
        ),
      ];
      const head = feed.reduce((m, e) => (BigInt(e.position) > BigInt(m) ? e.position : m), '0');

      // Streams: contiguous versions, and every acknowledged command's event at the version and position it reported.
      const histories = new Map<string, { type: string; version: number; position: string; data: unknown }[]>();
      for (const id of dealIds) {
        const res = await call(api, 'GET', `/opportunities/${id}/history?per_page=100`);
        expect(res.status).toBe(200);
        const items = res.body.data as { type: string; version: number; position: string; data: unknown }[];
        expect(items.map((e) => e.version)).toEqual(items.map((_, i) => i + 1));
        histories.set(id, items);
      }
      const lost = acked.filter((s) => {
        const event = histories.get(s.deal!)?.find((e) => e.version === s.version);
        return !event || event.type !== EXPECTED_TYPE[s.kind] || event.position !== s.position;
      });
      expect(lost.map((s) => `${s.kind} ${s.deal} v${s.version} @${s.position}`)).toEqual([]);
      for (const s of acked.filter((x) => x.kind === 'create')) expect(dealIds).toContain(s.deal);

      // Read models converge to a fold of the streams.
      let list = await call(api, 'GET', '/opportunities?per_page=100', undefined, { 'x-consistency-token': head });
      for (let i = 0; i < 20 && list.consistency !== 'reached'; i++)
        list = await call(api, 'GET', '/opportunities?per_page=100', undefined, { 'x-consistency-token': head });
      expect(list.consistency).toBe('reached');
      expect(list.body.meta.total).toBe(dealIds.length);
      for (const id of dealIds) {
        const items = histories.get(id)!;
        const state = foldStored(items);
        const res = await call(api, 'GET', `/opportunities/${id}`);
        expect({
          id,
          status: res.status,
          etag: res.etag,
          stage: res.body?.data?.stage,
          probability: res.body?.data?.probability,
          value: res.body?.data?.value,
        }).toEqual({
          id,
          status: 200,
          etag: `"${state.version}"`,
          stage: state.stage,
          probability: state.probability,
          value: state.value_minor / 100,
        });
      }

      // Stopped: the live read models equal a rebuild from the log (what `npm run verify` checks).
      const verifyAt = Date.now();
      await api.stop();
      const database = await target.open();
      try {
        const store = new PostgresEventStore(database);
        for (const kind of PROJECTION_KINDS) {
          const differences = await verifyProjection(database, store, kind);
          expect({ projection: kind.name, differences }).toEqual({ projection: kind.name, differences: [] });
        }
      } finally {
        await database.close();
      }
      console.log(
        `[kill-restart ${target.name}] ${dealIds.length} deals, ${feed.length} events; verifyProjection ${Date.now() - verifyAt} ms; ` +
          `whole run ${((Date.now() - started) / 1000).toFixed(1)} s`,
      );
    });
  });
});
