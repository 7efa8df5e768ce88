import type { OpenAPIObject } from '@nestjs/swagger';
import recorded from './responses.json';

/**
 * What the routes alone do not tell the document: for every operation the responses it gives
 * (success with its envelope, and the problem bodies of its errors), the query parameters it
 * reads, and that it needs a bearer token. The response schemas and examples in responses.json
 * are generated from the responses the end-to-end suites receive (`npm run openapi:responses`),
 * and the shared test client checks every response against them, so the document cannot drift
 * from what the server sends.
 */

interface RecordedResponse {
  description: string;
  contentType: string | null;
  schema?: object;
  example?: unknown;
}

interface RecordedOperation {
  query: string[];
  responses: Record<string, RecordedResponse>;
}

const RECORDED = recorded as unknown as Record<string, RecordedOperation>;

/** Paths that answer without a token. */
const PUBLIC = new Set(['/api/v1/crm/health', '/api/v1/crm/health/ready', '/api/v1/crm/metrics']);

/** The error body every 4xx and 5xx carries. */
export const PROBLEM_SCHEMA = {
  type: 'object',
  description: 'The error: `message` says what is wrong, `code` is stable for programs, `errors` lists the messages of each invalid field.',
  required: ['message', 'code'],
  properties: {
    type: { type: 'string', description: 'Problem type (RFC 9457)' },
    title: { type: 'string', description: 'The HTTP reason phrase' },
    status: { type: 'integer' },
    detail: { type: 'string', description: 'The same text as message' },
    message: { type: 'string' },
    code: { type: 'string' },
    errors: {
      type: 'object',
      description: 'Validation failures: each field name with its messages',
      additionalProperties: { type: 'array', items: { type: 'string' } },
    },
  },
  additionalProperties: true,
} as const;

const ERRORS: Record<string, string> = {
  '400': 'The request is invalid: the message names the field and the rule',
  '401': 'No token, or the token is unknown or revoked',
  '403': "The token's role may not do this",
  '404': 'No such resource in the token’s org',
  '409': 'A concurrent write won (retry), or the resource already exists',
  '412': 'If-Match does not name the current version (the body says which is current)',
  '413': 'The body is larger than BODY_LIMIT',
  '415': 'The body is not application/json',
  '422': 'A domain rule refuses the change (e.g. an invalid stage transition)',
  '429': 'Too many requests for this token: wait Retry-After seconds',
  '503': 'The event store or the database is unavailable, or a read did not catch up in time',
};
const READ_ERRORS = ['400', '401', '403', '404', '429', '503'];
const WRITE_ERRORS = [...READ_ERRORS, '409', '412', '413', '415', '422'];

/** What the query parameters the tests send mean (the same name means the same thing everywhere). */
const QUERY: Record<string, string> = {
  page: 'Page number, from 1',
  per_page: 'Items per page (at most 100)',
  consistency: 'A consistency token (X-Global-Position of a write): wait until the read models include it',
  currency: 'Report in this currency (ISO 4217)',
  as_of: 'Answer as of this instant (ISO 8601): time travel over the event log',
  includes: 'Comma list of related records to embed: customer, lead, activities, stakeholders',
  search: 'Words to find in names and descriptions',
  sort_by: 'Field to sort by',
  sort_direction: 'asc or desc',
  stage: 'Stage key (comma list for several)',
  'stage!': 'Exclude this stage: `?stage!=won`',
  exclude_stage: 'Exclude these stages (comma list)',
  status: 'open, won or lost',
  user_id: 'Only deals owned by this user',
  assigned_user_id: 'Only deals owned by this user',
  pipeline_id: 'Only this pipeline',
  customer_id: 'Only this customer',
  min_value: 'Value at least this',
  max_value: 'Value at most this',
  tags: 'Deals with these tags (comma list)',
  quarter: 'Q1 to Q4',
  year: 'Calendar year, e.g. 2026',
};

/** The per-token budget every authenticated response reports (when RATE_LIMIT_PER_MINUTE is not 0). */
const RATE_LIMIT_HEADERS: Record<string, { description: string; schema: object }> = {
  'RateLimit-Limit': { description: 'Requests this token may make per window', schema: { type: 'integer', minimum: 1 } },
  'RateLimit-Remaining': { description: 'Requests left in this window', schema: { type: 'integer', minimum: 0 } },
  'RateLimit-Reset': {
    description: 'Seconds until the window ends and the budget is whole again',
    schema: { type: 'integer', minimum: 1 },
  },
  'RateLimit-Policy': { description: '`<limit>;w=<window seconds>`, e.g. `6000;w=60`', schema: { type: 'string' } },
};
const RETRY_AFTER = { description: 'Seconds to wait before trying again', schema: { type: 'integer', minimum: 1 } };

export function describeOperations(document: OpenAPIObject): void {
  document.components = {
    ...document.components,
    schemas: { ...document.components?.schemas, Problem: PROBLEM_SCHEMA as object },
    headers: { ...document.components?.headers, ...RATE_LIMIT_HEADERS, 'Retry-After': RETRY_AFTER },
  };
  const rateHeaders = Object.fromEntries(Object.keys(RATE_LIMIT_HEADERS).map((name) => [name, { $ref: `#/components/headers/${name}` }]));
  const retryAfter = { 'Retry-After': { $ref: '#/components/headers/Retry-After' } };
  const problem = { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } };
  for (const [path, item] of Object.entries(document.paths)) {
    for (const [method, operation] of Object.entries(item as Record<string, Record<string, unknown>>)) {
      if (!['get', 'post', 'put', 'patch', 'delete'].includes(method)) continue;
      const key = `${method.toUpperCase()} ${path}`;
      const seen = RECORDED[key];
      const responses: Record<string, unknown> = {};
      const isPublic = PUBLIC.has(path);
      const headers = isPublic ? {} : { headers: rateHeaders };
      for (const [status, r] of Object.entries(seen?.responses ?? {})) {
        if (Number(status) >= 400) continue;
        responses[status] = r.contentType
          ? {
              description: r.description,
              ...headers,
              content: {
                [r.contentType]: {
                  schema: r.schema ?? (r.contentType === 'application/json' ? {} : { type: 'string' }),
                  ...(r.example !== undefined ? { example: r.example } : {}),
                },
              },
            }
          : { description: r.description, ...headers };
      }
      // Open routes still refuse a malformed query (400); readiness answers 503 while not ready.
      const errors = isPublic ? (path.endsWith('/ready') ? ['400', '503'] : ['400']) : method === 'get' ? READ_ERRORS : WRITE_ERRORS;
      for (const status of errors) {
        const errorHeaders =
          status === '429' || status === '503'
            ? { ...(isPublic ? {} : rateHeaders), ...retryAfter }
            : status === '401'
              ? undefined
              : headers.headers;
        responses[status] = { description: ERRORS[status], ...(errorHeaders ? { headers: errorHeaders } : {}), content: problem };
      }
      operation.responses = responses;
      if (!isPublic) operation.security = [{ bearer: [] }];
      const parameters = (operation.parameters as { name: string; in: string }[] | undefined) ?? [];
      for (const name of seen?.query ?? []) {
        if (!parameters.some((p) => p.in === 'query' && p.name === name)) {
          parameters.push({
            name,
            in: 'query',
            required: false,
            schema: { type: 'string' },
            ...(QUERY[name] ? { description: QUERY[name] } : {}),
          } as never);
        }
      }
      operation.parameters = parameters;
      if (key === 'GET /api/v1/crm/opportunities') {
        operation.description =
          'Deals matching every filter given, one page at a time, with `meta` (total, page, per_page) and the `summary` of all matches. ' +
          'Custom fields filter as `cf_<key>=<value>`, and number or date fields as `cf_<key>__gte` / `cf_<key>__lte`.';
      }
    }
  }
}
