/** ±20 % jitter so endpoints that failed together are not retried together. */
export function withJitter(seconds: number, random: () => number = Math.random): number {
  return seconds * (0.8 + 0.4 * random());
}

const MAX_RETRY_AFTER_SECONDS = 24 * 3600;

/** The three HTTP-date forms of RFC 9110 §5.6.7; asctime's carries no zone but means GMT. */
const IMF_FIXDATE = /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/;
const RFC_850_DATE = /^[A-Z][a-z]+, \d{2}-[A-Z][a-z]{2}-\d{2} \d{2}:\d{2}:\d{2} GMT$/;
const ASCTIME_DATE = /^[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2} \d{4}$/;

function parseHttpDate(text: string): number {
  if (IMF_FIXDATE.test(text) || RFC_850_DATE.test(text)) return Date.parse(text);
  if (ASCTIME_DATE.test(text)) return Date.parse(`${text} GMT`);
  return NaN;
}

/**
 * Retry-After as seconds (RFC 9110 §10.2.3: a non-negative integer of seconds or an HTTP-date);
 * null when absent or anything else, e.g. "-5" or "1.5".
 */
export function parseRetryAfter(value: string | string[] | undefined, now: number = Date.now()): number | null {
  const text = (Array.isArray(value) ? value[0] : value)?.trim();
  if (!text) return null;
  if (/^\d+$/.test(text)) return Math.min(Number(text), MAX_RETRY_AFTER_SECONDS);
  const date = parseHttpDate(text);
  if (!Number.isFinite(date)) return null;
  return Math.min(Math.max(0, (date - now) / 1000), MAX_RETRY_AFTER_SECONDS);
}

/**
 * When to try again after failed attempt number `attempt` (1-based), or null when the schedule
 * is exhausted. The receiver's Retry-After is honoured when it asks for more time.
 */
export function nextDelaySeconds(attempt: number, schedule: number[], retryAfter: number | null, random?: () => number): number | null {
  if (attempt > schedule.length) return null;
  const planned = withJitter(schedule[attempt - 1], random);
  return retryAfter !== null ? Math.max(planned, retryAfter) : planned;
}
