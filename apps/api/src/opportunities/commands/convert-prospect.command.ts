import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { OpportunityRepository } from '../opportunity.repository';
import { Of, OpportunityCommandHandler, OpportunityCommandMessage } from './opportunity-command';

export class ConvertProspect extends OpportunityCommandMessage<Of<'ConvertProspect'>> {}

@CommandHandler(ConvertProspect)
export class ConvertProspectHandler extends OpportunityCommandHandler<ConvertProspect> implements ICommandHandler<ConvertProspect> {
  constructor(repository: OpportunityRepository) {
    super(repository);
  }
}
