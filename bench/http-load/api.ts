/**
 * The processes the HTTP workloads measure: our API (test/support/api-process.ts starts it, on a
 * data target of test/support/api-targets.ts) and W1's peer services (bench/peers/, started the
 * same way, each on a fresh database of its own), their cleanup, a small keep-alive HTTP client for
 * setup and the W5 probes (the W1 load comes from autocannon), and the projections' backlog.
 */
import { existsSync } from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';
import { type ApiProcess, startApi } from '../../test/support/api-process';
import { pgliteTarget, postgresTarget, type Target } from '../../test/support/api-targets';
import { API_MAIN, log, OPPS, PEER_MAIN, PG_URL, PREFIX, sleep, TOKEN } from './options';

/** What answers: our API, or a peer service of W1 (bench/peers/). */
export type Service = 'ours' | 'emmett' | 'fastify';

export const SERVICE_NAMES: Record<Service, string> = {
  ours: 'ours',
  emmett: 'Emmett 0.42 on Express 5',
  fastify: 'Fastify 5, one INSERT (the limit)',
};

export interface Api {
  service: Service;
  /** How the tables and the log name it: the backend for ours (PGlite, PostgreSQL), a short name for a peer. */
  label: string;
  backend: 'PGlite' | 'PostgreSQL';
  port: number;
  origin: string;
  process: ApiProcess;
  pid: number;
  /** Log lines at warn level or above, and anything that is not a JSON log line. */
  problems: string[];
  problemCount: number;
  /** Position of an event written before any load: the non-waiting consistency token of W5 (ours only). */
  basePosition: string;
  /** PostgreSQL: the bench database's name. */
  database?: string;
}

const running = new Set<ApiProcess>();
const targets: Target[] = [];
export const agent = new Agent({ keepAlive: true, maxSockets: 16 });
let cleaning: Promise<void> | null = null;

process.on('exit', () => {
  for (const api of running) {
    try {
      api.child.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }
  // An embedded data directory goes at once (its cleanup is synchronous); a server database is
  // dropped only by cleanup().
  for (const target of targets) if (target.name === 'pglite') void target.cleanup();
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log(`${signal}: cleaning up`);
    void cleanup().finally(() => process.exit(130));
  });
}

/** Stops the API processes, removes their data directories and drops their databases. */
export function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    await Promise.all([...running].map((api) => api.stop()));
    running.clear();
    for (const target of targets.splice(0)) {
      await target
        .cleanup()
        .catch((error: unknown) => log(`could not remove ${target.database ?? 'a data directory'}: ${(error as Error).message}`));
    }
    agent.destroy();
  })();
  return cleaning;
}

/** Log lines at warn level or above, and anything that is not a JSON log line but the admin-token banner. */
function isProblem(line: string): boolean {
  try {
    const parsed = JSON.parse(line) as { level?: number };
    return typeof parsed.level === 'number' && parsed.level >= 40;
  } catch {
    // Not a JSON log line: the admin-token banner of main.ts is expected, the rest is reported.
    return !/Admin token|Use it as|opp_bench_|^\s*$/.test(line);
  }
}

/**
 * Starts the API (the build in dist/) on a fresh embedded data directory, or on a fresh database
 * `bench_http_<random>` of the BENCH_DATABASE_URL server, and waits until it is ready; then writes
 * one deal whose position is W5's consistency token.
 */
export async function startBenchApi(backend: Api['backend']): Promise<Api> {
  const target = backend === 'PGlite' ? pgliteTarget('bench-http-pglite-') : postgresTarget(PG_URL!, 'bench_http_');
  targets.push(target);
  await target.prepare();
  const inherited: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && key !== 'EVENTSTORE_URL' && key !== 'DATABASE_URL') inherited[key] = value;
  }
  const problems: string[] = [];
  let problemCount = 0;
  const child = await startApi(
    { ...inherited, ADMIN_TOKEN: TOKEN, LOG_LEVEL: 'warn', RUN_PROJECTORS: 'true', ...target.env },
    {
      main: API_MAIN,
      readyPath: '/health/ready',
      timeoutMs: 90_000,
      onLine: (line) => {
        if (!line.trim() || !isProblem(line)) return;
        problemCount++;
        if (problems.length < 10) problems.push(line.length > 600 ? `${line.slice(0, 600)}…` : line);
      },
    },
  ).catch((error: unknown) => {
    throw new Error(`${backend}: ${(error as Error).message}`);
  });
  running.add(child);
  const api: Api = {
    service: 'ours',
    label: backend,
    backend,
    port: child.port,
    origin: `http://127.0.0.1:${child.port}`,
    process: child,
    pid: child.child.pid!,
    problems,
    get problemCount() {
      return problemCount;
    },
    basePosition: '',
    database: target.database,
  };
  // One deal before any load: its position is the W5 consistency token (already applied).
  const first = await call(api, 'POST', OPPS, createBody('W0 base'));
  if (first.status !== 201) throw new Error(`${backend}: setup create answered ${first.status}: ${JSON.stringify(first.body)}`);
  api.basePosition = first.headers['x-global-position'] as string;
  await drained(api);
  return api;
}

/** The short names of the peers in tables and the log. */
export const PEER_LABELS: Record<Exclude<Service, 'ours'>, string> = { emmett: 'Emmett/Express', fastify: 'Fastify-INSERT' };

/**
 * Starts a peer service of W1 (the bench build of bench/peers/, with this Node) on a fresh
 * database `bench_peer_<random>` of the BENCH_DATABASE_URL server, dropped by cleanup(), and waits
 * until it answers GET /health. Everything a peer writes to stdout or stderr is a problem.
 */
export async function startPeer(service: Exclude<Service, 'ours'>): Promise<Api> {
  const main = PEER_MAIN[service];
  if (!existsSync(main)) throw new Error(`${main} is missing: build the bench (npx nest build bench)`);
  const target = postgresTarget(PG_URL!, 'bench_peer_');
  targets.push(target);
  await target.prepare();
  const problems: string[] = [];
  let problemCount = 0;
  const label = PEER_LABELS[service];
  const child = await startApi(
    { ADMIN_TOKEN: TOKEN, DATABASE_URL: target.env.DATABASE_URL },
    {
      main,
      readyPath: '/health',
      timeoutMs: 60_000,
      onLine: (line) => {
        if (!line.trim()) return;
        problemCount++;
        if (problems.length < 10) problems.push(line.length > 600 ? `${line.slice(0, 600)}…` : line);
      },
    },
  ).catch((error: unknown) => {
    throw new Error(`${label}: ${(error as Error).message}`);
  });
  running.add(child);
  return {
    service,
    label,
    backend: 'PostgreSQL',
    port: child.port,
    origin: `http://127.0.0.1:${child.port}`,
    process: child,
    pid: child.child.pid!,
    problems,
    get problemCount() {
      return problemCount;
    },
    basePosition: '',
    database: target.database,
  };
}

// ---------------------------------------------------------------------------------------------
// A small keep-alive HTTP client (for setup and the W5 probes; load comes from autocannon)

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: any;
  sentAt: number;
  receivedAt: number;
}

export function call(
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

/** A create with what a deal needs (no stage: it starts at the pipeline's first stage, prospecting). */
export function createBody(name: string) {
  return { name, customer_id: 'c-bench', value: 1000, expected_close_date: '2031-06-30' };
}

/** Largest projection lag in events, from /health/ready. */
export async function projectionLag(api: Api): Promise<number> {
  const r = await call(api, 'GET', `${PREFIX}/health/ready`);
  const lags = (r.body?.details?.projections?.lag_events ?? {}) as Record<string, number>;
  const all = Object.values(lags);
  return all.length ? Math.max(...all) : NaN;
}

/** Waits until every projection has caught up with the log (so one run's backlog does not load the next). */
export async function drained(api: Api, limitMs = 120_000): Promise<void> {
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
