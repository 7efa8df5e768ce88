/**
 * W1: HTTP command load against the REAL API process (autocannon), and
 * W5: command → visible in the list read model, under W1-style load held at a fixed rate.
 *
 * The API runs as a child process (`node dist/apps/api/apps/api/src/main.js`, build it first with
 * `npx nest build api`): on embedded PGlite (fresh DATA_DIR) and, when BENCH_DATABASE_URL is set,
 * on PostgreSQL (a fresh database `bench_http_<ts>` on that server, dropped afterwards), both
 * started at once and measured side by side, runs interleaved in rotating order.
 *
 * W1: each autocannon connection loops over one deal's life: POST create (stage negotiation) →
 * PATCH name and value → POST stage/next (→ verbal_commitment) → POST win, with the id taken from
 * the create response, so no deal is touched by two connections and no won deal is re-used
 * (no If-Match is sent, so no 409/412 is expected). 1, 16 and 64 connections.
 *
 * W5: the same mix is sent open-loop at an even pace of --rate commands/s (not autocannon, whose
 * rate limit sends each second's quota in one burst) while this process sends
 * probes one after another: a create, then a rename of that deal, alternately, each with a unique
 * word in the name. Lag = from the probe command's 2xx response to the response of the first
 * GET /opportunities?search=<word> that shows the deal (polled every --poll-ms).
 * The list endpoint normally waits for the org's last write made through this process
 * (read-your-writes, libs/read-models/src/consistency.ts), which would hide the lag: the polls
 * send X-Consistency-Token = the position of an event written before the load started, which
 * takes precedence over the org's session position and is always already reached, so the read
 * returns what the read model holds right now (every poll is checked for X-Consistency: reached).
 *
 * Usage:
 *   npx nest build api && npx nest build bench
 *   [BENCH_DATABASE_URL=postgres://…] node dist/bench/bench/http-load.bench.js
 *       [--seconds 10] [--runs 3] [--connections 1,16,64] [--rate 500] [--probes 200]
 *       [--w5-connections 32] [--w5-seconds 120] [--poll-ms 5] [--only w1,w5] [--quick]
 * --quick: 2 s runs, 1 run, at most 30 probes in at most 5 s per W5 run (the whole script well under a minute).
 * Tables go to stdout, progress to stderr.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';
import { type AddressInfo, createServer } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Client } from 'pg';
import { median, percentile } from './stats';

// autocannon ships no types (and @types/autocannon is not installed): the parts used here.
interface AcRequest {
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  body?: string;
  setupRequest?: (req: AcRequest, context: Record<string, any>) => AcRequest | undefined;
  onResponse?: (status: number, body: string, context: Record<string, any>, headers: Record<string, string>) => void;
}
interface AcHistogram {
  average: number;
  p50: number;
  p99: number;
  max: number;
  total: number;
}
interface AcResult {
  latency: AcHistogram;
  requests: AcHistogram;
  duration: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  '2xx': number;
  statusCodeStats: Record<string, { count: number }>;
}
interface AcInstance {
  stop(): void;
  on(event: 'response', listener: (client: unknown, statusCode: number, resBytes: number, responseTime: number) => void): void;
}
type Autocannon = (opts: Record<string, unknown>, cb: (err: Error | null, result: AcResult) => void) => AcInstance;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const autocannon: Autocannon = require('autocannon');

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
const QUICK = values.quick === true;
const SECONDS = Number(values.seconds ?? (QUICK ? 2 : 10));
const RUNS = Math.max(1, Number(values.runs ?? (QUICK ? 1 : 3)));
const CONNECTIONS = (values.connections ?? '1,16,64').split(',').map(Number);
const RATE = Number(values.rate ?? 500);
const PROBES = Number(values.probes ?? (QUICK ? 30 : 200));
const W5_CONNECTIONS = Number(values['w5-connections'] ?? 32);
/** Longest probe window per W5 run: probes stop at --probes or after this many seconds, whichever comes first. */
const W5_SECONDS = Number(values['w5-seconds'] ?? (QUICK ? 5 : 120));
const POLL_MS = Number(values['poll-ms'] ?? 5);
const WARMUP_S = QUICK ? 0.5 : 2;
const ONLY = new Set((values.only ?? 'w1,w5').split(','));
const PG_URL = process.env.BENCH_DATABASE_URL || undefined;
const PREFIX = '/api/v1/crm';
const OPPS = `${PREFIX}/opportunities`;
const TOKEN = `opp_bench_${randomBytes(12).toString('hex')}`;
const PROBE_TIMEOUT_MS = 10_000;

const API_MAIN = [
  join(__dirname, '..', '..', 'apps', 'api', 'apps', 'api', 'src', 'main.js'),
  join(process.cwd(), 'dist', 'apps', 'api', 'apps', 'api', 'src', 'main.js'),
].find((p) => existsSync(p));

const log = (message: string) => process.stderr.write(`[http-load ${((performance.now() - T0) / 1000).toFixed(1)}s] ${message}\n`);
const T0 = performance.now();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const f1 = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : '–');
const f0 = (n: number) => (Number.isFinite(n) ? n.toFixed(0) : '–');

// ---------------------------------------------------------------------------------------------
// The API child processes and their cleanup

interface Api {
  backend: 'PGlite' | 'PostgreSQL';
  port: number;
  origin: string;
  child: ChildProcess;
  pid: number;
  exited: Promise<void>;
  /** Log lines at warn level or above, and anything that is not a JSON log line. */
  problems: string[];
  problemCount: number;
  tail: string[];
  /** Position of an event written before any load: the non-waiting consistency token of W5. */
  basePosition: string;
  /** PostgreSQL: the bench database's name. */
  database?: string;
}

const children = new Set<ChildProcess>();
const tempDirs: string[] = [];
const databases: string[] = [];
const agent = new Agent({ keepAlive: true, maxSockets: 16 });
let cleaning: Promise<void> | null = null;

process.on('exit', () => {
  for (const child of children) {
    try {
      child.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log(`${signal}: cleaning up`);
    void cleanup().finally(() => process.exit(130));
  });
}

function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    await Promise.all([...children].map(stopChild));
    for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
    if (PG_URL && databases.length) {
      const client = new Client({ connectionString: PG_URL });
      try {
        await client.connect();
        for (const name of databases.splice(0)) await client.query(`drop database if exists "${name}" with (force)`);
      } catch (error) {
        log(`could not drop database(s) ${databases.join(', ')}: ${(error as Error).message}`);
      } finally {
        await client.end().catch(() => undefined);
      }
    }
    agent.destroy();
  })();
  return cleaning;
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) {
    children.delete(child);
    return;
  }
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
  children.delete(child);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

async function startApi(backend: Api['backend']): Promise<Api> {
  const port = await freePort();
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(port), ADMIN_TOKEN: TOKEN, LOG_LEVEL: 'warn', RUN_PROJECTORS: 'true' };
  delete env.EVENTSTORE_URL;
  delete env.DATABASE_URL;
  if (backend === 'PGlite') {
    const dir = mkdtempSync(join(tmpdir(), 'bench-http-pglite-'));
    tempDirs.push(dir);
    env.DATA_DIR = dir;
  } else {
    const name = `bench_http_${Date.now()}_${randomBytes(3).toString('hex')}`;
    const client = new Client({ connectionString: PG_URL });
    await client.connect();
    try {
      await client.query(`create database "${name}"`);
      databases.push(name);
    } finally {
      await client.end();
    }
    const url = new URL(PG_URL!);
    url.pathname = `/${name}`;
    env.DATABASE_URL = url.toString();
    env.BENCH_HTTP_DATABASE = name;
  }
  const child = spawn(process.execPath, [API_MAIN!], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  const api: Api = {
    backend,
    port,
    origin: `http://127.0.0.1:${port}`,
    child,
    pid: child.pid!,
    exited: new Promise((resolve) => child.once('exit', () => resolve())),
    problems: [],
    problemCount: 0,
    tail: [],
    basePosition: '',
    database: env.BENCH_HTTP_DATABASE,
  };
  const onLine = (line: string) => {
    if (!line.trim()) return;
    api.tail.push(line);
    if (api.tail.length > 40) api.tail.shift();
    let problem = true;
    try {
      const parsed = JSON.parse(line) as { level?: number };
      problem = typeof parsed.level === 'number' && parsed.level >= 40;
    } catch {
      // Not a JSON log line: the admin-token banner of main.ts is expected, the rest is reported.
      problem = !/Admin token|Use it as|opp_bench_|^\s*$/.test(line);
    }
    if (problem) {
      api.problemCount++;
      if (api.problems.length < 10) api.problems.push(line.length > 600 ? `${line.slice(0, 600)}…` : line);
    }
  };
  for (const stream of [child.stdout!, child.stderr!]) {
    let buffered = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      buffered += chunk;
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      lines.forEach(onLine);
    });
  }
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(`${backend} API exited with ${child.exitCode} before it was ready:\n${api.tail.join('\n')}`);
    if (Date.now() > deadline) throw new Error(`${backend} API not ready after 90 s:\n${api.tail.join('\n')}`);
    const ready = await call(api, 'GET', `${PREFIX}/health/ready`).catch(() => null);
    if (ready?.status === 200) break;
    await sleep(200);
  }
  // One deal before any load: its position is the W5 consistency token (already applied).
  const first = await call(api, 'POST', OPPS, createBody('W0 base'));
  if (first.status !== 201) throw new Error(`${backend}: setup create answered ${first.status}: ${JSON.stringify(first.body)}`);
  api.basePosition = first.headers['x-global-position'] as string;
  await drained(api);
  return api;
}

// ---------------------------------------------------------------------------------------------
// A small keep-alive HTTP client (for setup and the W5 probes; load comes from autocannon)

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: any;
  sentAt: number;
  receivedAt: number;
}

function call(
  api: Api,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
  via: Agent = agent,
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const sentAt = performance.now();
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port: api.port,
        method,
        path,
        agent: via,
        headers: {
          authorization: `Bearer ${TOKEN}`,
          ...(payload !== undefined ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {}),
          ...headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const receivedAt = performance.now();
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = text;
          try {
            parsed = text ? JSON.parse(text) : null;
          } catch {
            /* not JSON */
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: parsed, sentAt, receivedAt });
        });
        res.on('error', reject);
      },
    );
    req.setTimeout(30_000, () => req.destroy(new Error(`${method} ${path}: no answer in 30 s`)));
    req.on('error', reject);
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

function createBody(name: string) {
  return { name, customer_id: 'c-bench', value: 1000, expected_close_date: '2031-06-30', stage: 'negotiation' };
}

/** Largest projection lag in events, from /health/ready. */
async function projectionLag(api: Api): Promise<number> {
  const r = await call(api, 'GET', `${PREFIX}/health/ready`);
  const lags = (r.body?.details?.projections?.lag_events ?? {}) as Record<string, number>;
  const all = Object.values(lags);
  return all.length ? Math.max(...all) : NaN;
}

/** Waits until every projection has caught up with the log (so one run's backlog does not load the next). */
async function drained(api: Api, limitMs = 120_000): Promise<void> {
  const started = Date.now();
  for (;;) {
    const lag = await projectionLag(api).catch(() => NaN);
    if (lag === 0) return;
    if (Date.now() - started > limitMs) {
      log(`${api.backend}: projections still ${lag} events behind after ${limitMs / 1000} s, going on`);
      return;
    }
    await sleep(100);
  }
}

// ---------------------------------------------------------------------------------------------
// Memory of the API process

function memory(pid: number): { hwmKiB: number; rssKiB: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { hwmKiB: kib('VmHWM'), rssKiB: kib('VmRSS') };
}

/** Resets VmHWM to the current RSS (Linux ≥ 4.0, own processes); false when not possible. */
function resetPeak(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** Peak RSS over a stretch of time: VmHWM after a reset, or (if that is not possible) 50 ms samples of VmRSS. */
function watchMemory(pid: number): () => { peakMiB: number; endMiB: number } {
  const reset = resetPeak(pid);
  let sampled = memory(pid).rssKiB;
  const timer = setInterval(() => {
    try {
      sampled = Math.max(sampled, memory(pid).rssKiB);
    } catch {
      /* process gone */
    }
  }, 50);
  return () => {
    clearInterval(timer);
    const m = memory(pid);
    const peak = Math.max(sampled, m.rssKiB, reset ? m.hwmKiB : 0);
    return { peakMiB: peak / 1024, endMiB: m.rssKiB / 1024 };
  };
}

// ---------------------------------------------------------------------------------------------
// Other databases' write transactions on the PostgreSQL server

/**
 * Projectors read events below pg_snapshot_xmin(pg_current_snapshot()), which is server-wide: a write
 * transaction open in ANY database of the server (other people's test suites here) holds back what
 * the read models may apply in ours. Sampled every 100 ms so the W5 figures can be read in that light.
 */
function watchOtherTransactions(api: Api): () => Promise<{ maxAgeMs: number; busyShare: number }> {
  if (api.backend !== 'PostgreSQL' || !PG_URL) return async () => ({ maxAgeMs: NaN, busyShare: NaN });
  const client = new Client({ connectionString: PG_URL });
  let stopped = false;
  let maxAgeMs = 0;
  let samples = 0;
  let busy = 0;
  const loop = (async () => {
    try {
      await client.connect();
      while (!stopped) {
        const { rows } = await client.query<{ age_ms: number | null }>(
          `select (extract(epoch from max(clock_timestamp() - xact_start)) * 1000)::float8 as age_ms
             from pg_stat_activity where backend_xid is not null and datname is distinct from $1 and pid <> pg_backend_pid()`,
          [api.database],
        );
        samples++;
        if (rows[0].age_ms !== null) {
          busy++;
          maxAgeMs = Math.max(maxAgeMs, rows[0].age_ms);
        }
        await sleep(100);
      }
    } catch (error) {
      log(`transaction monitor: ${(error as Error).message}`);
    } finally {
      await client.end().catch(() => undefined);
    }
  })();
  return async () => {
    stopped = true;
    await loop;
    return { maxAgeMs, busyShare: samples ? busy / samples : NaN };
  };
}

// ---------------------------------------------------------------------------------------------
// The command mix

type Step = 'create' | 'patch' | 'next' | 'win';
type StatusCounts = Record<Step, Record<number, number>>;

function newCounts(): StatusCounts {
  return { create: {}, patch: {}, next: {}, win: {} };
}

/** A deal's next command in the mix (null after the win). */
const NEXT_STEP: Record<Step, Step | null> = { create: 'patch', patch: 'next', next: 'win', win: null };

/** One step of a deal's life: the same paths and bodies for W1 and W5. */
function mixCommand(step: Step, label: string, n: number, id = ''): { method: string; path: string; body: unknown } {
  switch (step) {
    case 'create':
      return { method: 'POST', path: OPPS, body: { ...createBody(`${label} deal ${n}`), value: 1000 + (n % 997) } };
    case 'patch':
      return { method: 'PATCH', path: `${OPPS}/${id}`, body: { name: `${label} renamed ${n}`, value: 2000 + (n % 991) } };
    case 'next':
      return { method: 'POST', path: `${OPPS}/${id}/stage/next`, body: {} };
    case 'win':
      return { method: 'POST', path: `${OPPS}/${id}/win`, body: {} };
  }
}

/** One deal's life per loop of a connection: create → patch → stage/next → win (ids from the create response). */
function mixRequests(tag: string, counts: StatusCounts): AcRequest[] {
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` };
  let n = 0;
  const count = (step: Step, status: number) => {
    counts[step][status] = (counts[step][status] ?? 0) + 1;
  };
  const request = (step: Step): AcRequest => ({
    method: mixCommand(step, '', 0).method,
    headers,
    ...(step === 'create' ? { path: OPPS } : {}),
    setupRequest: (req, ctx) => {
      if (step === 'create') n++;
      else if (!ctx.id) return undefined; // no id: back to create
      const command = mixCommand(step, `W1 ${tag}`, n, ctx.id as string);
      return { ...req, path: command.path, body: JSON.stringify(command.body) };
    },
    onResponse: (status, body, ctx) => {
      count(step, status);
      if (step === 'create' && status === 201) {
        try {
          ctx.id = JSON.parse(body).data.id;
        } catch {
          /* leave id unset: the sequence restarts */
        }
      }
    },
  });
  return (['create', 'patch', 'next', 'win'] as Step[]).map(request);
}

/**
 * W5's load: an open loop at an even pace. Every 1000/rate ms the next command starts, whether
 * or not earlier ones have answered. (autocannon's rate limit is a per-second quota per
 * connection: each connection sends back to back until its share of the second is used, then
 * waits for the next second, so "100 commands/s" arrives as one burst at the top of each second.)
 * A command goes to a deal whose previous command has answered (PATCH, stage/next, win in turn,
 * the same mix as W1), else it creates one. At most `maxInFlight` are on the wire; the rest queue
 * in the HTTP agent as they would in a client, and their latency counts from when they were due.
 */
function pacedLoad(api: Api, tag: string, rate: number, maxInFlight: number, counts: StatusCounts, onOk: () => void) {
  // fifo: every socket is reused in turn, so none sits idle long enough for the server's
  // keep-alive timeout to close it just as a request is written to it (ECONNRESET).
  const via = new Agent({ keepAlive: true, maxSockets: maxInFlight, scheduling: 'fifo' });
  const ready: { id: string; next: Step }[] = [];
  const latencies: number[] = [];
  const inFlight = new Set<Promise<void>>();
  const interval = 1000 / rate;
  const start = performance.now();
  let stopped = false;
  let sent = 0;
  let errors = 0;
  let timer: NodeJS.Timeout | undefined;
  let skipped = 0;
  const send = () => {
    // Beyond what the API sustains the client queue would grow without end: a command due while
    // 4 × maxInFlight are already outstanding is not sent (counted as skipped).
    if (inFlight.size >= maxInFlight * 4) {
      skipped++;
      return;
    }
    const deal = ready.shift();
    const step: Step = deal ? deal.next : 'create';
    const command = mixCommand(step, `W5 ${tag}`, sent, deal?.id);
    const pending = call(api, command.method, command.path, command.body, {}, via).then(
      (reply) => {
        counts[step][reply.status] = (counts[step][reply.status] ?? 0) + 1;
        if (reply.status < 200 || reply.status >= 300) return;
        latencies.push(reply.receivedAt - reply.sentAt);
        onOk();
        const next = NEXT_STEP[step];
        if (next) ready.push({ id: step === 'create' ? (reply.body.data.id as string) : deal!.id, next });
      },
      (error: unknown) => {
        if (errors++ === 0)
          log(`  W5 load: ${command.method} ${command.path} got no answer: ${error instanceof Error ? error.message : String(error)}`);
      },
    );
    inFlight.add(pending);
    void pending.finally(() => inFlight.delete(pending));
  };
  const tick = () => {
    if (stopped) return;
    const due = Math.floor((performance.now() - start) / interval) + 1;
    while (sent < due) {
      sent++;
      send();
    }
    timer = setTimeout(tick, Math.max(0, start + sent * interval - performance.now()));
  };
  tick();
  return {
    async stop(): Promise<{ latencies: number[]; errors: number; skipped: number }> {
      stopped = true;
      clearTimeout(timer);
      await Promise.allSettled([...inFlight]);
      via.destroy();
      return { latencies, errors, skipped };
    },
  };
}

function runAutocannon(opts: Record<string, unknown>, onInstance?: (instance: AcInstance) => void): Promise<AcResult> {
  return new Promise((resolve, reject) => {
    const instance = autocannon({ timeout: 30, ...opts }, (error, result) => (error ? reject(error) : resolve(result)));
    onInstance?.(instance);
  });
}

/** "0", or e.g. "3 (create 500×2, win 422×1)". */
function describeNon2xx(counts: StatusCounts[]): { total: number; text: string } {
  const merged: Record<string, number> = {};
  for (const c of counts) {
    for (const step of Object.keys(c) as Step[]) {
      for (const [status, k] of Object.entries(c[step])) {
        if (Number(status) >= 200 && Number(status) < 300) continue;
        merged[`${step} ${status}`] = (merged[`${step} ${status}`] ?? 0) + k;
      }
    }
  }
  const total = Object.values(merged).reduce((a, b) => a + b, 0);
  return {
    total,
    text:
      total === 0
        ? '0'
        : `${total} (${Object.entries(merged)
            .map(([k, v]) => `${k}×${v}`)
            .join(', ')})`,
  };
}

// ---------------------------------------------------------------------------------------------
// W1

interface W1Run {
  commandsPerSecond: number;
  p50: number;
  p99: number;
  errors: number;
  timeouts: number;
  counts: StatusCounts;
  peakMiB: number;
  endMiB: number;
  lagAtEnd: number;
  deals: number;
}

async function w1Run(api: Api, connections: number, seconds: number, tag: string): Promise<W1Run> {
  const counts = newCounts();
  const watch = watchMemory(api.pid);
  const result = await runAutocannon({ url: api.origin, connections, duration: seconds, requests: mixRequests(tag, counts) });
  const mem = watch();
  const lagAtEnd = await projectionLag(api).catch(() => NaN);
  await drained(api);
  return {
    commandsPerSecond: result['2xx'] / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors,
    timeouts: result.timeouts,
    counts,
    peakMiB: mem.peakMiB,
    endMiB: mem.endMiB,
    lagAtEnd,
    deals: counts.win[200] ?? 0,
  };
}

// ---------------------------------------------------------------------------------------------
// W5

interface W5Run {
  targetRate: number;
  achievedRate: number;
  lags: number[];
  lowerBounds: number[];
  getLatencies: number[];
  timeouts: number;
  notReached: number;
  probeErrors: string[];
  counts: StatusCounts;
  loadP99: number;
  /** Load commands that got no answer (connection error or 30 s timeout). */
  loadErrors: number;
  /** Load commands not sent because 4 × the in-flight limit were outstanding (offered rate above capacity). */
  loadSkipped: number;
  peakMiB: number;
  /** PostgreSQL: oldest write transaction seen in another database of the server, and the share of samples with one. */
  otherXactMaxMs: number;
  otherXactShare: number;
}

function probeWord(): string {
  // letters and digits only (the search splits on anything else); fixed length so no word is a prefix of another
  return `zp${randomBytes(6).toString('hex')}`;
}

async function w5Run(api: Api, tag: string): Promise<W5Run> {
  const counts = newCounts();
  let measuring = false;
  let loadOk = 0;
  const watch = watchMemory(api.pid);
  const load = pacedLoad(api, tag, RATE, W5_CONNECTIONS, counts, () => {
    if (measuring) loadOk++;
  });
  const out: W5Run = {
    targetRate: RATE,
    achievedRate: NaN,
    lags: [],
    lowerBounds: [],
    getLatencies: [],
    timeouts: 0,
    notReached: 0,
    probeErrors: [],
    counts,
    loadP99: NaN,
    loadErrors: 0,
    loadSkipped: 0,
    peakMiB: NaN,
    otherXactMaxMs: NaN,
    otherXactShare: NaN,
  };
  const others = watchOtherTransactions(api);
  let probeCommands = 0;
  let windowStart = 0;
  let windowEnd = 0;
  let loadResult: { latencies: number[]; errors: number; skipped: number } = { latencies: [], errors: 0, skipped: 0 };
  try {
    await sleep(WARMUP_S * 1000);
    measuring = true;
    windowStart = performance.now();
    let id = '';
    const windowLimit = windowStart + W5_SECONDS * 1000;
    for (let i = 0; i < PROBES && performance.now() < windowLimit; i++) {
      const word = probeWord();
      const command =
        i % 2 === 0 || !id
          ? await call(api, 'POST', OPPS, { ...createBody(`W5 probe ${word}`), stage: 'prospecting' })
          : await call(api, 'PATCH', `${OPPS}/${id}`, { name: `W5 probe ${word}` });
      if (command.status < 200 || command.status >= 300) {
        if (out.probeErrors.length < 5) out.probeErrors.push(`probe ${i}: ${command.status} ${JSON.stringify(command.body).slice(0, 300)}`);
        id = '';
        continue;
      }
      probeCommands++;
      id = command.body.data.id as string;
      const t0 = command.receivedAt;
      // The deal became visible after the last poll that missed it was sent and before the hit's response.
      let missSentAt = t0;
      for (;;) {
        const read = await call(api, 'GET', `${OPPS}?search=${word}&per_page=5`, undefined, { 'x-consistency-token': api.basePosition });
        out.getLatencies.push(read.receivedAt - read.sentAt);
        if (read.headers['x-consistency'] !== 'reached') out.notReached++;
        if (read.status !== 200) {
          if (out.probeErrors.length < 5) out.probeErrors.push(`list: ${read.status} ${JSON.stringify(read.body).slice(0, 300)}`);
        } else if ((read.body.data as { id: string; name: string }[]).some((d) => d.id === id && d.name.includes(word))) {
          out.lags.push(read.receivedAt - t0);
          out.lowerBounds.push(missSentAt - t0);
          break;
        }
        missSentAt = read.sentAt;
        if (read.receivedAt - t0 > PROBE_TIMEOUT_MS) {
          out.timeouts++;
          out.lags.push(Infinity);
          out.lowerBounds.push(missSentAt - t0);
          break;
        }
        await sleep(POLL_MS);
      }
    }
    windowEnd = performance.now();
    measuring = false;
  } finally {
    loadResult = await load.stop();
  }
  const mem = watch();
  const other = await others();
  out.otherXactMaxMs = other.maxAgeMs;
  out.otherXactShare = other.busyShare;
  out.achievedRate = (loadOk + probeCommands) / ((windowEnd - windowStart) / 1000);
  out.loadP99 = percentile(loadResult.latencies, 0.99);
  out.loadErrors = loadResult.errors;
  out.loadSkipped = loadResult.skipped;
  out.peakMiB = mem.peakMiB;
  await drained(api);
  return out;
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  if (!API_MAIN) {
    console.error('The API is not built: run `npx nest build api` first (expected dist/apps/api/apps/api/src/main.js).');
    process.exit(2);
  }
  const started = performance.now();
  const backends: Api['backend'][] = PG_URL ? ['PGlite', 'PostgreSQL'] : ['PGlite'];
  log(`starting ${backends.join(' and ')} API process(es) from ${API_MAIN}`);
  const apis = await Promise.all(backends.map(startApi));
  for (const api of apis) log(`${api.backend} API ready on ${api.origin} (pid ${api.pid}, RSS ${f0(memory(api.pid).rssKiB / 1024)} MiB)`);
  const rssAtStart = new Map(apis.map((api) => [api.backend, memory(api.pid).rssKiB / 1024]));

  // Warm-up (JIT, pools, caches) at 16 connections, not measured.
  for (const api of apis) {
    log(`${api.backend}: warm-up ${WARMUP_S} s`);
    await runAutocannon({ url: api.origin, connections: 16, duration: WARMUP_S, requests: mixRequests('warmup', newCounts()) });
    await drained(api);
  }

  const stamp = new Date().toISOString().slice(0, 19) + 'Z';
  const setup =
    `${stamp}, Node ${process.version}, ${cpus().length} cores; API = node dist/apps/api/apps/api/src/main.js as a child process ` +
    `(projectors in-process, LOG_LEVEL=warn), load generated in this process on loopback`;

  if (ONLY.has('w1')) {
    const w1 = new Map<string, W1Run[]>();
    for (let run = 0; run < RUNS; run++) {
      for (const connections of CONNECTIONS) {
        const order = run % 2 ? [...apis].reverse() : apis;
        for (const api of order) {
          log(`W1 run ${run + 1}/${RUNS}: ${api.backend}, ${connections} connection(s), ${SECONDS} s`);
          const r = await w1Run(api, connections, SECONDS, `r${run}c${connections}`);
          log(
            `  ${f0(r.commandsPerSecond)} commands/s, p50 ${r.p50} ms, p99 ${r.p99} ms, non-2xx ${describeNon2xx([r.counts]).text}, peak RSS ${f0(r.peakMiB)} MiB, projections ${r.lagAtEnd} events behind at the end`,
          );
          const key = `${api.backend}|${connections}`;
          w1.set(key, [...(w1.get(key) ?? []), r]);
        }
      }
    }
    console.log(`\n### W1 — HTTP command mix (autocannon)\n`);
    console.log(
      `${setup}. Each connection loops over one deal: POST create (stage negotiation) → PATCH name+value → POST stage/next → ` +
        `POST win (25 % each, no If-Match). Median of ${RUNS} × ${SECONDS} s per row (after a ${WARMUP_S} s warm-up per backend); ` +
        `commands/s = 2xx responses / s; latency over 2xx responses; non-2xx summed over the runs (none expected); ` +
        `RSS of the API process: peak = VmHWM reset before each run (highest run), end = VmRSS after the last run; ` +
        `backlog = the furthest-behind projection, in events, when the load stopped (median).\n`,
    );
    console.log(
      '| backend | connections | commands/s | p50 ms | p99 ms | non-2xx | errors/timeouts | RSS peak MiB | RSS end MiB | projection backlog at end |',
    );
    console.log('|---|---|---|---|---|---|---|---|---|---|');
    for (const connections of CONNECTIONS) {
      for (const api of apis) {
        const rs = w1.get(`${api.backend}|${connections}`) ?? [];
        console.log(
          `| ${api.backend} | ${connections} | ${f0(median(rs.map((r) => r.commandsPerSecond)))} | ${f1(median(rs.map((r) => r.p50)))} | ${f1(median(rs.map((r) => r.p99)))} | ` +
            `${describeNon2xx(rs.map((r) => r.counts)).text} | ${rs.reduce((a, r) => a + r.errors, 0)}/${rs.reduce((a, r) => a + r.timeouts, 0)} | ` +
            `${f0(Math.max(...rs.map((r) => r.peakMiB)))} | ${f0(rs[rs.length - 1]?.endMiB ?? NaN)} | ${f0(median(rs.map((r) => r.lagAtEnd)))} |`,
        );
      }
    }
    console.log(`\nRSS at start (ready, idle): ${apis.map((a) => `${a.backend} ${f0(rssAtStart.get(a.backend)!)} MiB`).join(', ')}.`);
  }

  if (ONLY.has('w5')) {
    const w5 = new Map<string, W5Run[]>();
    for (let run = 0; run < RUNS; run++) {
      const order = run % 2 ? [...apis].reverse() : apis;
      for (const api of order) {
        log(`W5 run ${run + 1}/${RUNS}: ${api.backend}, load at ${RATE} commands/s over ${W5_CONNECTIONS} connections, ${PROBES} probes`);
        const r = await w5Run(api, `w5r${run}`);
        log(
          `  achieved ${f0(r.achievedRate)} commands/s, lag p50 ${f1(percentile(r.lags, 0.5))} ms, p99 ${f1(percentile(r.lags, 0.99))} ms, ` +
            `timeouts ${r.timeouts}, non-reached reads ${r.notReached}, load non-2xx ${describeNon2xx([r.counts]).text}, load commands skipped ${r.loadSkipped}`,
        );
        for (const e of r.probeErrors) log(`  ${e}`);
        w5.set(api.backend, [...(w5.get(api.backend) ?? []), r]);
      }
    }
    console.log(`\n### W5 — command → visible in the list read model, under load\n`);
    console.log(
      `${setup}. Load: the W1 mix (create → PATCH → stage/next → win per deal) sent open-loop at an even pace of ${RATE} commands/s, ` +
        `one every ${f1(1000 / RATE)} ms whether or not earlier ones answered, at most ${W5_CONNECTIONS} on the wire (the rest wait in the client's queue and their latency counts from when they were due; ` +
        `a command due while ${W5_CONNECTIONS * 4} are outstanding is skipped, so above capacity the achieved rate is what the API sustains); ` +
        `achieved = 2xx commands/s (load + probes) during the probe window. Probes, one after another: create a deal, then rename it, alternately, ` +
        `each with a unique word in the name. Lag = probe command's 2xx response → response of the first GET /opportunities?search=<word> ` +
        `that lists the deal with that name, polled every ${POLL_MS} ms with X-Consistency-Token = the position of an event written before the load ` +
        `(already applied, so the read does not wait for the org's last write). Lower bound = → the request of the last poll that did not list it was sent (0 when the first poll did): the deal became visible between the two. ` +
        `Up to ${PROBES} probes per run (at most ${W5_SECONDS} s of probing; the probes column is the total), median of ${RUNS} run(s) per figure; a probe not visible within ${PROBE_TIMEOUT_MS / 1000} s counts as a timeout (∞).\n`,
    );
    console.log(
      '| backend | target cmd/s | achieved cmd/s | probes | lag p50 ms | lag p99 ms | lag max ms | lower bound p50 / p99 ms | list GET p50 ms | timeouts | load p99 ms | load non-2xx | RSS peak MiB | goal p99 ≤ 100 ms |',
    );
    console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
    const notes: string[] = [];
    for (const api of apis) {
      const rs = w5.get(api.backend) ?? [];
      const p99 = median(rs.map((r) => percentile(r.lags, 0.99)));
      const notReached = rs.reduce((a, r) => a + r.notReached, 0);
      const loadErrors = rs.reduce((a, r) => a + r.loadErrors, 0);
      console.log(
        `| ${api.backend} | ${RATE} | ${f0(median(rs.map((r) => r.achievedRate)))} | ${rs.reduce((a, r) => a + r.lags.length, 0)} | ` +
          `${f1(median(rs.map((r) => percentile(r.lags, 0.5))))} | ${f1(p99)} | ${f1(Math.max(...rs.flatMap((r) => r.lags)))} | ` +
          `${f1(median(rs.map((r) => percentile(r.lowerBounds, 0.5))))} / ${f1(median(rs.map((r) => percentile(r.lowerBounds, 0.99))))} | ` +
          `${f1(median(rs.map((r) => percentile(r.getLatencies, 0.5))))} | ${rs.reduce((a, r) => a + r.timeouts, 0)} | ${f1(median(rs.map((r) => r.loadP99)))} | ` +
          `${describeNon2xx(rs.map((r) => r.counts)).text}${loadErrors ? ` + ${loadErrors} unanswered` : ''} | ${f0(Math.max(...rs.map((r) => r.peakMiB)))} | ${p99 <= 100 ? 'yes' : 'no'} |`,
      );
      if (api.backend === 'PostgreSQL') {
        notes.push(
          `PostgreSQL: projectors apply only events below the server-wide pg_snapshot_xmin, so write transactions in OTHER databases of ` +
            `the server delay visibility here. During the probe windows one was open in ${f0(100 * median(rs.map((r) => r.otherXactShare)))} % of ` +
            `100 ms samples (median over runs), the oldest ${f0(Math.max(...rs.map((r) => r.otherXactMaxMs)))} ms old.`,
        );
      }
      if (notReached)
        notes.push(`${api.backend}: ${notReached} probe reads answered X-Consistency: behind (they should all be "reached").`);
      const errors = rs.flatMap((r) => r.probeErrors);
      if (errors.length) notes.push(`${api.backend} probe errors: ${errors.join('; ')}`);
    }
    for (const note of notes) console.log(`\n${note}`);
  }

  for (const api of apis) {
    if (api.problemCount) {
      console.log(`\n${api.backend} API logged ${api.problemCount} warning/error line(s); first ones:\n`);
      for (const line of api.problems) console.log(`    ${line}`);
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
