import { randomBytes } from 'node:crypto';
import { type ApiProcess, buildApi, startApi } from './support/api-process';
import { call, processTargets } from './support/targets';

/**
 * An operator revokes the token that ADMIN_TOKEN names, then the service restarts with the same
 * configuration (a supervisor does exactly that): it must start, say the token is revoked, and
 * keep it revoked.
 */
describe('restart after the ADMIN_TOKEN row was revoked', () => {
  beforeAll(() => {
    buildApi();
  }, 180_000);

  it.each(processTargets('admin-token'))('%s: starts, logs the revocation, the token stays revoked', async (_name, make) => {
    const target = make();
    await target.prepare();
    const adminToken = `opp_admin_${randomBytes(12).toString('hex')}`;
    const env = { ...target.env, ADMIN_TOKEN: adminToken, RUN_WEBHOOK_DISPATCHER: 'false' };
    let api: ApiProcess | null = null;
    try {
      api = await startApi(env);
      const minted = await call(api, adminToken, 'POST', '/tokens', { user_id: 'admin_2', role: 'admin', label: 'second admin' });
      expect(minted.status).toBe(201);
      const second = minted.body.data.token as string;
      const listed = await call(api, second, 'GET', '/tokens');
      const configured = listed.body.data.find((t: { label: string | null }) => t.label === 'ADMIN_TOKEN');
      expect(configured).toBeDefined();
      expect((await call(api, second, 'DELETE', `/tokens/${configured.id}`)).status).toBeLessThan(300);
      expect((await call(api, adminToken, 'GET', '/tokens')).status).toBe(401);
      await api.stop();

      api = await startApi(env);
      expect(api.output()).toMatch(/ADMIN_TOKEN names a token that was revoked/);
      expect((await call(api, adminToken, 'GET', '/tokens')).status).toBe(401);
      expect((await call(api, second, 'GET', '/tokens')).status).toBe(200);
    } finally {
      await api?.kill9();
      await target.cleanup();
    }
  });
});
