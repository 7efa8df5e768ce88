/**
 * W1: HTTP command load against the REAL API process (autocannon), side by side with two peer
 * services doing the same commands, and
 * W5: command → visible in the list read model, under W1-style load held at a fixed rate.
 * Each workload is a module of bench/http-load/ (w1-command-mix.ts, w5-list-lag.ts) that says how it
 * measures; this script starts the processes, warms them up and runs the workloads on them.
 *
 * The API runs as a child process (`node dist/apps/api/apps/api/src/main.js`, build it first with
 * `npx nest build api`; test/support/api-process.ts starts it): on embedded PGlite (fresh DATA_DIR)
 * and, when BENCH_DATABASE_URL is set, on PostgreSQL (a fresh database `bench_http_<random>` on that
 * server, dropped afterwards). With BENCH_DATABASE_URL, W1 also measures two peers, each a child
 * process of the bench build (dist/bench/bench/peers/) on a fresh database `bench_peer_<random>`:
 * Emmett 0.42 on Express 5 (bench/peers/emmett-express.ts) and the limit, Fastify 5 doing one
 * INSERT per request (bench/peers/fastify-insert.ts). All are started at once and measured side by
 * side, runs interleaved in rotating order. W1 runs first; W5 runs on our API only.
 *
 * Usage:
 *   npx nest build api && npx nest build bench
 *   [BENCH_DATABASE_URL=postgres://…] node dist/bench/bench/http-load.bench.js
 *       [--seconds 10] [--runs 3] [--connections 1,16,64] [--rate 500] [--probes 200]
 *       [--w5-connections 32] [--w5-seconds 120] [--poll-ms 5] [--only w1,w5] [--quick]
 * --quick: 2 s runs, 1 run, at most 30 probes in at most 5 s per W5 run (the whole script well under a minute).
 * Tables go to stdout, progress to stderr.
 */
import { cpus } from 'node:os';
import { type Api, cleanup, drained, startBenchApi, startPeer } from './http-load/api';
import { mixRequests, newCounts, runAutocannon } from './http-load/command-mix';
import { memory } from './http-load/monitor';
import { API_MAIN, f0, log, ONLY, PG_URL, QUICK, WARMUP_S } from './http-load/options';
import { runW1 } from './http-load/w1-command-mix';
import { runW5 } from './http-load/w5-list-lag';

async function main(): Promise<void> {
  if (!API_MAIN) {
    console.error('The API is not built: run `npx nest build api` first (expected dist/apps/api/apps/api/src/main.js).');
    process.exit(2);
  }
  const started = performance.now();
  const backends: Api['backend'][] = PG_URL ? ['PGlite', 'PostgreSQL'] : ['PGlite'];
  const peers = PG_URL && ONLY.has('w1') ? (['emmett', 'fastify'] as const) : [];
  log(`starting our API on ${backends.join(' and ')}${peers.length ? ` and the peers ${peers.join(', ')} on PostgreSQL` : ''}`);
  if (!PG_URL) log('the W1 peers run on PostgreSQL only: set BENCH_DATABASE_URL to measure them');
  const [apis, peerApis] = await Promise.all([Promise.all(backends.map(startBenchApi)), Promise.all(peers.map(startPeer))]);
  const sides = [...apis, ...peerApis];
  for (const side of sides) log(`${side.label} ready on ${side.origin} (pid ${side.pid}, RSS ${f0(memory(side.pid).rssKiB / 1024)} MiB)`);
  const rssAtStart = new Map(sides.map((side) => [side.label, memory(side.pid).rssKiB / 1024]));

  // Warm-up (JIT, pools, caches) at 16 connections, not measured.
  for (const side of sides) {
    log(`${side.label}: warm-up ${WARMUP_S} s`);
    await runAutocannon({ url: side.origin, connections: 16, duration: WARMUP_S, requests: mixRequests('warmup', newCounts()) });
    if (side.service === 'ours') await drained(side);
  }

  const stamp = new Date().toISOString().slice(0, 19) + 'Z';
  const setup =
    `${stamp}, Node ${process.version}, ${cpus().length} cores; API = node dist/apps/api/apps/api/src/main.js as a child process ` +
    `(projectors in-process, LOG_LEVEL=warn), load generated in this process on loopback`;

  if (ONLY.has('w1')) await runW1(sides, setup, rssAtStart);
  if (ONLY.has('w5')) await runW5(apis, setup);

  for (const side of sides) {
    if (side.problemCount) {
      console.log(`\n${side.label} logged ${side.problemCount} warning/error line(s); first ones:\n`);
      for (const line of side.problems) console.log(`    ${line}`);
    }
  }
  console.log(`\n(${((performance.now() - started) / 1000).toFixed(1)} s${QUICK ? ', --quick' : ''})`);
}

main()
  .then(() => cleanup())
  .then(() => process.exit(0))
  .catch(async (error) => {
    console.error(error);
    await cleanup().catch(() => undefined);
    process.exit(1);
  });
