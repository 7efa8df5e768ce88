import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { OpportunityRepository } from '../opportunity.repository';
import { Of, OpportunityCommandHandler, OpportunityCommandMessage } from './opportunity-command';

export class WinOpportunity extends OpportunityCommandMessage<Of<'Win'>> {}

@CommandHandler(WinOpportunity)
export class WinOpportunityHandler extends OpportunityCommandHandler<WinOpportunity> implements ICommandHandler<WinOpportunity> {
  constructor(repository: OpportunityRepository) {
    super(repository);
  }
}
