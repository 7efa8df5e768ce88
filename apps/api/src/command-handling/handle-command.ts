import { createParamDecorator, type ExecutionContext, Injectable } from '@nestjs/common';
import { type Command, CommandBus } from '@nestjs/cqrs';
import type { Request } from 'express';
import { randomUUID } from 'node:crypto';
import { DomainError, ErrorCode } from '@app/domain';
import { ConcurrencyError, type EventStore, type NewEvent, type RecordedEvent, ReferenceChangedError } from '@app/event-store';
import { type Actor, Metrics, nameBasedUuid, PlatformError, PlatformErrorCode } from '@app/platform';
import { ConsistencyService } from '@app/read-models';
import { type StreamStateCache, StreamReads } from './stream-state-cache';

/*
 * The command path, once for every aggregate:
 *   route (@CommandMetadata() meta) → CommandDispatcher.execute(message) → the bus → the aggregate's
 *   handler, which states its StreamCommand → handleCommand: load → guard → If-Match → decide →
 *   append → retry → the outcome's version and position in the response headers.
 */

export interface CommandMeta {
  actor: Actor;
  correlationId: string;
  /** Id of this command; recorded as the causation id of the events it produces. */
  commandId: string;
  /** If-Match: the stream version the client last saw. */
  expectedVersion?: number;
  /** Idempotency-Key scope: makes event ids deterministic, so a retried request cannot append twice. */
  idempotencyKey?: string;
  /** Told the outcome of a command that succeeded (the HTTP layer puts its version in headers). */
  onApplied?: (outcome: { version: number; position: string | null }) => void;
}

export interface CommandOutcome<S, E> {
  state: S;
  events: E[];
  /** Stream version after the command (the ETag). */
  version: number;
  /** Global position of the last event appended; null when nothing was appended. */
  position: string | null;
}

interface DomainEvent {
  type: string;
  data: unknown;
}

/** One command against one stream, in the terms of its aggregate. */
export interface StreamCommand<S, E extends DomainEvent> {
  streamId: string;
  /** The aggregate's name in messages: 'opportunity', 'pipeline'. */
  noun: string;
  /** A create: losing the race for a new stream means it exists already. */
  creates?: boolean;
  fold(recorded: RecordedEvent[]): S;
  evolve(state: S, events: E[]): S;
  /** Refusals that come before If-Match is compared (the thing must exist: 404, not 412). */
  guard?(state: S): void;
  /**
   * Everything the decision needs besides the stream (access, reference data, the pipeline), then
   * the pure decide. Throws a DomainError to refuse; [] when nothing changes. Other streams it
   * reads go into `reads`, at the versions read: the append is conditional on them.
   */
  decide(state: S, now: string, reads: StreamReads): Promise<E[]>;
}

/**
 * The one command loop, for every aggregate: load → decide → append at the loaded version; a lost
 * race is decided again on fresh state (If-Match: 412 instead), up to `retries` times.
 *
 * With a cache, a command starts from the stream's cached state (a create without one from the
 * empty stream) and reads nothing: the append at that version is the check. A conflict, a
 * refusal or a no-op decided on cached state is decided again on a fresh read, so what is
 * answered is what a fresh read would answer. The streams the decision read besides its own
 * (StreamReads) are the append's references: if one has moved on, nothing is appended and the
 * command is decided again with that stream read afresh.
 */
export async function handleCommand<S, E extends DomainEvent>(
  store: EventStore,
  retries: number,
  command: StreamCommand<S, E>,
  meta: CommandMeta,
  cache?: StreamStateCache,
): Promise<CommandOutcome<S, E>> {
  // A keyed request reads its stream: its first attempt may have appended already.
  let trustCache = cache !== undefined && !meta.idempotencyKey;
  for (let attempt = 0; ;) {
    const cached = trustCache
      ? (cache!.get<S>(command.streamId) ?? (command.creates ? { state: command.fold([]), version: 0 } : undefined))
      : undefined;
    let state: S;
    let version: number;
    if (cached) {
      ({ state, version } = cached);
    } else {
      const recorded = await store.readStream(command.streamId);
      const already = alreadyApplied(command, recorded, meta);
      if (already) return already;
      state = command.fold(recorded);
      version = recorded.at(-1)?.streamVersion ?? 0;
      cache?.set(command.streamId, { state, version });
    }
    const reads = new StreamReads(trustCache);
    const onCachedState = () => cached !== undefined || reads.cached.length > 0;
    const readAfresh = () => {
      cache?.evict(command.streamId);
      for (const streamId of reads.cached) cache?.evict(streamId);
      trustCache = false;
    };
    const now = new Date().toISOString();
    let events: E[];
    try {
      command.guard?.(state);
      if (meta.expectedVersion !== undefined && meta.expectedVersion !== version) {
        throw preconditionFailed(command.noun, meta.expectedVersion, version);
      }
      events = await command.decide(state, now, reads);
    } catch (error) {
      if (!onCachedState()) throw error;
      readAfresh();
      continue;
    }
    if (events.length === 0) {
      if (!onCachedState()) return { state, events, version, position: null };
      readAfresh();
      continue;
    }
    try {
      const result = await store.append(
        command.streamId,
        events.map((e, i) => toNewEvent(e, i, meta, now)),
        version === 0 ? 'no_stream' : version,
        { references: reads.references },
      );
      if (result.duplicate) {
        // The same keyed request won the race: its outcome is the events it appended, as of then.
        const first = alreadyApplied(command, await store.readStream(command.streamId, { toVersion: result.streamVersion }), meta);
        if (first) return first;
      }
      const next = command.evolve(state, events);
      cache?.set(command.streamId, { state: next, version: result.streamVersion });
      return { state: next, events, version: result.streamVersion, position: result.position };
    } catch (error) {
      if (error instanceof ReferenceChangedError) {
        cache?.evict(error.streamId);
      } else if (!(error instanceof ConcurrencyError)) {
        throw error;
      } else if (cached) {
        // The cached state was behind the stream: decide again on a fresh read (not a lost race).
        readAfresh();
        continue;
      } else {
        cache?.evict(command.streamId);
        if (meta.expectedVersion !== undefined) throw preconditionFailed(command.noun, meta.expectedVersion, error.actual);
        if (command.creates) throw new DomainError(ErrorCode.AlreadyExists, `${capitalised(command.noun)} already exists`);
      }
      if (attempt >= retries) {
        throw new PlatformError(
          PlatformErrorCode.ConcurrencyConflict,
          `The ${command.noun} is being changed concurrently; retry the request`,
        );
      }
      await jitter(attempt++);
    }
  }
}

/**
 * A keyed request whose first attempt appended and then died (no stored response): its events are
 * in the stream under the ids derived from the key, so the outcome is those events, not a second
 * decision on today's state.
 */
function alreadyApplied<S, E extends DomainEvent>(
  command: StreamCommand<S, E>,
  recorded: RecordedEvent[],
  meta: CommandMeta,
): CommandOutcome<S, E> | null {
  if (!meta.idempotencyKey) return null;
  const first = recorded.findIndex((e) => e.eventId === eventId(meta, 0));
  if (first < 0) return null;
  let last = first;
  while (last + 1 < recorded.length && recorded[last + 1].eventId === eventId(meta, last + 1 - first)) last++;
  return {
    state: command.fold(recorded.slice(0, last + 1)),
    events: recorded.slice(first, last + 1).map((e) => ({ type: e.type, data: e.data }) as E),
    version: recorded[last].streamVersion,
    position: recorded[last].position,
  };
}

function eventId(meta: CommandMeta, index: number): string {
  return meta.idempotencyKey ? nameBasedUuid(`${meta.actor.orgId}:${meta.idempotencyKey}:${index}`) : randomUUID();
}

function toNewEvent(event: DomainEvent, index: number, meta: CommandMeta, now: string): NewEvent {
  return {
    eventId: eventId(meta, index),
    type: event.type,
    data: event.data,
    metadata: {
      org_id: meta.actor.orgId,
      actor_id: meta.actor.userId,
      actor_role: meta.actor.role,
      correlation_id: meta.correlationId,
      causation_id: meta.commandId,
      occurred_at: now,
    },
  };
}

function preconditionFailed(noun: string, expected: number, actual: number): PlatformError {
  return new PlatformError(PlatformErrorCode.PreconditionFailed, `The ${noun} has changed since the version given in If-Match`, {
    expected_version: expected,
    current_version: actual,
  });
}

const capitalised = (noun: string) => noun.charAt(0).toUpperCase() + noun.slice(1);

/** A message on the command bus: one command for one aggregate, and who sends it. Its result type is R. */
export interface CommandMessage<R> extends Command<R> {
  readonly command: { type: string };
  readonly meta: CommandMeta;
}

/** Sends a command through the bus, counts it, remembers the write for read-your-writes and reports the outcome (ETag, X-Global-Position). */
@Injectable()
export class CommandDispatcher {
  constructor(
    private readonly commands: CommandBus,
    private readonly consistency: ConsistencyService,
    private readonly metrics: Metrics,
  ) {}

  async execute<R extends { version: number; position: string | null }>(message: CommandMessage<R>): Promise<R> {
    const command = message.command.type;
    try {
      const outcome = await this.commands.execute(message);
      if (outcome.position !== null) this.consistency.remember(message.meta.actor.orgId, outcome.position);
      message.meta.onApplied?.(outcome);
      this.metrics.commands.inc({ command, outcome: 'ok' });
      return outcome;
    } catch (error) {
      this.metrics.commands.inc({ command, outcome: error instanceof DomainError ? error.code : 'error' });
      throw error;
    }
  }
}

/**
 * If-Match: "3" (or a bare 3) → 3; `*` matches whatever version exists → no condition. The
 * comparison is strong (RFC 9110 §13.1.1): a weak tag such as W/"3" never matches → 412.
 */
export function parseIfMatch(header: string | undefined): number | undefined {
  if (header === undefined) return undefined;
  const value = header.trim();
  if (value === '*') return undefined;
  if (/^W\/"?\d{1,15}"?$/.test(value)) {
    throw new PlatformError(
      PlatformErrorCode.PreconditionFailed,
      `If-Match compares strongly and a weak ETag (${value}) never matches; send the ETag as the API gave it, e.g. "3"`,
    );
  }
  const match = /^"?(\d{1,15})"?$/.exec(value);
  if (!match) throw DomainError.validation({ 'If-Match': ['If-Match must be the ETag of the opportunity, e.g. "3", or *'] });
  return Number(match[1]);
}

/** `@CommandMetadata() meta: CommandMeta` in a command route: actor, correlation, If-Match, Idempotency-Key; the outcome's version goes into the response headers. */
export const CommandMetadata = createParamDecorator((_: unknown, ctx: ExecutionContext): CommandMeta => {
  const req = ctx.switchToHttp().getRequest<Request>();
  const actor = req.context.actor;
  if (!actor) throw new PlatformError(PlatformErrorCode.Unauthenticated, 'Unauthenticated');
  return {
    actor,
    correlationId: req.context.correlationId,
    commandId: req.context.requestId ?? randomUUID(),
    expectedVersion: parseIfMatch(req.header('if-match')),
    idempotencyKey: req.context.idempotencyScope,
    onApplied: (outcome) => Object.assign(req.context.responseHeaders, versionHeaders(outcome)),
  };
});

/** ETag = stream version; X-Global-Position = consistency token for read-your-writes queries. */
export function versionHeaders(outcome: Pick<CommandOutcome<unknown, unknown>, 'version' | 'position'>): Record<string, string> {
  return {
    ETag: `"${outcome.version}"`,
    'X-Stream-Version': String(outcome.version),
    ...(outcome.position !== null ? { 'X-Global-Position': outcome.position } : {}),
  };
}

function jitter(attempt: number): Promise<void> {
  const ms = Math.random() * Math.min(50, 2 ** attempt);
  return new Promise((resolve) => setTimeout(resolve, ms));
}
