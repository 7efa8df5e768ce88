import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { request } from 'undici';

/**
 * The real API as its own process (what `npm start` runs), for the reliability suites and the HTTP
 * benchmarks. buildApi compiles it with the Nest CLI into node_modules/.cache/reliability-api, so the
 * project's dist/ is left alone, and only when a source file is newer than the last build.
 *
 * Plain Node, no Jest: the bench build (bench/tsconfig.bench.json) compiles this file too.
 */

/** The repository: the nearest folder above this file with a package.json (from test/support, or from its build under dist/). */
function repositoryRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}

export const ROOT = repositoryRoot(__dirname);

/**
 * The Node flags `npm start` gives the API (package.json's start script), so that every process
 * tests and benchmarks start runs with the same runtime settings as a user's.
 */
export const START_FLAGS: string[] = (() => {
  const start = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts.start;
  const flags = /^node((?:\s+--[\w-]+(?:=\S+)?)*)\s/.exec(start);
  return flags ? flags[1].trim().split(/\s+/).filter(Boolean) : [];
})();
const OUT_DIR = join(ROOT, 'node_modules/.cache/reliability-api');
const MAIN = join(OUT_DIR, 'apps/api/src/main.js');
/** The worker (projectors and webhook dispatcher without HTTP), built beside the API. */
export const WORKER_MAIN = join(OUT_DIR, 'apps/worker/src/main.js');
const STAMP = join(OUT_DIR, '.built');

function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(path));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.spec.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

export function buildApi(): { main: string; built: boolean; seconds: number } {
  const started = Date.now();
  const newest = Math.max(
    newestSource(join(ROOT, 'apps/api/src')),
    newestSource(join(ROOT, 'apps/worker/src')),
    newestSource(join(ROOT, 'libs')),
  );
  if (existsSync(MAIN) && existsSync(WORKER_MAIN) && existsSync(STAMP) && statSync(STAMP).mtimeMs > newest)
    return { main: MAIN, built: false, seconds: 0 };
  execFileSync(
    process.execPath,
    [join(ROOT, 'node_modules/@nestjs/cli/bin/nest.js'), 'build', 'api', '-c', 'test/support/nest-cli.api-process.json'],
    {
      cwd: ROOT,
      stdio: 'pipe',
      timeout: 170_000,
    },
  );
  writeFileSync(STAMP, new Date().toISOString());
  return { main: MAIN, built: true, seconds: (Date.now() - started) / 1000 };
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** RATE_LIMIT_PER_MINUTE of the processes and apps tests and benchmarks start: high enough never to be hit. */
export const TEST_RATE_LIMIT = '100000000';

export interface ApiProcess {
  port: number;
  /** http://127.0.0.1:<port>/api/v1/crm */
  base: string;
  child: ChildProcess;
  /** The last lines the process wrote (for failure messages). */
  tail(): string;
  /** Every line kept (the last 200). */
  output(): string;
  kill9(): Promise<void>;
  stop(): Promise<void>;
}

export interface StartOptions {
  /** How long it may take to answer `readyPath` with 200. */
  timeoutMs?: number;
  /** The compiled entry point: buildApi's by default (the benchmarks run the one `npm run build` makes). */
  main?: string;
  /** Polled until it answers 200: liveness by default, `/health/ready` to wait for the projections too. */
  readyPath?: string;
  /** Called with every line the process writes, stdout and stderr. */
  onLine?: (line: string) => void;
}

/**
 * Starts the API on a free port with `env` (and only PATH and HOME of this process's environment)
 * and waits until it answers.
 */
export async function startApi(env: Record<string, string>, options: StartOptions = {}): Promise<ApiProcess> {
  const { timeoutMs = 45_000, main = MAIN, readyPath = '/health', onLine } = options;
  const port = await freePort();
  const child = spawn(process.execPath, [...START_FLAGS, main], {
    cwd: ROOT,
    // One token sends thousands of requests a minute here (suites, benchmarks): a rate limit no run
    // reaches, still counted as in production, unless `env` sets one.
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      RATE_LIMIT_PER_MINUTE: TEST_RATE_LIMIT,
      ...env,
      PORT: String(port),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const keep = (line: string) => {
    if (!line) return;
    lines.push(line);
    if (lines.length > 200) lines.splice(0, lines.length - 200);
    onLine?.(line);
  };
  for (const stream of [child.stdout!, child.stderr!]) readLines(stream, keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const api: ApiProcess = {
    port,
    base: `http://127.0.0.1:${port}/api/v1/crm`,
    child,
    tail: () => lines.slice(-30).join('\n'),
    output: () => lines.join('\n'),
    async kill9() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`API exited with ${child.exitCode} while starting:\n${api.tail()}`);
    try {
      const res = await request(`${api.base}${readyPath}`, { headersTimeout: 2000, bodyTimeout: 2000 });
      await res.body.dump();
      if (res.statusCode === 200) return api;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await api.kill9();
      throw new Error(`API did not answer ${readyPath} with 200 in ${timeoutMs} ms:\n${api.tail()}`);
    }
    await new Promise((r) => setTimeout(r, 150));
  }
}

/** Whole lines of a stream (a line split across chunks is joined; the last one is passed on at the end). */
function readLines(stream: Readable, onLine: (line: string) => void): void {
  let buffered = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    buffered += chunk;
    const lines = buffered.split('\n');
    buffered = lines.pop()!;
    lines.forEach(onLine);
  });
  stream.on('end', () => {
    if (buffered) onLine(buffered);
    buffered = '';
  });
}
