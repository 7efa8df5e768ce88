import { Inject, Injectable } from '@nestjs/common';
import { OpportunityState } from '@app/domain';
import { Actor, APP_CONFIG, AppConfig, Database, DATABASE } from '@app/platform';
import { loadRefs, Refs, type ReadModelTables } from '@app/read-models';
import { OpportunityRepository } from './opportunity.repository';
import { opportunityDetail, stakeholderContactIds } from './opportunity.view';

/** Renders a deal for an actor: resolves its owner and customer, picks its pipeline. */
@Injectable()
export class OpportunityViews {
  constructor(
    @Inject(DATABASE) private readonly database: Database,
    private readonly repository: OpportunityRepository,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  refs(actor: Actor, state: OpportunityState): Promise<Refs> {
    return loadRefs(
      this.database.tables<ReadModelTables>(),
      actor.orgId,
      [state.assigned_user_id],
      [state.customer_id],
      stakeholderContactIds([state]),
    );
  }

  pipeline(actor: Actor, state: OpportunityState) {
    return this.repository.pipelineForDisplay(actor.orgId, state.pipeline_id);
  }

  async detail(actor: Actor, state: OpportunityState, includes: string[] = [], activities?: unknown[]) {
    const [pipeline, refs] = await Promise.all([this.pipeline(actor, state), this.refs(actor, state)]);
    return opportunityDetail(state, pipeline, new Date().toISOString(), refs, {
      includes,
      activities,
      staleAfterDays: this.config.staleAfterDays,
    });
  }
}
