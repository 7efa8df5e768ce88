import { Transform } from 'class-transformer';
import { IsIn, IsNotEmpty, IsOptional, IsString, IsUUID, MaxLength } from 'class-validator';
import { ACTIVITY_TYPES } from '@app/domain';
import { PageQueryDto } from '../opportunities/dto/query.dto';
import { IsInstant, IsOptionalNotNull } from '../opportunities/dto/validators';

const TYPES_MESSAGE = `type must be one of: ${ACTIVITY_TYPES.join(', ')}`;

export class CreateActivityDto {
  @IsUUID('all', { message: 'opportunity_id must be a UUID' })
  @Transform(({ value }) => (typeof value === 'string' ? value.toLowerCase() : value))
  opportunity_id: string;
  /** Clients send `type` or `activity_type`: either is accepted. */
  @IsOptionalNotNull() @IsIn(ACTIVITY_TYPES, { message: TYPES_MESSAGE }) type?: (typeof ACTIVITY_TYPES)[number];
  @IsOptionalNotNull()
  @IsIn(ACTIVITY_TYPES, { message: `activity_type must be one of: ${ACTIVITY_TYPES.join(', ')}` })
  activity_type?: (typeof ACTIVITY_TYPES)[number];
  @IsOptional() @IsString() @MaxLength(500) subject?: string;
  @IsOptional() @IsString() @MaxLength(20000) description?: string;
  /** The description, also accepted as `notes`. */
  @IsOptional() @IsString() @MaxLength(20000) notes?: string;
  @IsOptional() @IsString() @MaxLength(5000) outcome?: string;
  @IsOptional() @IsIn(['low', 'medium', 'high'], { message: 'priority must be low, medium or high' }) priority?: 'low' | 'medium' | 'high';
  @IsOptional() @IsInstant() scheduled_at?: string;
  @IsOptional() @IsInstant() completed_at?: string;
}

export class UpdateActivityDto {
  @IsOptional() @IsIn(['completed'], { message: 'status can only be set to completed' }) status?: 'completed';
  @IsOptional() @IsInstant() completed_at?: string;
  @IsOptional() @IsString() @MaxLength(5000) outcome?: string;
}

export class AddNoteDto {
  @IsString() @IsNotEmpty({ message: 'content is required' }) @MaxLength(20000) content: string;
}

export class ActivitiesQueryDto extends PageQueryDto {
  @IsOptional() @IsIn(ACTIVITY_TYPES, { message: TYPES_MESSAGE }) type?: string;
}
