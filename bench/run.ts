/**
 * npm run bench [-- --quick]
 * Runs every workload one after another, each in its own process, and prints their tables
 * (copied into docs/BENCHMARKS.md). PostgreSQL runs need BENCH_DATABASE_URL; without it only the
 * embedded PGlite runs happen and each PostgreSQL one says it was not run.
 * --quick: every workload at a small size (the whole run in under two minutes).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const quick = process.argv.includes('--quick');
const only = process.argv.find((a) => a.startsWith('--only='))?.slice('--only='.length);
const pg = process.env.BENCH_DATABASE_URL;
const api = join(__dirname, '..', '..', 'apps', 'api', 'apps', 'api', 'src', 'main.js');

interface Run {
  id: string;
  name: string;
  script: string;
  args: string[];
  backend: 'postgres' | 'pglite' | 'both';
  /** Not part of --quick (another run covers the workload at small size). */
  fullOnly?: boolean;
}

const runs: Run[] = [
  {
    id: 'w1w5',
    name: 'W1 HTTP command mix (autocannon; ours beside Emmett/Express and a Fastify one-INSERT limit) and W5 command → list lag (paced load), real API process',
    script: 'http-load.bench.js',
    args: quick ? ['--quick'] : [],
    backend: 'both',
  },
  {
    id: 'w2',
    name: 'W2 appends vs plain INSERT and vs Emmett',
    script: 'append.bench.js',
    args: quick ? ['--seconds', '1', '--runs', '1'] : ['--seconds', '5', '--runs', '3'],
    backend: 'both',
  },
  {
    // 216,000 generated deals make about 1,000,000 events (4.63 per deal): W3's size.
    id: 'w3-postgres',
    name: 'W3 rebuild from 1M events, median of 3 (PostgreSQL)',
    script: 'read-models.bench.js',
    args: ['--deals', '216000', '--runs', '10', '--rebuilds', '3'],
    fullOnly: true, // --quick measures the rebuild in w3w4-postgres
    backend: 'postgres',
  },
  {
    id: 'w3w4-postgres',
    name: 'W3 rebuild and W4 queries (PostgreSQL)',
    script: 'read-models.bench.js',
    args: quick ? ['--deals', '5000', '--runs', '10', '--live-sample', '5000'] : ['--deals', '1000000', '--runs', '40'],
    backend: 'postgres',
  },
  {
    id: 'w3w4-pglite',
    // 216,000 deals: about 1,000,000 events, W3's size (PGlite has one connection; 1M deals would take hours).
    name: 'W3 rebuild from 1M events (median of 3) and W4 queries (PGlite)',
    script: 'read-models.bench.js',
    args: [
      ...(quick ? ['--deals', '5000', '--runs', '10', '--live-sample', '5000'] : ['--deals', '216000', '--runs', '40', '--rebuilds', '3']),
      '--backend',
      'pglite',
    ],
    backend: 'pglite',
  },
  {
    id: 'w6-pglite',
    name: 'W6 webhook latency (PGlite)',
    script: 'webhook-latency.bench.js',
    args: ['--deals', quick ? '20' : '200'],
    backend: 'pglite',
  },
  {
    id: 'w6-postgres',
    name: 'W6 webhook latency (PostgreSQL)',
    script: 'webhook-latency.bench.js',
    args: ['--deals', quick ? '20' : '200'],
    backend: 'postgres',
  },
];

if (!existsSync(api)) {
  process.stderr.write('The API is not built: run `npx nest build api` first (W1/W5 start it as a child process).\n');
}
const started = Date.now();
for (const run of runs) {
  if (only && !only.split(',').includes(run.id)) continue;
  if (quick && run.fullOnly) continue;
  process.stdout.write(`\n## ${run.name}\n\n`);
  if (run.backend === 'postgres' && !pg) {
    process.stdout.write('not run: BENCH_DATABASE_URL is not set\n');
    continue;
  }
  // 'pglite' runs never see the server URL; 'both' runs do their PGlite part and, with the URL, the server part.
  const env = run.backend === 'pglite' ? { ...process.env, BENCH_DATABASE_URL: '' } : process.env;
  const t = Date.now();
  const result = spawnSync(process.execPath, [join(__dirname, run.script), ...run.args], {
    env,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  process.stdout.write(result.stdout ?? '');
  process.stdout.write(`\n(${((Date.now() - t) / 1000).toFixed(1)} s${result.status !== 0 ? `, exited with ${result.status}` : ''})\n`);
}
process.stdout.write(`\nAll workloads: ${((Date.now() - started) / 1000).toFixed(1)} s${quick ? ' (--quick)' : ''}\n`);
