import { DomainError } from './errors';

/**
 * Money is held as integer minor units (cents); two decimals for every currency.
 * A deal's amount is at most 9,999,999,999,999.99, exact in a JS number; sums are bigint.
 */
export const MAX_AMOUNT_MINOR = 999_999_999_999_999;

const DECIMAL = /^(\d{1,13})(?:\.(\d{1,2}))?$/;

/** Parses a JSON number or decimal string ("150000.5") into minor units; null if not a valid amount. */
export function parseAmount(input: unknown): number | null {
  const text = typeof input === 'number' ? numberToPlain(input) : typeof input === 'string' ? input.trim() : null;
  if (text === null) return null;
  const match = DECIMAL.exec(text);
  if (!match) return null;
  return Number(match[1]) * 100 + Number((match[2] ?? '').padEnd(2, '0'));
}

export const MAX_AMOUNT = '9999999999999.99';

/** Why `input` is not an amount, in the words a client can act on. */
export function invalidAmountMessage(field: string, input: unknown): string {
  const text = typeof input === 'number' ? String(input) : typeof input === 'string' ? input.trim() : '';
  if (text.startsWith('-')) return `${field} must not be negative`;
  if (text !== '' && Number(text) >= 1e13) return `${field} must be at most ${MAX_AMOUNT}`;
  if (/^\d+\.\d{3,}$/.test(text)) return `${field} must have at most 2 decimal places`;
  return `${field} must be a non-negative amount with at most 2 decimal places`;
}

export function toMinorOrThrow(input: unknown, field: string): number {
  const minor = parseAmount(input);
  if (minor === null) throw DomainError.validation({ [field]: [invalidAmountMessage(field, input)] });
  return minor;
}

/** Minor units → major units as a JSON number (exact to the cent for amounts below 2^53 cents). */
export function toMajor(minor: number): number {
  return minor / 100;
}

/** Below 2^52 cents every two-decimal amount has a double of its own that prints as exactly that amount. */
const EXACT_AS_DOUBLE = 2n ** 52n;
const rawJSON = (JSON as unknown as { rawJSON(text: string): unknown }).rawJSON;

/** '-1234567' → '-12345.67': the exact decimal text of an amount in minor units. */
export function formatMinor(minor: bigint): string {
  const negative = minor < 0n;
  const digits = (negative ? -minor : minor).toString().padStart(3, '0');
  const text = `${digits.slice(0, -2)}.${digits.slice(-2)}`.replace(/\.?0+$/, '');
  return negative ? `-${text}` : text;
}

/**
 * A sum of amounts (minor units, any size) as a JSON number that serialises exactly: a plain number
 * while a double holds it to the cent, past that a raw JSON number with every digit (JSON.rawJSON).
 * The result is for responses only; do arithmetic on the bigint.
 */
export function sumToMajor(minor: bigint): number {
  if (minor < EXACT_AS_DOUBLE && minor > -EXACT_AS_DOUBLE) return Number(minor) / 100;
  return rawJSON(formatMinor(minor)) as number;
}

/** value × probability / 100, rounded half up to the cent, in integer arithmetic. */
export function weightedMinor(valueMinor: number, probability: number): number {
  // BigInt: value × probability can pass 2^53 for large deals.
  return Number((BigInt(valueMinor) * BigInt(probability) + 50n) / 100n);
}

function numberToPlain(n: number): string | null {
  if (!Number.isFinite(n) || n < 0) return null;
  // Reject float noise like 0.1 + 0.2 rather than rounding it away silently.
  const text = String(n);
  return /e/i.test(text) ? null : text;
}
