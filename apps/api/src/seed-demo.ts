import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import {
  type CustomFieldEvent,
  type CustomFieldInput,
  customFieldsStreamId,
  decideCustomFields,
  evolveCustomFields,
  INITIAL_CUSTOM_FIELDS_STATE,
} from '@app/domain';
import type { EventStore } from '@app/event-store';
import { parseArgs } from 'node:util';
import { customerNumberFor, ProjectionRunner, type ReadModelTables } from '@app/read-models';
import { serviceProjections } from '@app/webhooks';
import { COMPANIES, DEMO_REGIONS, generateDeal, rng } from './demo/generate-deals';
import { withStores } from './cli-support';

const FIRST = ['Jane', 'Robert', 'Amara', 'Luis', 'Mei', 'Noah', 'Priya', 'Tomasz', 'Chloe', 'Kwame'];
const LAST = ['Manager', 'Enterprise', 'Okafor', 'García', 'Chen', 'Berg', 'Patel', 'Nowak', 'Martin', 'Mensah'];

/**
 * npm run seed:demo -- [--org default] [--deals 400]
 * A realistic pipeline for a first look: deals across stages, owners, currencies and two years
 * of months, each with its history, made by the real decider and appended through the event store.
 */
async function main(): Promise<void> {
  const { values } = parseArgs({ options: { org: { type: 'string', default: 'default' }, deals: { type: 'string', default: '400' } } });
  const orgId = values.org!;
  const deals = Number(values.deals);
  if (!Number.isInteger(deals) || deals < 1 || deals > 100_000) throw new Error('--deals must be a whole number from 1 to 100000');
  await withStores(async (database, store) => {
    // The org is the platform's; users and customers are the read models' directory.
    await database.db
      .insertInto('orgs')
      .values({ id: orgId, name: orgId })
      .onConflict((oc) => oc.column('id').doNothing())
      .execute();
    const db = database.tables<ReadModelTables>();
    await db
      .insertInto('users')
      .values(
        FIRST.map((first, i) => ({
          org_id: orgId,
          id: `user_${i}`,
          name: `${first} ${LAST[i]}`,
          email: `${first.toLowerCase()}@example.com`,
        })),
      )
      .onConflict((oc) => oc.columns(['org_id', 'id']).doNothing())
      .execute();
    const customers = 150;
    await db
      .insertInto('customers')
      .values(
        Array.from({ length: customers }, (_, i) => ({
          org_id: orgId,
          id: `cust_${i}`,
          customer_number: customerNumberFor(String(1000 + i)),
          company_name:
            `${COMPANIES[i % COMPANIES.length]} ${['Corp', 'Inc', 'GmbH', 'Ltd', 'SA'][i % 5]} ${Math.floor(i / COMPANIES.length) || ''}`.trim(),
          email: `contact${i}@example.com`,
        })),
      )
      .onConflict((oc) => oc.doNothing())
      .execute();
    // Two contacts per customer, the deals' stakeholders (a decision maker and a champion).
    const contactsPerCustomer = 2;
    await db
      .insertInto('contacts')
      .values(
        Array.from({ length: customers * contactsPerCustomer }, (_, k) => {
          const i = Math.floor(k / contactsPerCustomer);
          const n = k % contactsPerCustomer;
          const first = FIRST[(i + n + 3) % FIRST.length];
          const last = LAST[(i * 7 + n) % LAST.length];
          return {
            org_id: orgId,
            id: `ct_${i}_${n}`,
            first_name: first,
            last_name: last,
            email: `${first.toLowerCase()}.${i}.${n}@example.com`,
            title: n === 0 ? 'VP Operations' : 'Head of IT',
            customer_id: `cust_${i}`,
          };
        }),
      )
      .onConflict((oc) => oc.doNothing())
      .execute();
    await defineDemoCustomFields(store, orgId);
    const random = rng(Date.now() % 100000);
    let events = 0;
    for (let i = 0; i < deals; i++) {
      const rows = generateDeal(orgId, random, Date.now(), FIRST.length, customers, contactsPerCustomer);
      await store.append(
        rows[0].stream_id,
        rows.map((r) => ({ eventId: r.event_id, type: r.type, data: JSON.parse(r.data), metadata: JSON.parse(r.metadata) })),
        'no_stream',
      );
      events += rows.length;
      if ((i + 1) % 100 === 0) process.stderr.write(`\r${i + 1}/${deals} deals`);
    }
    process.stderr.write('\n');
    // Bring the read models up to date now, so the numbers are there at the next start.
    const runner = new ProjectionRunner(db, store, serviceProjections(store));
    await runner.ensureCheckpoints();
    for (const projection of runner.projections) await runner.catchUp(projection);
    process.stdout.write(
      `Seeded org "${orgId}": ${deals} deals, ${events} events, ${FIRST.length} users, ${customers} customers, ${customers * contactsPerCustomer} contacts.\n`,
    );
  });
}

main().catch((error) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});

/**
 * The custom fields the generated deals carry, as typed definitions (decided by the real
 * decider): `region` one of the demo regions, `seats` a number. An org that has them already keeps them.
 */
async function defineDemoCustomFields(store: EventStore, orgId: string): Promise<void> {
  const streamId = customFieldsStreamId(orgId);
  const existing = await store.readStream(streamId);
  if (existing.length > 0) return;
  const now = new Date().toISOString();
  let state = INITIAL_CUSTOM_FIELDS_STATE;
  const events: CustomFieldEvent[] = [];
  const inputs: CustomFieldInput[] = [
    { key: 'region', label: 'Region', type: 'single_select', options: DEMO_REGIONS, display_order: 1 },
    { key: 'seats', label: 'Seats', type: 'number', display_order: 2 },
  ];
  for (const input of inputs) {
    for (const event of decideCustomFields({ type: 'DefineCustomField', input }, state, now)) {
      state = evolveCustomFields(state, event);
      events.push(event);
    }
  }
  await store.append(
    streamId,
    events.map((e) => ({
      eventId: randomUUID(),
      type: e.type,
      data: e.data,
      metadata: { org_id: orgId, actor_id: 'seed-demo', correlation_id: 'seed-demo', causation_id: 'seed-demo', occurred_at: now },
    })),
    'no_stream',
  );
}
