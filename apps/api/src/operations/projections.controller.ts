import { Controller, Get } from '@nestjs/common';
import { type Actor, CurrentActor, Roles } from '@app/platform';
import { ProjectionRunner } from '@app/read-models';

@Controller('projections')
export class ProjectionsController {
  constructor(private readonly runner: ProjectionRunner) {}

  /**
   * Checkpoint, position, and whether each projection runs in this process (positions are global,
   * as in every command's X-Global-Position); dead letters and halt reasons of the caller's org only.
   */
  @Get()
  @Roles('admin')
  async status(@CurrentActor() actor: Actor) {
    return { data: await this.runner.status(actor.orgId) };
  }
}
