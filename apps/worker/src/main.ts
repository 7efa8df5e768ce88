import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { createServer } from 'node:http';
import { createLogger, DataDirectoryInUseError, loadConfig, PinoNestLogger, reserveDatabase } from '@app/platform';
import { ProjectionRunner } from '@app/read-models';
import { ProjectionLag } from '../../api/src/read-side.module';
import { WorkerModule } from './worker.module';

/**
 * Projectors and the webhook dispatcher as their own process (scale-out). Several workers may
 * run: each projector batch takes the projection's advisory lock and compare-and-sets its
 * checkpoint, and webhook messages are claimed with FOR UPDATE SKIP LOCKED. With
 * WORKER_METRICS_PORT set, GET /metrics on that port serves this process's Prometheus metrics.
 */
async function main(): Promise<void> {
  const logger = new Logger('Worker');
  // A worker always works, whatever RUN_PROJECTORS / RUN_WEBHOOK_DISPATCHER tell the API.
  const config = { ...loadConfig(), runProjectors: true, runWebhookDispatcher: true };
  if (!config.databaseUrl) {
    logger.warn('No DATABASE_URL: the embedded database belongs to one process; use `npm start` for the all-in-one setup');
  }
  reserveDatabase(config);
  const app = await NestFactory.createApplicationContext(WorkerModule.forRoot({ config }), {
    logger: new PinoNestLogger(createLogger()),
  });
  app.enableShutdownHooks();
  await app.init();
  logger.log(
    `Running projections: ${app
      .get(ProjectionRunner)
      .projections.map((p) => p.name)
      .join(', ')}; webhook dispatcher on`,
  );

  const metricsPort = process.env.WORKER_METRICS_PORT;
  if (metricsPort) {
    const lag = app.get(ProjectionLag);
    const server = createServer((req, res) => {
      if (req.method !== 'GET' || req.url !== '/metrics') return void res.writeHead(404).end();
      lag.prometheus().then(
        ({ contentType, body }) => res.writeHead(200, { 'Content-Type': contentType }).end(body),
        () => res.writeHead(503).end(),
      );
    });
    server.listen(Number(metricsPort), () => logger.log(`Metrics on http://localhost:${metricsPort}/metrics`));
    process.once('SIGTERM', () => server.close());
    process.once('SIGINT', () => server.close());
  }
}

main().catch((error) => {
  console.error(error instanceof DataDirectoryInUseError ? error.message : error);
  process.exit(1);
});
