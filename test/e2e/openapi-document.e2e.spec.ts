import SwaggerParser from '@apidevtools/swagger-parser';
import { API, describeEachBackend, useTestApp } from '../support/test-app';

interface Operation {
  parameters?: { name: string; in: string }[];
  responses: Record<string, { content?: Record<string, { schema?: object; example?: unknown }> }>;
  security?: unknown[];
}

const METHODS = ['get', 'post', 'put', 'patch', 'delete'];

describeEachBackend('the OpenAPI document the API serves (%s)', (backend) => {
  const t = useTestApp(backend);
  let document: { openapi: string; paths: Record<string, Record<string, Operation>> };
  let operations: [string, Operation][];

  beforeAll(async () => {
    const res = await t.http().get(`${API}/docs-json`).expect(200);
    document = res.body as typeof document;
    operations = Object.entries(document.paths).flatMap(([path, item]) =>
      Object.entries(item)
        .filter(([method]) => METHODS.includes(method))
        .map(([method, op]) => [`${method.toUpperCase()} ${path}`, op] as [string, Operation]),
    );
  });

  it('is a valid OpenAPI 3.1 document (swagger-parser)', async () => {
    expect(document.openapi).toBe('3.1.0');
    await expect(SwaggerParser.validate(structuredClone(document) as never)).resolves.toBeDefined();
  });

  it('gives every operation a success response, and its body schema and a real example unless it answers 204', () => {
    expect(operations.length).toBeGreaterThanOrEqual(70);
    for (const [key, op] of operations) {
      const success = Object.keys(op.responses).filter((s) => s.startsWith('2'));
      expect({ key, success: success.length > 0 }).toEqual({ key, success: true });
      for (const status of success) {
        if (status === '204') continue;
        const content = op.responses[status].content ?? {};
        const json = content['application/json'];
        // Prometheus metrics are text; everything else is JSON.
        if (key.endsWith('/metrics')) expect(content['text/plain']?.schema).toEqual({ type: 'string' });
        else
          expect({ key, status, schema: Boolean(json?.schema), example: json?.example !== undefined }).toEqual({
            key,
            status,
            schema: true,
            example: true,
          });
      }
    }
  });

  it('documents the errors with their problem body, and the bearer token on every operation but health and metrics', () => {
    for (const [key, op] of operations) {
      const open = /\/(health|health\/ready|metrics)$/.test(key);
      expect({ key, security: op.security }).toEqual({ key, security: open ? undefined : [{ bearer: [] }] });
      if (open) continue;
      for (const status of ['400', '401', '403', '404', '429']) {
        expect({ key, status, body: op.responses[status]?.content?.['application/problem+json']?.schema }).toEqual({
          key,
          status,
          body: { $ref: '#/components/schemas/Problem' },
        });
      }
    }
  });

  it('lists the query parameters the list, detail and analytics read', () => {
    const query = (key: string) =>
      (operations.find(([k]) => k === key)?.[1].parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name);
    expect(query(`GET ${API}/opportunities`)).toEqual(
      expect.arrayContaining([
        'stage',
        'status',
        'search',
        'page',
        'per_page',
        'sort_by',
        'sort_direction',
        'assigned_user_id',
        'min_value',
        'tags',
      ]),
    );
    expect(query(`GET ${API}/opportunities/{id}`)).toEqual(expect.arrayContaining(['includes', 'as_of']));
    expect(query(`GET ${API}/opportunities/forecast`)).toEqual(expect.arrayContaining(['quarter', 'year', 'user_id']));
    expect(query(`GET ${API}/opportunities/pipeline-data`)).toEqual(expect.arrayContaining(['user_id', 'date_range', 'currency']));
    expect(query(`GET ${API}/opportunities/{id}/history`)).toEqual(expect.arrayContaining(['page', 'per_page']));
  });

  it('describes money as numbers in the deal it returns', () => {
    const detail = operations.find(([k]) => k === `GET ${API}/opportunities/{id}`)?.[1];
    const deal = (
      detail?.responses['200'].content?.['application/json'].schema as {
        properties: { data: { properties: Record<string, { type: unknown }> } };
      }
    ).properties.data.properties;
    expect(deal.value.type).toBe('number');
    expect(deal.weighted_value.type).toBe('number');
    expect(deal.actual_value.type).toEqual(['null', 'number']);
  });
});
