import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { request } from 'undici';
import { type ApiProcess, freePort, ROOT, startApi } from '../support/api-process';
import { useBuiltApi } from './support/targets';

/**
 * One process per embedded data directory: two API processes on one DATA_DIR both started and lost
 * one another's acknowledged commands. A second process of any kind must refuse with one line and a
 * non-zero exit while the first goes on serving; a lock left by `kill -9` must not block the restart.
 */
const ADMIN = `opp_datadir_${randomBytes(12).toString('hex')}`;

interface Exit {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs a compiled entry point to its exit (SIGKILL after timeoutMs: a refusal must be prompt). */
function runToExit(script: string, args: string[], env: Record<string, string>, timeoutMs = 30_000): Promise<Exit> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [script, ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: Date.now() - started });
    });
  });
}

async function call(api: ApiProcess, method: 'GET' | 'POST', path: string, body?: unknown) {
  const res = await request(`${api.base}${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    headersTimeout: 20_000,
    bodyTimeout: 20_000,
  });
  const text = await res.body.text();
  return { status: res.statusCode, body: text ? JSON.parse(text) : null };
}

const deal = (name: string) => ({ name, customer_id: 'c1', value: '1234.56', expected_close_date: '2027-06-30' });

describe('one process per embedded data directory', () => {
  const built = useBuiltApi('data-dir-lock');
  let dir: string;
  let env: Record<string, string>;
  const running: ApiProcess[] = [];

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'reliability-datadir-'));
    env = { DATA_DIR: dir, ADMIN_TOKEN: ADMIN, RUN_WEBHOOK_DISPATCHER: 'false', PROJECTION_POLL_MS: '100' };
  });

  afterEach(async () => {
    for (const api of running.splice(0)) await api.kill9();
    rmSync(dir, { recursive: true, force: true });
  });

  const start = async () => {
    const api = await startApi(env);
    running.push(api);
    return api;
  };

  /** The one line a refused process prints, and nothing else. */
  const expectRefusal = (exit: Exit, ownerPid: number) => {
    expect({ code: exit.code, signal: exit.signal, stdout: exit.stdout }).toEqual({ code: 1, signal: null, stdout: '' });
    expect(exit.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(
        new RegExp(
          `^The data directory ${join(dir, 'pglite').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is in use by process ${ownerPid} \\(started .+\\)\\. Stop it first, or set DATABASE_URL`,
        ),
      ),
    ]);
    expect(exit.ms).toBeLessThan(15_000);
  };

  it('a second API and the token CLI refuse while the first serves; after kill -9 the next start takes over', async () => {
    const first = await start();
    const created = await call(first, 'POST', '/opportunities', deal('Before the second start'));
    expect(created.status).toBe(201);
    const id = created.body.data.id as string;

    const port = String(await freePort());
    const secondApi = await runToExit(built.main, [], { ...env, PORT: port });
    expectRefusal(secondApi, first.child.pid!);
    const token = await runToExit(join(dirname(built.main), 'token.js'), ['--org', 'acme', '--user', 'u-7', '--role', 'rep'], env);
    expectRefusal(token, first.child.pid!);
    console.log(`[data-dir-lock] second API refused in ${secondApi.ms} ms, token CLI in ${token.ms} ms: ${secondApi.stderr.trim()}`);

    // The first goes on serving, reads and commands.
    const health = await call(first, 'GET', '/health');
    expect(health.status).toBe(200);
    const after = await call(first, 'POST', '/opportunities', deal('After the refusals'));
    expect(after.status).toBe(201);
    expect((await call(first, 'GET', `/opportunities/${id}`)).status).toBe(200);

    // kill -9 leaves the lock behind, naming a dead process; the next start takes it over.
    await first.kill9();
    const lockFile = join(dir, 'pglite.lock');
    expect(JSON.parse(readFileSync(lockFile, 'utf8')).pid).toBe(first.child.pid);
    const again = await start();
    for (const deal of [id, after.body.data.id as string]) {
      const res = await call(again, 'GET', `/opportunities/${deal}`);
      expect({ deal, status: res.status }).toEqual({ deal, status: 200 });
    }
    expect(JSON.parse(readFileSync(lockFile, 'utf8')).pid).toBe(again.child.pid);

    // A clean stop releases it.
    await again.stop();
    expect(existsSync(lockFile)).toBe(false);
  }, 180_000);

  it('of two APIs started at the same moment on one directory, exactly one serves', async () => {
    const results = await Promise.allSettled([start(), start()]);
    const serving = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const refused = results.flatMap((r) => (r.status === 'rejected' ? [String((r.reason as Error).message)] : []));
    expect({ serving: serving.length, refused: refused.length }).toEqual({ serving: 1, refused: 1 });
    // startApi's error is "API exited with <code> while starting:" and the process's output.
    expect(refused[0].split('\n')).toEqual([
      'API exited with 1 while starting:',
      expect.stringMatching(new RegExp(`^The data directory .* is in use by process ${serving[0].child.pid} `)),
    ]);
    expect((await call(serving[0], 'GET', '/health')).status).toBe(200);
    expect((await call(serving[0], 'POST', '/opportunities', deal('Raced'))).status).toBe(201);
  }, 180_000);
});
