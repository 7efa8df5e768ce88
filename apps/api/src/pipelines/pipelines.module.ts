import { Module } from '@nestjs/common';
import { CommandHandlingModule } from '../command-handling/command-handling.module';
import { PipelineCommandHandler } from './pipeline-commands';
import { OrgPipelines } from './org-pipelines.service';
import { PipelineRepository } from './pipeline.repository';
import { PipelinesController } from './pipelines.controller';
import { StaleRules } from './stale-rules.service';

/** Pipelines and their stages: an event-sourced aggregate of their own, read by the deals they govern. */
@Module({
  imports: [CommandHandlingModule],
  controllers: [PipelinesController],
  providers: [PipelineCommandHandler, PipelineRepository, OrgPipelines, StaleRules],
  exports: [PipelineRepository, OrgPipelines, StaleRules],
})
export class PipelinesModule {}
