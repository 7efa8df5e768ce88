import { type OpportunityCommand } from '@app/domain';
import { type CommandOutcome, type CommandMeta, type OpportunityRepository } from '../opportunity.repository';

/** Base of the per-command classes: which deal, what to decide, who and why. */
export abstract class OpportunityCommandMessage<T extends OpportunityCommand = OpportunityCommand> {
  constructor(
    readonly opportunityId: string,
    readonly command: T,
    readonly meta: CommandMeta,
  ) {}
}

/** Every handler only loads, decides and appends; the repository does exactly that. */
export abstract class OpportunityCommandHandler<M extends OpportunityCommandMessage> {
  constructor(private readonly repository: OpportunityRepository) {}

  execute(message: M): Promise<CommandOutcome> {
    return this.repository.execute(message.opportunityId, message.command, message.meta);
  }
}

export type Of<K extends OpportunityCommand['type']> = Extract<OpportunityCommand, { type: K }>;
