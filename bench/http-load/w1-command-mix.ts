/**
 * W1: HTTP command load (autocannon) against our API and, side by side, two peer services serving
 * the same three routes (bench/peers/). Each autocannon connection loops over one deal's life:
 * POST create (no stage, so the deal starts at prospecting) → POST stage/next five times
 * (→ verbal_commitment) → POST win, with the id taken from the create response, so no deal is
 * touched by two connections and no won deal is re-used (no If-Match is sent, so no 409/412 is
 * expected). 1, 16 and 64 connections by default; every side at every connection count, runs
 * interleaved in rotating order, median of RUNS. The table ends with the ratios of ours to the
 * peers at each connection count.
 */
import { type Api, drained, PEER_LABELS, projectionLag, SERVICE_NAMES } from './api';
import { DEAL_LIFE, describeNon2xx, mixRequests, newCounts, runAutocannon, type StatusCounts } from './command-mix';
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

async function w1Run(side: Api, connections: number, seconds: number, tag: string): Promise<W1Run> {
  const counts = newCounts();
  const watch = watchMemory(side.pid);
  const result = await runAutocannon({ url: side.origin, connections, duration: seconds, requests: mixRequests(tag, counts) });
  const mem = watch();
  // Only our API has projections (the peers are write side only).
  const lagAtEnd = side.service === 'ours' ? await projectionLag(side).catch(() => NaN) : NaN;
  if (side.service === 'ours') await drained(side);
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

/** The ratios the W1 table ends with: ours against each peer, where both were measured. */
const RATIOS: { ours: Api['label']; peer: string }[] = [
  { ours: 'PostgreSQL', peer: PEER_LABELS.emmett },
  { ours: 'PostgreSQL', peer: PEER_LABELS.fastify },
  { ours: 'PGlite', peer: PEER_LABELS.emmett },
];

/** Runs W1 on every side (interleaved, in rotating order) and prints its tables; `setup` opens the description. */
export async function runW1(sides: Api[], setup: string, rssAtStart: Map<string, number>): Promise<void> {
  const w1 = new Map<string, W1Run[]>();
  for (let run = 0; run < RUNS; run++) {
    for (const [c, connections] of CONNECTIONS.entries()) {
      // A different side first in every run and at every connection count.
      const shift = (run + c) % sides.length;
      const order = [...sides.slice(shift), ...sides.slice(0, shift)];
      for (const side of order) {
        log(`W1 run ${run + 1}/${RUNS}: ${side.label}, ${connections} connection(s), ${SECONDS} s`);
        const r = await w1Run(side, connections, SECONDS, `r${run}c${connections}`);
        log(
          `  ${f0(r.commandsPerSecond)} commands/s, p50 ${r.p50} ms, p99 ${r.p99} ms, non-2xx ${describeNon2xx([r.counts]).text}, ` +
            `${r.deals} deals won, peak RSS ${f0(r.peakMiB)} MiB` +
            (side.service === 'ours' ? `, projections ${r.lagAtEnd} events behind at the end` : ''),
        );
        const key = `${side.label}|${connections}`;
        w1.set(key, [...(w1.get(key) ?? []), r]);
      }
    }
  }
  const runsOf = (label: string, connections: number) => w1.get(`${label}|${connections}`) ?? [];
  const medianOf = (label: string, connections: number, pick: (r: W1Run) => number) => median(runsOf(label, connections).map(pick));

  console.log(`\n### W1 — HTTP command mix (autocannon), ours and peers\n`);
  console.log(
    `${setup}. Each connection loops over one deal: POST create (no stage: starts at prospecting) → POST stage/next × 5 ` +
      `(→ verbal_commitment) → POST win (${DEAL_LIFE.length} commands per deal, no If-Match). ` +
      `Sides: ours on PGlite and on PostgreSQL; ${SERVICE_NAMES.emmett} (${PEER_LABELS.emmett}: CommandHandler = read stream, evolve, decide, ` +
      `append, same bodies, envelopes and request checks, no read models); ${SERVICE_NAMES.fastify} (${PEER_LABELS.fastify}: ` +
      `the same checks, then one single-row INSERT per request, a small envelope back); the peers on PostgreSQL only, ` +
      `each on a database of its own on the same server, as child processes like ours. ` +
      `Median of ${RUNS} × ${SECONDS} s per row (after a ${WARMUP_S} s warm-up per side), sides interleaved in rotating order; ` +
      `commands/s = 2xx responses / s; latency over 2xx responses; non-2xx summed over the runs (none expected); ` +
      `RSS of the serving process: peak = VmHWM reset before each run (highest run), end = VmRSS after the last run; ` +
      `backlog = the furthest-behind projection, in events, when the load stopped (median; ours only).\n`,
  );
  console.log(
    '| side | backend | connections | commands/s | p50 ms | p99 ms | non-2xx | errors/timeouts | RSS peak MiB | RSS end MiB | projection backlog at end |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|---|---|');
  for (const connections of CONNECTIONS) {
    for (const side of sides) {
      const rs = runsOf(side.label, connections);
      console.log(
        `| ${SERVICE_NAMES[side.service]} | ${side.backend} | ${connections} | ${f0(median(rs.map((r) => r.commandsPerSecond)))} | ` +
          `${f1(median(rs.map((r) => r.p50)))} | ${f1(median(rs.map((r) => r.p99)))} | ` +
          `${describeNon2xx(rs.map((r) => r.counts)).text} | ${rs.reduce((a, r) => a + r.errors, 0)}/${rs.reduce((a, r) => a + r.timeouts, 0)} | ` +
          `${f0(Math.max(...rs.map((r) => r.peakMiB)))} | ${f0(rs[rs.length - 1]?.endMiB ?? NaN)} | ` +
          `${side.service === 'ours' ? f0(median(rs.map((r) => r.lagAtEnd))) : 'n/a'} |`,
      );
    }
  }
  console.log(`\nRSS at start (ready, idle): ${sides.map((s) => `${s.label} ${f0(rssAtStart.get(s.label)!)} MiB`).join(', ')}.`);

  const labels = new Set(sides.map((s) => s.label));
  const ratios = RATIOS.filter((r) => labels.has(r.ours) && labels.has(r.peer));
  if (!ratios.length) return;
  console.log(
    `\nRatios of the medians above, ours ÷ peer at each connection count: commands/s (above 1 = ours does more), ` +
      `and p50 and p99 latency (above 1 = ours is slower; – where the peer's figure is 0 at autocannon's 1 ms resolution).\n`,
  );
  console.log(`| connections | ${ratios.map((r) => `ours (${r.ours}) ÷ ${r.peer}`).join(' | ')} |`);
  console.log(`|---|${ratios.map(() => '---|').join('')}`);
  const ratio = (a: number, b: number) => (Number.isFinite(a / b) ? (a / b).toFixed(2) : '–');
  for (const connections of CONNECTIONS) {
    const cells = ratios.map(({ ours, peer }) => {
      const of = (pick: (r: W1Run) => number) => ratio(medianOf(ours, connections, pick), medianOf(peer, connections, pick));
      return `${of((r) => r.commandsPerSecond)} (p50 ${of((r) => r.p50)}, p99 ${of((r) => r.p99)})`;
    });
    console.log(`| ${connections} | ${cells.join(' | ')} |`);
  }
}
