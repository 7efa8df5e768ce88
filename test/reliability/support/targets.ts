import { request } from 'undici';
import { type ApiProcess, buildApi, startApi } from '../../support/api-process';
import { pgliteTarget, postgresTarget, type Target } from '../../support/api-targets';
import { postgresUrl } from '../../support/test-database';

/** PGlite always, a server database too when TEST_DATABASE_URL is set (jest.config.js says which). */
export function processTargets(prefix: string): [string, () => Target][] {
  const url = postgresUrl();
  const targets: [string, () => Target][] = [['pglite', () => pgliteTarget(`${prefix}-`)]];
  if (url) targets.push(['postgres', () => postgresTarget(url, `${prefix.replace(/\W/g, '_')}_`)]);
  return targets;
}

/** Builds the API once for the suite, in its beforeAll (when a source is newer than the last build), and says which. */
export function useBuiltApi(suite: string): { main: string } {
  const built = { main: '' };
  beforeAll(() => {
    const build = buildApi();
    built.main = build.main;
    console.log(`[${suite}] API ${build.built ? `built in ${build.seconds.toFixed(1)} s` : 'build up to date'}: ${build.main}`);
  }, 180_000);
  return built;
}

/**
 * Prepares `target`, runs `body` with a `start` that starts the API on it (with `env` added to the
 * target's), and however `body` ends kills every process it started and removes the target's data.
 */
export async function onTarget(
  target: Target,
  env: Record<string, string>,
  body: (start: () => Promise<ApiProcess>, target: Target) => Promise<void>,
): Promise<void> {
  await target.prepare();
  const started: ApiProcess[] = [];
  try {
    await body(async () => {
      const api = await startApi({ ...target.env, ...env });
      started.push(api);
      return api;
    }, target);
  } finally {
    for (const api of started) await api.kill9();
    await target.cleanup();
  }
}

export interface Reply {
  status: number;
  body: any;
  etag: string | undefined;
  position: string | undefined;
  consistency: string | undefined;
}

/** One HTTP call to a real API process, with a bearer token. */
export async function call(
  api: ApiProcess,
  token: string,
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Reply> {
  const res = await request(`${api.base}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
    headersTimeout: 20_000,
    bodyTimeout: 20_000,
  });
  const text = await res.body.text();
  return {
    status: res.statusCode,
    body: text ? JSON.parse(text) : null,
    etag: res.headers.etag as string | undefined,
    position: res.headers['x-global-position'] as string | undefined,
    consistency: res.headers['x-consistency'] as string | undefined,
  };
}
