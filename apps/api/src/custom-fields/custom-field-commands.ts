import { Inject } from '@nestjs/common';
import { Command, CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import {
  type CustomFieldCommand,
  type CustomFieldEvent,
  type CustomFieldsState,
  customFieldsStreamId,
  decideCustomFields,
  evolveCustomFields,
  foldStoredCustomFields,
} from '@app/domain';
import { EventStore } from '@app/event-store';
import { APP_CONFIG, type AppConfig } from '@app/platform';
import { type CommandMeta, type CommandOutcome, handleCommand } from '../command-handling/handle-command';
import { StreamStateCache } from '../command-handling/stream-state-cache';
import { PipelineRepository } from '../pipelines/pipeline.repository';

export type CustomFieldsOutcome = CommandOutcome<CustomFieldsState, CustomFieldEvent>;

/** Every custom-field command travels the command bus as this one message (one stream per org). */
export class CustomFieldCommandMessage extends Command<CustomFieldsOutcome> {
  constructor(
    readonly command: CustomFieldCommand,
    readonly meta: CommandMeta,
  ) {
    super();
  }
}

@CommandHandler(CustomFieldCommandMessage)
export class CustomFieldCommandHandler implements ICommandHandler<CustomFieldCommandMessage, CustomFieldsOutcome> {
  constructor(
    private readonly store: EventStore,
    private readonly pipelines: PipelineRepository,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly cache: StreamStateCache,
  ) {}

  execute({ command, meta }: CustomFieldCommandMessage): Promise<CustomFieldsOutcome> {
    const orgId = meta.actor.orgId;
    return handleCommand<CustomFieldsState, CustomFieldEvent>(
      this.store,
      this.config.commandRetries,
      {
        streamId: customFieldsStreamId(orgId),
        noun: 'custom field',
        fold: foldStoredCustomFields,
        evolve: (state, events) => events.reduce(evolveCustomFields, state),
        decide: async (state, now, reads) => {
          const pipelineId =
            command.type === 'DefineCustomField'
              ? command.input.pipeline_id
              : command.type === 'ChangeCustomField'
                ? command.changes.pipeline_id
                : undefined;
          const events = decideCustomFields(command, state, now);
          // A field of one pipeline names one that exists (an unknown id: 400 on pipeline_id).
          if (events.length > 0 && typeof pipelineId === 'string') await this.pipelines.forCommand(orgId, pipelineId, reads);
          return events;
        },
      },
      meta,
      this.cache,
    );
  }
}
