import { type Kysely, type RawBuilder, sql } from 'kysely';

export interface BulkInsertOptions {
  /** The unique key the rows may collide on. */
  conflict: string[];
  /**
   * On a collision: 'nothing' keeps the stored row, 'replace' overwrites every column given,
   * `{ add: [...] }` adds the given columns to the stored ones (running totals).
   */
  onConflict: 'nothing' | 'replace' | { add: string[] };
}

/** Column name → SQL type, per table (the replay copies share their live table's types). */
const columnTypes = new Map<string, Map<string, string>>();

async function typesOf(trx: Kysely<any>, table: string): Promise<Map<string, string>> {
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
 * columns take objects, not JSON strings) and share the keys of the first row.
 */
export async function recordset(
  trx: Kysely<any>,
  table: string,
  rows: Record<string, unknown>[],
  alias: string,
): Promise<{ columns: string[]; from: RawBuilder<unknown> }> {
  const types = await typesOf(trx, table);
  const columns = Object.keys(rows[0]);
  const unknown = columns.filter((c) => !types.has(c));
  if (unknown.length) throw new Error(`recordset: ${table} has no column ${unknown.join(', ')}`);
  const record = columns.map((c) => `${ident(c)} ${types.get(c)}`).join(', ');
  return { columns, from: sql`jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as ${sql.raw(ident(alias))}(${sql.raw(record)})` };
}

/**
 * Writes many rows with one statement and one parameter (see recordset). A multi-row VALUES list
 * costs a parameter per cell (PostgreSQL allows 65,535 per statement) and a parse and plan that
 * grow with it; this costs one parse whatever the batch size. With 'replace' or 'add', no two rows
 * may share a key.
 */
export async function bulkInsert(
  trx: Kysely<any>,
  table: string,
  rows: Record<string, unknown>[],
  options: BulkInsertOptions,
): Promise<void> {
  if (rows.length === 0) return;
  const { columns, from } = await recordset(trx, table, rows, 'x');
  const list = columns.map(ident).join(', ');
  const target = options.conflict.map(ident).join(', ');
  let action: string;
  if (options.onConflict === 'nothing') {
    action = 'do nothing';
  } else if (options.onConflict === 'replace') {
    action = `do update set ${columns
      .filter((c) => !options.conflict.includes(c))
      .map((c) => `${ident(c)} = excluded.${ident(c)}`)
      .join(', ')}`;
  } else {
    action = `do update set ${options.onConflict.add.map((c) => `${ident(c)} = ${ident(table)}.${ident(c)} + excluded.${ident(c)}`).join(', ')}`;
  }
  await sql`
    insert into ${sql.raw(ident(table))} (${sql.raw(list)})
    select ${sql.raw(list)} from ${from}
    on conflict (${sql.raw(target)}) ${sql.raw(action)}`.execute(trx);
}
