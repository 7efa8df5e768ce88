import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { OpportunityRepository } from '../opportunity.repository';
import { Of, OpportunityCommandHandler, OpportunityCommandMessage } from './opportunity-command';

export class AssignOpportunity extends OpportunityCommandMessage<Of<'Assign'>> {}

@CommandHandler(AssignOpportunity)
export class AssignOpportunityHandler extends OpportunityCommandHandler<AssignOpportunity> implements ICommandHandler<AssignOpportunity> {
  constructor(repository: OpportunityRepository) {
    super(repository);
  }
}
