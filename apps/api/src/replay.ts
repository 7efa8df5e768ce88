import 'reflect-metadata';
import { parseArgs } from 'node:util';
import { type ReadModelTables, replayProjection } from '@app/read-models';
import { progressBar, selectKinds, withStores } from './cli-support';

/**
 * npm run replay -- [--projection <name>|all] [--restart]
 * Rebuilds read models from the event log into a schema of their own and swaps the tables in
 * atomically; the API keeps serving. Interrupted, it resumes where it stopped (--restart starts over).
 */
async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { projection: { type: 'string', default: 'all' }, restart: { type: 'boolean', default: false } },
  });
  await withStores(async (database, store) => {
    const db = database.tables<ReadModelTables>();
    for (const kind of selectKinds(values.projection)) {
      const bar = progressBar(`replay ${kind.name}`);
      try {
        const result = await replayProjection(db, store, kind, { restart: values.restart, onProgress: bar.update });
        bar.stop();
        process.stdout.write(
          `${kind.name}: ${result.events} events in ${result.seconds.toFixed(1)} s (${Math.round(result.events / Math.max(result.seconds, 0.001))} events/s), swapped in\n`,
        );
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
