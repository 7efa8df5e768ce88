import {
  ArrayMaxSize,
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsObject,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
  IsEmail,
} from 'class-validator';
import { IsAmount, IsDateOnly, IsOptionalNotNull, IsReferenceId } from './validators';

export const PRIORITIES = ['low', 'medium', 'high'] as const;
export type Priority = (typeof PRIORITIES)[number];

/** Fields an opportunity carries; create and update share them (all optional here). */
export class OpportunityFieldsDto {
  @IsOptional() @IsString() @MaxLength(5000) description?: string | null;
  @IsOptionalNotNull() @IsReferenceId() customer_id?: string;
  @IsOptional() @IsReferenceId() lead_id?: string | null;
  @IsOptional() @IsAmount() expected_revenue?: number | string | null;
  @IsOptional()
  @IsString()
  @Matches(/^[A-Z]{3}$/, { message: 'currency must be a 3-letter ISO 4217 code (e.g. USD)' })
  currency?: string;
  @IsOptional() @IsInt() @Min(0) @Max(100) probability?: number | null;
  @IsOptional() @IsString() @MaxLength(100) source?: string | null;
  @IsOptional() @IsIn(PRIORITIES, { message: `priority must be one of: ${PRIORITIES.join(', ')}` }) priority?: Priority | null;
  @IsOptionalNotNull() @IsReferenceId() assigned_user_id?: string;
  @IsOptional() @IsReferenceId() campaign_id?: string | null;
  @IsOptional() @IsString() @MaxLength(200) territory?: string | null;
  @IsOptional() @IsString() @MaxLength(200) competitor?: string | null;
  @IsOptional() @IsString() @MaxLength(200) decision_maker?: string | null;
  @IsOptionalNotNull() @IsBoolean() budget_confirmed?: boolean;
  @IsOptionalNotNull() @IsBoolean() authority_confirmed?: boolean;
  @IsOptionalNotNull() @IsBoolean() need_confirmed?: boolean;
  @IsOptionalNotNull() @IsBoolean() timeline_confirmed?: boolean;
  @IsOptional() @IsString() @MaxLength(1000) next_step?: string | null;
  @IsOptional() @IsString() @MaxLength(20000) discovery_notes?: string | null;
  @IsOptional() @IsString() @MaxLength(20000) proposal_notes?: string | null;
  @IsOptional() @IsDateOnly() demo_date?: string | null;
  @IsOptional() @IsDateOnly() proposal_date?: string | null;
  @IsOptional() @IsString() @MaxLength(200) prospect_name?: string | null;
  @IsOptional() @IsEmail() @MaxLength(320) prospect_email?: string | null;
  @IsOptional() @IsString() @MaxLength(50) prospect_phone?: string | null;
  @IsOptional() @IsReferenceId() category_id?: string | null;
  @IsOptional() @IsDateOnly() follow_up_date?: string | null;
  @IsOptionalNotNull()
  @IsArray({ message: 'tags must be an array of strings' })
  @ArrayMaxSize(50)
  @IsString({ each: true })
  @Matches(/\S/, { each: true, message: 'tags must not contain an empty tag' })
  @MaxLength(50, { each: true })
  tags?: string[];
  @IsOptionalNotNull() @IsObject({ message: 'custom_fields must be an object' }) custom_fields?: Record<string, unknown>;
}
