import { type Kysely, sql } from 'kysely';
import { testBackends } from '../../../../test/support/test-database';
import type { PlatformTables } from '../tables';
import { type Database, openPGlite } from './database';
import { loadConfig } from '../config';

/*
 * What the table types promise, on both drivers: int8 and numeric as exact strings, date as
 * 'YYYY-MM-DD', timestamptz as Date, jsonb parsed (so no caller parses it again). PGlite runs a
 * query without parameters through another path (simple protocol): both are checked.
 */

const VALUES = `'9007199254740993'::int8 as big, '12345678901234567890.10'::numeric as amount, '2024-02-29'::date as day,
  '2026-01-15T10:00:00.123Z'::timestamptz as at, '{"a": [1, "two", null]}'::jsonb as doc, '"text"'::jsonb as doc_text`;

const EXPECTED = {
  big: '9007199254740993',
  amount: '12345678901234567890.10',
  day: '2024-02-29',
  at: new Date('2026-01-15T10:00:00.123Z'),
  doc: { a: [1, 'two', null] },
  doc_text: 'text',
};

for (const backend of testBackends()) {
  describe(`driver values on ${backend.name}`, () => {
    let database: Database;
    let db: Kysely<PlatformTables>;

    beforeAll(async () => {
      database = await backend.open();
      db = database.db;
    });
    afterAll(() => database?.close());

    it('a query with parameters', async () => {
      const { rows } = await sql`select ${sql.raw(VALUES)}, ${1}::int as n`.execute(db);
      expect(rows[0]).toEqual({ ...EXPECTED, n: 1 });
    });

    it('a query without parameters', async () => {
      const { rows } = await sql`select ${sql.raw(VALUES)}`.execute(db);
      expect(rows[0]).toEqual(EXPECTED);
    });

    it('jsonb written as JSON text comes back parsed through the typed tables', async () => {
      const headers = { etag: '"3"', location: '/x' };
      await db
        .insertInto('idempotency_keys')
        .values({
          org_id: 'o',
          key: 'k',
          request_hash: 'h',
          status_code: 201,
          response_headers: JSON.stringify(headers),
          response_body: '{"data":{"id":1}}',
        })
        .execute();
      const row = await db
        .selectFrom('idempotency_keys')
        .select(['response_headers', 'response_body', 'created_at'])
        .executeTakeFirstOrThrow();
      expect(row).toEqual({ response_headers: headers, response_body: { data: { id: 1 } }, created_at: expect.any(Date) });
    });

    it('a prepared statement returns the same values as a query, every time, and reports errors with their SQLSTATE', async () => {
      const text = `select ${VALUES}, $1::int as n, $2::text[] as names, $3::bigint[] as versions, $4::jsonb as doc_in, $5::text as absent`;
      const args = [7, ['a', 'b "quoted"', 'c,d'], [1, 9007199254740993n], JSON.stringify({ x: [1] }), null];
      const expected = {
        ...EXPECTED,
        n: 7,
        names: ['a', 'b "quoted"', 'c,d'],
        versions: ['1', '9007199254740993'],
        doc_in: { x: [1] },
        absent: null,
      };
      for (let i = 0; i < 3; i++) expect(await database.prepared('driver_values', text, args)).toEqual([expected]);
      await database.db.schema
        .createTable('prepared_probe')
        .ifNotExists()
        .addColumn('id', 'text', (c) => c.primaryKey())
        .execute();
      const insert = 'insert into prepared_probe (id) values ($1::text) returning id';
      expect(await database.prepared('probe_insert', insert, ['p1'])).toEqual([{ id: 'p1' }]);
      await expect(database.prepared('probe_insert', insert, ['p1'])).rejects.toMatchObject({ code: '23505' });
      // The failed statement left nothing open: the next one and an ordinary query still work.
      expect(await database.prepared('probe_insert', insert, ['p2'])).toEqual([{ id: 'p2' }]);
      const { rows } = await sql<{ id: string }>`select id from prepared_probe order by id`.execute(db);
      expect(rows.map((r) => r.id)).toEqual(['p1', 'p2']);
    });

    it('savepoints: a rolled-back one undoes only what came after it', async () => {
      const trx = await db.startTransaction().execute();
      await trx.insertInto('orgs').values({ id: 'sp_kept', name: 'kept' }).execute();
      const inner = await trx.savepoint('attempt').execute();
      await inner.insertInto('orgs').values({ id: 'sp_undone', name: 'undone' }).execute();
      const after = await inner.rollbackToSavepoint('attempt').execute();
      const released = await after.savepoint('second').execute();
      await released.insertInto('orgs').values({ id: 'sp_released', name: 'released' }).execute();
      await (await released.releaseSavepoint('second').execute()).commit().execute();
      const rows = await db.selectFrom('orgs').select('id').where('id', 'like', 'sp_%').orderBy('id').execute();
      expect(rows.map((r) => r.id)).toEqual(['sp_kept', 'sp_released']);
    });
  });
}

describe('the embedded database’s settings', () => {
  it('starts with the settings given (the API: shared_buffers 16MB unless PGLITE_SETTINGS says otherwise)', async () => {
    const config = loadConfig({});
    expect(config.pgliteSettings).toEqual({ shared_buffers: '16MB' });
    const database = await openPGlite({ settings: { ...config.pgliteSettings, work_mem: '2MB' } });
    try {
      const show = async (name: string) => (await sql<Record<string, string>>`show ${sql.raw(name)}`.execute(database.db)).rows[0][name];
      expect(await show('shared_buffers')).toBe('16MB');
      expect(await show('work_mem')).toBe('2MB');
    } finally {
      await database.close();
    }
  });

  it('PGLITE_SETTINGS adds to or replaces them, and refuses what is not name=value pairs', () => {
    expect(loadConfig({ PGLITE_SETTINGS: 'shared_buffers=64MB,work_mem=8MB' }).pgliteSettings).toEqual({
      shared_buffers: '64MB',
      work_mem: '8MB',
    });
    for (const bad of ['shared_buffers', 'a=b=c', 'shared_buffers=1MB;drop', 'Shared=1']) {
      expect(() => loadConfig({ PGLITE_SETTINGS: bad })).toThrow(/PGLITE_SETTINGS must be name=value pairs/);
    }
  });
});
