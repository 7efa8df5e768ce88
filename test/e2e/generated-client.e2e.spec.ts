import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { API, describeEachBackend, uniqueOrg, useTestApp } from '../support/test-app';

const run = promisify(execFile);
const ROOT = join(__dirname, '../..');
const EXAMPLE = join(ROOT, 'examples/client');
const SCHEMA = join(EXAMPLE, 'schema.d.ts');
const COMPILED = join(ROOT, 'dist/examples/client/pipeline-scenario.js');
const node = (args: string[], env: NodeJS.ProcessEnv = {}) =>
  run(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...env }, maxBuffer: 16 * 1024 * 1024 });

/**
 * What an integrator does first: generate a typed client from the served document
 * (openapi-typescript), compile a program against it with `tsc --strict`, and run it.
 * CLIENT_UPDATE=1 writes the generated types to examples/client/schema.d.ts instead of comparing.
 */
describeEachBackend('a client generated from the OpenAPI document (%s)', (backend) => {
  const t = useTestApp(backend);
  const dir = mkdtempSync(join(tmpdir(), 'openapi-client-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('openapi-typescript makes of the served document exactly the committed examples/client/schema.d.ts', async () => {
    const document = (await t.http().get(`${API}/docs-json`).expect(200)).body as object;
    writeFileSync(join(dir, 'openapi.json'), JSON.stringify(document));
    await node(['node_modules/openapi-typescript/bin/cli.js', join(dir, 'openapi.json'), '-o', join(dir, 'schema.d.ts')]);
    const generated = readFileSync(join(dir, 'schema.d.ts'), 'utf8');
    if (process.env.CLIENT_UPDATE === '1') writeFileSync(SCHEMA, generated);
    // Out of date: CLIENT_UPDATE=1 npm test -- test/e2e/generated-client.e2e.spec.ts (or npm run client:generate against a running API).
    expect(readFileSync(SCHEMA, 'utf8')).toBe(generated);
  });

  it('the example program compiles with tsc --strict and runs create → next ×5 → win, a refused skip, the filtered list and the forecast', async () => {
    await node(['node_modules/typescript/bin/tsc', '-p', 'examples/client/tsconfig.json']);
    const server = t.app.getHttpServer() as Server;
    if (!server.listening) await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const token = await t.token(uniqueOrg('client'), 'mgr_1', 'manager');

    const { stdout } = await node([COMPILED], { API_URL: `http://127.0.0.1:${port}`, API_TOKEN: token });
    const result = JSON.parse(stdout) as Record<string, unknown>;
    expect(result).toEqual({
      dealId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      stages: ['prospecting', 'qualification', 'needs_analysis', 'proposal', 'negotiation', 'verbal_commitment', 'won'],
      wonValue: 150000,
      skipStatus: 422,
      skipCode: expect.any(String),
      listed: 1,
      listTotalValue: 150000,
      forecastPeriod: expect.stringMatching(/^Q[1-4] \d{4}$/),
      closedWon: { count: 1, value: 150000 },
    });
  });

  it('the example program says what it needs when API_TOKEN is missing', async () => {
    await node(['node_modules/typescript/bin/tsc', '-p', 'examples/client/tsconfig.json']);
    await expect(node([COMPILED], { API_TOKEN: '' })).rejects.toMatchObject({ code: 2, stderr: expect.stringMatching(/^Set API_TOKEN/) });
  });
});
