/**
 * The command line of bench/http-load.bench.ts (W1 and W5) and what follows from it, shared by the
 * workloads: sizes, the API's paths and admin token, and the progress log.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string' },
    runs: { type: 'string' },
    connections: { type: 'string' },
    rate: { type: 'string' },
    probes: { type: 'string' },
    'w5-connections': { type: 'string' },
    'w5-seconds': { type: 'string' },
    'poll-ms': { type: 'string' },
    only: { type: 'string' },
    quick: { type: 'boolean', default: false },
  },
});
export const QUICK = values.quick === true;
export const SECONDS = Number(values.seconds ?? (QUICK ? 2 : 10));
export const RUNS = Math.max(1, Number(values.runs ?? (QUICK ? 1 : 3)));
export const CONNECTIONS = (values.connections ?? '1,16,64').split(',').map(Number);
export const RATE = Number(values.rate ?? 500);
export const PROBES = Number(values.probes ?? (QUICK ? 30 : 200));
export const W5_CONNECTIONS = Number(values['w5-connections'] ?? 32);
/** Longest probe window per W5 run: probes stop at --probes or after this many seconds, whichever comes first. */
export const W5_SECONDS = Number(values['w5-seconds'] ?? (QUICK ? 5 : 120));
export const POLL_MS = Number(values['poll-ms'] ?? 5);
export const WARMUP_S = QUICK ? 0.5 : 2;
export const ONLY = new Set((values.only ?? 'w1,w5').split(','));
export const PG_URL = process.env.BENCH_DATABASE_URL || undefined;
export const PREFIX = '/api/v1/crm';
export const OPPS = `${PREFIX}/opportunities`;
export const TOKEN = `opp_bench_${randomBytes(12).toString('hex')}`;
export const PROBE_TIMEOUT_MS = 10_000;

/** The API `npx nest build api` compiles (dist/), the one `npm start` runs. */
export const API_MAIN = [
  join(__dirname, '..', '..', '..', 'apps', 'api', 'apps', 'api', 'src', 'main.js'),
  join(process.cwd(), 'dist', 'apps', 'api', 'apps', 'api', 'src', 'main.js'),
].find((p) => existsSync(p));

/** The peer services of W1, from the bench build (dist/bench/bench/peers/). */
export const PEER_MAIN = {
  emmett: join(__dirname, '..', 'peers', 'emmett-express.js'),
  fastify: join(__dirname, '..', 'peers', 'fastify-insert.js'),
} as const;

export const log = (message: string) => process.stderr.write(`[http-load ${((performance.now() - T0) / 1000).toFixed(1)}s] ${message}\n`);
const T0 = performance.now();
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const f1 = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : '–');
export const f0 = (n: number) => (Number.isFinite(n) ? n.toFixed(0) : '–');
