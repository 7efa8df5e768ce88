import { Injectable } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import type { Response } from 'express';
import { DomainError } from '@app/domain';
import { Metrics } from '@app/platform';
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
    private readonly metrics: Metrics,
  ) {}

  async execute(message: OpportunityCommandMessage): Promise<CommandOutcome> {
    const command = message.command.type;
    try {
      const outcome = await this.commands.execute<OpportunityCommandMessage, CommandOutcome>(message);
      if (outcome.position !== null) this.consistency.remember(message.meta.actor.orgId, outcome.position);
      this.metrics.commands.inc({ command, outcome: 'ok' });
      return outcome;
    } catch (error) {
      this.metrics.commands.inc({ command, outcome: error instanceof DomainError ? error.code : 'error' });
      throw error;
    }
  }

  async dispatch(res: Response, message: OpportunityCommandMessage): Promise<CommandOutcome> {
    const outcome = await this.execute(message);
    setVersionHeaders(res, outcome);
    return outcome;
  }
}
