import { type AliasedRawBuilder, type InsertType, type Kysely, type Selectable, type SelectType, sql } from 'kysely';

/** A row as plain values by column name: jsonb columns take the value itself (not JSON text), int8 a number or a string. */
export type BulkRow<Table> = { [C in keyof Table]?: SelectType<Table[C]> | InsertType<Table[C]> };

export interface BulkInsertOptions<Table> {
  /** The unique key the rows may collide on. */
  conflict: (keyof Table & string)[];
  /**
   * On a collision: 'nothing' keeps the stored row, 'replace' overwrites every column given,
   * `{ add: [...] }` adds the given columns to the stored ones (running totals).
   */
  onConflict: 'nothing' | 'replace' | { add: (keyof Table & string)[] };
}

/**
 * Column name → SQL type, per table name. Looked up on the table the search path finds: a rebuild's
 * copy in a schema of its own has the same columns (replay.ts creates it like the live table).
 */
const columnTypes = new Map<string, Map<string, string>>();

async function typesOf<DB>(trx: Kysely<DB>, table: string): Promise<Map<string, string>> {
  let types = columnTypes.get(table);
  if (!types) {
    const { rows } = await sql<{ name: string; type: string }>`
      select attname as name, format_type(atttypid, atttypmod) as type from pg_attribute
      where attrelid = ${table}::regclass and attnum > 0 and not attisdropped`.execute(trx);
    types = new Map(rows.map((r) => [r.name, r.type]));
    columnTypes.set(table, types);
  }
  return types;
}

const ident = (name: string) => `"${name.replace(/"/g, '""')}"`;

/**
 * Rows as a relation: `jsonb_to_recordset(<rows as one JSON parameter>) as alias(<columns>)`, each
 * column typed as `table`'s column of the same name. Rows must hold plain JSON values (jsonb
 * columns take objects, not JSON strings) and share the keys of the first row; refer only to those.
 */
export async function recordset<DB, T extends keyof DB & string, R extends BulkRow<DB[T]>, A extends string>(
  trx: Kysely<DB>,
  table: T,
  rows: R[],
  alias: A,
): Promise<{ columns: (keyof R & string)[]; from: AliasedRawBuilder<Pick<Selectable<DB[T]>, keyof R & keyof Selectable<DB[T]>>, A> }> {
  const types = await typesOf(trx, table);
  const columns = Object.keys(rows[0]) as (keyof R & string)[];
  const unknown = columns.filter((c) => !types.has(c));
  if (unknown.length) throw new Error(`recordset: ${table} has no column ${unknown.join(', ')}`);
  const record = columns.map((c) => `${ident(c)} ${types.get(c)}`).join(', ');
  return {
    columns,
    from: sql<Pick<Selectable<DB[T]>, keyof R & keyof Selectable<DB[T]>>>`jsonb_to_recordset(${JSON.stringify(rows)}::jsonb)`.as<A>(
      sql.raw(`${ident(alias)}(${record})`),
    ),
  };
}

/**
 * Writes many rows with one statement and one parameter (see recordset). A multi-row VALUES list
 * costs a parameter per cell (PostgreSQL allows 65,535 per statement) and a parse and plan that
 * grow with it; this costs one parse whatever the batch size. With 'replace' or 'add', no two rows
 * may share a key. The table is named through kysely, so a handle confined to a schema writes there.
 */
export async function bulkInsert<DB, T extends keyof DB & string>(
  trx: Kysely<DB>,
  table: T,
  rows: BulkRow<DB[T]>[],
  options: BulkInsertOptions<DB[T]>,
): Promise<void> {
  if (rows.length === 0) return;
  const { columns, from } = await recordset(trx, table, rows, 'x');
  const target = options.conflict.map(ident).join(', ');
  let action: string;
  if (options.onConflict === 'nothing') {
    action = 'do nothing';
  } else if (options.onConflict === 'replace') {
    action = `do update set ${columns
      .filter((c) => !(options.conflict as string[]).includes(c))
      .map((c) => `${ident(c)} = excluded.${ident(c)}`)
      .join(', ')}`;
  } else {
    action = `do update set ${options.onConflict.add.map((c) => `${ident(c)} = ${ident(table)}.${ident(c)} + excluded.${ident(c)}`).join(', ')}`;
  }
  await trx
    .insertInto(table)
    .columns(columns as (keyof DB[T] & string)[])
    .expression(sql`select ${sql.raw(columns.map(ident).join(', '))} from ${from}`)
    .modifyEnd(sql.raw(`on conflict (${target}) ${action}`))
    .execute();
}

/**
 * Adds signed sums to running-total rows (one row per group, `key` unique): rows missing are
 * inserted, rows present get the sums added. A group whose `count` column falls to 0 is empty
 * and is deleted, in a second statement only when there is one (most batches leave none).
 */
export async function addToSums<DB, T extends keyof DB & string>(
  trx: Kysely<DB>,
  table: T,
  rows: BulkRow<DB[T]>[],
  options: { key: readonly (keyof DB[T] & string)[]; sums: readonly (keyof DB[T] & string)[]; count: keyof DB[T] & string },
): Promise<void> {
  if (rows.length === 0) return;
  const { columns, from } = await recordset(trx, table, rows, 'x');
  const db = trx as unknown as Kysely<any>;
  const keyColumns = [...options.key] as string[];
  const emptied = (await db
    .with('up', (q) =>
      q
        .insertInto(table)
        .columns(columns as string[])
        .expression(sql`select ${sql.raw(columns.map(ident).join(', '))} from ${from}`)
        .onConflict((oc) =>
          oc
            .columns(keyColumns)
            .doUpdateSet(
              Object.fromEntries(options.sums.map((c) => [c, sql.raw(`${ident(table)}.${ident(c)} + excluded.${ident(c)}`)])) as never,
            ),
        )
        .returning([...keyColumns, options.count]),
    )
    .selectFrom('up')
    .select(keyColumns)
    .where(sql.ref(options.count), '=', 0)
    .execute()) as BulkRow<DB[T]>[];
  if (emptied.length === 0) return;
  const empty = await recordset(trx, table, emptied, 'e');
  await (db.deleteFrom(`${table} as t`) as any)
    .using(empty.from)
    .where((eb: any) => eb.and(keyColumns.map((c) => eb(eb.ref(`t.${c}`), '=', eb.ref(`e.${c}`)))))
    .where(sql.ref(`t.${options.count}`), '=', 0)
    .execute();
}
