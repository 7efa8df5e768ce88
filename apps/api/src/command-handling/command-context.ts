import type { Request, Response } from 'express';
import { randomUUID } from 'node:crypto';
import { DomainError } from '@app/domain';
import type { Actor } from '@app/platform';
import type { CommandMeta, CommandOutcome } from './handle-command';

/** If-Match: "3", 3 or W/"3" → 3. */
export function parseIfMatch(header: string | undefined): number | undefined {
  if (header === undefined) return undefined;
  const match = /^\s*(?:W\/)?"?(\d{1,15})"?\s*$/.exec(header);
  if (!match) throw DomainError.validation({ 'If-Match': ['If-Match must be the ETag of the opportunity, e.g. "3"'] });
  return Number(match[1]);
}

export function commandMeta(req: Request, actor: Actor): CommandMeta {
  return {
    actor,
    correlationId: req.context.correlationId,
    commandId: req.context.requestId ?? randomUUID(),
    expectedVersion: parseIfMatch(req.header('if-match')),
    idempotencyKey: req.context.idempotencyScope,
  };
}

/** ETag = stream version; X-Global-Position = consistency token for read-your-writes queries. */
export function setVersionHeaders(res: Response, outcome: Pick<CommandOutcome<unknown, unknown>, 'version' | 'position'>): void {
  res.setHeader('ETag', `"${outcome.version}"`);
  res.setHeader('X-Stream-Version', String(outcome.version));
  if (outcome.position !== null) res.setHeader('X-Global-Position', outcome.position);
}
