/**
 * Retry schedule after a failed attempt, in seconds (Standard Webhooks' reference schedule:
 * 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h — about 28 hours in all).
 */
export const DEFAULT_RETRY_SCHEDULE_SECONDS = [5, 300, 1800, 7200, 18000, 36000, 36000];

/** ±20 % jitter so endpoints that failed together are not retried together. */
export function withJitter(seconds: number, random: () => number = Math.random): number {
  return seconds * (0.8 + 0.4 * random());
}

const MAX_RETRY_AFTER_SECONDS = 24 * 3600;

/** Retry-After as seconds: a number of seconds or an HTTP date; null when absent or unusable. */
export function parseRetryAfter(value: string | string[] | undefined, now: number = Date.now()): number | null {
  const text = Array.isArray(value) ? value[0] : value;
  if (!text) return null;
  if (/^\d+$/.test(text.trim())) return Math.min(Number(text.trim()), MAX_RETRY_AFTER_SECONDS);
  const date = Date.parse(text);
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
