import { randomBytes } from 'node:crypto';
import { call, onTarget, processTargets, useBuiltApi } from './support/targets';

/**
 * An operator revokes the token that ADMIN_TOKEN names, then the service restarts with the same
 * configuration (a supervisor does exactly that): it must start, say the token is revoked, and
 * keep it revoked.
 */
describe('restart after the ADMIN_TOKEN row was revoked', () => {
  useBuiltApi('admin-token-restart');

  it.each(processTargets('admin-token'))('%s: starts, logs the revocation, the token stays revoked', async (_name, make) => {
    const adminToken = `opp_admin_${randomBytes(12).toString('hex')}`;
    await onTarget(make(), { ADMIN_TOKEN: adminToken, RUN_WEBHOOK_DISPATCHER: 'false' }, async (start) => {
      let api = await start();
      const minted = await call(api, adminToken, 'POST', '/tokens', { user_id: 'admin_2', role: 'admin', label: 'second admin' });
      expect(minted.status).toBe(201);
      const second = minted.body.data.token as string;
      const listed = await call(api, second, 'GET', '/tokens');
      const configured = listed.body.data.find((t: { label: string | null }) => t.label === 'ADMIN_TOKEN');
      expect(configured).toBeDefined();
      expect((await call(api, second, 'DELETE', `/tokens/${configured.id}`)).status).toBeLessThan(300);
      expect((await call(api, adminToken, 'GET', '/tokens')).status).toBe(401);
      await api.stop();

      api = await start();
      expect(api.output()).toMatch(/ADMIN_TOKEN names a token that was revoked/);
      expect((await call(api, adminToken, 'GET', '/tokens')).status).toBe(401);
      expect((await call(api, second, 'GET', '/tokens')).status).toBe(200);
    });
  });
});
