/**
 * A peer service for the W1 benchmark, the limit: Fastify 5 with each of our three W1 routes doing
 * exactly one single-row INSERT (pg Pool of 20, a named prepared statement) and nothing else, so
 * no read of the deal, no state, no rules but the request checks:
 *
 *   POST /api/v1/crm/opportunities                 INSERT the create → 201 { message, data: { id } }
 *   POST /api/v1/crm/opportunities/:id/stage/next  INSERT a row for the deal → 200 { message, data: { id } }
 *   POST /api/v1/crm/opportunities/:id/win         INSERT a row for the deal → 200 { message, data: { id } }
 *   GET  /api/v1/crm/health                        200 once the table exists (no token)
 *
 * The same checks as the Emmett peer (bench/peers/http-checks.ts: bearer token against ADMIN_TOKEN,
 * required create fields with 400, UUID ids); the JSON body is parsed by Fastify.
 *
 * Environment: DATABASE_URL (a database of its own: the table is created in it at start),
 * ADMIN_TOKEN, PORT (or --port <n>). Run from the bench build: node dist/bench/bench/peers/fastify-insert.js
 */
import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyReply } from 'fastify';
import { Pool } from 'pg';
import {
  badId,
  bearerCheck,
  isUuid,
  parseCreate,
  parseWin,
  portFromArgs,
  PREFIX,
  requiredEnv,
  unauthenticated,
  validationFailed,
} from './http-checks';

const INSERT = 'insert into commands (deal_id, type, data) values ($1, $2, $3)';

async function main(): Promise<void> {
  const url = requiredEnv('DATABASE_URL');
  const authorized = bearerCheck(requiredEnv('ADMIN_TOKEN'));
  const port = portFromArgs();

  const pool = new Pool({ connectionString: url, max: 20 });
  pool.on('error', () => undefined);
  await pool.query(`create table if not exists commands (
    position bigserial primary key,
    deal_id uuid not null,
    type text not null,
    data jsonb not null,
    recorded_at timestamptz not null default now()
  )`);
  const insert = (dealId: string, type: string, data: unknown) =>
    pool.query({ name: 'insert-command', text: INSERT, values: [dealId, type, JSON.stringify(data)] });

  const app = Fastify({ logger: false, bodyLimit: 1024 * 1024 });
  app.get(`${PREFIX}/health`, async () => ({ status: 'ok' }));
  app.addHook('onRequest', async (req, reply) => {
    if (req.url.startsWith(`${PREFIX}/health`)) return;
    if (!authorized(req.headers.authorization)) return reply.code(401).send(unauthenticated);
  });
  const dealId = (params: unknown, reply: FastifyReply): string | null => {
    const id = (params as { id: string }).id.toLowerCase();
    if (isUuid(id)) return id;
    void reply.code(400).send(badId);
    return null;
  };

  app.post(`${PREFIX}/opportunities`, async (req, reply) => {
    const parsed = parseCreate(req.body);
    if ('errors' in parsed) return reply.code(400).send(validationFailed(parsed.errors));
    const id = randomUUID();
    await insert(id, 'create', parsed.input);
    return reply.code(201).send({ message: 'Opportunity created successfully', data: { id, ...parsed.input } });
  });

  app.post(`${PREFIX}/opportunities/:id/stage/next`, async (req, reply) => {
    const id = dealId(req.params, reply);
    if (!id) return reply;
    await insert(id, 'next', {});
    return { message: 'Opportunity advanced to next stage successfully', data: { id } };
  });

  app.post(`${PREFIX}/opportunities/:id/win`, async (req, reply) => {
    const id = dealId(req.params, reply);
    if (!id) return reply;
    const parsed = parseWin(req.body);
    if ('errors' in parsed) return reply.code(400).send(validationFailed(parsed.errors));
    await insert(id, 'win', parsed.input);
    return { message: 'Opportunity marked as won', data: { id } };
  });

  app.setErrorHandler((error: { statusCode?: number; message?: string }, _req, reply) => {
    const status = error.statusCode ?? 500;
    if (status >= 500) process.stderr.write(`fastify-insert: ${error instanceof Error ? error.stack : String(error)}\n`);
    return reply
      .code(status)
      .send({ message: status >= 500 ? 'Internal server error' : error.message, code: status >= 500 ? 'internal' : 'bad_request' });
  });

  await app.listen({ port, host: '127.0.0.1' });
  const stop = async () => {
    await app.close().catch(() => undefined);
    await pool.end().catch(() => undefined);
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop());
  process.once('SIGINT', () => void stop());
}

main().catch((error: unknown) => {
  process.stderr.write(`fastify-insert: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
