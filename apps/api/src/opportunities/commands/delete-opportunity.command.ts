import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { OpportunityRepository } from '../opportunity.repository';
import { Of, OpportunityCommandHandler, OpportunityCommandMessage } from './opportunity-command';

export class DeleteOpportunity extends OpportunityCommandMessage<Of<'Delete'>> {}

@CommandHandler(DeleteOpportunity)
export class DeleteOpportunityHandler extends OpportunityCommandHandler<DeleteOpportunity> implements ICommandHandler<DeleteOpportunity> {
  constructor(repository: OpportunityRepository) {
    super(repository);
  }
}
