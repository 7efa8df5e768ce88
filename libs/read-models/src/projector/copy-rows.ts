import { type Kysely, sql } from 'kysely';
import type { Database } from '@app/platform';

/** Rows by table name, as plain values by column name (the shape bulkInsert takes). */
export type TableRows = Map<string, Record<string, unknown>[]>;

/** Appends `more` to `into`, table by table. */
export function mergeRows(into: TableRows, more: TableRows): TableRows {
  for (const [table, rows] of more) {
    const list = into.get(table);
    if (list) for (const row of rows) list.push(row);
    else into.set(table, [...rows]);
  }
  return into;
}

/** Lines per COPY input chunk: big enough to amortise the stream, small enough to stay flat. */
const LINES_PER_CHUNK = 2_000;

const ESCAPES: Record<string, string> = { '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t' };
const escapeText = (s: string) => s.replace(/[\\\n\r\t]/g, (c) => ESCAPES[c]);

/** An element of an array literal: double-quoted, with backslash and quote escaped. */
const arrayElement = (v: unknown) => (v === null || v === undefined ? 'NULL' : `"${String(v).replace(/[\\"]/g, (c) => `\\${c}`)}"`);

/** One value in COPY's text format for a column of SQL type `type` (format_type's spelling). */
function encode(value: unknown, type: string): string {
  if (value === null || value === undefined) return '\\N';
  let text: string;
  if (type === 'jsonb' || type === 'json') text = JSON.stringify(value);
  else if (type.endsWith('[]')) text = `{${(value as unknown[]).map(arrayElement).join(',')}}`;
  else if (value instanceof Date) text = value.toISOString();
  else if (typeof value === 'boolean') text = value ? 't' : 'f';
  else text = String(value);
  return escapeText(text);
}

/** Column name → SQL type of `schema.table`. */
async function columnTypes(db: Kysely<unknown>, schema: string, table: string): Promise<Map<string, string>> {
  const { rows } = await sql<{ name: string; type: string }>`
    select attname as name, format_type(atttypid, atttypmod) as type from pg_attribute
    where attrelid = format('%I.%I', ${schema}::text, ${table}::text)::regclass and attnum > 0 and not attisdropped`.execute(db);
  return new Map(rows.map((r) => [r.name, r.type]));
}

const ident = (name: string) => `"${name.replace(/"/g, '""')}"`;

/**
 * Writes rows into `schema.table` with one COPY (text format): the columns are the first row's
 * keys, each value encoded for its column's type. Much cheaper per row than any INSERT: no parse,
 * plan or executor per statement, and no JSON to unpack on the server.
 */
export async function copyRows(database: Database, schema: string, table: string, rows: Record<string, unknown>[]): Promise<void> {
  if (rows.length === 0) return;
  const types = await columnTypes(database.tables<unknown>(), schema, table);
  const columns = Object.keys(rows[0]);
  const unknown = columns.filter((c) => !types.has(c));
  if (unknown.length) throw new Error(`copyRows: ${schema}.${table} has no column ${unknown.join(', ')}`);
  const columnType = columns.map((c) => types.get(c)!);
  // Encoded chunk by chunk as the server asks for more, so it parses while the rest is encoded.
  function* chunks(): Generator<string> {
    for (let start = 0; start < rows.length; start += LINES_PER_CHUNK) {
      let chunk = '';
      const end = Math.min(rows.length, start + LINES_PER_CHUNK);
      for (let r = start; r < end; r++) {
        const row = rows[r];
        chunk += `${columns.map((c, i) => encode(row[c], columnType[i])).join('\t')}\n`;
      }
      yield chunk;
    }
  }
  const list = columns.map(ident).join(', ');
  await database.copyFrom(`copy ${ident(schema)}.${ident(table)} (${list}) from stdin`, chunks());
}
