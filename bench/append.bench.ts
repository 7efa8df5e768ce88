/**
 * W2: event-store appends vs a plain single-row INSERT into a table of the same shape,
 * at 1 and 16 writers, side by side on the same server. Median of RUNS runs.
 * Usage: BENCH_DATABASE_URL=postgres://… npx tsx bench/append.bench.ts [--seconds 5] [--runs 3]
 */
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { sql } from 'kysely';
import { PostgresEventStore } from '../libs/event-store/src/postgres/postgres-event-store';
import { openPostgres } from '../libs/platform/src/database/database';
import { migrateToLatest } from '../libs/platform/src/database/migrate';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '5' }, runs: { type: 'string', default: '3' } } });
const SECONDS = Number(values.seconds);
const RUNS = Number(values.runs);
const url = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL;
if (!url) {
  console.error('Set BENCH_DATABASE_URL to a PostgreSQL server');
  process.exit(2);
}

const payload = { name: 'Acme Corp - Enterprise Platform', value_minor: 15000000, stage: 'qualification', notes: 'x'.repeat(180) };
const metadata = { org_id: 'bench', actor_id: 'u1', correlation_id: randomUUID(), causation_id: randomUUID(), occurred_at: new Date().toISOString() };

async function measure(writers: number, op: (writer: number, i: number) => Promise<unknown>): Promise<number> {
  let count = 0;
  const deadline = Date.now() + SECONDS * 1000;
  const started = Date.now();
  await Promise.all(
    Array.from({ length: writers }, async (_, w) => {
      for (let i = 0; Date.now() < deadline; i++) {
        await op(w, i);
        count++;
      }
    }),
  );
  return count / ((Date.now() - started) / 1000);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  const schema = `bench_${Date.now()}`;
  const database = await openPostgres({ connectionString: url!, schema, max: 20 });
  await migrateToLatest(database.db, schema);
  await sql`create table raw_events (like events including defaults)`.execute(database.db);
  const store = new PostgresEventStore(database);
  const rows: string[] = [];
  try {
    for (const writers of [1, 16]) {
      const ours: number[] = [];
      const raw: number[] = [];
      for (let run = 0; run < RUNS; run++) {
        const tag = randomUUID().slice(0, 8);
        // Alternate so neither side always runs on a warmer cache.
        raw.push(
          await measure(writers, (w, i) =>
            sql`insert into raw_events (stream_id, stream_version, event_id, type, data, metadata)
                values (${`raw-${tag}-${w}-${i % 50}`}, ${i}, ${randomUUID()}, 'OpportunityUpdated', ${JSON.stringify(payload)}, ${JSON.stringify(metadata)})`.execute(database.db),
          ),
        );
        const versions = new Map<string, number>();
        ours.push(
          await measure(writers, async (w, i) => {
            const stream = `opportunity-bench-${tag}-${w}-${i % 50}`;
            const version = versions.get(stream) ?? 0;
            await store.append(stream, [{ eventId: randomUUID(), type: 'OpportunityUpdated', data: payload, metadata }], version === 0 ? 'no_stream' : version);
            versions.set(stream, version + 1);
          }),
        );
      }
      const o = median(ours);
      const r = median(raw);
      rows.push(`| ${writers} | ${Math.round(r)} | ${Math.round(o)} | ${(o / r).toFixed(2)} |`);
      console.error(`writers=${writers} raw=${raw.map(Math.round)} ours=${ours.map(Math.round)}`);
    }
  } finally {
    await store.close();
    await sql.raw(`drop schema "${schema}" cascade`).execute(database.db);
    await database.close();
  }
  console.log(`Appends/s, ~300 B JSON event, expected-version append (ours) vs raw single-row INSERT; median of ${RUNS} × ${SECONDS}s`);
  console.log('| writers | raw INSERT/s | event store appends/s | ratio |');
  console.log('|---|---|---|---|');
  rows.forEach((r) => console.log(r));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
