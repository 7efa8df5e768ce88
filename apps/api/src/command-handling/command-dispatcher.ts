import { Injectable } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { DomainError } from '@app/domain';
import { Metrics } from '@app/platform';
import { ConsistencyService } from '@app/read-models';
import type { OpportunityCommandMessage, OpportunityOutcome } from '../opportunities/opportunity-commands';
import type { PipelineCommandMessage, PipelineOutcome } from '../pipelines/pipeline-commands';

type Outcome<M> = M extends OpportunityCommandMessage ? OpportunityOutcome : PipelineOutcome;

/** Sends a command through the bus, counts it, remembers the write for read-your-writes and reports the outcome (ETag, X-Global-Position). */
@Injectable()
export class CommandDispatcher {
  constructor(
    private readonly commands: CommandBus,
    private readonly consistency: ConsistencyService,
    private readonly metrics: Metrics,
  ) {}

  async execute<M extends OpportunityCommandMessage | PipelineCommandMessage>(message: M): Promise<Outcome<M>> {
    const command = message.command.type;
    try {
      const outcome = await this.commands.execute<M, Outcome<M>>(message);
      if (outcome.position !== null) this.consistency.remember(message.meta.actor.orgId, outcome.position);
      message.meta.onApplied?.(outcome);
      this.metrics.commands.inc({ command, outcome: 'ok' });
      return outcome;
    } catch (error) {
      this.metrics.commands.inc({ command, outcome: error instanceof DomainError ? error.code : 'error' });
      throw error;
    }
  }
}
