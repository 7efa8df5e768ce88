import { IsNotEmpty, IsString, MaxLength } from 'class-validator';
import { IsAmount, IsDateOnly, IsOptionalNotNull } from './validators';
import { OpportunityFieldsDto } from './opportunity-fields.dto';

export class CreateOpportunityDto extends OpportunityFieldsDto {
  @IsString() @IsNotEmpty() @MaxLength(255) name: string;
  @IsOptionalNotNull() @IsAmount() value?: number | string;
  @IsOptionalNotNull() @IsDateOnly() expected_close_date?: string;
  @IsOptionalNotNull() @IsString() @MaxLength(64) stage?: string;
  @IsOptionalNotNull() @IsString() @MaxLength(64) pipeline_id?: string;
}
