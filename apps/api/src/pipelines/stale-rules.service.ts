import { Inject, Injectable } from '@nestjs/common';
import { activeStages } from '@app/domain';
import { APP_CONFIG, AppConfig } from '@app/platform';
import { StaleRule } from '@app/read-models';
import { OrgPipelines } from './org-pipelines.service';

/** Per-stage rotting: a stage's rotting_days, else STALE_AFTER_DAYS, for every active stage of every pipeline. */
@Injectable()
export class StaleRules {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly pipelines: OrgPipelines,
  ) {}

  get defaultDays(): number {
    return this.config.staleAfterDays;
  }

  async forOrg(orgId: string, defaultDays = this.config.staleAfterDays): Promise<StaleRule[]> {
    return (await this.pipelines.all(orgId)).flatMap((p) =>
      activeStages(p).map((s) => ({ pipeline_id: p.id, stage: s.key, days: s.rotting_days ?? defaultDays })),
    );
  }
}
