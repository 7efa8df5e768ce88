import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { OpportunityRepository } from '../opportunity.repository';
import { Of, OpportunityCommandHandler, OpportunityCommandMessage } from './opportunity-command';

export class CreateOpportunity extends OpportunityCommandMessage<Of<'CreateOpportunity'>> {}

@CommandHandler(CreateOpportunity)
export class CreateOpportunityHandler extends OpportunityCommandHandler<CreateOpportunity> implements ICommandHandler<CreateOpportunity> {
  constructor(repository: OpportunityRepository) {
    super(repository);
  }
}
