import { Controller, Get } from '@nestjs/common';
import { Roles } from '@app/platform';
import { ProjectionRunner } from '@app/read-models';

@Controller('projections')
export class ProjectionsController {
  constructor(private readonly runner: ProjectionRunner) {}

  /** Checkpoint, position, dead letters and whether each projection runs in this process. */
  @Get()
  @Roles('admin')
  async status() {
    return { data: await this.runner.status() };
  }
}
