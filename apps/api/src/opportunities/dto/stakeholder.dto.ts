import { IsIn, IsOptional } from 'class-validator';
import { STAKEHOLDER_ROLES, type StakeholderRole } from '@app/domain';
import { IsReferenceId } from './validators';

const ROLE_MESSAGE = `role must be one of: ${STAKEHOLDER_ROLES.join(', ')}`;

/** A contact on a deal and its role there (POST /opportunities/{id}/stakeholders, and in a create). */
export class StakeholderDto {
  /** A contact of the organisation (GET /contacts). */
  @IsReferenceId() contact_id: string;
  /** decision_maker, champion, influencer, user, blocker or other (the default). */
  @IsOptional() @IsIn(STAKEHOLDER_ROLES, { message: ROLE_MESSAGE }) role?: StakeholderRole;
}
