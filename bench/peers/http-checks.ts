/**
 * What both peer services of the W1 benchmark check on a request before they write, the same
 * checks for each so that only the write path differs: the bearer token against a fixed one, the
 * deal id in the path, the create body's required fields and the win body's optional ones. Plain
 * functions, no framework.
 */
import { timingSafeEqual } from 'node:crypto';

/** The pipeline's active stages in order, with their probabilities (our default pipeline's). */
export const STAGES = [
  { key: 'prospecting', probability: 10 },
  { key: 'qualification', probability: 25 },
  { key: 'needs_analysis', probability: 40 },
  { key: 'proposal', probability: 60 },
  { key: 'negotiation', probability: 75 },
  { key: 'verbal_commitment', probability: 90 },
] as const;

export const PREFIX = '/api/v1/crm';

/** A check of `Authorization: Bearer <token>` against the one token the service accepts. */
export function bearerCheck(token: string): (header: string | undefined) => boolean {
  const expected = Buffer.from(`Bearer ${token}`);
  return (header) => {
    if (!header) return false;
    const given = Buffer.from(header);
    return given.length === expected.length && timingSafeEqual(given, expected);
  };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const isUuid = (id: string) => UUID.test(id);

const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;
const isDateOnly = (v: unknown) => typeof v === 'string' && DATE_ONLY.test(v) && !Number.isNaN(Date.parse(v));
const isText = (v: unknown, max: number) => typeof v === 'string' && v.trim().length > 0 && v.length <= max;
const isAmount = (v: unknown) => typeof v === 'number' && Number.isFinite(v) && v >= 0;

export type FieldErrors = Record<string, string[]>;

export interface CreateInput {
  name: string;
  customer_id: string;
  value: number;
  currency: string;
  expected_close_date: string;
}

/** The create body's fields, or what is wrong with them. */
export function parseCreate(body: unknown): { input: CreateInput } | { errors: FieldErrors } {
  const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  const errors: FieldErrors = {};
  if (!isText(b.name, 255)) errors.name = ['name must be a non-empty string of at most 255 characters'];
  if (!isText(b.customer_id, 64)) errors.customer_id = ['customer_id is required'];
  if (b.value !== undefined && !isAmount(b.value)) errors.value = ['value must be a non-negative number'];
  if (!isDateOnly(b.expected_close_date)) errors.expected_close_date = ['expected_close_date is required (YYYY-MM-DD)'];
  if (b.currency !== undefined && !(typeof b.currency === 'string' && /^[A-Z]{3}$/.test(b.currency))) {
    errors.currency = ['currency must be a 3-letter ISO 4217 code (e.g. USD)'];
  }
  if (Object.keys(errors).length) return { errors };
  return {
    input: {
      name: (b.name as string).trim(),
      customer_id: b.customer_id as string,
      value: (b.value as number | undefined) ?? 0,
      currency: (b.currency as string | undefined) ?? 'USD',
      expected_close_date: b.expected_close_date as string,
    },
  };
}

export interface WinInput {
  actual_value?: number;
  close_date?: string;
  close_reason?: string;
  transaction_id?: string;
}

/** The win body's optional fields, or what is wrong with them. */
export function parseWin(body: unknown): { input: WinInput } | { errors: FieldErrors } {
  const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  const errors: FieldErrors = {};
  if (b.actual_value !== undefined && !isAmount(b.actual_value)) errors.actual_value = ['actual_value must be a non-negative number'];
  if (b.close_date !== undefined && !isDateOnly(b.close_date)) errors.close_date = ['close_date must be a date (YYYY-MM-DD)'];
  if (b.close_reason !== undefined && !isText(b.close_reason, 1000)) errors.close_reason = ['close_reason must be a string'];
  if (b.transaction_id !== undefined && !isText(b.transaction_id, 255)) errors.transaction_id = ['transaction_id must be a string'];
  if (Object.keys(errors).length) return { errors };
  return { input: b as WinInput };
}

export const validationFailed = (errors: FieldErrors) => ({ message: 'Validation failed', code: 'validation_failed', errors });
export const unauthenticated = { message: 'Missing or invalid bearer token', code: 'unauthenticated' };
export const badId = { message: 'Validation failed', code: 'validation_failed', errors: { id: ['id must be a UUID'] } };

/** The port: --port <n> on the command line, else PORT. */
export function portFromArgs(): number {
  const i = process.argv.indexOf('--port');
  const port = Number(i >= 0 ? process.argv[i + 1] : process.env.PORT);
  if (!Number.isInteger(port) || port <= 0) throw new Error('give the port as --port <n> or PORT');
  return port;
}

export function requiredEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}
