import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { OpportunityRepository } from '../opportunity.repository';
import { Of, OpportunityCommandHandler, OpportunityCommandMessage } from './opportunity-command';

export class UpdateOpportunity extends OpportunityCommandMessage<Of<'UpdateOpportunity'>> {}

@CommandHandler(UpdateOpportunity)
export class UpdateOpportunityHandler extends OpportunityCommandHandler<UpdateOpportunity> implements ICommandHandler<UpdateOpportunity> {
  constructor(repository: OpportunityRepository) {
    super(repository);
  }
}
