import { IsEmail, IsNotEmpty, IsOptional, IsString, Matches, MaxLength } from 'class-validator';

/** Digits with the usual separators and an optional leading +. */
const PHONE = /^\+?[0-9 ().-]{3,50}$/;
const PHONE_MESSAGE = 'phone may contain only digits, spaces, ( ) . - and a leading +';
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

/** A lead a deal can name as its lead_id; `includes=lead` renders its id, email and source. */
export class CreateLeadDto {
  /** Optional: generated when absent. */
  @IsOptionalNotNull() @IsReferenceId() id?: string;
  /** The person or company the lead is. */
  @IsString() @IsNotEmpty() @MaxLength(200) name: string;
  @IsOptional() @IsString() @MaxLength(300) company_name?: string | null;
  @IsOptional() @IsEmail() @MaxLength(320) email?: string | null;
  /** Where the lead came from: referral, website, event … (free text, as a deal's source). */
  @IsOptional() @IsString() @MaxLength(100) source?: string | null;
}

export class UpdateLeadDto {
  @IsOptionalNotNull() @IsString() @IsNotEmpty() @MaxLength(200) name?: string;
  @IsOptional() @IsString() @MaxLength(300) company_name?: string | null;
  @IsOptional() @IsEmail() @MaxLength(320) email?: string | null;
  @IsOptional() @IsString() @MaxLength(100) source?: string | null;
}

export class DirectoryListQueryDto extends PageQueryDto {
  @IsOptional() @IsString() @MaxLength(200) search?: string;
}

/** A person at a customer (or not yet linked to one), who can be a stakeholder of deals. */
export class CreateContactDto {
  /** Optional: generated when absent. */
  @IsOptionalNotNull() @IsReferenceId() id?: string;
  @IsString() @IsNotEmpty() @MaxLength(100) first_name: string;
  @IsString() @IsNotEmpty() @MaxLength(100) last_name: string;
  @IsOptional() @IsEmail() @MaxLength(320) email?: string | null;
  @IsOptional() @IsString() @MaxLength(50) @Matches(PHONE, { message: PHONE_MESSAGE }) phone?: string | null;
  @IsOptional() @IsString() @MaxLength(200) title?: string | null;
  /** The customer the contact works for (GET /customers). */
  @IsOptional() @IsReferenceId() customer_id?: string | null;
}

export class UpdateContactDto {
  @IsOptionalNotNull() @IsString() @IsNotEmpty() @MaxLength(100) first_name?: string;
  @IsOptionalNotNull() @IsString() @IsNotEmpty() @MaxLength(100) last_name?: string;
  @IsOptional() @IsEmail() @MaxLength(320) email?: string | null;
  @IsOptional() @IsString() @MaxLength(50) @Matches(PHONE, { message: PHONE_MESSAGE }) phone?: string | null;
  @IsOptional() @IsString() @MaxLength(200) title?: string | null;
  @IsOptional() @IsReferenceId() customer_id?: string | null;
}

export class ContactListQueryDto extends DirectoryListQueryDto {
  @IsOptional() @IsReferenceId() customer_id?: string;
}
