import { randomBytes } from 'node:crypto';
import { type Kysely, sql } from 'kysely';
import type { Database } from '@app/platform';
import { testBackends } from '../../../../test/support/test-database';
import { bulkInsert, recordset } from './bulk-insert';

/*
 * Set-based writes: all rows travel as one jsonb parameter and are typed by jsonb_to_recordset with
 * the target table's own column types. What goes in must come back exactly, whatever the type.
 */

/** The tables are made per test under fresh names, each of its own shape: columns are typed loosely. */
type ScratchTables = Record<string, Record<string, unknown>>;

/** A fresh table name per test: column types are cached per table name for the process. */
const tableName = (what: string) => `bulk_${what}_${randomBytes(4).toString('hex')}`;

async function createAllTypes(db: Kysely<ScratchTables>, table: string): Promise<void> {
  await sql`
    create table ${sql.table(table)} (
      id text primary key,
      label text,
      big bigint,
      amount numeric,
      price numeric(12, 2),
      flag boolean,
      doc jsonb,
      day date,
      at timestamptz,
      tags text[],
      n integer,
      code varchar(5)
    )`.execute(db);
}

/** Every column as text where a driver would round or re-zone it. */
async function readAll(db: Kysely<ScratchTables>, table: string) {
  const { rows } = await sql<Record<string, unknown>>`
    select id, label, big::text as big, amount::text as amount, price::text as price, flag, doc,
           doc is null as doc_is_sql_null, day::text as day,
           (extract(epoch from at) * 1000000)::bigint::text as at_micros, tags, n, code
    from ${sql.table(table)} order by id`.execute(db);
  return rows;
}

const EVERY_VALUE = {
  id: 'a',
  label: 'O\'Brien "quoted" \\ back\\slash\nnew line\ttab ünïcode 🚀 ${not} %s',
  big: '9007199254740993', // 2^53 + 1: exact only as a string
  amount: '12345678901234567890.123456789',
  price: '1234567890.25',
  flag: true,
  doc: { nested: { list: [1, 'two', { three: null }], empty: {} }, 'key "with" quotes': 'ü', number: 1.5, no: false },
  day: '2024-02-29',
  at: '2026-01-15T10:00:00.123456Z',
  tags: ['plain', 'with,comma', 'with "quote"', 'with {brace}', '', 'ünï', 'NULL'],
  n: 2147483647,
  code: 'abcde',
};
const EVERY_NULL = {
  id: 'b',
  label: null,
  big: null,
  amount: null,
  price: null,
  flag: null,
  doc: null,
  day: null,
  at: null,
  tags: null,
  n: null,
  code: null,
};

for (const backend of testBackends()) {
  describe(`bulkInsert on ${backend.name}`, () => {
    let database: Database;
    let db: Kysely<ScratchTables>;

    beforeAll(async () => {
      database = await backend.open();
      db = database.tables<ScratchTables>();
    });
    afterAll(() => database?.close());

    it('writes every supported column type and reads it back exactly', async () => {
      const table = tableName('types');
      await createAllTypes(db, table);
      const extremes = {
        id: 'c',
        label: '',
        big: '-9223372036854775808',
        amount: '-0.000000000000000000001',
        price: '-0.5',
        flag: false,
        doc: [1, 'x', null],
        day: '0001-01-01',
        at: '2026-01-15T12:00:00+02:00',
        tags: [],
        n: -2147483648,
        code: '',
      };
      const maxBig = { ...EVERY_NULL, id: 'd', big: '9223372036854775807', tags: [null, 'x'], doc: 'a JSON string' };
      await bulkInsert(db, table, [EVERY_VALUE, EVERY_NULL, extremes, maxBig], { conflict: ['id'], onConflict: 'nothing' });

      const rows = await readAll(db, table);
      expect(rows).toEqual(
        [
          {
            ...EVERY_VALUE,
            price: '1234567890.25',
            doc_is_sql_null: false,
            at_micros: String(Date.parse('2026-01-15T10:00:00.123Z') * 1000 + 456),
          },
          { ...EVERY_NULL, doc_is_sql_null: true, at_micros: null },
          { ...extremes, price: '-0.50', doc_is_sql_null: false, at_micros: String(Date.parse('2026-01-15T10:00:00Z') * 1000) },
          { ...maxBig, doc_is_sql_null: false, at_micros: null },
        ].map(({ at: _at, ...rest }) => rest),
      );
    });

    it('casts to the column type with its modifier (numeric(12,2) rounds, varchar(5) is enforced)', async () => {
      const table = tableName('typmod');
      await createAllTypes(db, table);
      await bulkInsert(
        db,
        table,
        [
          { id: 'a', price: '10.005' },
          { id: 'b', price: 3 },
        ],
        { conflict: ['id'], onConflict: 'nothing' },
      );
      expect((await readAll(db, table)).map((r) => r.price)).toEqual(['10.01', '3.00']);
      await expect(bulkInsert(db, table, [{ id: 'c', code: 'toolong' }], { conflict: ['id'], onConflict: 'nothing' })).rejects.toThrow(
        /too long/,
      );
    });

    it('takes JSON numbers, booleans and Dates where the column wants them', async () => {
      const table = tableName('json_values');
      await createAllTypes(db, table);
      const at = new Date('2026-03-01T08:30:00.250Z');
      await bulkInsert(db, table, [{ id: 'a', big: 42, amount: 0.1, flag: false, n: 7, at }], { conflict: ['id'], onConflict: 'nothing' });
      const [row] = await readAll(db, table);
      expect(row).toMatchObject({ big: '42', amount: '0.1', flag: false, n: 7, at_micros: String(at.getTime() * 1000) });
      const back = await db.selectFrom(table).select('at').executeTakeFirstOrThrow();
      expect((back.at as Date).toISOString()).toBe(at.toISOString());
    });

    it('writes only the columns given (the others take their defaults)', async () => {
      const table = tableName('subset');
      await sql`create table ${sql.table(table)} (id text primary key, n integer not null default 5, label text default 'x')`.execute(db);
      await bulkInsert(db, table, [{ label: 'first', id: 'a' }], { conflict: ['id'], onConflict: 'nothing' });
      expect(await db.selectFrom(table).selectAll().execute()).toEqual([{ id: 'a', n: 5, label: 'first' }]);
    });

    it('quotes column names (reserved words, mixed case, spaces)', async () => {
      const table = tableName('idents');
      await sql`create table ${sql.table(table)} ("select" text primary key, "Mixed Case" integer, "a""quote" text)`.execute(db);
      await bulkInsert(db, table, [{ select: 'k', 'Mixed Case': 1, 'a"quote': 'q' }], { conflict: ['select'], onConflict: 'replace' });
      await bulkInsert(db, table, [{ select: 'k', 'Mixed Case': 2, 'a"quote': 'r' }], { conflict: ['select'], onConflict: 'replace' });
      expect(await db.selectFrom(table).selectAll().execute()).toEqual([{ select: 'k', 'Mixed Case': 2, 'a"quote': 'r' }]);
    });

    it('refuses a column the table does not have, naming it', async () => {
      const table = tableName('unknown');
      await createAllTypes(db, table);
      await expect(bulkInsert(db, table, [{ id: 'a', nope: 1, nada: 2 }], { conflict: ['id'], onConflict: 'nothing' })).rejects.toThrow(
        `recordset: ${table} has no column nope, nada`,
      );
    });

    it('does nothing for no rows (not even look at the table)', async () => {
      await expect(bulkInsert(db, 'no_such_table', [], { conflict: ['id'], onConflict: 'nothing' })).resolves.toBeUndefined();
    });

    describe('on a key that is already stored', () => {
      let table: string;
      beforeEach(async () => {
        table = tableName('conflict');
        await sql`
          create table ${sql.table(table)} (
            org text, id text, label text, count integer, total bigint, note text, primary key (org, id)
          )`.execute(db);
        await bulkInsert(
          db,
          table,
          [
            { org: 'acme', id: '1', label: 'old', count: 1, total: '9007199254740993', note: 'kept' },
            { org: 'acme', id: '2', label: 'other', count: 10, total: '5', note: 'kept' },
          ],
          { conflict: ['org', 'id'], onConflict: 'nothing' },
        );
      });
      const stored = () =>
        db
          .selectFrom(table)
          .select(['org', 'id', 'label', 'count', sql<string>`total::text`.as('total'), 'note'])
          .orderBy('org')
          .orderBy('id')
          .execute();

      it("'nothing' keeps the stored row and inserts the new ones", async () => {
        await bulkInsert(
          db,
          table,
          [
            { org: 'acme', id: '1', label: 'new', count: 2, total: '1', note: 'new' },
            { org: 'globex', id: '1', label: 'globex', count: 3, total: '1', note: 'new' },
          ],
          { conflict: ['org', 'id'], onConflict: 'nothing' },
        );
        expect(await stored()).toEqual([
          { org: 'acme', id: '1', label: 'old', count: 1, total: '9007199254740993', note: 'kept' },
          { org: 'acme', id: '2', label: 'other', count: 10, total: '5', note: 'kept' },
          { org: 'globex', id: '1', label: 'globex', count: 3, total: '1', note: 'new' },
        ]);
      });

      it("'nothing' tolerates two rows with the same key in one batch (the first is written)", async () => {
        await bulkInsert(
          db,
          table,
          [
            { org: 'initech', id: '1', label: 'first', count: 1, total: '1', note: null },
            { org: 'initech', id: '1', label: 'second', count: 2, total: '2', note: null },
          ],
          { conflict: ['org', 'id'], onConflict: 'nothing' },
        );
        expect((await stored()).filter((r) => r.org === 'initech')).toEqual([
          { org: 'initech', id: '1', label: 'first', count: 1, total: '1', note: null },
        ]);
      });

      it("'replace' overwrites the columns given and leaves the others", async () => {
        await bulkInsert(
          db,
          table,
          [
            { org: 'acme', id: '1', label: 'new', count: 2, total: '9223372036854775807' },
            { org: 'acme', id: '3', label: 'third', count: 3, total: '3' },
          ],
          { conflict: ['org', 'id'], onConflict: 'replace' },
        );
        expect(await stored()).toEqual([
          { org: 'acme', id: '1', label: 'new', count: 2, total: '9223372036854775807', note: 'kept' },
          { org: 'acme', id: '2', label: 'other', count: 10, total: '5', note: 'kept' },
          { org: 'acme', id: '3', label: 'third', count: 3, total: '3', note: null },
        ]);
      });

      it("'replace' writes a null given as null", async () => {
        await bulkInsert(db, table, [{ org: 'acme', id: '1', label: null, note: null }], {
          conflict: ['org', 'id'],
          onConflict: 'replace',
        });
        expect((await stored())[0]).toEqual({ org: 'acme', id: '1', label: null, count: 1, total: '9007199254740993', note: null });
      });

      it("'replace' refuses two rows with the same key in one batch", async () => {
        await expect(
          bulkInsert(
            db,
            table,
            [
              { org: 'acme', id: '1', label: 'a' },
              { org: 'acme', id: '1', label: 'b' },
            ],
            { conflict: ['org', 'id'], onConflict: 'replace' },
          ),
        ).rejects.toThrow(/cannot affect row a second time/);
        expect((await stored())[0].label).toBe('old');
      });

      it('{ add } adds the given columns to the stored ones (exact past 2^53) and leaves the rest', async () => {
        await bulkInsert(
          db,
          table,
          [
            { org: 'acme', id: '1', label: 'ignored', count: -1, total: '9007199254740993' },
            { org: 'acme', id: '2', label: 'ignored', count: 5, total: '-5' },
            { org: 'acme', id: '4', label: 'fresh', count: 4, total: '4' },
          ],
          { conflict: ['org', 'id'], onConflict: { add: ['count', 'total'] } },
        );
        expect(await stored()).toEqual([
          { org: 'acme', id: '1', label: 'old', count: 0, total: '18014398509481986', note: 'kept' },
          { org: 'acme', id: '2', label: 'other', count: 15, total: '0', note: 'kept' },
          { org: 'acme', id: '4', label: 'fresh', count: 4, total: '4', note: null },
        ]);
      });
    });

    it('20,000 rows × 12 columns (240,000 values, far past 65,535 parameters) in one statement', async () => {
      const table = tableName('many');
      await createAllTypes(db, table);
      const rows = Array.from({ length: 20_000 }, (_, i) => ({
        ...EVERY_VALUE,
        id: `row-${String(i).padStart(5, '0')}`,
        big: (9007199254740993n + BigInt(i)).toString(),
        n: i,
        doc: { i },
      }));
      let statements = 0;
      const counted = db.withPlugin({
        transformQuery: (args) => {
          statements++;
          return args.node;
        },
        transformResult: async (args) => args.result,
      });
      await bulkInsert(counted, table, rows, { conflict: ['id'], onConflict: 'replace' });
      expect(statements).toBe(2); // the column types (first use of the table), then the insert
      const { rows: summary } = await sql<{ count: string; sum_big: string; sum_n: string; docs: string; labels: string }>`
        select count(*)::text as count, sum(big)::text as sum_big, sum(n)::text as sum_n,
               count(distinct doc)::text as docs, count(distinct label)::text as labels
        from ${sql.table(table)}`.execute(db);
      const sumBig = 20_000n * 9007199254740993n + (19_999n * 20_000n) / 2n;
      expect(summary[0]).toEqual({
        count: '20000',
        sum_big: sumBig.toString(),
        sum_n: String((19_999 * 20_000) / 2),
        docs: '20000',
        labels: '1',
      });
      const last = await db
        .selectFrom(table)
        .select(['id', sql<string>`big::text`.as('big'), 'doc', 'tags'])
        .where('id', '=', 'row-19999')
        .executeTakeFirstOrThrow();
      expect(last).toEqual({ id: 'row-19999', big: '9007199254760992', doc: { i: 19_999 }, tags: EVERY_VALUE.tags });

      statements = 0;
      await bulkInsert(counted, table, rows.slice(0, 10), { conflict: ['id'], onConflict: 'nothing' });
      expect(statements).toBe(1); // the types are cached
    });

    it('recordset: the rows as a typed relation to join against (update … from)', async () => {
      const table = tableName('recordset');
      await createAllTypes(db, table);
      await bulkInsert(
        db,
        table,
        [
          { id: 'a', big: '1', tags: ['x'] },
          { id: 'b', big: '2', tags: ['y'] },
        ],
        { conflict: ['id'], onConflict: 'nothing' },
      );
      const v = await recordset(db, table, [{ id: 'b', big: '9007199254740993', tags: ['p', 'q'] }], 'v');
      expect(v.columns).toEqual(['id', 'big', 'tags']);
      await sql`update ${sql.table(table)} t set big = v.big + 1, tags = v.tags || t.tags from ${v.from} where t.id = v.id`.execute(db);
      const rows = await readAll(db, table);
      expect(rows.map((r) => [r.id, r.big, r.tags])).toEqual([
        ['a', '1', ['x']],
        ['b', '9007199254740994', ['p', 'q', 'y']],
      ]);
    });
  });
}
