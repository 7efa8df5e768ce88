import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { OpportunityRepository } from '../opportunity.repository';
import { Of, OpportunityCommandHandler, OpportunityCommandMessage } from './opportunity-command';

export class CompleteActivity extends OpportunityCommandMessage<Of<'CompleteActivity'>> {}

@CommandHandler(CompleteActivity)
export class CompleteActivityHandler extends OpportunityCommandHandler<CompleteActivity> implements ICommandHandler<CompleteActivity> {
  constructor(repository: OpportunityRepository) {
    super(repository);
  }
}
