/**
 * What the workloads watch besides the responses: the API process's memory (Linux /proc), and on
 * PostgreSQL the write transactions other databases of the same server hold open.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { Client } from 'pg';
import type { Api } from './api';
import { log, PG_URL, sleep } from './options';

export function memory(pid: number): { hwmKiB: number; rssKiB: number } {
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
export function watchMemory(pid: number): () => { peakMiB: number; endMiB: number } {
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

/**
 * Projectors read events below pg_snapshot_xmin(pg_current_snapshot()), which is server-wide: a write
 * transaction open in ANY database of the server (other people's test suites here) holds back what
 * the read models may apply in ours. Sampled every 100 ms so the W5 figures can be read in that light.
 */
export function watchOtherTransactions(api: Api): () => Promise<{ maxAgeMs: number; busyShare: number }> {
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
