import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { PlatformTables } from '../tables';
import { type Actor, type Role, ROLES } from './actor';

const TOKEN_PREFIX = 'opp_';

/** Tokens are stored as SHA-256 hashes; the clear value is shown once. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export function generateToken(): string {
  return TOKEN_PREFIX + randomBytes(32).toString('base64url');
}

export interface MintedToken {
  token: string;
  id: string;
  orgId: string;
  userId: string;
  role: Role;
}

export class TokenService {
  constructor(private readonly db: Kysely<PlatformTables>) {}

  async resolve(token: string): Promise<Actor | null> {
    const row = await this.db
      .selectFrom('api_tokens')
      .select(['id', 'org_id', 'user_id', 'role'])
      .where('token_hash', '=', hashToken(token))
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return row ? { tokenId: row.id, orgId: row.org_id, userId: row.user_id, role: row.role } : null;
  }

  async mint(input: { orgId: string; userId: string; role: Role; label?: string; token?: string }): Promise<MintedToken> {
    if (!ROLES.includes(input.role)) throw new RangeError(`role must be one of ${ROLES.join(', ')}`);
    if (!/^[a-z0-9][a-z0-9_]{0,62}$/.test(input.orgId)) {
      throw new RangeError('org must be 1–63 characters of a-z, 0-9 and _ (starting with a letter or digit)');
    }
    const token = input.token ?? generateToken();
    const id = randomUUID();
    await this.db.transaction().execute(async (trx) => {
      await trx
        .insertInto('orgs')
        .values({ id: input.orgId, name: input.orgId })
        .onConflict((oc) => oc.column('id').doNothing())
        .execute();
      await trx
        .insertInto('api_tokens')
        .values({
          id,
          org_id: input.orgId,
          user_id: input.userId,
          role: input.role,
          token_hash: hashToken(token),
          label: input.label ?? null,
        })
        .execute();
    });
    return { token, id, orgId: input.orgId, userId: input.userId, role: input.role };
  }

  /**
   * First start: create the default org and an admin token (the given value, or a new one).
   * `minted` carries the token when one was created now. A configured ADMIN_TOKEN that an admin
   * revoked stays revoked (`revoked`): restarting with it must not undo the revocation.
   */
  async bootstrapAdmin(fixedToken: string | null): Promise<{ minted: MintedToken | null; revoked: boolean }> {
    if (fixedToken) {
      const row = await this.db
        .selectFrom('api_tokens')
        .select(['revoked_at'])
        .where('token_hash', '=', hashToken(fixedToken))
        .executeTakeFirst();
      if (row) return { minted: null, revoked: row.revoked_at !== null };
      return {
        minted: await this.mint({ orgId: 'default', userId: 'admin', role: 'admin', label: 'ADMIN_TOKEN', token: fixedToken }),
        revoked: false,
      };
    }
    const any = await this.db.selectFrom('api_tokens').select('id').limit(1).executeTakeFirst();
    if (any) return { minted: null, revoked: false };
    return { minted: await this.mint({ orgId: 'default', userId: 'admin', role: 'admin', label: 'first start' }), revoked: false };
  }
}
