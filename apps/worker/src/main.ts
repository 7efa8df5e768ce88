import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { openEventStore } from '@app/event-store';
import { loadConfig, openDatabase } from '@app/platform';
import { allProjections, ProjectionRunner } from '@app/read-models';

/**
 * Projectors as their own process (scale-out). Several workers may run: each batch takes the
 * projection's advisory lock and compare-and-sets its checkpoint, so none is applied twice.
 */
async function main(): Promise<void> {
  const logger = new Logger('Worker');
  const config = loadConfig();
  if (!config.databaseUrl) {
    logger.warn('No DATABASE_URL: the embedded database belongs to one process; use `npm start` for the all-in-one setup');
  }
  const database = await openDatabase(config);
  const store = await openEventStore(config, database);
  const runner = new ProjectionRunner(database.db, store, allProjections(), {
    batchSize: config.projectionBatchSize,
    pollMs: config.projectionPollMs,
    maxAttempts: 3,
    haltOnPoison: config.projectionHaltOnPoison,
  });
  await runner.start();
  logger.log(`Running projections: ${runner.projections.map((p) => p.name).join(', ')}`);

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.log(`${signal}: finishing the batch in flight`);
    await runner.stop();
    await store.close();
    await database.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
