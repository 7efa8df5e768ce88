import { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { createValidationPipe, ErrorFilter, requestContextMiddleware } from '@app/platform';
import { AppModule, AppModuleOptions } from './app.module';

export const API_PREFIX = 'api/v1/crm';

/** The one way the HTTP app is built: `npm start` and every e2e test use it. */
export async function createApp(options: AppModuleOptions & { logger?: false }): Promise<INestApplication> {
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(options), {
    bodyParser: false,
    ...(options.logger === false ? { logger: false } : {}),
  });
  app.use(requestContextMiddleware);
  app.useBodyParser('json', { limit: options.config.bodyLimit });
  app.setGlobalPrefix(API_PREFIX);
  app.useGlobalPipes(createValidationPipe());
  // Body-parser errors happen before routing; the same filter shapes them.
  app.useGlobalFilters(new ErrorFilter());
  app.enableShutdownHooks();
  return app;
}
