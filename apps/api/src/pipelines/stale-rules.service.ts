import { Inject, Injectable } from '@nestjs/common';
import { activeStages, DEFAULT_PIPELINE_ID } from '@app/domain';
import { APP_CONFIG, AppConfig, Database, DATABASE } from '@app/platform';
import { StaleRule, type ReadModelTables } from '@app/read-models';
import { PipelineRepository } from './pipeline.repository';

/** Per-stage rotting: a stage's rotting_days, else STALE_AFTER_DAYS, for every active stage of every pipeline. */
@Injectable()
export class StaleRules {
  constructor(
    @Inject(DATABASE) private readonly database: Database,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly pipelines: PipelineRepository,
  ) {}

  get defaultDays(): number {
    return this.config.staleAfterDays;
  }

  async forOrg(orgId: string, defaultDays = this.config.staleAfterDays): Promise<StaleRule[]> {
    const rows = await this.database
      .tables<ReadModelTables>()
      .selectFrom('pipelines')
      .select(['id', 'definition'])
      .where('org_id', '=', orgId)
      .where('deleted_at', 'is', null)
      .execute();
    const definitions = rows.map((r) => r.definition);
    if (!definitions.some((p) => p.id === DEFAULT_PIPELINE_ID)) {
      definitions.push((await this.pipelines.load(orgId, DEFAULT_PIPELINE_ID)).pipeline!);
    }
    return definitions.flatMap((p) =>
      activeStages(p).map((s) => ({ pipeline_id: p.id, stage: s.key, days: s.rotting_days ?? defaultDays })),
    );
  }
}
