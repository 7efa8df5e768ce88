import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { OpportunityRepository } from '../opportunity.repository';
import { Of, OpportunityCommandHandler, OpportunityCommandMessage } from './opportunity-command';

export class AddNote extends OpportunityCommandMessage<Of<'AddNote'>> {}

@CommandHandler(AddNote)
export class AddNoteHandler extends OpportunityCommandHandler<AddNote> implements ICommandHandler<AddNote> {
  constructor(repository: OpportunityRepository) {
    super(repository);
  }
}
