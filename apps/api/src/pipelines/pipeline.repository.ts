import { Injectable } from '@nestjs/common';
import { DEFAULT_PIPELINE_ID, DomainError, type Pipeline, type PipelineState, pipelineStreamId, foldStoredPipeline } from '@app/domain';
import { EventStore } from '@app/event-store';

/** Pipelines are event-sourced too: read by folding their (short) stream, so rules are never stale. */
@Injectable()
export class PipelineRepository {
  constructor(private readonly store: EventStore) {}

  async load(orgId: string, pipelineId: string): Promise<PipelineState> {
    return foldStoredPipeline(pipelineId, await this.store.readStream(pipelineStreamId(orgId, pipelineId)));
  }

  /** The pipeline a deal follows; an unknown or deleted id is a field error on pipeline_id. */
  async get(orgId: string, pipelineId: string | null | undefined): Promise<Pipeline> {
    const state = await this.load(orgId, pipelineId || DEFAULT_PIPELINE_ID);
    if (!state.exists || state.deleted || !state.pipeline) {
      throw DomainError.validation({ pipeline_id: [`pipeline ${pipelineId} does not exist`] });
    }
    return state.pipeline;
  }
}
