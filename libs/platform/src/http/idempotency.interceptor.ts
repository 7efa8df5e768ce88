import { CallHandler, ExecutionContext, Inject, Injectable, NestInterceptor } from '@nestjs/common';
import type { Request, Response } from 'express';
import { createHash } from 'node:crypto';
import { from, Observable, of } from 'rxjs';
import { catchError, mergeMap } from 'rxjs/operators';
import { DomainError, ErrorCode } from '@app/domain';
import { DATABASE } from '../tokens';
import type { Database } from '../database/database';

const REPLAYED_HEADERS = ['etag', 'x-global-position', 'x-stream-version', 'location'];
const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

/**
 * Idempotency-Key on POST: the first response is stored and replayed for every repeat of the
 * same request; the same key with a different request is refused. A failed first attempt
 * releases the key so the client can retry.
 */
@Injectable()
export class IdempotencyInterceptor implements NestInterceptor {
  constructor(@Inject(DATABASE) private readonly database: Database) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const req = context.switchToHttp().getRequest<Request>();
    const res = context.switchToHttp().getResponse<Response>();
    const key = req.header('idempotency-key');
    const actor = req.context?.actor;
    if (req.method !== 'POST' || key === undefined || !actor) return next.handle();
    if (!KEY_PATTERN.test(key)) {
      throw DomainError.validation({ 'Idempotency-Key': ['Idempotency-Key must be 1–255 visible ASCII characters'] });
    }
    const hash = createHash('sha256')
      .update(JSON.stringify([actor.userId, req.method, req.originalUrl, req.body ?? null]))
      .digest('hex');
    const db = this.database.db;
    return from(
      db
        .insertInto('idempotency_keys')
        .values({ org_id: actor.orgId, key, request_hash: hash })
        .onConflict((oc) => oc.columns(['org_id', 'key']).doNothing())
        .returning('key')
        .executeTakeFirst(),
    ).pipe(
      mergeMap((claimed) => {
        if (claimed) return this.proceed(next, res, actor.orgId, key);
        return from(this.replay(actor.orgId, key, hash, res));
      }),
    );
  }

  private proceed(next: CallHandler, res: Response, orgId: string, key: string): Observable<unknown> {
    const db = this.database.db;
    return next.handle().pipe(
      mergeMap((body) => {
        const headers: Record<string, string> = {};
        for (const name of REPLAYED_HEADERS) {
          const value = res.getHeader(name);
          if (value !== undefined) headers[name] = String(value);
        }
        return from(
          db
            .updateTable('idempotency_keys')
            .set({ status_code: res.statusCode, response_headers: JSON.stringify(headers), response_body: JSON.stringify(body ?? null) })
            .where('org_id', '=', orgId)
            .where('key', '=', key)
            .execute(),
        ).pipe(mergeMap(() => of(body)));
      }),
      catchError((error) =>
        from(db.deleteFrom('idempotency_keys').where('org_id', '=', orgId).where('key', '=', key).execute()).pipe(
          mergeMap(() => {
            throw error;
          }),
        ),
      ),
    );
  }

  private async replay(orgId: string, key: string, hash: string, res: Response): Promise<unknown> {
    const row = await this.database.db
      .selectFrom('idempotency_keys')
      .selectAll()
      .where('org_id', '=', orgId)
      .where('key', '=', key)
      .executeTakeFirst();
    if (!row) throw new DomainError(ErrorCode.ConcurrencyConflict, 'A request with this Idempotency-Key just failed; retry it');
    if (row.request_hash !== hash) {
      throw new DomainError(ErrorCode.IdempotencyKeyReused, 'This Idempotency-Key was already used for a different request');
    }
    if (row.status_code === null) {
      throw new DomainError(ErrorCode.ConcurrencyConflict, 'A request with this Idempotency-Key is still in progress');
    }
    const headers = typeof row.response_headers === 'string' ? JSON.parse(row.response_headers) : row.response_headers;
    for (const [name, value] of Object.entries(headers ?? {})) res.setHeader(name, value as string);
    res.setHeader('Idempotent-Replayed', 'true');
    res.status(row.status_code);
    return typeof row.response_body === 'string' ? JSON.parse(row.response_body) : row.response_body;
  }
}
