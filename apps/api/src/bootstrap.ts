import { type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import {
  ApiExpressAdapter,
  corsMiddleware,
  createLogger,
  createValidationPipe,
  disableExpressFreshness,
  httpLogger,
  inputGuardMiddleware,
  jsonBodyOnlyMiddleware,
  PinoNestLogger,
  requestContextMiddleware,
} from '@app/platform';
import { AppModule, type AppModuleOptions } from './app.module';
import { serveOpenApi } from './openapi/openapi';

export const API_PREFIX = 'api/v1/crm';

/** The one way the HTTP app is built: `npm start` and every e2e test use it. */
export async function createApp(options: AppModuleOptions & { logger?: false }): Promise<INestApplication> {
  const logger = options.logger === false ? null : createLogger();
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(options), new ApiExpressAdapter(), {
    bodyParser: false,
    // Literal segments before parameters (/opportunities/stats before /opportunities/:id), whatever
    // the order of modules and methods. The same route twice stops the start; Nest's shadow check
    // only warns, because it also reports a literal route declared before its parameter sibling,
    // which the sort already serves correctly.
    routeResolutionStrategy: 'specificity',
    routeConflictPolicy: { duplicate: 'error', shadow: 'warn' },
    logger: logger ? new PinoNestLogger(logger) : false,
  });
  // First, so every response to an allowed origin carries its CORS headers, errors included.
  if (options.config.corsOrigins) app.use(corsMiddleware(options.config.corsOrigins));
  // No X-Powered-By, and no ETag of Express's own: the only ETags are the versions handlers set.
  app.disable('x-powered-by');
  app.set('etag', false);
  // Conditional GETs are decided by ResponseHeadersInterceptor (If-None-Match against the ETag the
  // handler set), not by Express's req.fresh, which ignores a request with Cache-Control: no-cache.
  disableExpressFreshness(app.getHttpAdapter().getInstance() as { request: object });
  app.use(requestContextMiddleware);
  if (logger) app.use(httpLogger(logger));
  app.use(jsonBodyOnlyMiddleware);
  app.useBodyParser('json', { limit: options.config.bodyLimit });
  app.use(inputGuardMiddleware);
  app.setGlobalPrefix(API_PREFIX);
  app.useGlobalPipes(createValidationPipe());
  // Body-parser errors happen before routing; the same filter shapes them.
  app.enableShutdownHooks();
  serveOpenApi(app, API_PREFIX);
  return app;
}
