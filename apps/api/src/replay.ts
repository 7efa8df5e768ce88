import 'reflect-metadata';
import { parseArgs } from 'node:util';
import { replayProjection, type ReplayMode } from '@app/read-models';
import { progressBar, selectKinds, withStores } from './cli-support';

/**
 * npm run replay -- [--projection <name>|all] [--restart] [--mode memory|batches] [--partitions N]
 * Rebuilds read models from the event log into a schema of their own and swaps the tables in
 * atomically; the API keeps serving. By default the log is folded in memory and each final row is
 * written once with COPY (--partitions N holds 1/N of the streams at a time, for logs whose state
 * does not fit in memory). --mode batches applies the live projector's batches instead: slower, but
 * an interrupted run resumes where it stopped (--restart starts over).
 */
async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      projection: { type: 'string', default: 'all' },
      restart: { type: 'boolean', default: false },
      mode: { type: 'string' },
      partitions: { type: 'string' },
    },
  });
  if (values.mode !== undefined && values.mode !== 'memory' && values.mode !== 'batches') {
    throw new Error(`--mode must be memory or batches, not ${values.mode}`);
  }
  const mode = values.mode as ReplayMode | undefined;
  const partitions = values.partitions === undefined ? undefined : Number(values.partitions);
  if (partitions !== undefined && (!Number.isInteger(partitions) || partitions < 1 || partitions > 1024)) {
    throw new Error(`--partitions must be a whole number from 1 to 1024, not ${values.partitions}`);
  }
  await withStores(async (database, store) => {
    for (const kind of selectKinds(values.projection)) {
      const bar = progressBar(`replay ${kind.name}`);
      try {
        const result = await replayProjection(database, store, kind, {
          restart: values.restart,
          onProgress: bar.update,
          mode,
          partitions,
        });
        bar.stop();
        process.stdout.write(
          `${kind.name}: ${result.events} events in ${result.seconds.toFixed(1)} s (${Math.round(result.events / Math.max(result.seconds, 0.001))} events/s, ${result.mode === 'memory' ? 'folded in memory, written with COPY' : 'in batches'}), swapped in\n`,
        );
        if (result.fallback) process.stdout.write(`${kind.name}: ${result.fallback}; rebuilt in batches instead\n`);
        if (result.deadLettered > 0) {
          process.stdout.write(
            `${kind.name}: ${result.deadLettered} events could not be applied and are set aside in projection_dead_letters (GET /projections lists them per projection)\n`,
          );
        }
      } finally {
        bar.stop();
      }
    }
  });
}

main().catch((error) => {
  process.stderr.write(`\n${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
