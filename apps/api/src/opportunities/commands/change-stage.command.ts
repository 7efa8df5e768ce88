import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { OpportunityRepository } from '../opportunity.repository';
import { Of, OpportunityCommandHandler, OpportunityCommandMessage } from './opportunity-command';

export class ChangeStage extends OpportunityCommandMessage<Of<'ChangeStage'>> {}

@CommandHandler(ChangeStage)
export class ChangeStageHandler extends OpportunityCommandHandler<ChangeStage> implements ICommandHandler<ChangeStage> {
  constructor(repository: OpportunityRepository) {
    super(repository);
  }
}
