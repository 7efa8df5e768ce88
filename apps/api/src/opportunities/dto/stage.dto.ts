import { Transform } from 'class-transformer';
import { IsBoolean, IsNotEmpty, IsOptional, IsString, MaxLength } from 'class-validator';
import { IsAmount, IsDateOnly, IsOptionalNotNull, IsReferenceId, toIdString } from './validators';

export class ChangeStageDto {
  @IsString() @IsNotEmpty() @MaxLength(64) stage: string;
  @IsOptional() @IsString() @MaxLength(20000) notes?: string;
  /** Needed to move backward. */
  @IsOptional() @IsString() @MaxLength(2000) reason?: string;
  /** Needed when the target is a lost stage. */
  @IsOptional() @IsString() @MaxLength(100) loss_reason?: string;
}

export class AdvanceStageDto {
  @IsOptional() @IsString() @MaxLength(20000) notes?: string;
}

export class MoveToPreviousStageDto {
  @IsString({ message: 'reason is required to move an opportunity backward' })
  @IsNotEmpty({ message: 'reason is required to move an opportunity backward' })
  @MaxLength(2000)
  reason: string;
  @IsOptional() @IsString() @MaxLength(20000) notes?: string;
}

export class WinOpportunityDto {
  @IsOptional() @IsString() @MaxLength(5000) close_reason?: string;
  @IsOptionalNotNull() @IsAmount() actual_value?: number | string;
  @IsOptionalNotNull() @IsDateOnly() close_date?: string;
  /** The sale in another system (order, invoice or payment id), kept as given. A JSON integer is accepted as its string. */
  @IsOptional() @Transform(toIdString) @IsString({ message: 'transaction_id must be a string or integer' }) transaction_id?: string;
}

export class LoseOpportunityDto {
  @IsString() @IsNotEmpty() @MaxLength(100) loss_reason: string;
  @IsOptional() @IsString() @MaxLength(200) competitor?: string;
  @IsOptional() @IsString() @MaxLength(20000) loss_notes?: string;
  @IsOptional() @IsString() @MaxLength(20000) lessons_learned?: string;
  @IsOptionalNotNull() @IsDateOnly() close_date?: string;
}

export class AssignOpportunityDto {
  @IsReferenceId() user_id: string;
  @IsOptional() @IsString() @MaxLength(2000) reason?: string;
  @IsOptionalNotNull() @IsBoolean() notify?: boolean;
}

export class DeleteOpportunityQuery {
  @IsOptional() @IsString() @MaxLength(2000) reason?: string;
}
