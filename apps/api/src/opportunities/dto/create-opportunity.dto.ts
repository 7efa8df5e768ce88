import { Type } from 'class-transformer';
import { ArrayMaxSize, IsArray, IsNotEmpty, IsOptional, IsString, MaxLength, ValidateNested } from 'class-validator';
import { MAX_STAKEHOLDERS } from '@app/domain';
import { IsAmount, IsDateOnly, IsOptionalNotNull, IsReferenceId } from './validators';
import { OpportunityFieldsDto } from './opportunity-fields.dto';
import { StakeholderDto } from './stakeholder.dto';

export class CreateOpportunityDto extends OpportunityFieldsDto {
  @IsString() @IsNotEmpty() @MaxLength(255) name: string;
  @IsOptionalNotNull() @IsAmount() value?: number | string;
  @IsOptionalNotNull() @IsDateOnly() expected_close_date?: string;
  @IsOptionalNotNull() @IsString() @MaxLength(64) stage?: string;
  @IsOptionalNotNull() @IsString() @MaxLength(64) pipeline_id?: string;
  /** Contacts involved from the start, with their roles (GET /contacts lists the org's contacts). */
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(MAX_STAKEHOLDERS)
  @ValidateNested({ each: true })
  @Type(() => StakeholderDto)
  stakeholders?: StakeholderDto[];
  /** Contact ids, each on the deal with the role `other`. */
  @IsOptional() @IsArray() @ArrayMaxSize(MAX_STAKEHOLDERS) @IsReferenceId({ each: true }) stakeholder_ids?: string[];
}
