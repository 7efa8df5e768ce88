import { Module } from '@nestjs/common';
import { CommandHandlingModule } from '../command-handling/command-handling.module';
import { OpportunitiesModule } from '../opportunities/opportunities.module';
import { TimelineController } from './timeline.controller';

/** Notes and activities on deals, and each deal's timeline. */
@Module({ imports: [CommandHandlingModule, OpportunitiesModule], controllers: [TimelineController] })
export class TimelineModule {}
