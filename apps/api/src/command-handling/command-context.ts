import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { Request } from 'express';
import { randomUUID } from 'node:crypto';
import { DomainError } from '@app/domain';
import { type Actor, PlatformError, PlatformErrorCode } from '@app/platform';
import type { CommandMeta, CommandOutcome } from './handle-command';

/** If-Match: "3", 3 or W/"3" → 3. */
export function parseIfMatch(header: string | undefined): number | undefined {
  if (header === undefined) return undefined;
  const match = /^\s*(?:W\/)?"?(\d{1,15})"?\s*$/.exec(header);
  if (!match) throw DomainError.validation({ 'If-Match': ['If-Match must be the ETag of the opportunity, e.g. "3"'] });
  return Number(match[1]);
}

/** Who sends the command and under which conditions; the outcome's version goes into the response headers. */
export function commandMeta(req: Request, actor: Actor): CommandMeta {
  return {
    actor,
    correlationId: req.context.correlationId,
    commandId: req.context.requestId ?? randomUUID(),
    expectedVersion: parseIfMatch(req.header('if-match')),
    idempotencyKey: req.context.idempotencyScope,
    onApplied: (outcome) => Object.assign(req.context.responseHeaders, versionHeaders(outcome)),
  };
}

/** `@CommandMetadata() meta: CommandMeta` in a command route: actor, correlation, If-Match, Idempotency-Key. */
export const CommandMetadata = createParamDecorator((_: unknown, ctx: ExecutionContext): CommandMeta => {
  const req = ctx.switchToHttp().getRequest<Request>();
  if (!req.context.actor) throw new PlatformError(PlatformErrorCode.Unauthenticated, 'Unauthenticated');
  return commandMeta(req, req.context.actor);
});

/** ETag = stream version; X-Global-Position = consistency token for read-your-writes queries. */
export function versionHeaders(outcome: Pick<CommandOutcome<unknown, unknown>, 'version' | 'position'>): Record<string, string> {
  return {
    ETag: `"${outcome.version}"`,
    'X-Stream-Version': String(outcome.version),
    ...(outcome.position !== null ? { 'X-Global-Position': outcome.position } : {}),
  };
}
