import type { OpenAPIObject } from '@nestjs/swagger';
import type request from 'supertest';
import type { Response } from 'supertest';
import { type OpenApiChecker, openApiChecker } from './openapi-check';

type Agent = ReturnType<typeof request>;
const METHODS = new Set(['get', 'post', 'put', 'patch', 'delete', 'head', 'options']);
const checkers = new WeakMap<OpenAPIObject, OpenApiChecker>();

/**
 * The shared test client: supertest, with every response checked against the app's OpenAPI
 * document (see openapi-check.ts) before the test's own assertions run.
 */
export function checkedAgent(agent: Agent, document: OpenAPIObject): Agent {
  let checker = checkers.get(document);
  if (!checker) checkers.set(document, (checker = openApiChecker(document)));
  const check = checker;
  return new Proxy(agent, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (typeof property !== 'string' || !METHODS.has(property) || typeof value !== 'function') return value;
      return (url: string, ...rest: unknown[]) => {
        const test = (value as (url: string, ...rest: unknown[]) => request.Test).call(target, url, ...rest);
        return test.expect((response: Response) => check.check(property, url, response, (test as unknown as { _data?: unknown })._data));
      };
    },
  });
}
