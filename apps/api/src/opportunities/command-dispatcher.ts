import { Injectable } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import type { Response } from 'express';
import { ConsistencyService } from '@app/read-models';
import { OpportunityCommandMessage } from './commands/opportunity-command';
import { setVersionHeaders } from './command-context';
import type { CommandOutcome } from './opportunity.repository';

/** Sends a deal command through the bus, sets ETag / X-Global-Position, remembers the write for reads. */
@Injectable()
export class CommandDispatcher {
  constructor(
    private readonly commands: CommandBus,
    private readonly consistency: ConsistencyService,
  ) {}

  async execute(message: OpportunityCommandMessage): Promise<CommandOutcome> {
    const outcome = await this.commands.execute<OpportunityCommandMessage, CommandOutcome>(message);
    if (outcome.position !== null) this.consistency.remember(message.meta.actor.orgId, outcome.position);
    return outcome;
  }

  async dispatch(res: Response, message: OpportunityCommandMessage): Promise<CommandOutcome> {
    const outcome = await this.execute(message);
    setVersionHeaders(res, outcome);
    return outcome;
  }
}
