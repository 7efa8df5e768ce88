import { type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import {
  createLogger,
  createValidationPipe,
  httpLogger,
  inputGuardMiddleware,
  jsonBodyOnlyMiddleware,
  PinoNestLogger,
  requestContextMiddleware,
} from '@app/platform';
import { AppModule, type AppModuleOptions } from './app.module';

export const API_PREFIX = 'api/v1/crm';

/** The one way the HTTP app is built: `npm start` and every e2e test use it. */
export async function createApp(options: AppModuleOptions & { logger?: false }): Promise<INestApplication> {
  const logger = options.logger === false ? null : createLogger();
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(options), {
    bodyParser: false,
    // Literal segments before parameters (/opportunities/stats before /opportunities/:id), whatever
    // the order of modules and methods. The same route twice stops the start; Nest's shadow check
    // only warns, because it also reports a literal route declared before its parameter sibling,
    // which the sort already serves correctly.
    routeResolutionStrategy: 'specificity',
    routeConflictPolicy: { duplicate: 'error', shadow: 'warn' },
    logger: logger ? new PinoNestLogger(logger) : false,
  });
  app.use(requestContextMiddleware);
  if (logger) app.use(httpLogger(logger));
  app.use(jsonBodyOnlyMiddleware);
  app.useBodyParser('json', { limit: options.config.bodyLimit });
  app.use(inputGuardMiddleware);
  app.setGlobalPrefix(API_PREFIX);
  app.useGlobalPipes(createValidationPipe());
  // Body-parser errors happen before routing; the same filter shapes them.
  app.enableShutdownHooks();
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('Opportunity pipeline')
      .setDescription('Event-sourced opportunity pipeline: commands, queries, analytics, audit and webhooks. Bearer token auth.')
      .setVersion('1')
      .addBearerAuth()
      .build(),
  );
  SwaggerModule.setup(`${API_PREFIX}/docs`, app, document, { jsonDocumentUrl: `${API_PREFIX}/docs-json` });
  return app;
}
