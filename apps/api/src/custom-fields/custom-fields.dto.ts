import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
} from 'class-validator';
import { CUSTOM_FIELD_KEY, CUSTOM_FIELD_TYPES, type CustomFieldType, PIPELINE_KEY } from '@app/domain';
import { IsOptionalNotNull } from '../opportunities/dto/validators';

const TYPE_MESSAGE = `$property must be one of: ${CUSTOM_FIELD_TYPES.join(', ')}`;

export class CreateCustomFieldDto {
  @IsString()
  @Matches(CUSTOM_FIELD_KEY, { message: '$property must be 1–64 lower-case letters, digits and _ (starting with a letter)' })
  key: string;
  @IsString() @MaxLength(200) label: string;
  @IsIn(CUSTOM_FIELD_TYPES, { message: TYPE_MESSAGE }) type: CustomFieldType;
  @IsOptional() @IsArray() @ArrayMinSize(1) @ArrayMaxSize(100) @IsString({ each: true }) @MaxLength(100, { each: true }) options?:
    string[] | null;
  @IsOptionalNotNull() @IsBoolean() required?: boolean;
  @IsOptionalNotNull() @IsInt() @Min(0) @Max(1_000_000) display_order?: number;
  @IsOptional() @IsString() @Matches(PIPELINE_KEY, { message: '$property must be lower-case letters, digits and _' }) pipeline_id?:
    string | null;
}

export class UpdateCustomFieldDto {
  @IsOptionalNotNull() @IsString() @MaxLength(200) label?: string;
  @IsOptionalNotNull() @IsIn(CUSTOM_FIELD_TYPES, { message: TYPE_MESSAGE }) type?: CustomFieldType;
  @IsOptional() @IsArray() @ArrayMinSize(1) @ArrayMaxSize(100) @IsString({ each: true }) @MaxLength(100, { each: true }) options?:
    string[] | null;
  @IsOptionalNotNull() @IsBoolean() required?: boolean;
  @IsOptionalNotNull() @IsInt() @Min(0) @Max(1_000_000) display_order?: number;
  @IsOptional() @IsString() @Matches(PIPELINE_KEY, { message: '$property must be lower-case letters, digits and _' }) pipeline_id?:
    string | null;
}

export class CustomFieldSettingsDto {
  @IsBoolean() allow_unknown: boolean;
}
