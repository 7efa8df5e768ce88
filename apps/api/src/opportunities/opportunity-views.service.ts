import { Inject, Injectable } from '@nestjs/common';
import { customFieldMismatches, definitionsFor, OpportunityState } from '@app/domain';
import { Actor, APP_CONFIG, AppConfig, Database, DATABASE } from '@app/platform';
import { loadRefs, Refs, type ReadModelTables } from '@app/read-models';
import { CustomFieldsRepository } from '../custom-fields/custom-fields.repository';
import { customFieldView } from '../custom-fields/custom-field.view';
import { OpportunityRepository } from './opportunity.repository';
import { opportunityDetail, stakeholderContactIds } from './opportunity.view';

/** Renders a deal for an actor: resolves its owner, customer and (asked for) lead, picks its pipeline. */
@Injectable()
export class OpportunityViews {
  constructor(
    @Inject(DATABASE) private readonly database: Database,
    private readonly repository: OpportunityRepository,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly customFields: CustomFieldsRepository,
  ) {}

  /** The deal's owner, customer and stakeholders; its lead only when `includes` asks for it. */
  refs(actor: Actor, state: OpportunityState, includes: readonly string[] = []): Promise<Refs> {
    return loadRefs(
      this.database.tables<ReadModelTables>(),
      actor.orgId,
      [state.assigned_user_id],
      [state.customer_id],
      stakeholderContactIds([state]),
      includes.includes('lead') ? [state.lead_id] : [],
    );
  }

  pipeline(actor: Actor, state: OpportunityState, justDecided = false) {
    return this.repository.pipelineForDisplay(actor.orgId, state.pipeline_id, justDecided);
  }

  /**
   * The detail also says which custom fields apply to the deal's pipeline (today's definitions, in
   * display order) and which stored values no longer fit them (the values stay as recorded).
   * `justDecided`: the state is a command's outcome here, shown with the pipeline and definitions
   * that command decided with (as this process cached them) rather than read again.
   */
  async detail(actor: Actor, state: OpportunityState, includes: string[] = [], activities?: unknown[], justDecided = false) {
    const [pipeline, refs, fields] = await Promise.all([
      this.pipeline(actor, state, justDecided),
      this.refs(actor, state, includes),
      justDecided ? this.customFields.lastSeen(actor.orgId) : this.customFields.load(actor.orgId),
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
