import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { OpportunityRepository } from '../opportunity.repository';
import { Of, OpportunityCommandHandler, OpportunityCommandMessage } from './opportunity-command';

export class Resume extends OpportunityCommandMessage<Of<'Resume'>> {}

@CommandHandler(Resume)
export class ResumeHandler extends OpportunityCommandHandler<Resume> implements ICommandHandler<Resume> {
  constructor(repository: OpportunityRepository) {
    super(repository);
  }
}
