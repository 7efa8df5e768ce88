import {
  applyDecorators,
  type CallHandler,
  createParamDecorator,
  type ExecutionContext,
  Injectable,
  type NestInterceptor,
  UseInterceptors,
} from '@nestjs/common';
import type { Request, Response } from 'express';
import { from, map, type Observable, switchMap } from 'rxjs';
import { PlatformError, PlatformErrorCode } from '@app/platform';
import { type ConsistencyReport, ConsistencyService, READ_MODEL_NAMES } from '@app/read-models';

/**
 * Before a query route runs, waits (bounded) until the read models have applied the caller's
 * consistency token (X-Consistency-Token or ?consistency=) or, without one, the organisation's
 * last write through this process. The response says how it went: X-Consistency (reached |
 * behind), X-Projection-Position and, when behind, `meta.consistency` in the body.
 */
@Injectable()
export class ReadYourWritesInterceptor implements NestInterceptor {
  constructor(private readonly consistency: ConsistencyService) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const req = context.switchToHttp().getRequest<Request>();
    const res = context.switchToHttp().getResponse<Response>();
    const actor = req.context.actor;
    if (!actor) throw new PlatformError(PlatformErrorCode.Unauthenticated, 'Unauthenticated');
    const query = req.query as Record<string, unknown>;
    const explicit = req.header('x-consistency-token') ?? (typeof query.consistency === 'string' ? query.consistency : undefined);
    return from(this.consistency.waitFor(explicit, actor.orgId, READ_MODEL_NAMES)).pipe(
      switchMap((report) => {
        res.setHeader('X-Consistency', report.reached ? 'reached' : 'behind');
        res.setHeader('X-Projection-Position', report.projection_position);
        return next.handle().pipe(map((body: unknown) => withConsistency(body, report)));
      }),
    );
  }
}

/** A query route that reads what the caller just wrote (see ReadYourWritesInterceptor). */
export const ReadYourWrites = () => applyDecorators(UseInterceptors(ReadYourWritesInterceptor));

/** The query string without the consistency token, which ReadYourWritesInterceptor has used. */
export const ReadQuery = createParamDecorator((_: unknown, ctx: ExecutionContext): Record<string, unknown> => {
  const { consistency: _token, ...rest } = ctx.switchToHttp().getRequest<Request>().query as Record<string, unknown>;
  return rest;
});

/** When the read models could not catch up in time the body says how far behind they are. */
function withConsistency(body: unknown, report: ConsistencyReport): unknown {
  if (report.reached || body === null || typeof body !== 'object') return body;
  const meta = (body as { meta?: object }).meta ?? {};
  return { ...body, meta: { ...meta, consistency: report } };
}
