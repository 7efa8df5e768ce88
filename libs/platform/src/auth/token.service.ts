import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { type Kysely, sql } from 'kysely';
import type { Database } from '../database/database';
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

/** Where revocations are announced to, and acknowledged by, every process that keeps tokens in memory. */
const REVOKED_CHANNEL = 'api_tokens_revoked';
const RELISTEN_MS = 1_000;
/** Longest a revocation waits for every listening process to acknowledge it (then it answers anyway). */
const ACK_WAIT_MS = 2_000;

export interface TokenCacheOptions {
  /** The database whose NOTIFY carries revocations between processes (omitted: no cache). */
  database?: Pick<Database, 'kind' | 'listen' | 'notify' | 'schema'>;
  /** Resolved tokens kept in memory; 0 turns the cache off. */
  entries?: number;
}

/**
 * Tokens resolve from memory once seen, so a request costs no database round trip for its token.
 * A revocation empties the cache of every process before it answers: this one at once; on
 * PostgreSQL it then announces the revocation (NOTIFY) and waits until every process listening
 * for it has emptied its cache and acknowledged (it counts them in pg_stat_activity by the
 * application name of their listening connection), at most ACK_WAIT_MS. One embedded database
 * has one process. While a process cannot listen (its listening connection failed), it keeps
 * nothing and looks every token up, until it listens again.
 */
export class TokenService {
  private readonly cache = new Map<string, Actor>();
  private readonly capacity: number;
  private listening = false;
  private closed = false;
  private unlisten: (() => Promise<void>) | null = null;
  /** Revocations heard; a lookup that overlapped one does not keep its result. */
  private heard = 0;
  /** Acknowledgements counted per revocation this process announced. */
  private readonly acks = new Map<string, { count: number; onAck: () => void }>();
  /** Channel and application name, per schema: deployments that share a database keep apart. */
  private readonly channel: string;
  private readonly applicationName: string;

  constructor(
    private readonly db: Kysely<PlatformTables>,
    private readonly options: TokenCacheOptions = {},
  ) {
    this.capacity = options.database ? Math.max(0, options.entries ?? 10_000) : 0;
    const scope = options.database?.schema ?? 'public';
    this.channel = `${REVOKED_CHANNEL}:${scope}`;
    this.applicationName = `opportunity-pipeline tokens ${scope}`;
  }

  /** Starts listening for revocations (the cache is on only while it listens). */
  async start(): Promise<void> {
    const database = this.options.database;
    if (!database || this.capacity === 0 || this.closed) return;
    try {
      this.unlisten = await database.listen(
        this.channel,
        (payload) => this.onMessage(payload),
        () => this.onLost(),
        { applicationName: this.applicationName },
      );
      this.listening = true;
    } catch {
      this.onLost();
    }
  }

  async stop(): Promise<void> {
    this.closed = true;
    this.listening = false;
    this.cache.clear();
    await this.unlisten?.().catch(() => undefined);
  }

  async resolve(token: string): Promise<Actor | null> {
    const hash = hashToken(token);
    const cached = this.listening ? this.cache.get(hash) : undefined;
    if (cached) return cached;
    const heardBefore = this.heard;
    const row = await this.db
      .selectFrom('api_tokens')
      .select(['id', 'org_id', 'user_id', 'role'])
      .where('token_hash', '=', hash)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    const actor = row ? { tokenId: row.id, orgId: row.org_id, userId: row.user_id, role: row.role } : null;
    // Not kept if a revocation was heard while it was looked up (it may have read the row before).
    if (actor && this.listening && this.heard === heardBefore) {
      this.cache.set(hash, actor);
      if (this.cache.size > this.capacity) this.cache.delete(this.cache.keys().next().value!);
    }
    return actor;
  }

  /** Revokes a token of the org; false when there is no such unrevoked token. */
  async revoke(orgId: string, tokenId: string): Promise<boolean> {
    const result = await this.db
      .updateTable('api_tokens')
      .set({ revoked_at: sql`now()` })
      .where('org_id', '=', orgId)
      .where('id', '=', tokenId)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) === 0) return false;
    this.cache.clear();
    this.heard++;
    if (this.options.database?.kind === 'postgres') await this.announce();
    return true;
  }

  /** NOTIFY the revocation, then wait for as many acknowledgements as there are listening processes. */
  private async announce(): Promise<void> {
    const database = this.options.database!;
    const id = randomUUID();
    const { rows } = await sql<{ n: string }>`
      select count(*)::text as n from pg_stat_activity
      where datname = current_database() and application_name = ${this.applicationName}`.execute(this.db);
    const listeners = Number(rows[0]?.n ?? 0);
    const acknowledged = new Promise<void>((resolve) => {
      const timer = setTimeout(done, ACK_WAIT_MS);
      timer.unref();
      const entry = { count: 0, onAck: () => entry.count >= listeners && done() };
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.acks.set(id, entry);
      if (listeners === 0) done();
    }).finally(() => this.acks.delete(id));
    await database.notify(this.channel, `revoked:${id}`);
    await acknowledged;
  }

  private onMessage(payload: string): void {
    const [kind, id] = payload.split(':');
    if (kind === 'revoked') {
      this.cache.clear();
      this.heard++;
      // Emptied: say so (the revoking process counts these before it answers).
      void this.options.database?.notify(this.channel, `ack:${id}`).catch(() => undefined);
    } else if (kind === 'ack') {
      const entry = this.acks.get(id);
      if (entry) {
        entry.count++;
        entry.onAck();
      }
    }
  }

  private onLost(): void {
    this.listening = false;
    this.cache.clear();
    this.heard++;
    this.unlisten = null;
    if (this.closed) return;
    setTimeout(() => void this.start(), RELISTEN_MS).unref();
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
