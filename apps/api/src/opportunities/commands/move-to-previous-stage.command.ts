import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { OpportunityRepository } from '../opportunity.repository';
import { Of, OpportunityCommandHandler, OpportunityCommandMessage } from './opportunity-command';

export class MoveToPreviousStage extends OpportunityCommandMessage<Of<'MoveToPreviousStage'>> {}

@CommandHandler(MoveToPreviousStage)
export class MoveToPreviousStageHandler
  extends OpportunityCommandHandler<MoveToPreviousStage>
  implements ICommandHandler<MoveToPreviousStage>
{
  constructor(repository: OpportunityRepository) {
    super(repository);
  }
}
