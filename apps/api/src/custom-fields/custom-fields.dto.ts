import { applyDecorators } from '@nestjs/common';
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

/** The rules a definition's fields follow, the same on create and update. */
const Label = () => applyDecorators(IsString(), MaxLength(200));
const Type = () => IsIn(CUSTOM_FIELD_TYPES, { message: TYPE_MESSAGE });
const Options = () =>
  applyDecorators(IsOptional(), IsArray(), ArrayMinSize(1), ArrayMaxSize(100), IsString({ each: true }), MaxLength(100, { each: true }));
const Required = () => applyDecorators(IsOptionalNotNull(), IsBoolean());
const DisplayOrder = () => applyDecorators(IsOptionalNotNull(), IsInt(), Min(0), Max(1_000_000));
const PipelineId = () =>
  applyDecorators(IsOptional(), IsString(), Matches(PIPELINE_KEY, { message: '$property must be lower-case letters, digits and _' }));

export class CreateCustomFieldDto {
  @IsString()
  @Matches(CUSTOM_FIELD_KEY, { message: '$property must be 1–64 lower-case letters, digits and _ (starting with a letter)' })
  key: string;
  @Label() label: string;
  @Type() type: CustomFieldType;
  @Options() options?: string[] | null;
  @Required() required?: boolean;
  @DisplayOrder() display_order?: number;
  @PipelineId() pipeline_id?: string | null;
}

export class UpdateCustomFieldDto {
  @IsOptionalNotNull() @Label() label?: string;
  @IsOptionalNotNull() @Type() type?: CustomFieldType;
  @Options() options?: string[] | null;
  @Required() required?: boolean;
  @DisplayOrder() display_order?: number;
  @PipelineId() pipeline_id?: string | null;
}

export class CustomFieldSettingsDto {
  @IsBoolean() allow_unknown: boolean;
}
