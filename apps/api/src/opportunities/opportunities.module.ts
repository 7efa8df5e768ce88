import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { BulkActionsController } from '../bulk/bulk-actions.controller';
import { CommandHandlingModule } from '../command-handling/command-handling.module';
import { CustomFieldsModule } from '../custom-fields/custom-fields.module';
import { PipelinesModule } from '../pipelines/pipelines.module';
import { OpportunitiesController } from './opportunities.controller';
import { OpportunityCommandHandler } from './opportunity-commands';
import { OpportunityQueriesController } from './opportunity-queries.controller';
import { OpportunityRepository } from './opportunity.repository';
import { OpportunityViews } from './opportunity-views.service';
import { QUERY_HANDLERS } from './queries/opportunity-queries';

/** Deals: their commands (one handler for all), lists, totals, forecasts and bulk actions. */
@Module({
  imports: [CommandHandlingModule, PipelinesModule, CustomFieldsModule, AuditModule],
  controllers: [OpportunitiesController, OpportunityQueriesController, BulkActionsController],
  providers: [OpportunityCommandHandler, OpportunityRepository, OpportunityViews, ...QUERY_HANDLERS],
  exports: [OpportunityRepository],
})
export class OpportunitiesModule {}
