import { Inject } from '@nestjs/common';
import { Command, CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import {
  decidePipeline,
  type PipelineCommand,
  type PipelineEvent,
  type PipelineState,
  pipelineStreamId,
  evolvePipeline,
  foldStoredPipeline,
} from '@app/domain';
import { EventStore } from '@app/event-store';
import { APP_CONFIG, type AppConfig } from '@app/platform';
import { type CommandMeta, type CommandOutcome, handleCommand } from '../command-handling/handle-command';
import { StreamStateCache } from '../command-handling/stream-state-cache';

export type PipelineOutcome = CommandOutcome<PipelineState, PipelineEvent>;

/** Every pipeline command travels the command bus as this one message. */
export class PipelineCommandMessage extends Command<PipelineOutcome> {
  constructor(
    readonly pipelineId: string,
    readonly command: PipelineCommand,
    readonly meta: CommandMeta,
  ) {
    super();
  }
}

@CommandHandler(PipelineCommandMessage)
export class PipelineCommandHandler implements ICommandHandler<PipelineCommandMessage, PipelineOutcome> {
  constructor(
    private readonly store: EventStore,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly cache: StreamStateCache,
  ) {}

  execute({ pipelineId, command, meta }: PipelineCommandMessage): Promise<PipelineOutcome> {
    return handleCommand<PipelineState, PipelineEvent>(
      this.store,
      this.config.commandRetries,
      {
        streamId: pipelineStreamId(meta.actor.orgId, pipelineId),
        noun: 'pipeline',
        creates: command.type === 'CreatePipeline',
        fold: (recorded) => foldStoredPipeline(pipelineId, recorded),
        evolve: (state, events) => events.reduce(evolvePipeline, state),
        decide: async (state, now) => decidePipeline(command, state, now),
      },
      meta,
      this.cache,
    );
  }
}
