import { Module } from '@nestjs/common';
import { CommandDispatcher } from './handle-command';
import { StreamStateCache } from './stream-state-cache';

/** The one way a command is sent: through the bus, counted, remembered for read-your-writes; the folded streams it decides on. */
@Module({ providers: [CommandDispatcher, StreamStateCache], exports: [CommandDispatcher, StreamStateCache] })
export class CommandHandlingModule {}
