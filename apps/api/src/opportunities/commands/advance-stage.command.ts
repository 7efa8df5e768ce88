import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { OpportunityRepository } from '../opportunity.repository';
import { Of, OpportunityCommandHandler, OpportunityCommandMessage } from './opportunity-command';

export class AdvanceStage extends OpportunityCommandMessage<Of<'AdvanceStage'>> {}

@CommandHandler(AdvanceStage)
export class AdvanceStageHandler extends OpportunityCommandHandler<AdvanceStage> implements ICommandHandler<AdvanceStage> {
  constructor(repository: OpportunityRepository) {
    super(repository);
  }
}
