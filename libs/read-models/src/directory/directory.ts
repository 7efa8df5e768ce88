import { type Kysely, type Selectable, sql } from 'kysely';
import type { ContactsTable, LeadsTable, ReadModelTables } from '../tables';

export interface UserRef {
  id: string;
  name: string | null;
  email: string | null;
}

export interface CustomerRef {
  id: string;
  customer_number: string | null;
  company_name: string | null;
  email: string | null;
}

/** A lead as `includes=lead` shows it; a lead the directory does not hold is `{id}` alone. */
export type LeadRef = { id: string; email: string | null; source: string | null } | { id: string };

export interface Refs {
  user(id: string | null): UserRef | null;
  customer(id: string | null): CustomerRef | null;
  lead(id: string | null): LeadRef | null;
  /** The contact's record; null for an id no longer in the directory. */
  contact(id: string): ContactRecord | null;
}

/** The columns a contact is shown with, everywhere. */
export const CONTACT_COLUMNS = [
  'id',
  'first_name',
  'last_name',
  'email',
  'phone',
  'title',
  'customer_id',
  'created_at',
  'updated_at',
] as const;
export type ContactRecord = Pick<Selectable<ContactsTable>, (typeof CONTACT_COLUMNS)[number]>;

/** The columns a lead is shown with in the directory (`includes=lead` shows id, email and source). */
export const LEAD_COLUMNS = ['id', 'name', 'company_name', 'email', 'source', 'created_at', 'updated_at'] as const;
export type LeadRecord = Pick<Selectable<LeadsTable>, (typeof LEAD_COLUMNS)[number]>;

/** The org's contacts among `ids` (unknown ids and other orgs' contacts are left out). */
export async function contactsByIds(db: Kysely<ReadModelTables>, orgId: string, ids: readonly string[]): Promise<ContactRecord[]> {
  const unique = [...new Set(ids)];
  if (unique.length === 0) return [];
  return db.selectFrom('contacts').select(CONTACT_COLUMNS).where('org_id', '=', orgId).where('id', 'in', unique).execute();
}

export async function listContacts(db: Kysely<ReadModelTables>, orgId: string, q: PageQuery & { customer_id?: string }) {
  let base = db.selectFrom('contacts').where('org_id', '=', orgId);
  if (q.customer_id) base = base.where('customer_id', '=', q.customer_id);
  if (q.search) {
    const term = `%${escapeLike(q.search)}%`;
    base = base.where((eb) =>
      eb.or([eb('first_name', 'ilike', term), eb('last_name', 'ilike', term), eb('email', 'ilike', term), eb('title', 'ilike', term)]),
    );
  }
  return paged(
    q,
    (limit, offset) =>
      base.select(CONTACT_COLUMNS).orderBy('last_name').orderBy('first_name').orderBy('id').limit(limit).offset(offset).execute(),
    () => base.select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow(),
  );
}

/**
 * Users, customers, contacts and leads for sets of ids, in indexed lookups; unknown users and
 * customers render as {id} with null fields, unknown leads as {id} alone, and leads whose ids are
 * not in `leadIds` as {id} too.
 */
export async function loadRefs(
  db: Kysely<ReadModelTables>,
  orgId: string,
  userIds: (string | null)[],
  customerIds: (string | null)[],
  contactIds: readonly string[] = [],
  leadIds: (string | null)[] = [],
): Promise<Refs> {
  const uids = [...new Set(userIds.filter((x): x is string => !!x))];
  const cids = [...new Set(customerIds.filter((x): x is string => !!x))];
  const lids = [...new Set(leadIds.filter((x): x is string => !!x))];
  const [users, customers, contacts, leads] = await Promise.all([
    uids.length ? db.selectFrom('users').select(['id', 'name', 'email']).where('org_id', '=', orgId).where('id', 'in', uids).execute() : [],
    cids.length
      ? db
          .selectFrom('customers')
          .select(['id', 'customer_number', 'company_name', 'email'])
          .where('org_id', '=', orgId)
          .where('id', 'in', cids)
          .execute()
      : [],
    contactsByIds(db, orgId, contactIds),
    lids.length
      ? db.selectFrom('leads').select(['id', 'email', 'source']).where('org_id', '=', orgId).where('id', 'in', lids).execute()
      : [],
  ]);
  const contactMap = new Map(contacts.map((c) => [c.id, c]));
  const leadMap = new Map(leads.map((l) => [l.id, l]));
  const userMap = new Map(users.map((u) => [u.id, u as UserRef]));
  const customerMap = new Map(customers.map((c) => [c.id, c as CustomerRef]));
  return {
    user: (id) => (id ? (userMap.get(id) ?? { id, name: null, email: null }) : null),
    customer: (id) => (id ? (customerMap.get(id) ?? { id, customer_number: null, company_name: null, email: null }) : null),
    contact: (id) => contactMap.get(id) ?? null,
    lead: (id) => (id ? (leadMap.get(id) ?? { id }) : null),
  };
}

export interface PageQuery {
  page: number;
  per_page: number;
  search?: string;
}

/** One page of a directory query and the total it pages through, in parallel. */
async function paged<R>(
  q: PageQuery,
  page: (limit: number, offset: number) => Promise<R[]>,
  count: () => Promise<{ n: string }>,
): Promise<{ rows: R[]; total: number }> {
  const [rows, total] = await Promise.all([page(q.per_page, (q.page - 1) * q.per_page), count()]);
  return { rows, total: Number(total.n) };
}

export async function listUsers(db: Kysely<ReadModelTables>, orgId: string, q: PageQuery) {
  let base = db.selectFrom('users').where('org_id', '=', orgId);
  if (q.search)
    base = base.where((eb) =>
      eb.or([eb('name', 'ilike', `%${escapeLike(q.search!)}%`), eb('email', 'ilike', `%${escapeLike(q.search!)}%`)]),
    );
  return paged(
    q,
    (limit, offset) =>
      base.select(['id', 'name', 'email', 'created_at', 'updated_at']).orderBy('name').orderBy('id').limit(limit).offset(offset).execute(),
    () => base.select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow(),
  );
}

export async function listCustomers(db: Kysely<ReadModelTables>, orgId: string, q: PageQuery) {
  let base = db.selectFrom('customers').where('org_id', '=', orgId);
  if (q.search) {
    const term = `%${escapeLike(q.search)}%`;
    base = base.where((eb) => eb.or([eb('company_name', 'ilike', term), eb('email', 'ilike', term), eb('customer_number', 'ilike', term)]));
  }
  return paged(
    q,
    (limit, offset) =>
      base
        .select(['id', 'customer_number', 'company_name', 'email', 'created_at', 'updated_at'])
        .orderBy('company_name')
        .orderBy('id')
        .limit(limit)
        .offset(offset)
        .execute(),
    () => base.select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow(),
  );
}

export async function listLeads(db: Kysely<ReadModelTables>, orgId: string, q: PageQuery) {
  let base = db.selectFrom('leads').where('org_id', '=', orgId);
  if (q.search) {
    const term = `%${escapeLike(q.search)}%`;
    base = base.where((eb) =>
      eb.or([eb('name', 'ilike', term), eb('company_name', 'ilike', term), eb('email', 'ilike', term), eb('source', 'ilike', term)]),
    );
  }
  return paged(
    q,
    (limit, offset) => base.select(LEAD_COLUMNS).orderBy('name').orderBy('id').limit(limit).offset(offset).execute(),
    () => base.select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow(),
  );
}

export async function upsertUser(
  db: Kysely<ReadModelTables>,
  orgId: string,
  user: { id: string; name: string; email?: string | null },
  mode: 'create' | 'update',
) {
  if (mode === 'create') {
    return db
      .insertInto('users')
      .values({ org_id: orgId, id: user.id, name: user.name, email: user.email ?? null })
      .onConflict((oc) => oc.columns(['org_id', 'id']).doNothing())
      .returning(['id', 'name', 'email', 'created_at', 'updated_at'])
      .executeTakeFirst();
  }
  return db
    .updateTable('users')
    .set({
      ...(user.name !== undefined ? { name: user.name } : {}),
      ...(user.email !== undefined ? { email: user.email } : {}),
      updated_at: sql`now()`,
    })
    .where('org_id', '=', orgId)
    .where('id', '=', user.id)
    .returning(['id', 'name', 'email', 'created_at', 'updated_at'])
    .executeTakeFirst();
}

export function customerNumberFor(id: string): string {
  return /^\d+$/.test(id) ? `CUST-${id.padStart(6, '0')}` : `CUST-${id.toUpperCase()}`;
}

function escapeLike(s: string): string {
  return s.replace(/[\\%_]/g, (c) => `\\${c}`);
}
