import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { request } from 'undici';
import { type Database, loadConfig, openDatabase } from '@app/platform';
import { SCHEMA_MIGRATIONS } from '../../../apps/api/src/database-schema';
import type { ApiProcess } from './api-process';
import { postgresUrl } from '../../support/test-database';

/** Where a real API process keeps its data: a fresh embedded data directory, or a fresh server database. */
export interface Target {
  name: 'pglite' | 'postgres';
  env: Record<string, string>;
  /** Creates the database (server) before the first start. */
  prepare(): Promise<void>;
  /** The same opening as the API's (migrated), for checks from the test. */
  open(): Promise<Database>;
  cleanup(): Promise<void>;
}

export function pgliteTarget(prefix = 'reliability-'): Target {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return {
    name: 'pglite',
    env: { DATA_DIR: dir },
    async prepare() {},
    open: () => openDatabase(loadConfig({ DATA_DIR: dir }), SCHEMA_MIGRATIONS),
    async cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function postgresTarget(url: string, prefix = 'rel_'): Target {
  const name = `${prefix}${randomBytes(5).toString('hex')}`;
  const dbUrl = new URL(url);
  dbUrl.pathname = `/${name}`;
  const admin = async (statement: string) => {
    const client = new Client({ connectionString: url });
    await client.connect();
    try {
      await client.query(statement);
    } finally {
      await client.end();
    }
  };
  return {
    name: 'postgres',
    env: { DATABASE_URL: dbUrl.toString() },
    prepare: () => admin(`create database "${name}"`),
    open: () => openDatabase(loadConfig({ DATABASE_URL: dbUrl.toString() }), SCHEMA_MIGRATIONS),
    cleanup: () => admin(`drop database if exists "${name}" with (force)`),
  };
}

/** PGlite always, a server database too when TEST_DATABASE_URL is set (jest.config.js says which). */
export function processTargets(prefix: string): [string, () => Target][] {
  const url = postgresUrl();
  const targets: [string, () => Target][] = [['pglite', () => pgliteTarget(`${prefix}-`)]];
  if (url) targets.push(['postgres', () => postgresTarget(url, `${prefix.replace(/\W/g, '_')}_`)]);
  return targets;
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
