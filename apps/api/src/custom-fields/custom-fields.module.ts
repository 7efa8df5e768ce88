import { Module } from '@nestjs/common';
import { CommandHandlingModule } from '../command-handling/command-handling.module';
import { PipelinesModule } from '../pipelines/pipelines.module';
import { CustomFieldCommandHandler } from './custom-field-commands';
import { CustomFieldsController } from './custom-fields.controller';
import { CustomFieldsRepository } from './custom-fields.repository';

/** Custom-field definitions: an event-sourced aggregate per org, read by the deal commands and views. */
@Module({
  imports: [CommandHandlingModule, PipelinesModule],
  controllers: [CustomFieldsController],
  providers: [CustomFieldCommandHandler, CustomFieldsRepository],
  exports: [CustomFieldsRepository],
})
export class CustomFieldsModule {}
