/**
 * npm run bench [-- --quick]
 * Runs the benchmarks one after another and prints their tables (copied into docs/BENCHMARKS.md).
 * PostgreSQL workloads need BENCH_DATABASE_URL; without it they are skipped with that reason.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const quick = process.argv.includes('--quick');
const pg = process.env.BENCH_DATABASE_URL;

const runs: { name: string; script: string; args: string[]; needsPostgres: boolean }[] = [
  { name: 'W2 appends vs plain INSERT', script: 'append.bench.js', args: quick ? ['--seconds', '1', '--runs', '1'] : ['--seconds', '5', '--runs', '3'], needsPostgres: true },
  { name: 'W3/W4 rebuild and queries', script: 'read-models.bench.js', args: quick ? ['--deals', '5000', '--runs', '10'] : ['--deals', '200000', '--runs', '40'], needsPostgres: true },
  { name: 'W6 webhook latency (PGlite)', script: 'webhook-latency.bench.js', args: ['--deals', quick ? '20' : '200'], needsPostgres: false },
  { name: 'W6 webhook latency (PostgreSQL)', script: 'webhook-latency.bench.js', args: ['--deals', quick ? '20' : '200'], needsPostgres: true },
];

for (const run of runs) {
  process.stdout.write(`\n## ${run.name}\n\n`);
  if (run.needsPostgres && !pg) {
    process.stdout.write('not run: BENCH_DATABASE_URL is not set\n');
    continue;
  }
  const env = run.needsPostgres ? process.env : { ...process.env, BENCH_DATABASE_URL: '' };
  const result = spawnSync(process.execPath, [join(__dirname, run.script), ...run.args], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  process.stdout.write(result.stdout ?? '');
  if (result.status !== 0) process.stdout.write(`(exited with ${result.status})\n`);
}
