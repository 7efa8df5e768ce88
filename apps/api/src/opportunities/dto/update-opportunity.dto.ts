import { IsNotEmpty, IsOptional, IsString, MaxLength } from 'class-validator';
import { IsAmount, IsDateOnly, IsOptionalNotNull } from './validators';
import { OpportunityFieldsDto } from './opportunity-fields.dto';

/** PUT and PATCH both update the fields given; stage has its own endpoints. */
export class UpdateOpportunityDto extends OpportunityFieldsDto {
  @IsOptionalNotNull() @IsString() @IsNotEmpty() @MaxLength(255) name?: string;
  @IsOptionalNotNull() @IsAmount() value?: number | string;
  @IsOptional() @IsDateOnly() expected_close_date?: string | null;
  /** Recorded with the change in the deal's history. */
  @IsOptional() @IsString() @MaxLength(20000) notes?: string;
  /** Accepted only to explain where stage changes go. */
  @IsOptional() stage?: unknown;
}
