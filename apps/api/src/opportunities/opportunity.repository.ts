import { Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import {
  decide,
  DEFAULT_PIPELINE,
  DomainError,
  ErrorCode,
  fold,
  OpportunityCommand,
  OpportunityEvent,
  OpportunityState,
  Pipeline,
} from '@app/domain';
import { ConcurrencyError, EventStore, NewEvent, RecordedEvent } from '@app/event-store';
import { Actor, APP_CONFIG, AppConfig, DATABASE, Database, nameBasedUuid } from '@app/platform';
import { PipelineRepository } from '../pipelines/pipeline.repository';
import { authorizeCommand } from './opportunity-access';
import { foldRecorded, opportunityStreamId, toDomainEvent } from './opportunity-stream';

export interface CommandMeta {
  actor: Actor;
  correlationId: string;
  /** Id of this command; recorded as the causation id of the events it produces. */
  commandId: string;
  /** If-Match: the stream version the client last saw. */
  expectedVersion?: number;
  /** Makes event ids deterministic, so a retried request cannot append twice. */
  idempotencyKey?: string;
}

export interface CommandOutcome {
  state: OpportunityState;
  events: OpportunityEvent[];
  /** Stream version after the command (the ETag). */
  version: number;
  /** Global position of the last event appended; null when nothing was appended. */
  position: string | null;
}

/** Load → authorize → decide → append with the expected version; lost races are retried on fresh state. */
@Injectable()
export class OpportunityRepository {
  constructor(
    private readonly store: EventStore,
    private readonly pipelines: PipelineRepository,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(DATABASE) private readonly database: Database,
  ) {}

  /** A deal's category is one of its org's categories (GET /categories), named by its id. */
  private async assertCategory(orgId: string, command: OpportunityCommand): Promise<void> {
    const id =
      command.type === 'CreateOpportunity'
        ? command.input.category_id
        : command.type === 'UpdateOpportunity'
          ? command.changes.category_id
          : undefined;
    if (id === undefined || id === null) return;
    const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id);
    const found =
      uuid &&
      (await this.database.db.selectFrom('categories').select('id').where('org_id', '=', orgId).where('id', '=', id).executeTakeFirst());
    if (!found) throw DomainError.validation({ category_id: [`category ${id} does not exist (GET /categories lists them)`] });
  }

  async load(orgId: string, opportunityId: string): Promise<OpportunityState> {
    return foldRecorded(await this.store.readStream(opportunityStreamId(orgId, opportunityId)));
  }

  pipelineFor(orgId: string, pipelineId?: string | null): Promise<Pipeline> {
    return this.pipelines.get(orgId, pipelineId);
  }

  /** For showing a deal: its pipeline, or the default one if that pipeline is gone. */
  async pipelineForDisplay(orgId: string, pipelineId?: string | null): Promise<Pipeline> {
    return this.pipelines.get(orgId, pipelineId).catch(() => DEFAULT_PIPELINE);
  }

  async execute(opportunityId: string, command: OpportunityCommand, meta: CommandMeta): Promise<CommandOutcome> {
    const streamId = opportunityStreamId(meta.actor.orgId, opportunityId);
    for (let attempt = 0; ; attempt++) {
      const recorded = await this.store.readStream(streamId);
      const already = this.alreadyApplied(recorded, meta);
      if (already) return already;
      const state = foldRecorded(recorded);
      if (command.type !== 'CreateOpportunity' && (!state.exists || state.deleted)) {
        throw DomainError.notFound('Opportunity');
      }
      if (meta.expectedVersion !== undefined && meta.expectedVersion !== state.version) {
        throw preconditionFailed(meta.expectedVersion, state.version);
      }
      authorizeCommand(meta.actor, command, state);
      if (attempt === 0) await this.assertCategory(meta.actor.orgId, command);
      const now = new Date().toISOString();
      const pipeline = await this.pipelineFor(
        meta.actor.orgId,
        command.type === 'CreateOpportunity' ? command.input.pipeline_id : state.pipeline_id,
      );
      const events = decide(command, state, { now, actor_id: meta.actor.userId, pipeline });
      if (events.length === 0) return { state, events, version: state.version, position: null };
      try {
        const result = await this.store.append(
          streamId,
          events.map((e, i) => this.toNewEvent(e, i, meta, now)),
          state.version === 0 ? 'no_stream' : state.version,
        );
        const applied = result.duplicate ? await this.load(meta.actor.orgId, opportunityId) : fold(events, state);
        return { state: applied, events, version: result.streamVersion, position: result.position };
      } catch (error) {
        if (!(error instanceof ConcurrencyError)) throw error;
        if (meta.expectedVersion !== undefined) throw preconditionFailed(meta.expectedVersion, error.actual);
        if (command.type === 'CreateOpportunity') throw new DomainError(ErrorCode.AlreadyExists, 'Opportunity already exists');
        if (attempt >= this.config.commandRetries) {
          throw new DomainError(ErrorCode.ConcurrencyConflict, 'The opportunity is being changed concurrently; retry the request');
        }
        await jitter(attempt);
      }
    }
  }

  /**
   * A keyed request whose first attempt appended and then died (no stored response): its events are
   * in the stream under the ids derived from the key, so the outcome is those events, not a second
   * decision on today's state.
   */
  private alreadyApplied(recorded: RecordedEvent[], meta: CommandMeta): CommandOutcome | null {
    if (!meta.idempotencyKey) return null;
    const first = recorded.findIndex((e) => e.eventId === this.eventId(meta, 0));
    if (first < 0) return null;
    let last = first;
    while (last + 1 < recorded.length && recorded[last + 1].eventId === this.eventId(meta, last + 1 - first)) last++;
    const mine = recorded.slice(first, last + 1);
    return {
      state: foldRecorded(recorded.slice(0, last + 1)),
      events: mine.map(toDomainEvent),
      version: recorded[last].streamVersion,
      position: recorded[last].position,
    };
  }

  private eventId(meta: CommandMeta, index: number): string {
    return meta.idempotencyKey ? nameBasedUuid(`${meta.actor.orgId}:${meta.idempotencyKey}:${index}`) : randomUUID();
  }

  private toNewEvent(event: OpportunityEvent, index: number, meta: CommandMeta, now: string): NewEvent {
    return {
      eventId: this.eventId(meta, index),
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
}

function preconditionFailed(expected: number, actual: number): DomainError {
  return new DomainError(ErrorCode.PreconditionFailed, 'The opportunity has changed since the version given in If-Match', {
    expected_version: expected,
    current_version: actual,
  });
}

function jitter(attempt: number): Promise<void> {
  const ms = Math.random() * Math.min(50, 2 ** attempt);
  return new Promise((resolve) => setTimeout(resolve, ms));
}
