import { CallHandler, ExecutionContext, Inject, Injectable, NestInterceptor } from '@nestjs/common';
import { PlatformError, PlatformErrorCode } from '../errors';
import type { Request, Response } from 'express';
import { createHash } from 'node:crypto';
import { from, Observable, of } from 'rxjs';
import { catchError, mergeMap } from 'rxjs/operators';
import { DomainError } from '@app/domain';
import { type Kysely, sql } from 'kysely';
import type { AppConfig } from '../config';
import { APP_CONFIG, DATABASE } from '../tokens';
import type { Database } from '../database/database';
import type { PlatformTables } from '../tables';

const REPLAYED_HEADERS = ['etag', 'x-global-position', 'x-stream-version', 'location'];
const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

/** JSON with every object's keys sorted: the same body sent with its keys in another order is the same request. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** What makes two requests under one key the same request: caller, path and canonical body. */
export function idempotencyRequestHash(userId: string, url: string, body: unknown): string {
  return createHash('sha256')
    .update(canonicalJson([userId, 'POST', url, body ?? null]))
    .digest('hex');
}

/**
 * Idempotency-Key on POST (as Stripe's): the first successful response is stored and replayed for
 * every repeat of the same request (same caller, path and canonical body) for
 * IDEMPOTENCY_KEY_TTL_SECONDS; the same key with a different request is refused. A first attempt
 * that fails releases the key. A request in progress holds the key for IDEMPOTENCY_LEASE_SECONDS:
 * if its process died, the next repeat after that runs the command again, and the ids derived
 * from the key make that safe (events already appended are recognised, never appended twice).
 */
@Injectable()
export class IdempotencyInterceptor implements NestInterceptor {
  private readonly db: Kysely<PlatformTables>;

  constructor(
    @Inject(DATABASE) database: Database,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    this.db = database.db;
  }

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const req = context.switchToHttp().getRequest<Request>();
    const res = context.switchToHttp().getResponse<Response>();
    const key = req.header('idempotency-key');
    const actor = req.context?.actor;
    if (req.method !== 'POST' || key === undefined || !actor) return next.handle();
    if (!KEY_PATTERN.test(key)) {
      throw DomainError.validation({ 'Idempotency-Key': ['Idempotency-Key must be 1–255 visible ASCII characters'] });
    }
    const hash = idempotencyRequestHash(actor.userId, req.originalUrl, req.body);
    req.context.idempotencyScope = `${key}:${hash.slice(0, 32)}`;
    return from(this.claim(actor.orgId, key, hash)).pipe(
      mergeMap((claimed) => (claimed ? this.proceed(next, res, actor.orgId, key) : from(this.replay(actor.orgId, key, hash, res)))),
    );
  }

  /**
   * Takes the key: a new one, one past its retention (a new request), or one whose request died
   * (same request, lease over). Anything else is answered by replay().
   */
  private async claim(orgId: string, key: string, hash: string): Promise<boolean> {
    const ttl = this.config.idempotencyKeyTtlSeconds;
    const lease = this.config.idempotencyLeaseSeconds;
    const expired = sql<boolean>`idempotency_keys.created_at < now() - make_interval(secs => ${ttl})`;
    const abandoned = sql<boolean>`(idempotency_keys.status_code is null and idempotency_keys.locked_until < now()
      and idempotency_keys.request_hash = excluded.request_hash)`;
    const row = await this.db
      .insertInto('idempotency_keys')
      .values({ org_id: orgId, key, request_hash: hash, locked_until: sql`now() + make_interval(secs => ${lease})` })
      .onConflict((oc) =>
        oc
          .columns(['org_id', 'key'])
          .doUpdateSet({
            request_hash: sql`excluded.request_hash`,
            status_code: null,
            response_headers: null,
            response_body: null,
            locked_until: sql`excluded.locked_until`,
            created_at: sql`case when ${expired} then now() else idempotency_keys.created_at end`,
          })
          .where(sql<boolean>`${expired} or ${abandoned}`),
      )
      .returning('key')
      .executeTakeFirst();
    this.sweep();
    return row !== undefined;
  }

  private lastSweep = 0;

  /** Drops keys past their retention, at most once a minute per process, off the request's path. */
  private sweep(): void {
    if (Date.now() - this.lastSweep < 60_000) return;
    this.lastSweep = Date.now();
    const ttl = this.config.idempotencyKeyTtlSeconds;
    this.db
      .deleteFrom('idempotency_keys')
      .where(sql<boolean>`created_at < now() - make_interval(secs => ${ttl})`)
      .execute()
      .catch(() => undefined); // the next sweep tries again; an expired key is never replayed anyway
  }

  private proceed(next: CallHandler, res: Response, orgId: string, key: string): Observable<unknown> {
    const release = () => this.db.deleteFrom('idempotency_keys').where('org_id', '=', orgId).where('key', '=', key).execute();
    return next.handle().pipe(
      mergeMap((body) => {
        // A refusal sent as a response (a bulk action no deal took) releases the key like a thrown one.
        if (res.statusCode >= 400) return from(release()).pipe(mergeMap(() => of(body)));
        const headers: Record<string, string> = {};
        for (const name of REPLAYED_HEADERS) {
          const value = res.getHeader(name);
          if (value !== undefined) headers[name] = String(value);
        }
        return from(
          this.db
            .updateTable('idempotency_keys')
            .set({ status_code: res.statusCode, response_headers: JSON.stringify(headers), response_body: JSON.stringify(body ?? null) })
            .where('org_id', '=', orgId)
            .where('key', '=', key)
            .execute(),
        ).pipe(mergeMap(() => of(body)));
      }),
      catchError((error) =>
        from(release()).pipe(
          mergeMap(() => {
            throw error;
          }),
        ),
      ),
    );
  }

  private async replay(orgId: string, key: string, hash: string, res: Response): Promise<unknown> {
    const row = await this.db
      .selectFrom('idempotency_keys')
      .selectAll()
      .select(sql<number>`greatest(1, ceil(extract(epoch from locked_until - now())))::int`.as('retry_after'))
      .where('org_id', '=', orgId)
      .where('key', '=', key)
      .executeTakeFirst();
    if (!row) throw new PlatformError(PlatformErrorCode.ConcurrencyConflict, 'A request with this Idempotency-Key just failed; retry it');
    if (row.request_hash !== hash) {
      throw new PlatformError(PlatformErrorCode.IdempotencyKeyReused, 'This Idempotency-Key was already used for a different request');
    }
    if (row.status_code === null) {
      res.setHeader('Retry-After', String(row.retry_after ?? 1));
      throw new PlatformError(
        PlatformErrorCode.ConcurrencyConflict,
        'A request with this Idempotency-Key is still in progress; retry after Retry-After seconds',
      );
    }
    for (const [name, value] of Object.entries(row.response_headers ?? {})) res.setHeader(name, value);
    res.setHeader('Idempotent-Replayed', 'true');
    res.status(row.status_code);
    return row.response_body;
  }
}
