import { Injectable } from '@nestjs/common';
import { DEFAULT_PIPELINE, foldStored, type OpportunityState, opportunityStreamId, type Pipeline } from '@app/domain';
import { EventStore } from '@app/event-store';
import { PipelineRepository } from '../pipelines/pipeline.repository';

/** Reads deals and their pipelines for views and queries (commands go through OpportunityCommandHandler). */
@Injectable()
export class OpportunityRepository {
  constructor(
    private readonly store: EventStore,
    private readonly pipelines: PipelineRepository,
  ) {}

  async load(orgId: string, opportunityId: string): Promise<OpportunityState> {
    return foldStored(await this.store.readStream(opportunityStreamId(orgId, opportunityId)));
  }

  pipelineFor(orgId: string, pipelineId?: string | null): Promise<Pipeline> {
    return this.pipelines.get(orgId, pipelineId);
  }

  /**
   * For showing a deal: its pipeline, or the default one if that pipeline is gone. `justDecided`:
   * the deal is the outcome of a command of this process, so the pipeline it was decided with
   * (cached) is the one to show.
   */
  async pipelineForDisplay(orgId: string, pipelineId?: string | null, justDecided = false): Promise<Pipeline> {
    return (justDecided ? this.pipelines.lastSeen(orgId, pipelineId) : this.pipelines.get(orgId, pipelineId)).catch(() => DEFAULT_PIPELINE);
  }
}
