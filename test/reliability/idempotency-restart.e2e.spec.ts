import { randomBytes } from 'node:crypto';
import { call, onTarget, processTargets, type Reply, useBuiltApi } from './support/targets';

/**
 * Keyed requests in flight when the API process is killed with SIGKILL: after a restart, every one
 * of them repeated with its key and body succeeds, returns what the first attempt did (or would
 * have), and nothing is applied twice. Before, a key whose request died stayed "in progress" for good.
 */
const CLIENTS = 8;
const ADMIN = `opp_idem_${randomBytes(12).toString('hex')}`;

interface Keyed {
  key: string;
  path: () => string;
  body: object;
  first?: Reply | 'lost';
}

describe('Idempotency-Key across kill -9', () => {
  useBuiltApi('idempotency-restart');

  it.each(processTargets('idem-restart'))('%s: every keyed request repeated after the restart succeeds once', async (_name, make) => {
    await onTarget(make(), { ADMIN_TOKEN: ADMIN, RUN_WEBHOOK_DISPATCHER: 'false', IDEMPOTENCY_LEASE_SECONDS: '1' }, async (start) => {
      let api = await start();
      // Each client: create (keyed), then two stage/next (keyed), one after another.
      const flows = Array.from({ length: CLIENTS }, (_, c) => {
        let dealId: string | undefined;
        const steps: Keyed[] = [
          {
            key: `create-${c}`,
            path: () => '/opportunities',
            body: { name: `Keyed ${c}`, customer_id: `c${c}`, value: 100 + c, expected_close_date: '2031-03-31' },
          },
          { key: `next1-${c}`, path: () => `/opportunities/${dealId}/stage/next`, body: {} },
          { key: `next2-${c}`, path: () => `/opportunities/${dealId}/stage/next`, body: {} },
        ];
        return { steps, setDeal: (id: string) => (dealId = id), deal: () => dealId };
      });
      let acks = 0;
      let stop = false;
      const running = Promise.all(
        flows.map(async (flow) => {
          for (const step of flow.steps) {
            if (stop) return;
            try {
              step.first = await call(api, ADMIN, 'POST', step.path(), step.body, { 'idempotency-key': step.key });
              if (step.first.status === 201) flow.setDeal(step.first.body.data.id);
              acks++;
              if (acks >= CLIENTS + 3) stop = true;
            } catch {
              step.first = 'lost';
              return;
            }
          }
        }),
      );
      while (!stop) await new Promise((r) => setTimeout(r, 5));
      await api.kill9();
      await running;

      api = await start();
      await new Promise((r) => setTimeout(r, 1_200)); // every lease of the killed process is over
      for (const flow of flows) {
        for (const step of flow.steps) {
          const again = await call(api, ADMIN, 'POST', step.path(), step.body, { 'idempotency-key': step.key });
          expect({ key: step.key, status: again.status }).toEqual({ key: step.key, status: step.key.startsWith('create') ? 201 : 200 });
          if (step.first && step.first !== 'lost' && step.first.status < 300) {
            expect(again.body.data.id).toBe(step.first.body.data.id);
            expect(again.etag).toBe(step.first.etag);
          }
          if (step.key.startsWith('create')) flow.setDeal(again.body.data.id);
        }
        const history = await call(api, ADMIN, 'GET', `/opportunities/${flow.deal()}/history?per_page=100`);
        expect(history.body.data.map((e: { type: string }) => e.type)).toEqual([
          'OpportunityCreated',
          'OpportunityStageChanged',
          'OpportunityStageChanged',
        ]);
      }
    });
  });
});
