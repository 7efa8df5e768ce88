import { DomainError } from './errors';

/**
 * Money is held as integer minor units (cents); two decimals for every currency.
 * Amounts up to 10^13 major units stay exact in a JS number.
 */
export const MAX_AMOUNT_MINOR = 1e15;

const DECIMAL = /^(\d{1,13})(?:\.(\d{1,2}))?$/;

/** Parses a JSON number or decimal string ("150000.5") into minor units; null if not a valid amount. */
export function parseAmount(input: unknown): number | null {
  const text = typeof input === 'number' ? numberToPlain(input) : typeof input === 'string' ? input.trim() : null;
  if (text === null) return null;
  const match = DECIMAL.exec(text);
  if (!match) return null;
  return Number(match[1]) * 100 + Number((match[2] ?? '').padEnd(2, '0'));
}

export function toMinorOrThrow(input: unknown, field: string): number {
  const minor = parseAmount(input);
  if (minor === null) {
    throw DomainError.validation({ [field]: [`${field} must be a non-negative amount with at most 2 decimal places`] });
  }
  return minor;
}

/** Minor units → major units as a JSON number (exact to the cent for amounts below 2^53 cents). */
export function toMajor(minor: number): number {
  return minor / 100;
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
