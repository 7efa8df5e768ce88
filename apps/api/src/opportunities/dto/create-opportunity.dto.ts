import { IsNotEmpty, IsOptional, IsString, MaxLength } from 'class-validator';
import { IsAmount, IsDateOnly } from './validators';
import { OpportunityFieldsDto } from './opportunity-fields.dto';

export class CreateOpportunityDto extends OpportunityFieldsDto {
  @IsString() @IsNotEmpty() @MaxLength(255) name: string;
  @IsOptional() @IsAmount() value?: number | string;
  @IsOptional() @IsDateOnly() expected_close_date?: string;
  @IsOptional() @IsString() @MaxLength(64) stage?: string;
  @IsOptional() @IsString() @MaxLength(64) pipeline_id?: string;
}
