import { Transform } from 'class-transformer';
import { IsString, Matches, MaxLength, ValidateBy, ValidateIf, type ValidationOptions } from 'class-validator';
import { DATE_BOUNDS, invalidAmountMessage, invalidDateMessage, isValidDate, parseAmount, parseInstant } from '@app/domain';
import { applyDecorators } from '@nestjs/common';

const idString = (value: unknown) => (typeof value === 'number' && Number.isSafeInteger(value) ? String(value) : value);

/** JSON integers are accepted for reference ids (alone or in a list) and normalised to strings. */
export const toIdString = ({ value }: { value: unknown }) => (Array.isArray(value) ? value.map(idString) : idString(value));

/** An opaque reference id (customer, user, lead…): a string, or an integer sent as JSON number. */
export function IsReferenceId(options?: ValidationOptions) {
  return applyDecorators(
    Transform(toIdString),
    IsString({ ...options, message: '$property must be a string or integer id' }),
    MaxLength(100, options),
    Matches(/^[A-Za-z0-9_.:@-]+$/, { ...options, message: '$property may contain only letters, digits and _ . : @ -' }),
  );
}

/** A non-negative money amount (JSON number or decimal string) with at most two decimals. */
export function IsAmount(options?: ValidationOptions) {
  return ValidateBy(
    {
      name: 'isAmount',
      validator: {
        validate: (value) => parseAmount(value) !== null,
        defaultMessage: (args) => invalidAmountMessage(args!.property, args!.value),
      },
    },
    options,
  );
}

/** A calendar date 'YYYY-MM-DD' that exists (no 2026-02-30), within the dates the read models store. */
export function IsDateOnly(options?: ValidationOptions) {
  return ValidateBy(
    {
      name: 'isDateOnly',
      validator: {
        validate: (value) => typeof value === 'string' && isValidDate(value),
        defaultMessage: (args) => invalidDateMessage(args!.property),
      },
    },
    options,
  );
}

/** An ISO-8601 date-time ('2026-03-31T17:00:00Z'), within the dates the read models store. */
export function IsInstant(options?: ValidationOptions) {
  return ValidateBy(
    {
      name: 'isInstant',
      validator: {
        validate: (value) => typeof value === 'string' && parseInstant(value) !== null,
        defaultMessage: (args) => `${args!.property} must be an ISO-8601 date-time, ${DATE_BOUNDS}`,
      },
    },
    options,
  );
}

export function amountToMinor(value: unknown): number | undefined {
  return value === undefined || value === null ? undefined : (parseAmount(value) ?? undefined);
}

/** May be left out, but when present must be valid: null is not a value for this field. */
export const IsOptionalNotNull = () => ValidateIf((_object, value) => value !== undefined);
