const DAY_MS = 86_400_000;

/** 'YYYY-MM-DD' of an ISO instant, in UTC. */
export function dateOf(iso: string): string {
  return iso.slice(0, 10);
}

/** Whole days from a to b (dates or instants; b - a), in UTC. */
export function daysBetween(a: string, b: string): number {
  return Math.round((startOfDay(b) - startOfDay(a)) / DAY_MS);
}

function startOfDay(value: string): number {
  const d = dateOf(value);
  return Date.UTC(Number(d.slice(0, 4)), Number(d.slice(5, 7)) - 1, Number(d.slice(8, 10)));
}

/**
 * The calendar the API accepts, for every date and instant it stores or queries. PostgreSQL has no
 * year 0 (JavaScript does), Date.UTC reads years 0–99 as 1900–1999, and a year past 9999 has no
 * 'YYYY' form: inside these bounds every accepted value is storable, comparable as text and
 * replayable into the read models.
 */
export const EARLIEST_DATE = '1900-01-01';
export const LATEST_DATE = '9999-12-31';
export const DATE_BOUNDS = `between ${EARLIEST_DATE} and ${LATEST_DATE}`;

/** The one message for a date field the API refuses. */
export const invalidDateMessage = (field: string) => `${field} must be a valid date in the form YYYY-MM-DD, ${DATE_BOUNDS}`;

/** A calendar date 'YYYY-MM-DD' that exists (no 2026-02-30) and lies within the accepted bounds. */
export function isValidDate(value: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value) || value < EARLIEST_DATE || value > LATEST_DATE) return false;
  const t = Date.parse(`${value}T00:00:00Z`);
  return Number.isFinite(t) && new Date(t).toISOString().slice(0, 10) === value;
}

const ISO_DATE_TIME = /^(\d{4}-\d{2}-\d{2})T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?$/;

/**
 * An ISO-8601 date-time ('2026-03-31T17:00:00Z', '…+02:00'), as milliseconds, or null
 * when it is malformed, names a day that does not exist, or falls outside the bounds in UTC.
 */
export function parseInstant(value: string): number | null {
  const match = ISO_DATE_TIME.exec(value);
  if (!match || !isValidDate(match[1])) return null;
  const time = Date.parse(value);
  if (!Number.isFinite(time)) return null;
  return isValidDate(new Date(time).toISOString().slice(0, 10)) ? time : null;
}
