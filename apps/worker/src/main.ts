import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { openEventStore } from '@app/event-store';
import { createLogger, DataDirectoryInUseError, loadConfig, openDatabase, PinoNestLogger } from '@app/platform';
import { ProjectionRunner } from '@app/read-models';
import { AddressPolicy, dispatcherOptionsFrom, serviceProjections, WebhookDispatcher } from '@app/webhooks';

/**
 * Projectors and the webhook dispatcher as their own process (scale-out). Several workers may
 * run: each projector batch takes the projection's advisory lock and compare-and-sets its
 * checkpoint, and webhook messages are claimed with FOR UPDATE SKIP LOCKED.
 */
async function main(): Promise<void> {
  Logger.overrideLogger(new PinoNestLogger(createLogger()));
  const logger = new Logger('Worker');
  const config = loadConfig();
  if (!config.databaseUrl) {
    logger.warn('No DATABASE_URL: the embedded database belongs to one process; use `npm start` for the all-in-one setup');
  }
  const database = await openDatabase(config);
  const store = await openEventStore(config, database);
  const runner = new ProjectionRunner(database.db, store, serviceProjections(), {
    batchSize: config.projectionBatchSize,
    pollMs: config.projectionPollMs,
    maxAttempts: 3,
    haltOnPoison: config.projectionHaltOnPoison,
  });
  await runner.start();
  const dispatcher = new WebhookDispatcher(database.db, new AddressPolicy(config.webhookAllowedHosts), dispatcherOptionsFrom(config));
  runner.onProgress(() => dispatcher.wake());
  dispatcher.start();
  logger.log(`Running projections: ${runner.projections.map((p) => p.name).join(', ')}; webhook dispatcher on`);

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.log(`${signal}: finishing the batch in flight`);
    await runner.stop();
    await dispatcher.stop();
    await store.close();
    await database.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
}

main().catch((error) => {
  console.error(error instanceof DataDirectoryInUseError ? error.message : error);
  process.exit(1);
});
