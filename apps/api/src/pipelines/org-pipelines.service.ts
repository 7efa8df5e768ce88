import { Inject, Injectable } from '@nestjs/common';
import { DEFAULT_PIPELINE_ID, type Pipeline } from '@app/domain';
import { Database, DATABASE } from '@app/platform';
import { type ReadModelTables } from '@app/read-models';
import { PipelineRepository } from './pipeline.repository';

/** The pipelines an org's deals can be in: its own that are not deleted, and the default one (built in until the org changes it). */
@Injectable()
export class OrgPipelines {
  constructor(
    @Inject(DATABASE) private readonly database: Database,
    private readonly pipelines: PipelineRepository,
  ) {}

  /** The default pipeline first, then the others by id. */
  async all(orgId: string): Promise<Pipeline[]> {
    const rows = await this.database
      .tables<ReadModelTables>()
      .selectFrom('pipelines')
      .select(['id', 'definition'])
      .where('org_id', '=', orgId)
      .where('deleted_at', 'is', null)
      .orderBy('id')
      .execute();
    const definitions = rows.map((r) => r.definition);
    const own = definitions.find((p) => p.id === DEFAULT_PIPELINE_ID);
    const fallback = own ? undefined : (await this.pipelines.load(orgId, DEFAULT_PIPELINE_ID)).pipeline;
    const first = own ?? fallback;
    return [...(first ? [first] : []), ...definitions.filter((p) => p.id !== DEFAULT_PIPELINE_ID)];
  }

  /** Every stage key some pipeline of the org defines, once each: the default pipeline's first, each pipeline's in display order. */
  async stageKeys(orgId: string): Promise<string[]> {
    const keys = (await this.all(orgId)).flatMap((p) => [...p.stages].sort((a, b) => a.display_order - b.display_order).map((s) => s.key));
    return [...new Set(keys)];
  }
}
