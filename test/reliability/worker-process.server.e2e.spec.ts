import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { request } from 'undici';
import { freePort, ROOT, WORKER_MAIN } from '../support/api-process';
import { postgresTarget } from '../support/api-targets';
import { postgresUrl } from '../support/test-database';
import { call, onTarget, useBuiltApi } from './support/targets';

/**
 * Scale-out: the API with RUN_PROJECTORS=false and the worker (`npm run start:worker`) as its own
 * process on the same PostgreSQL database. The read models move only once the worker runs; its
 * metrics endpoint reports the projections' lag; SIGTERM stops it cleanly. Server only: an
 * embedded database belongs to one process.
 */

interface Worker {
  child: ChildProcess;
  lines: string[];
  exited: Promise<{ code: number | null; signal: string | null }>;
}

function startWorker(env: Record<string, string>): Worker {
  const child = spawn(process.execPath, [WORKER_MAIN], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  for (const stream of [child.stdout!, child.stderr!]) stream.on('data', (chunk: Buffer) => lines.push(...chunk.toString().split('\n')));
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, lines, exited };
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const url = postgresUrl();

describe('the worker process beside an API that runs no projectors', () => {
  useBuiltApi('worker-process');

  it('projects what the API wrote, reports lag on /metrics and stops on SIGTERM', async () => {
    const adminToken = `opp_admin_${randomBytes(12).toString('hex')}`;
    const target = postgresTarget(url!, 'worker_');
    await onTarget(target, { ADMIN_TOKEN: adminToken, RUN_PROJECTORS: 'false', CONSISTENCY_TIMEOUT_MS: '300' }, async (start) => {
      const api = await start();
      const created = await call(api, adminToken, 'POST', '/opportunities', {
        name: 'Projected by the worker',
        customer_id: 'c1',
        value: 100,
        expected_close_date: '2031-01-31',
      });
      expect(created.status).toBe(201);
      const token = { 'x-consistency-token': created.position! };

      // No projector anywhere: the list cannot reach the write and says so.
      const before = await call(api, adminToken, 'GET', '/opportunities', undefined, token);
      expect(before.status).toBe(200);
      expect(before.consistency).toBe('behind');
      expect(before.body.meta.total).toBe(0);

      const metricsPort = await freePort();
      const worker = startWorker({ ...target.env, WORKER_METRICS_PORT: String(metricsPort), PROJECTION_POLL_MS: '50' });
      try {
        await until('the worker to start', async () => (worker.lines.some((l) => l.includes('Running projections')) ? true : undefined));
        const after = await until('the deal in the list', async () => {
          const res = await call(api, adminToken, 'GET', '/opportunities', undefined, token);
          return res.consistency === 'reached' ? res : undefined;
        });
        expect(after.body.meta.total).toBe(1);
        expect(after.body.data[0].id).toBe(created.body.data.id);

        const metrics = await until('the worker metrics', async () => {
          const res = await request(`http://127.0.0.1:${metricsPort}/metrics`).catch(() => undefined);
          if (!res) return undefined;
          const text = await res.body.text();
          return res.statusCode === 200 ? text : undefined;
        });
        expect(metrics).toMatch(/^projection_lag_events\{projection="opportunities"\} 0$/m);
        expect(metrics).toMatch(/^projection_lag_events\{projection="webhook_outbox"\} 0$/m);
        expect(metrics).toMatch(/^# TYPE projection_dead_letters_total counter$/m);
        expect(metrics).toMatch(/^# TYPE webhook_deliveries_total counter$/m);

        // Graceful: the shutdown hooks run (batch and deliveries in flight finish), then the signal ends it.
        worker.child.kill('SIGTERM');
        const exit = await Promise.race([worker.exited, new Promise<'hung'>((resolve) => setTimeout(() => resolve('hung'), 20_000))]);
        expect(exit).toEqual({ code: null, signal: 'SIGTERM' });
        expect(worker.lines.join('\n')).toMatch(/SIGTERM: projectors and webhook dispatcher stopped after the work in flight/);
      } finally {
        if (worker.child.exitCode === null && worker.child.signalCode === null) worker.child.kill('SIGKILL');
      }
    });
  });
});
