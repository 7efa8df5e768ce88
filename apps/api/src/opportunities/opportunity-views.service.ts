import { Inject, Injectable } from '@nestjs/common';
import { customFieldMismatches, definitionsFor, OpportunityState } from '@app/domain';
import { Actor, APP_CONFIG, AppConfig, Database, DATABASE } from '@app/platform';
import { loadRefs, Refs, type ReadModelTables } from '@app/read-models';
import { CustomFieldsRepository } from '../custom-fields/custom-fields.repository';
import { customFieldView } from '../custom-fields/custom-field.view';
import { OpportunityRepository } from './opportunity.repository';
import { opportunityDetail, stakeholderContactIds } from './opportunity.view';

/** Renders a deal for an actor: resolves its owner and customer, picks its pipeline. */
@Injectable()
export class OpportunityViews {
  constructor(
    @Inject(DATABASE) private readonly database: Database,
    private readonly repository: OpportunityRepository,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly customFields: CustomFieldsRepository,
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

  /**
   * The detail also says which custom fields apply to the deal's pipeline (today's definitions, in
   * display order) and which stored values no longer fit them (the values stay as recorded).
   */
  async detail(actor: Actor, state: OpportunityState, includes: string[] = [], activities?: unknown[]) {
    const [pipeline, refs, fields] = await Promise.all([
      this.pipeline(actor, state),
      this.refs(actor, state),
      this.customFields.load(actor.orgId),
    ]);
    return {
      ...opportunityDetail(state, pipeline, new Date().toISOString(), refs, {
        includes,
        activities,
        staleAfterDays: this.config.staleAfterDays,
      }),
      custom_field_definitions: definitionsFor(fields, state.pipeline_id).map(customFieldView),
      custom_field_mismatches: customFieldMismatches(fields, state.pipeline_id, state.custom_fields),
    };
  }
}
