/**
 * npm run openapi:responses
 * Runs the end-to-end suites with OPENAPI_RECORD set (the shared test client writes every
 * exchange it sees), then turns the recordings into apps/api/src/openapi/responses.json: for
 * each operation, the query parameters the tests send and, per success status, a JSON Schema
 * that every recorded body matches (properties seen in every body are required, objects are
 * closed) and one real body as the example. `--from <dir>` reuses recordings already made.
 *
 * Maps keyed by data (currencies, custom-field keys, dates, ids) become `additionalProperties`.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const OUT = join(import.meta.dirname, '..', 'apps', 'api', 'src', 'openapi', 'responses.json');
const fromIndex = process.argv.indexOf('--from');
let dir = fromIndex > 0 ? process.argv[fromIndex + 1] : undefined;
if (!dir) {
  dir = mkdtempSync(join(tmpdir(), 'openapi-record-'));
  const run = spawnSync('npm', ['test', '--', '--selectProjects', 'e2e'], {
    stdio: 'inherit',
    env: { ...process.env, OPENAPI_RECORD: dir },
  });
  if (run.status !== 0) process.stderr.write('some e2e tests failed while recording; the recordings are used anyway\n');
}

/** Keys of these objects are data, not field names. */
const MAP_PARENTS = new Set(['custom_fields', 'by_currency', 'currencies', 'headers', 'counts', 'metadata']);
const DATA_KEY = /^([A-Z]{3}|\d.*|[0-9a-f]{8}-[0-9a-f]{4}-.*|[a-z]+_[0-9a-f]{10}|cf_.*)$/;

/**
 * Every shape a property name had anywhere: a field only ever null in one operation's recordings
 * (`actual_value` before a win) takes the scalar types the same field had elsewhere, and a field
 * that was fractional anywhere is a number everywhere (money sent as 200000 is still money).
 */
const SEEN_AS = new Map();
const SCALARS = ['boolean', 'integer', 'number', 'string'];

function widened(shape, key) {
  const elsewhere = key === undefined ? undefined : SEEN_AS.get(key);
  if (!elsewhere || elsewhere === 'empty' || typeof shape !== 'object') return shape;
  const out = { ...shape };
  const onlyNull = shape.null && !SCALARS.some((k) => shape[k]) && !shape.array && !shape.object && !shape.map;
  if (onlyNull && !elsewhere.array && !elsewhere.object && !elsewhere.map) for (const k of SCALARS) if (elsewhere[k]) out[k] = true;
  if (out.integer && elsewhere.number) out.number = true;
  return out;
}

function shapeOf(value, parentKey) {
  if (value === null) return { null: true };
  if (Array.isArray(value)) return { array: value.reduce((s, v) => merge(s, shapeOf(v)), null) ?? 'empty' };
  switch (typeof value) {
    case 'boolean':
      return { boolean: true };
    case 'number':
      return Number.isInteger(value) ? { integer: true } : { number: true };
    case 'string':
      return { string: true };
    case 'object': {
      const keys = Object.keys(value);
      if (MAP_PARENTS.has(parentKey) || (keys.length > 0 && keys.every((k) => DATA_KEY.test(k)))) {
        return { map: keys.reduce((s, k) => merge(s, shapeOf(value[k], k)), null) ?? 'empty' };
      }
      return {
        object: {
          seen: 1,
          props: Object.fromEntries(
            keys.map((k) => {
              const shape = shapeOf(value[k], k);
              SEEN_AS.set(k, merge(SEEN_AS.get(k) ?? null, shape));
              return [k, { seen: 1, shape }];
            }),
          ),
        },
      };
    }
    default:
      return {};
  }
}

function merge(a, b) {
  if (!a) return b;
  if (!b) return a;
  const out = { ...a };
  for (const k of ['null', 'boolean', 'integer', 'number', 'string']) if (b[k]) out[k] = true;
  if (b.array) out.array = a.array && a.array !== 'empty' ? (b.array === 'empty' ? a.array : merge(a.array, b.array)) : b.array;
  if (b.map) out.map = a.map && a.map !== 'empty' ? (b.map === 'empty' ? a.map : merge(a.map, b.map)) : b.map;
  if (b.object) {
    if (!a.object) out.object = b.object;
    else {
      const props = { ...a.object.props };
      for (const [k, p] of Object.entries(b.object.props)) {
        props[k] = props[k] ? { seen: props[k].seen + p.seen, shape: merge(props[k].shape, p.shape) } : p;
      }
      out.object = { seen: a.object.seen + b.object.seen, props };
    }
  }
  return out;
}

function schemaOf(given, key) {
  if (given === 'empty') return {};
  const shape = widened(given, key);
  const types = [];
  const schema = {};
  if (shape.null) types.push('null');
  if (shape.boolean) types.push('boolean');
  if (shape.number) types.push('number');
  else if (shape.integer) types.push('integer');
  if (shape.string) types.push('string');
  if (shape.array) {
    types.push('array');
    schema.items = schemaOf(shape.array);
  }
  if (shape.object || shape.map) types.push('object');
  if (shape.object) {
    const props = Object.entries(shape.object.props).sort(([a], [b]) => a.localeCompare(b));
    schema.properties = Object.fromEntries(props.map(([k, p]) => [k, schemaOf(p.shape, k)]));
    const required = props.filter(([, p]) => p.seen === shape.object.seen).map(([k]) => k);
    if (required.length) schema.required = required;
    schema.additionalProperties = shape.map ? schemaOf(shape.map) : false;
  } else if (shape.map) {
    schema.additionalProperties = schemaOf(shape.map);
  }
  if (types.length === 0) return {};
  return { type: types.length === 1 ? types[0] : types, ...schema };
}

const DESCRIPTION = {
  200: 'OK',
  201: 'Created',
  202: 'Accepted',
  204: 'No content',
  304: 'Not modified: the If-None-Match version is current',
};

const operations = {};
for (const file of readdirSync(dir).filter((f) => f.endsWith('.jsonl'))) {
  for (const line of readFileSync(join(dir, file), 'utf8').split('\n')) {
    if (!line) continue;
    const r = JSON.parse(line);
    if (r.status >= 400) continue;
    const op = (operations[r.op] ??= { query: new Set(), responses: {} });
    // The fuzz suite sends parameters no operation reads (the API ignores them): not documented.
    // Custom-field filters (cf_<key>, cf_<key>__gte …) are named by data: the operation describes them.
    if (r.status < 300 && !/fuzz/.test(r.test ?? '')) for (const q of r.query) if (!q.startsWith('cf_')) op.query.add(q);
    const type = r.type ? r.type.split(';')[0] : null;
    const res = (op.responses[r.status] ??= { contentType: type, shape: null, example: undefined });
    res.contentType ??= type;
    if (type === 'application/json') {
      res.shape = merge(res.shape, shapeOf(r.body));
      // The smallest body seen is the example (real, and short enough to read), but not an empty page.
      const emptyPage = Array.isArray(r.body?.data) && r.body.data.length === 0;
      const size = JSON.stringify(r.body).length + (emptyPage ? 1e9 : 0);
      if (res.example === undefined || size < res.exampleSize) {
        res.example = r.body;
        res.exampleSize = size;
      }
    }
  }
}

const out = {};
for (const key of Object.keys(operations).sort()) {
  const op = operations[key];
  out[key] = {
    query: [...op.query].sort(),
    responses: Object.fromEntries(
      Object.entries(op.responses).map(([status, r]) => [
        status,
        {
          description: DESCRIPTION[status] ?? 'OK',
          contentType: r.contentType,
          ...(r.shape ? { schema: schemaOf(r.shape) } : {}),
          ...(r.example !== undefined ? { example: r.example } : {}),
        },
      ]),
    ),
  };
}
writeFileSync(OUT, `${JSON.stringify(out, null, 2)}\n`);
process.stdout.write(`${Object.keys(out).length} operations written to ${OUT}\n`);
