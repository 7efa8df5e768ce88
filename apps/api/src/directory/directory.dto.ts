import { IsEmail, IsNotEmpty, IsOptional, IsString, MaxLength } from 'class-validator';
import { IsReferenceId } from '../opportunities/dto/validators';
import { PageQueryDto } from '../opportunities/dto/query.dto';

export class CreateUserDto {
  @IsReferenceId() id: string;
  @IsString() @IsNotEmpty() @MaxLength(200) name: string;
  @IsOptional() @IsEmail() @MaxLength(320) email?: string | null;
}

export class UpdateUserDto {
  @IsOptional() @IsString() @IsNotEmpty() @MaxLength(200) name?: string;
  @IsOptional() @IsEmail() @MaxLength(320) email?: string | null;
}

export class CreateCustomerDto {
  /** Optional: generated when absent. */
  @IsOptional() @IsReferenceId() id?: string;
  @IsOptional() @IsString() @IsNotEmpty() @MaxLength(50) customer_number?: string;
  @IsString() @IsNotEmpty() @MaxLength(300) company_name: string;
  @IsOptional() @IsEmail() @MaxLength(320) email?: string | null;
}

export class UpdateCustomerDto {
  @IsOptional() @IsString() @IsNotEmpty() @MaxLength(50) customer_number?: string;
  @IsOptional() @IsString() @IsNotEmpty() @MaxLength(300) company_name?: string;
  @IsOptional() @IsEmail() @MaxLength(320) email?: string | null;
}

export class DirectoryListQueryDto extends PageQueryDto {
  @IsOptional() @IsString() @MaxLength(200) search?: string;
}
