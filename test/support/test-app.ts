import { INestApplication } from '@nestjs/common';
import request from 'supertest';
import type { App } from 'supertest/types';
import { createApp } from '../../apps/api/src/bootstrap';
import { Database, loadConfig, Role, TokenService } from '@app/platform';
import type { TestBackend } from './test-database';

export interface TestApp {
  app: INestApplication;
  database: Database;
  http: () => ReturnType<typeof request>;
  /** Mints a token for a user in an org (created on demand). */
  token(orgId: string, userId: string, role?: Role): Promise<string>;
  close(): Promise<void>;
}

/** The real HTTP app (same bootstrap as `npm start`) on an isolated test database. */
export async function startTestApp(
  backend: TestBackend,
  env: NodeJS.ProcessEnv = {},
  databaseOptions: { maxConnections?: number } = {},
): Promise<TestApp> {
  const database = await backend.open(databaseOptions);
  const config = { ...loadConfig({ ...env }), commandRetries: Number(env.COMMAND_RETRIES ?? 20) };
  const app = await createApp({ config, database, logger: false });
  await app.init();
  const server = app.getHttpServer() as App;
  const tokens = app.get(TokenService);
  return {
    app,
    database,
    http: () => request(server),
    async token(orgId, userId, role = 'admin') {
      return (await tokens.mint({ orgId, userId, role })).token;
    },
    async close() {
      await app.close();
      await database.close();
    },
  };
}

export const API = '/api/v1/crm';
