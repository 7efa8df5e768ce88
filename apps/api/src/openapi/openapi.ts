import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, type OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { describeOperations } from './operations';
import { describeRequestBodies } from './request-schemas';

const documents = new WeakMap<INestApplication, OpenAPIObject>();

/** Builds the OpenAPI document from the app's routes and serves it at `<prefix>/docs` (UI) and `<prefix>/docs-json`. */
export function serveOpenApi(app: INestApplication, prefix: string): OpenAPIObject {
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setOpenAPIVersion('3.1.0')
      .setTitle('Opportunity pipeline')
      .setDescription('Event-sourced opportunity pipeline: commands, queries, analytics, audit and webhooks. Bearer token auth.')
      .setVersion('1')
      .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'An API token: `Authorization: Bearer opp_…`' }, 'bearer')
      .build(),
  );
  describeOperations(document);
  describeRequestBodies(document);
  documents.set(app, document);
  SwaggerModule.setup(`${prefix}/docs`, app, document, { jsonDocumentUrl: `${prefix}/docs-json` });
  return document;
}

/** The document `serveOpenApi` built for this app (what `/docs-json` serves). */
export function openApiDocumentOf(app: INestApplication): OpenAPIObject {
  const document = documents.get(app);
  if (!document) throw new Error('serveOpenApi has not run for this app');
  return document;
}
