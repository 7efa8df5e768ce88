import { type INestApplication } from '@nestjs/common';
import request from 'supertest';
import type { App } from 'supertest/types';
import { createApp } from '../../apps/api/src/bootstrap';
import { type Database, loadConfig, type Role, TokenService } from '@app/platform';
import type { TestBackend } from './test-database';

export interface TestApp {
  app: INestApplication;
  database: Database;
  http: () => ReturnType<typeof request>;
  /** Mints a token for a user in an org (created on demand). */
  token(orgId: string, userId: string, role?: Role): Promise<string>;
  /** Stops the app (projector, dispatcher, HTTP), runs `whileDown`, starts a new one on the same database. */
  restart(whileDown?: () => Promise<void>): Promise<void>;
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
  const boot = async () => {
    const app = await createApp({ config, database, logger: false });
    await app.init();
    return app;
  };
  let app = await boot();
  const harness: TestApp = {
    app,
    database,
    http: () => request(harness.app.getHttpServer() as App),
    async token(orgId, userId, role = 'admin') {
      return (await harness.app.get(TokenService).mint({ orgId, userId, role })).token;
    },
    async restart(whileDown) {
      await harness.app.close();
      await whileDown?.();
      app = await boot();
      harness.app = app;
    },
    async close() {
      await harness.app.close();
      await database.close();
    },
  };
  return harness;
}

export const API = '/api/v1/crm';
