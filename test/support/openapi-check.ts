import { appendFileSync, mkdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import Ajv2020, { type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import type { OpenAPIObject } from '@nestjs/swagger';
import type { Response } from 'supertest';

/**
 * Every response the shared test client receives is checked against the OpenAPI document the app
 * serves: the operation (method and path template), the status, and the body against the schema
 * documented for that status. An undocumented operation, status or field fails the test.
 *
 * OPENAPI_RECORD=<dir> records the exchanges instead (one JSON line per response, per worker)
 * for `scripts/openapi-responses.mjs`, which turns them into the document's response schemas.
 */
export interface OpenApiChecker {
  check(method: string, url: string, response: Response, requestBody: unknown): void;
}

const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;

interface Operation {
  method: string;
  template: string;
  pattern: RegExp;
  literals: number;
  responses: Record<string, { content?: Record<string, { schema?: object }> }>;
  requestBody?: { required?: boolean; content?: Record<string, { schema?: object }> };
}

export function openApiChecker(document: OpenAPIObject): OpenApiChecker {
  const operations: Operation[] = [];
  for (const [template, item] of Object.entries(document.paths)) {
    for (const method of METHODS) {
      const op = (item as Record<string, { responses?: Operation['responses']; requestBody?: Operation['requestBody'] }>)[method];
      if (!op) continue;
      const segments = template.split('/');
      operations.push({
        method: method.toUpperCase(),
        template,
        pattern: new RegExp(`^${segments.map((s) => (s.startsWith('{') ? '[^/]+' : escape(s))).join('/')}$`),
        literals: segments.filter((s) => !s.startsWith('{')).length,
        responses: op.responses ?? {},
        requestBody: op.requestBody,
      });
    }
  }
  // Literal segments win over parameters (/opportunities/stats before /opportunities/{id}), as the router does.
  operations.sort((a, b) => b.literals - a.literals);
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  ajv.addSchema({ $id: 'openapi', components: document.components ?? {} });
  const compiled = new Map<object, ValidateFunction>();
  const recordDir = process.env.OPENAPI_RECORD;
  const validator = (schema: object): ValidateFunction => {
    let validate = compiled.get(schema);
    if (!validate) {
      validate = ajv.compile(rebase(schema) as object);
      compiled.set(schema, validate);
    }
    return validate;
  };
  const problems = (validate: ValidateFunction) =>
    (validate.errors ?? [])
      .slice(0, 5)
      .map((e) => `${e.instancePath || '/'} ${e.message}${e.params ? ` ${JSON.stringify(e.params)}` : ''}`);

  function checkRequest(where: string, documented: NonNullable<Operation['requestBody']>, sent: unknown): void {
    // An empty body is no body (the server reads it as none), whatever the content type says.
    const body = typeof sent === 'string' ? (sent.trim() === '' ? undefined : parseJson(sent)) : sent;
    if (body === undefined) {
      if (documented.required) throw new Error(`${where}: accepted without a body, but the document says the body is required`);
      return;
    }
    const schema = documented.content?.['application/json']?.schema;
    if (!schema) return;
    const validate = validator(schema);
    if (!validate(body)) {
      throw new Error(
        `${where}: the server accepted a request body the document does not allow:\n  ${problems(validate).join('\n  ')}\nrequest: ${JSON.stringify(body).slice(0, 500)}`,
      );
    }
  }

  return {
    check(method, url, response, requestBody) {
      const path = url.split('?')[0];
      const query = new URLSearchParams(url.includes('?') ? url.slice(url.indexOf('?') + 1) : '');
      const candidates = operations.filter((o) => o.pattern.test(path));
      const op = candidates.find((o) => o.method === method.toUpperCase());
      if (recordDir) {
        if (!op) return;
        mkdirSync(recordDir, { recursive: true });
        const line = {
          op: `${op.method} ${op.template}`,
          test: relative(process.cwd(), expect.getState().testPath ?? ''),
          status: response.status,
          type: response.headers['content-type'] ?? null,
          query: [...query.keys()],
          request: requestBody ?? null,
          body: response.body as unknown,
        };
        appendFileSync(join(recordDir, `${process.pid}.jsonl`), `${JSON.stringify(line)}\n`);
        return;
      }
      // Paths the API does not serve (404s of unknown routes) and methods it answers 404/405 for have no operation.
      if (!op) return;
      const documented = op.responses[String(response.status)];
      const where = `${method.toUpperCase()} ${op.template} → ${response.status}`;
      if (!documented) {
        throw new Error(
          `${where} is not documented (documented: ${Object.keys(op.responses).join(', ')}); body: ${JSON.stringify(response.body).slice(0, 300)}`,
        );
      }
      // A request the server accepted must be one the document allows: its body matches the request schema.
      if (response.status < 300 && op.requestBody) checkRequest(where, op.requestBody, requestBody);
      const content = documented.content;
      if (!content) {
        if (response.text) throw new Error(`${where} is documented without a body, but one came back: ${response.text.slice(0, 200)}`);
        return;
      }
      const type = String(response.headers['content-type'] ?? '').split(';')[0];
      const media = content[type];
      if (!media) throw new Error(`${where}: content type ${type || '(none)'} is not documented (${Object.keys(content).join(', ')})`);
      if (!media.schema) return;
      const validate = validator(media.schema);
      // A text response (metrics) is checked as the text it is; JSON as the parsed body.
      const body = /json$/.test(type) ? (response.body as unknown) : response.text;
      if (!validate(body)) {
        throw new Error(
          `${where}: the body does not match the documented schema:\n  ${problems(validate).join('\n  ')}\nbody: ${JSON.stringify(response.body).slice(0, 500)}`,
        );
      }
    },
  };
}

/** `#/components/…` references point into the document, registered with ajv as `openapi`. */
function rebase(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(rebase);
  if (schema === null || typeof schema !== 'object') return schema;
  return Object.fromEntries(
    Object.entries(schema).map(([k, v]) => [k, k === '$ref' && typeof v === 'string' && v.startsWith('#/') ? `openapi${v}` : rebase(v)]),
  );
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

function escape(literal: string): string {
  return literal.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
