import { AddNoteHandler } from './add-note.command';
import { AdvanceStageHandler } from './advance-stage.command';
import { CompleteActivityHandler } from './complete-activity.command';
import { ConvertProspectHandler } from './convert-prospect.command';
import { LogActivityHandler } from './log-activity.command';
import { AssignOpportunityHandler } from './assign-opportunity.command';
import { ChangeStageHandler } from './change-stage.command';
import { CreateOpportunityHandler } from './create-opportunity.command';
import { DeleteOpportunityHandler } from './delete-opportunity.command';
import { LoseOpportunityHandler } from './lose-opportunity.command';
import { MoveToPreviousStageHandler } from './move-to-previous-stage.command';
import { PutOnHoldHandler } from './put-on-hold.command';
import { ResumeHandler } from './resume.command';
import { UpdateOpportunityHandler } from './update-opportunity.command';
import { WinOpportunityHandler } from './win-opportunity.command';

export const COMMAND_HANDLERS = [
  CreateOpportunityHandler,
  UpdateOpportunityHandler,
  ChangeStageHandler,
  AdvanceStageHandler,
  MoveToPreviousStageHandler,
  PutOnHoldHandler,
  ResumeHandler,
  WinOpportunityHandler,
  LoseOpportunityHandler,
  AssignOpportunityHandler,
  DeleteOpportunityHandler,
  LogActivityHandler,
  CompleteActivityHandler,
  AddNoteHandler,
  ConvertProspectHandler,
];

export * from './advance-stage.command';
export * from './assign-opportunity.command';
export * from './change-stage.command';
export * from './create-opportunity.command';
export * from './delete-opportunity.command';
export * from './lose-opportunity.command';
export * from './move-to-previous-stage.command';
export * from './put-on-hold.command';
export * from './resume.command';
export * from './update-opportunity.command';
export * from './win-opportunity.command';
export * from './add-note.command';
export * from './complete-activity.command';
export * from './convert-prospect.command';
export * from './log-activity.command';
