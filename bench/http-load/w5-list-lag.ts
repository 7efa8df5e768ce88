/**
 * W5: command → visible in the list read model, under W1-style load held at a fixed rate. The same
 * mix is sent open-loop at an even pace of --rate commands/s (not autocannon, whose rate limit sends
 * each second's quota in one burst) while probes go one after another: a create, then a rename of
 * that deal, alternately, each with a unique word in the name. Lag = from the probe command's 2xx
 * response to the response of the first GET /opportunities?search=<word> that shows the deal
 * (polled every --poll-ms).
 * The list endpoint normally waits for the org's last write made through this process
 * (read-your-writes, libs/read-models/src/consistency.ts), which would hide the lag: the polls
 * send X-Consistency-Token = the position of an event written before the load started, which
 * takes precedence over the org's session position and is always already reached, so the read
 * returns what the read model holds right now (every poll is checked for X-Consistency: reached).
 */
import { randomBytes } from 'node:crypto';
import { type Api, call, createBody, drained } from './api';
import { describeNon2xx, newCounts, pacedLoad, type StatusCounts } from './command-mix';
import { watchMemory, watchOtherTransactions } from './monitor';
import { f0, f1, log, OPPS, POLL_MS, PROBE_TIMEOUT_MS, PROBES, RATE, RUNS, sleep, W5_CONNECTIONS, W5_SECONDS, WARMUP_S } from './options';
import { median, percentile } from '../stats';

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
          ? await call(api, 'POST', OPPS, createBody(`W5 probe ${word}`))
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

/** Runs W5 on every API (in rotating order) and prints its table; `setup` opens the description. */
export async function runW5(apis: Api[], setup: string): Promise<void> {
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
    `${setup}. Load: the W1 mix (per deal: create at prospecting → stage/next × 5 → win) sent open-loop at an even pace of ${RATE} commands/s, ` +
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
    if (notReached) notes.push(`${api.backend}: ${notReached} probe reads answered X-Consistency: behind (they should all be "reached").`);
    const errors = rs.flatMap((r) => r.probeErrors);
    if (errors.length) notes.push(`${api.backend} probe errors: ${errors.join('; ')}`);
  }
  for (const note of notes) console.log(`\n${note}`);
}
