import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { OpportunityRepository } from '../opportunity.repository';
import { Of, OpportunityCommandHandler, OpportunityCommandMessage } from './opportunity-command';

export class PutOnHold extends OpportunityCommandMessage<Of<'PutOnHold'>> {}

@CommandHandler(PutOnHold)
export class PutOnHoldHandler extends OpportunityCommandHandler<PutOnHold> implements ICommandHandler<PutOnHold> {
  constructor(repository: OpportunityRepository) {
    super(repository);
  }
}
