import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { OpportunityRepository } from '../opportunity.repository';
import { Of, OpportunityCommandHandler, OpportunityCommandMessage } from './opportunity-command';

export class LogActivity extends OpportunityCommandMessage<Of<'LogActivity'>> {}

@CommandHandler(LogActivity)
export class LogActivityHandler extends OpportunityCommandHandler<LogActivity> implements ICommandHandler<LogActivity> {
  constructor(repository: OpportunityRepository) {
    super(repository);
  }
}
