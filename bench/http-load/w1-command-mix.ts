/**
 * W1: HTTP command load against the real API process (autocannon). Each autocannon connection loops
 * over one deal's life: POST create (stage negotiation) → PATCH name and value → POST stage/next
 * (→ verbal_commitment) → POST win, with the id taken from the create response, so no deal is touched
 * by two connections and no won deal is re-used (no If-Match is sent, so no 409/412 is expected).
 * 1, 16 and 64 connections.
 */
import { type Api, drained, projectionLag } from './api';
import { describeNon2xx, mixRequests, newCounts, runAutocannon, type StatusCounts } from './command-mix';
import { watchMemory } from './monitor';
import { CONNECTIONS, f0, f1, log, RUNS, SECONDS, WARMUP_S } from './options';
import { median } from '../stats';

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

/** Runs W1 on every API (interleaved, in rotating order) and prints its table; `setup` opens the description. */
export async function runW1(apis: Api[], setup: string, rssAtStart: Map<Api['backend'], number>): Promise<void> {
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
