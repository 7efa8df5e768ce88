/**
 * W6: webhook delivery latency, from the win command's response to the receiver getting the
 * signed POST (in-process API with projector and dispatcher, receiver on loopback).
 * Usage: npx tsx bench/webhook-latency.bench.ts [--deals 100]   (BENCH_DATABASE_URL → PostgreSQL, else PGlite)
 */
import 'reflect-metadata';
import { createServer } from 'node:http';
import { type AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import request from 'supertest';
import { createApp } from '../apps/api/src/bootstrap';
import { SCHEMA_MIGRATIONS } from '../apps/api/src/database-schema';
import { loadConfig, migrateToLatest, openPGlite, openPostgres, TokenService } from '@app/platform';
import { percentile } from './stats';

const { values } = parseArgs({ options: { deals: { type: 'string', default: '100' } } });
const DEALS = Number(values.deals);
const url = process.env.BENCH_DATABASE_URL || undefined;

async function main(): Promise<void> {
  const schema = `bench_wh_${Date.now()}`;
  const database = url ? await openPostgres({ connectionString: url, schema, max: 10 }) : await openPGlite();
  await migrateToLatest(database.db, SCHEMA_MIGRATIONS, url ? schema : undefined);
  const arrivals = new Map<string, number>();
  const receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString());
      arrivals.set(body.data.opportunity.id, performance.now());
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const port = (receiver.address() as AddressInfo).port;
  const config = {
    ...loadConfig({ RATE_LIMIT_PER_MINUTE: '0', WEBHOOK_ALLOWED_HOSTS: '127.0.0.1', PROJECTION_POLL_MS: '500', WEBHOOK_POLL_MS: '500' }),
  };
  const app = await createApp({ config, database, logger: false });
  await app.init();
  const http = () => request(app.getHttpServer());
  const token = (await app.get(TokenService).mint({ orgId: 'bench', userId: 'admin', role: 'admin' })).token;
  const auth = { Authorization: `Bearer ${token}` };
  await http()
    .post('/api/v1/crm/webhooks')
    .set(auth)
    .send({ url: `http://127.0.0.1:${port}/hook`, event_types: ['opportunity.won'] })
    .expect(201);
  const latencies: number[] = [];
  for (let i = 0; i < DEALS; i++) {
    const created = await http()
      .post('/api/v1/crm/opportunities')
      .set(auth)
      .send({ name: `W6 ${i}`, customer_id: 'c', value: 1000, expected_close_date: '2031-01-01', stage: 'verbal_commitment' });
    const id = created.body.data.id as string;
    await http().post(`/api/v1/crm/opportunities/${id}/win`).set(auth).send({}).expect(200);
    const sent = performance.now();
    while (!arrivals.has(id)) await new Promise((r) => setTimeout(r, 1));
    latencies.push(arrivals.get(id)! - sent);
  }
  const p = (q: number) => percentile(latencies, q).toFixed(1);
  console.log(
    `W6 webhook latency, win response → receiver, ${DEALS} wins one after another on ${database.kind}: p50 ${p(0.5)} ms, p99 ${p(0.99)} ms, max ${Math.max(...latencies).toFixed(1)} ms`,
  );
  await app.close();
  receiver.close();
  if (url) await (database.db as any).schema.dropSchema(schema).cascade().execute();
  await database.close();
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
