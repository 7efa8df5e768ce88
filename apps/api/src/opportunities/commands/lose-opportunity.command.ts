import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { OpportunityRepository } from '../opportunity.repository';
import { Of, OpportunityCommandHandler, OpportunityCommandMessage } from './opportunity-command';

export class LoseOpportunity extends OpportunityCommandMessage<Of<'Lose'>> {}

@CommandHandler(LoseOpportunity)
export class LoseOpportunityHandler extends OpportunityCommandHandler<LoseOpportunity> implements ICommandHandler<LoseOpportunity> {
  constructor(repository: OpportunityRepository) {
    super(repository);
  }
}
