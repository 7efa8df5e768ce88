/**
 * The command mix both workloads send: each deal's life is POST create (no stage given, so the deal
 * starts at the pipeline's first stage, prospecting) → POST stage/next five times (qualification,
 * needs_analysis, proposal, negotiation, verbal_commitment) → POST win. W1 drives it closed-loop with
 * autocannon (against our API and the peer services alike), W5 sends it open-loop at an even pace
 * (pacedLoad).
 */
import { Agent } from 'node:http';
import { type Api, call, createBody } from './api';
import { log, OPPS, TOKEN } from './options';

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
export interface AcResult {
  latency: AcHistogram;
  requests: AcHistogram;
  duration: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  '2xx': number;
  statusCodeStats: Record<string, { count: number }>;
}
export interface AcInstance {
  stop(): void;
  on(event: 'response', listener: (client: unknown, statusCode: number, resBytes: number, responseTime: number) => void): void;
}
type Autocannon = (opts: Record<string, unknown>, cb: (err: Error | null, result: AcResult) => void) => AcInstance;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const autocannon: Autocannon = require('autocannon');

export type Step = 'create' | 'next' | 'win';
export type StatusCounts = Record<Step, Record<number, number>>;

export function newCounts(): StatusCounts {
  return { create: {}, next: {}, win: {} };
}

/** A deal's life, one command per position: create, five stage/next (prospecting → verbal_commitment), win. */
export const DEAL_LIFE: readonly Step[] = ['create', 'next', 'next', 'next', 'next', 'next', 'win'];

/** The position in DEAL_LIFE of a deal's next command after the one at `position` (null after the win). */
export function NEXT_STEP(position: number): number | null {
  return position + 1 < DEAL_LIFE.length ? position + 1 : null;
}

/** One step of a deal's life: the same paths and bodies for W1 and W5 (no If-Match). */
export function mixCommand(step: Step, label: string, n: number, id = ''): { method: string; path: string; body: unknown } {
  switch (step) {
    case 'create':
      return { method: 'POST', path: OPPS, body: { ...createBody(`${label} deal ${n}`), value: 1000 + (n % 997) } };
    case 'next':
      return { method: 'POST', path: `${OPPS}/${id}/stage/next`, body: {} };
    case 'win':
      return { method: 'POST', path: `${OPPS}/${id}/win`, body: {} };
  }
}

/**
 * One deal's life per loop of a connection: create → stage/next × 5 → win, the id taken from the
 * create response's data.id. A command that fails ends the deal: the connection starts a new one.
 */
export function mixRequests(tag: string, counts: StatusCounts): AcRequest[] {
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
      else if (!ctx.id) return undefined; // no id: back to create (autocannon restarts the sequence)
      const command = mixCommand(step, `W1 ${tag}`, n, ctx.id as string);
      return { ...req, path: command.path, body: JSON.stringify(command.body) };
    },
    onResponse: (status, body, ctx) => {
      count(step, status);
      if (step === 'create') {
        ctx.id = undefined;
        if (status === 201) {
          try {
            ctx.id = JSON.parse(body).data.id;
          } catch {
            /* leave id unset: the sequence restarts */
          }
        }
      } else if (status < 200 || status >= 300) {
        ctx.id = undefined; // the deal is off its path: start a new one
      }
    },
  });
  return DEAL_LIFE.map(request);
}

/**
 * W5's load: an open loop at an even pace. Every 1000/rate ms the next command starts, whether
 * or not earlier ones have answered. (autocannon's rate limit is a per-second quota per
 * connection: each connection sends back to back until its share of the second is used, then
 * waits for the next second, so "100 commands/s" arrives as one burst at the top of each second.)
 * A command goes to a deal whose previous command has answered (stage/next five times, then win:
 * the same mix as W1), else it creates one. At most `maxInFlight` are on the wire; the rest queue
 * in the HTTP agent as they would in a client, and their latency counts from when they were due.
 */
export function pacedLoad(api: Api, tag: string, rate: number, maxInFlight: number, counts: StatusCounts, onOk: () => void) {
  // fifo: every socket is reused in turn, so none sits idle long enough for the server's
  // keep-alive timeout to close it just as a request is written to it (ECONNRESET).
  const via = new Agent({ keepAlive: true, maxSockets: maxInFlight, scheduling: 'fifo' });
  const ready: { id: string; next: number }[] = [];
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
    const position = deal ? deal.next : 0;
    const step = DEAL_LIFE[position];
    const command = mixCommand(step, `W5 ${tag}`, sent, deal?.id);
    const pending = call(api, command.method, command.path, command.body, {}, via).then(
      (reply) => {
        counts[step][reply.status] = (counts[step][reply.status] ?? 0) + 1;
        if (reply.status < 200 || reply.status >= 300) return;
        latencies.push(reply.receivedAt - reply.sentAt);
        onOk();
        const next = NEXT_STEP(position);
        if (next !== null) ready.push({ id: step === 'create' ? (reply.body.data.id as string) : deal!.id, next });
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

export function runAutocannon(opts: Record<string, unknown>, onInstance?: (instance: AcInstance) => void): Promise<AcResult> {
  return new Promise((resolve, reject) => {
    const instance = autocannon({ timeout: 30, ...opts }, (error, result) => (error ? reject(error) : resolve(result)));
    onInstance?.(instance);
  });
}

/** "0", or e.g. "3 (create 500×2, win 422×1)". */
export function describeNon2xx(counts: StatusCounts[]): { total: number; text: string } {
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
