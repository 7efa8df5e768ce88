import { SingleBar } from 'cli-progress';
import { type EventStore, openEventStore } from '@app/event-store';
import { type Database, loadConfig, openDatabase } from '@app/platform';
import { type ProjectionKind, PROJECTION_KINDS, type Progress } from '@app/read-models';
import { SCHEMA_MIGRATIONS } from './database-schema';

/** Opens what the CLIs need, runs fn, and always closes. */
export async function withStores<T>(fn: (database: Database, store: EventStore) => Promise<T>): Promise<T> {
  const config = loadConfig();
  const database = await openDatabase(config, SCHEMA_MIGRATIONS);
  const store = await openEventStore(config, database);
  try {
    return await fn(database, store);
  } finally {
    await store.close();
    await database.close();
  }
}

export function selectKinds(name: string | undefined): ProjectionKind[] {
  if (!name || name === 'all') return PROJECTION_KINDS;
  const kind = PROJECTION_KINDS.find((k) => k.name === name);
  if (!kind) throw new Error(`Unknown projection "${name}"; known: ${PROJECTION_KINDS.map((k) => k.name).join(', ')}, all`);
  return [kind];
}

/** A progress bar with events/s and ETA on stderr. */
export function progressBar(label: string): { update: (p: Progress) => void; stop: () => void } {
  const bar = new SingleBar({
    format: `${label} [{bar}] {percentage}% | {value}/{total} events | {speed} events/s | ETA {eta_formatted}`,
    stream: process.stderr,
    hideCursor: true,
  });
  const started = Date.now();
  let running = false;
  return {
    update({ processed, total }) {
      if (!running) {
        bar.start(Math.max(total, 1), 0, { speed: 0 });
        running = true;
      }
      const seconds = Math.max(0.001, (Date.now() - started) / 1000);
      bar.setTotal(Math.max(total, processed, 1));
      bar.update(processed, { speed: Math.round(processed / seconds) });
    },
    stop() {
      if (running) bar.stop();
    },
  };
}
