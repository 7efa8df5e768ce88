import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsBoolean,
  IsInt,
  IsNotEmpty,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
  ValidateNested,
} from 'class-validator';
import { PIPELINE_KEY } from '@app/domain';
import { IsOptionalNotNull } from '../opportunities/dto/validators';

const KEY_MESSAGE = '$property must be lower-case letters, digits and _ (starting with a letter)';

export class StageDto {
  @IsOptionalNotNull() @Matches(PIPELINE_KEY, { message: KEY_MESSAGE }) key?: string;
  @IsString() @IsNotEmpty() @MaxLength(100) name: string;
  @IsInt() @Min(1) @Max(1000) display_order: number;
  @IsOptionalNotNull() @IsInt() @Min(0) @Max(100) probability?: number;
  @IsOptionalNotNull() @IsBoolean() is_won?: boolean;
  @IsOptionalNotNull() @IsBoolean() is_lost?: boolean;
  @IsOptionalNotNull() @IsBoolean() is_on_hold?: boolean;
  /** Days without activity after which an open deal here is stale. */
  @IsOptional() @IsInt() @Min(1) @Max(3650) rotting_days?: number | null;
}

export class UpdateStageDto {
  @IsOptionalNotNull() @IsString() @IsNotEmpty() @MaxLength(100) name?: string;
  @IsOptionalNotNull() @IsInt() @Min(1) @Max(1000) display_order?: number;
  @IsOptionalNotNull() @IsInt() @Min(0) @Max(100) probability?: number;
  @IsOptional() @IsInt() @Min(1) @Max(3650) rotting_days?: number | null;
}

export class PolicyDto {
  @IsOptionalNotNull() @IsBoolean() allow_skip?: boolean;
  @IsOptionalNotNull() @IsBoolean() allow_backward?: boolean;
}

export class CreatePipelineDto {
  @IsOptionalNotNull() @Matches(PIPELINE_KEY, { message: KEY_MESSAGE }) id?: string;
  @IsString() @IsNotEmpty() @MaxLength(100) name: string;
  @IsArray() @ArrayMinSize(3) @ArrayMaxSize(50) @ValidateNested({ each: true }) @Type(() => StageDto) stages: StageDto[];
  @IsOptionalNotNull()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(100)
  @Matches(PIPELINE_KEY, { each: true, message: 'loss reason codes are lower-case letters, digits and _' })
  loss_reasons?: string[];
  @IsOptionalNotNull() @ValidateNested() @Type(() => PolicyDto) policy?: PolicyDto;
}

export class UpdatePipelineDto {
  @IsOptionalNotNull() @IsString() @IsNotEmpty() @MaxLength(100) name?: string;
  @IsOptionalNotNull() @ValidateNested() @Type(() => PolicyDto) policy?: PolicyDto;
}

export class LossReasonsDto {
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(100)
  @Matches(PIPELINE_KEY, { each: true, message: 'loss reason codes are lower-case letters, digits and _' })
  loss_reasons: string[];
}
