import fc from 'fast-check';

/** Malformed inputs for the HTTP fuzz suite: fast-check arbitraries plus hand-picked cases. */

export type Json = unknown;

export type FuzzBody =
  { kind: 'json'; value: Json } | { kind: 'raw'; contentType: string | null; text: string | Buffer; contentEncoding?: string };

export interface FuzzCase {
  /** What the case is, for failure reports. */
  label: string;
  /** Replaces the endpoint's path parameter with this (already encoded) text. */
  pathParam?: { name: string; raw: string };
  /** Raw query string without '?'. */
  query?: string;
  headers?: Record<string, string>;
  body?: FuzzBody;
}

const HUGE = 'x'.repeat(70_000);

/** Values that are wrong in type, range or shape for nearly any field. */
export const SPECIAL_VALUES: Json[] = [
  null,
  '',
  ' ',
  -1,
  0,
  -0.01,
  1.5,
  1e308,
  -1e308,
  9007199254740993,
  true,
  false,
  '2026-02-30',
  '0000-00-00',
  '2026-01-01T25:61:00Z',
  'NaN',
  'Infinity',
  '-1',
  '1e3',
  '00042',
  'x'.repeat(300),
  '\u0000',
  'a\u0000b',
  '\ud800',
  'é',
  '😀'.repeat(10),
  '<script>alert(1)</script>',
  "' OR 1=1 --",
  '../../etc/passwd',
  '__proto__',
  'constructor',
  [],
  {},
  [null],
  ['a', 1, null],
  { a: { b: { c: [1, { d: null }] } } },
  JSON.parse('{"__proto__":{"polluted":true}}'),
];

export const junkValue: fc.Arbitrary<Json> = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...SPECIAL_VALUES) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 24 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 24 }) },
  {
    weight: 2,
    arbitrary: fc.oneof(
      fc.integer(),
      fc.double(),
      fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }).map((n) => Number(n)),
    ),
  },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 1, arbitrary: fc.constant(HUGE) },
);

function setPath(target: Record<string, unknown>, path: string, value: unknown): Record<string, unknown> {
  const copy: any = structuredClone(target);
  const parts = path.split('.');
  let node = copy;
  for (const part of parts.slice(0, -1)) {
    if (node[part] === null || typeof node[part] !== 'object') node[part] = /^\d+$/.test(part) ? [] : {};
    node = node[part];
  }
  node[parts.at(-1)!] = value;
  return copy;
}

function omitPath(target: Record<string, unknown>, path: string): Record<string, unknown> {
  const copy: any = structuredClone(target);
  const parts = path.split('.');
  let node = copy;
  for (const part of parts.slice(0, -1)) {
    if (node?.[part] === undefined) return copy;
    node = node[part];
  }
  if (node && typeof node === 'object') delete node[parts.at(-1)!];
  return copy;
}

/** Bodies derived from a valid one (one or two fields broken, one removed, one unknown) and plain junk. */
export function bodyArbitrary(valid: Record<string, unknown>, fields: string[]): fc.Arbitrary<FuzzBody> {
  const keys = fields.length ? fields : Object.keys(valid).length ? Object.keys(valid) : ['x'];
  const present = Object.keys(valid).length ? Object.keys(valid) : keys;
  const mutated = fc.oneof(
    { weight: 5, arbitrary: fc.tuple(fc.constantFrom(...keys), junkValue).map(([k, v]) => setPath(valid, k, v)) },
    {
      weight: 2,
      arbitrary: fc
        .tuple(fc.constantFrom(...keys), junkValue, fc.constantFrom(...keys), junkValue)
        .map(([a, va, b, vb]) => setPath(setPath(valid, a, va), b, vb)),
    },
    { weight: 1, arbitrary: fc.constantFrom(...present).map((k) => omitPath(valid, k)) },
    {
      weight: 1,
      arbitrary: fc
        .tuple(
          fc.string({ minLength: 1, maxLength: 12 }).filter((k) => !keys.includes(k)),
          junkValue,
        )
        .map(([k, v]) => ({ ...structuredClone(valid), [k]: v })),
    },
  );
  const whole = fc.oneof(
    fc.jsonValue({ maxDepth: 4 }),
    fc.constant([valid]),
    fc.constant(null),
    fc.dictionary(fc.constantFrom(...keys), junkValue, { maxKeys: 6 }),
  );
  return fc.oneof({ weight: 4, arbitrary: mutated }, { weight: 1, arbitrary: whole }).map((value) => ({ kind: 'json', value }) as FuzzBody);
}

const INVALID_JSON = [
  '{',
  '{"a":1,}',
  "{'a':1}",
  '{"a":}',
  'nul',
  '[1,2',
  '{"a":1}{"b":2}',
  '\u0000',
  '\ufeff{}',
  '{"a":"\\x41"}',
  '{"a":"\\ud800"}',
  '{"a":1e999}',
  '',
];

export function rawBodyArbitrary(valid: Record<string, unknown>): fc.Arbitrary<FuzzBody> {
  const validText = JSON.stringify(valid);
  return fc.oneof(
    fc.constantFrom(...INVALID_JSON).map((text) => ({ kind: 'raw', contentType: 'application/json', text }) as FuzzBody),
    fc.string({ unit: 'binary', maxLength: 40 }).map((text) => ({ kind: 'raw', contentType: 'application/json', text }) as FuzzBody),
    fc
      .constantFrom(
        'text/plain',
        'application/x-www-form-urlencoded',
        'multipart/form-data; boundary=x',
        'application/xml',
        'application/json; charset=latin1',
        'application/json; charset=utf-16',
        'application/vnd.api+json',
        null,
      )
      .map((contentType) => ({ kind: 'raw', contentType, text: validText }) as FuzzBody),
  );
}

/** Hand-picked bodies every body-taking endpoint gets. */
export function handBodies(valid: Record<string, unknown>): [string, FuzzBody][] {
  const deep = '['.repeat(5000) + ']'.repeat(5000);
  const deepObject = '{"a":'.repeat(2000) + '1' + '}'.repeat(2000);
  return [
    ['json null', { kind: 'json', value: null }],
    ['json []', { kind: 'json', value: [] }],
    ['json string', { kind: 'json', value: 'just a string' }],
    ['json number', { kind: 'json', value: 42 }],
    ['json true', { kind: 'json', value: true }],
    ['json {}', { kind: 'json', value: {} }],
    ['array of the valid body', { kind: 'json', value: [valid] }],
    ['__proto__ key', { kind: 'raw', contentType: 'application/json', text: withKey(valid, '__proto__', '{"polluted":true}') }],
    [
      'constructor.prototype key',
      { kind: 'raw', contentType: 'application/json', text: withKey(valid, 'constructor', '{"prototype":{"polluted":true}}') },
    ],
    ['5000-deep array', { kind: 'raw', contentType: 'application/json', text: deep }],
    ['2000-deep object', { kind: 'raw', contentType: 'application/json', text: deepObject }],
    ['300 KB body', { kind: 'json', value: { ...valid, padding: 'p'.repeat(300_000) } }],
    ['invalid JSON', { kind: 'raw', contentType: 'application/json', text: '{"name": "x",' }],
    ['empty body with JSON content type', { kind: 'raw', contentType: 'application/json', text: '' }],
    ['valid JSON as text/plain', { kind: 'raw', contentType: 'text/plain', text: JSON.stringify(valid) }],
    ['form-urlencoded', { kind: 'raw', contentType: 'application/x-www-form-urlencoded', text: 'name=x&value=1' }],
    ['utf-16 charset', { kind: 'raw', contentType: 'application/json; charset=utf-16', text: JSON.stringify(valid) }],
    ['gzip claimed, not gzip', { kind: 'raw', contentType: 'application/json', text: Buffer.from('not gzip'), contentEncoding: 'gzip' }],
    ['unknown content encoding', { kind: 'raw', contentType: 'application/json', text: JSON.stringify(valid), contentEncoding: 'br2' }],
    ['unknown field named toString', { kind: 'raw', contentType: 'application/json', text: withKey(valid, 'toString', '"x"') }],
    ['unknown field named constructor', { kind: 'raw', contentType: 'application/json', text: withKey(valid, 'constructor', '"x"') }],
    ['NUL in every string', { kind: 'json', value: mapStrings(valid, (s) => `${s}\u0000`) }],
    ['lone surrogate in every string', { kind: 'json', value: mapStrings(valid, (s) => `${s}\ud800`) }],
  ];
}

/** The valid body as JSON text with one more key in front (a key JSON.stringify could not write as own). */
function withKey(valid: Record<string, unknown>, key: string, valueJson: string): string {
  const rest = JSON.stringify(valid).slice(1);
  return `{${JSON.stringify(key)}:${valueJson}${rest === '}' ? '' : ','}${rest}`;
}

function mapStrings(value: unknown, f: (s: string) => string): unknown {
  if (typeof value === 'string') return f(value);
  if (Array.isArray(value)) return value.map((v) => mapStrings(v, f));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, mapStrings(v, f)]));
  return value;
}

const QUERY_VALUES = [
  '',
  ' ',
  '0',
  '-1',
  '1.5',
  '1e3',
  '1e309',
  'NaN',
  'Infinity',
  '-Infinity',
  '99999999999999999999',
  '9223372036854775808',
  '18446744073709551616',
  'true',
  'null',
  'undefined',
  '[]',
  '{}',
  'ä',
  '😀',
  '%00',
  '\u0000',
  'x'.repeat(5000),
  '2026-02-30',
  '2026-13-45T99:99:99Z',
  '0000-01-01',
  '9999-12-31T23:59:59.999+14:00',
  "' OR 1=1 --",
  '__proto__',
  'a,b,,c',
  ',,,',
  'Q5',
  'q0',
];

/** A raw query string: known and unknown keys, junk values, repeated keys, brackets, broken escapes. */
export function queryArbitrary(known: string[]): fc.Arbitrary<string> {
  const key = fc.oneof(
    { weight: 5, arbitrary: fc.constantFrom(...known, 'page', 'per_page', 'consistency') },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        '__proto__',
        'constructor',
        'toString',
        'hasOwnProperty',
        'cf_',
        'cf_x',
        'cf_' + 'k'.repeat(70),
        'unknown',
      ),
    },
    { weight: 1, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 8 }) },
  );
  const value = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...QUERY_VALUES) },
    { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 16 }) },
    { weight: 1, arbitrary: fc.integer().map(String) },
  );
  const pair = fc
    .tuple(key, value, fc.constantFrom('plain', 'plain', 'plain', 'repeat', 'brackets', 'nested', 'raw', 'badescape'))
    .map(([k, v, style]) => {
      const ek = encodeURIComponent(k);
      const ev = encodeURIComponent(v);
      switch (style) {
        case 'repeat':
          return `${ek}=${ev}&${ek}=${ev}x`;
        case 'brackets':
          return `${ek}[]=${ev}&${ek}[]=1`;
        case 'nested':
          return `${ek}[a][b]=${ev}`;
        case 'raw':
          return `${ek}=${v.replace(/[^A-Za-z0-9._~,:-]/g, '')}`;
        case 'badescape':
          return `${ek}=%${ev}%zz%E0%A4%A`;
        default:
          return `${ek}=${ev}`;
      }
    });
  return fc.array(pair, { minLength: 1, maxLength: 5 }).map((pairs) => pairs.join('&'));
}

export function handQueries(known: string[]): string[] {
  const first = known[0] ?? 'x';
  return [
    'page=0',
    'page=-1',
    'page=1e3',
    'page=NaN',
    'page=99999999999999999999',
    'per_page=0',
    'per_page=101',
    'per_page=1.5',
    'page=1&page=2',
    'page[]=1',
    'page[x]=1',
    '__proto__=1',
    '__proto__[polluted]=1',
    'constructor[prototype][polluted]=1',
    'toString=1',
    'hasOwnProperty=1',
    '%zz=1',
    `${first}=%zz`,
    `${first}=%E0%A4%A`,
    `${first}=${'x'.repeat(8000)}`,
    `${first}=%00`,
    `${first}=${encodeURIComponent('😀')}`,
    `${first}[]=a&${first}[]=b`,
    `${first}=a&${first}=b`,
    'consistency=abc',
    'consistency=-1',
    'consistency=99999999999999999999',
    'consistency=9223372036854775808',
    'consistency=0',
    ...known.slice(0, 14).flatMap((k) => [`${k}=`, `${k}=-1`, `${k}=%00`, `${k}=${encodeURIComponent("' OR 1=1 --")}&${k}x=1`]),
  ];
}

export const HAND_IDS: string[] = [
  '%00',
  '%zz',
  '%E0%A4%A',
  'a'.repeat(300),
  encodeURIComponent('😀'),
  encodeURIComponent("' OR '1'='1"),
  '__proto__',
  'constructor',
  '00000000-0000-0000-0000-000000000000',
  'FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF',
  '{3f6c2b1e-9a4d-4c1b-8e2f-0a1b2c3d4e5f}',
  '3f6c2b1e9a4d4c1b8e2f0a1b2c3d4e5f',
  '3f6c2b1e-9a4d-4c1b-8e2f-0a1b2c3d4e5fx',
  '-1',
  '99999999999999999999',
  'NaN',
  'null',
  '%2e%2e',
  '%',
  encodeURIComponent('a/b'),
  encodeURIComponent('a b'),
  'default',
  'DEFAULT',
  'msg_' + '0'.repeat(32),
];

export const idArbitrary: fc.Arbitrary<string> = fc.oneof(
  { weight: 2, arbitrary: fc.constantFrom(...HAND_IDS) },
  {
    weight: 2,
    arbitrary: fc
      .string({ unit: 'binary', minLength: 1, maxLength: 40 })
      .map((s) => encodeURIComponent(s.replace(/[\ud800-\udfff]/g, 'x'))),
  },
  { weight: 1, arbitrary: fc.uuid() },
  { weight: 1, arbitrary: fc.uuid().map((u) => u.toUpperCase()) },
  { weight: 1, arbitrary: fc.integer().map(String) },
  { weight: 1, arbitrary: fc.stringMatching(/^[a-z][a-z0-9_]{0,70}$/) },
);

/** Header values Node's HTTP client can send (latin-1, no control characters but tab). */
const headerValue = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      '',
      ' ',
      'abc',
      '-1',
      '0',
      '1.5',
      '*',
      '"-1"',
      'W/"x"',
      '"1", "2"',
      '"999999999999999999"',
      '99999999999999999999',
      '9'.repeat(25),
      '18446744073709551616',
      'clé',
      'x'.repeat(300),
      'a b',
      '"1"',
      'W/"1"',
    ),
  },
  { weight: 2, arbitrary: fc.string({ maxLength: 30 }).map((s) => s.replace(/[^\t\x20-\x7e]/g, '')) },
  { weight: 1, arbitrary: fc.integer().map(String) },
);

export const headerArbitrary: fc.Arbitrary<Record<string, string>> = fc
  .record({ 'If-Match': headerValue, 'Idempotency-Key': headerValue, 'X-Consistency-Token': headerValue }, { requiredKeys: [] })
  .filter((h) => Object.keys(h).length > 0);

export const HAND_HEADERS: Record<string, string>[] = [
  { 'If-Match': 'abc', 'X-Consistency-Token': 'abc' },
  { 'If-Match': '"-1"', 'X-Consistency-Token': '-1' },
  { 'If-Match': '*', 'X-Consistency-Token': '99999999999999999999' },
  { 'If-Match': '"1", "2"', 'X-Consistency-Token': '9223372036854775808' },
  { 'If-Match': '"9999999999999999"', 'X-Consistency-Token': '1'.repeat(25) },
  { 'If-Match': '', 'Idempotency-Key': '', 'X-Consistency-Token': '' },
  { 'Idempotency-Key': ' ', 'X-Consistency-Token': '0' },
  { 'Idempotency-Key': 'k'.repeat(256) },
  { 'Idempotency-Key': 'clé' },
  { Authorization: 'Bearer ' + 'x'.repeat(5000) },
];

export function sample<T>(arb: fc.Arbitrary<T>, seed: number, numRuns: number): T[] {
  return numRuns > 0 ? fc.sample(arb, { seed, numRuns }) : [];
}
