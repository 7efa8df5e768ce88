import { IsEmail, IsNotEmpty, IsOptional, IsString, MaxLength } from 'class-validator';
import { IsReferenceId } from '../opportunities/dto/validators';
import { PageQueryDto } from '../opportunities/dto/query.dto';
import { IsOptionalNotNull } from '../opportunities/dto/validators';

export class CreateUserDto {
  @IsReferenceId() id: string;
  @IsString() @IsNotEmpty() @MaxLength(200) name: string;
  @IsOptional() @IsEmail() @MaxLength(320) email?: string | null;
}

export class UpdateUserDto {
  @IsOptionalNotNull() @IsString() @IsNotEmpty() @MaxLength(200) name?: string;
  @IsOptional() @IsEmail() @MaxLength(320) email?: string | null;
}

export class CreateCustomerDto {
  /** Optional: generated when absent. */
  @IsOptionalNotNull() @IsReferenceId() id?: string;
  @IsOptionalNotNull() @IsString() @IsNotEmpty() @MaxLength(50) customer_number?: string;
  @IsString() @IsNotEmpty() @MaxLength(300) company_name: string;
  @IsOptional() @IsEmail() @MaxLength(320) email?: string | null;
}

export class UpdateCustomerDto {
  @IsOptionalNotNull() @IsString() @IsNotEmpty() @MaxLength(50) customer_number?: string;
  @IsOptionalNotNull() @IsString() @IsNotEmpty() @MaxLength(300) company_name?: string;
  @IsOptional() @IsEmail() @MaxLength(320) email?: string | null;
}

export class DirectoryListQueryDto extends PageQueryDto {
  @IsOptional() @IsString() @MaxLength(200) search?: string;
}
