import { Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import {
  decidePipeline,
  pipelineStreamId,
  DEFAULT_PIPELINE_ID,
  DomainError,
  ErrorCode,
  evolvePipeline,
  initialPipelineState,
  Pipeline,
  PipelineCommand,
  PipelineEvent,
  PipelineState,
} from '@app/domain';
import { ConcurrencyError, EventStore } from '@app/event-store';
import { APP_CONFIG, AppConfig } from '@app/platform';
import type { CommandMeta } from '../opportunities/opportunity.repository';

/** Pipelines are event-sourced too: read by folding their (short) stream, so rules are never stale. */
@Injectable()
export class PipelineRepository {
  constructor(
    private readonly store: EventStore,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async load(orgId: string, pipelineId: string): Promise<PipelineState> {
    const events = await this.store.readStream(pipelineStreamId(orgId, pipelineId));
    return events.reduce((s, e) => evolvePipeline(s, { type: e.type, data: e.data } as PipelineEvent), initialPipelineState(pipelineId));
  }

  /** The pipeline a deal follows; an unknown or deleted id is a field error on pipeline_id. */
  async get(orgId: string, pipelineId: string | null | undefined): Promise<Pipeline> {
    const state = await this.load(orgId, pipelineId || DEFAULT_PIPELINE_ID);
    if (!state.exists || state.deleted || !state.pipeline) {
      throw DomainError.validation({ pipeline_id: [`pipeline ${pipelineId} does not exist`] });
    }
    return state.pipeline;
  }

  async execute(orgId: string, pipelineId: string, command: PipelineCommand, meta: CommandMeta) {
    const streamId = pipelineStreamId(orgId, pipelineId);
    for (let attempt = 0; ; attempt++) {
      const state = await this.load(orgId, pipelineId);
      if (meta.expectedVersion !== undefined && meta.expectedVersion !== state.version) {
        throw new DomainError(ErrorCode.PreconditionFailed, 'The pipeline has changed since the version given in If-Match', {
          expected_version: meta.expectedVersion,
          current_version: state.version,
        });
      }
      const now = new Date().toISOString();
      const events = decidePipeline(command, state, now);
      try {
        const result = await this.store.append(
          streamId,
          events.map((e) => ({
            eventId: randomUUID(),
            type: e.type,
            data: e.data,
            metadata: {
              org_id: orgId,
              actor_id: meta.actor.userId,
              actor_role: meta.actor.role,
              correlation_id: meta.correlationId,
              causation_id: meta.commandId,
              occurred_at: now,
            },
          })),
          state.version === 0 ? 'no_stream' : state.version,
        );
        const after = events.reduce(evolvePipeline, state);
        return { state: after, version: result.streamVersion, position: result.position };
      } catch (error) {
        if (!(error instanceof ConcurrencyError) || attempt >= this.config.commandRetries) throw error;
      }
    }
  }
}
