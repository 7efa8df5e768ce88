import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { request } from 'undici';

/**
 * The real API as its own process (what `npm start` runs), compiled by the Nest CLI into
 * node_modules/.cache/reliability-api so the project's dist/ is left alone. Rebuilt only when a
 * source file is newer than the last build.
 */
export const ROOT = join(__dirname, '../../..');
const OUT_DIR = join(ROOT, 'node_modules/.cache/reliability-api');
const MAIN = join(OUT_DIR, 'apps/api/src/main.js');
const STAMP = join(OUT_DIR, '.built');

function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(path));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.spec.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

export function buildApi(): { main: string; built: boolean; seconds: number } {
  const started = Date.now();
  const newest = Math.max(newestSource(join(ROOT, 'apps/api/src')), newestSource(join(ROOT, 'libs')));
  if (existsSync(MAIN) && existsSync(STAMP) && statSync(STAMP).mtimeMs > newest) return { main: MAIN, built: false, seconds: 0 };
  execFileSync(
    process.execPath,
    [join(ROOT, 'node_modules/@nestjs/cli/bin/nest.js'), 'build', 'api', '-c', 'test/reliability/support/nest-cli.kill-restart.json'],
    {
      cwd: ROOT,
      stdio: 'pipe',
      timeout: 170_000,
    },
  );
  writeFileSync(STAMP, new Date().toISOString());
  return { main: MAIN, built: true, seconds: (Date.now() - started) / 1000 };
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface ApiProcess {
  base: string;
  child: ChildProcess;
  /** The last lines the process wrote (for failure messages). */
  tail(): string;
  /** Every line kept (the last 200). */
  output(): string;
  kill9(): Promise<void>;
  stop(): Promise<void>;
}

export async function startApi(env: Record<string, string>, timeoutMs = 45_000): Promise<ApiProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, [MAIN], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const keep = (chunk: Buffer) => {
    lines.push(...chunk.toString().split('\n').filter(Boolean));
    if (lines.length > 200) lines.splice(0, lines.length - 200);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const api: ApiProcess = {
    base: `http://127.0.0.1:${port}/api/v1/crm`,
    child,
    tail: () => lines.slice(-30).join('\n'),
    output: () => lines.join('\n'),
    async kill9() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`API exited with ${child.exitCode} while starting:\n${api.tail()}`);
    try {
      const res = await request(`${api.base}/health`, { headersTimeout: 2000, bodyTimeout: 2000 });
      await res.body.dump();
      if (res.statusCode === 200) return api;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await api.kill9();
      throw new Error(`API did not become healthy in ${timeoutMs} ms:\n${api.tail()}`);
    }
    await new Promise((r) => setTimeout(r, 150));
  }
}
