import { Injectable } from '@nestjs/common';
import { DEFAULT_PIPELINE_ID, DomainError, type Pipeline, type PipelineState, pipelineStreamId, foldStoredPipeline } from '@app/domain';
import { EventStore } from '@app/event-store';
import { type StreamReads, StreamStateCache } from '../command-handling/stream-state-cache';

/** Pipelines are event-sourced too: read by folding their (short) stream, so rules are never stale. */
@Injectable()
export class PipelineRepository {
  constructor(
    private readonly store: EventStore,
    private readonly cache: StreamStateCache,
  ) {}

  async load(orgId: string, pipelineId: string): Promise<PipelineState> {
    const recorded = await this.store.readStream(pipelineStreamId(orgId, pipelineId));
    const state = foldStoredPipeline(pipelineId, recorded);
    this.cache.set(pipelineStreamId(orgId, pipelineId), { state, version: recorded.at(-1)?.streamVersion ?? 0 });
    return state;
  }

  /** The pipeline a deal follows; an unknown or deleted id is a field error on pipeline_id. */
  async get(orgId: string, pipelineId: string | null | undefined): Promise<Pipeline> {
    return usable(pipelineId, await this.load(orgId, pipelineId || DEFAULT_PIPELINE_ID));
  }

  /**
   * The pipeline as this process last saw it (cached), else as stored. For the response of a
   * command that just decided with it: the append's condition proved it current at that moment.
   */
  async lastSeen(orgId: string, pipelineId: string | null | undefined): Promise<Pipeline> {
    const id = pipelineId || DEFAULT_PIPELINE_ID;
    const cached = this.cache.get<PipelineState>(pipelineStreamId(orgId, id));
    return usable(pipelineId, cached ? cached.state : await this.load(orgId, id));
  }

  /**
   * The pipeline a command decides with: the cached fold when there is one, and the version read
   * goes into `reads`, so the command's append is refused if the pipeline changed since.
   */
  async forCommand(orgId: string, pipelineId: string | null | undefined, reads: StreamReads): Promise<Pipeline> {
    const id = pipelineId || DEFAULT_PIPELINE_ID;
    const streamId = pipelineStreamId(orgId, id);
    const cached = reads.mayUseCache ? this.cache.get<PipelineState>(streamId) : undefined;
    if (cached) {
      reads.add(streamId, cached.version, true);
      return usable(pipelineId, cached.state);
    }
    const recorded = await this.store.readStream(streamId);
    const state = foldStoredPipeline(id, recorded);
    const version = recorded.at(-1)?.streamVersion ?? 0;
    this.cache.set(streamId, { state, version });
    reads.add(streamId, version, false);
    return usable(pipelineId, state);
  }
}

function usable(pipelineId: string | null | undefined, state: PipelineState): Pipeline {
  if (!state.exists || state.deleted || !state.pipeline) {
    throw DomainError.validation({ pipeline_id: [`pipeline ${pipelineId} does not exist`] });
  }
  return state.pipeline;
}
