import { Module } from '@nestjs/common';
import { CommandDispatcher } from './handle-command';

/** The one way a command is sent: through the bus, counted, remembered for read-your-writes. */
@Module({ providers: [CommandDispatcher], exports: [CommandDispatcher] })
export class CommandHandlingModule {}
