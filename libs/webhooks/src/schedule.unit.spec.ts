import { loadConfig } from '@app/platform';
import { nextDelaySeconds, parseRetryAfter, withJitter } from './schedule';

const NOW = Date.parse('2026-01-15T10:00:00.000Z');
const DAY = 24 * 3600;
/** The schedule the dispatcher gets without WEBHOOK_RETRY_SCHEDULE. */
const DEFAULT_SCHEDULE = loadConfig({}).webhookRetrySchedule;

describe('the default retry schedule', () => {
  it("is Standard Webhooks' reference schedule: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h", () => {
    expect(DEFAULT_SCHEDULE).toEqual([5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 10 * 3600]);
  });

  it('spans about 28 hours in all', () => {
    const total = DEFAULT_SCHEDULE.reduce((a, b) => a + b, 0);
    expect(total / 3600).toBeCloseTo(27.58, 2);
  });
});

describe('withJitter', () => {
  it.each([
    [0, 80],
    [0.5, 100],
    [0.25, 90],
    [0.999999, 119.99996],
  ])('random %d → %d of 100 s (±20 %%)', (random, expected) => {
    expect(withJitter(100, () => random)).toBeCloseTo(expected, 4);
  });

  it('stays within [0.8, 1.2) of the delay with Math.random', () => {
    for (let i = 0; i < 1000; i++) {
      const delay = withJitter(300);
      expect(delay).toBeGreaterThanOrEqual(240);
      expect(delay).toBeLessThan(360);
    }
  });

  it('zero stays zero', () => {
    expect(withJitter(0, () => 0.7)).toBe(0);
  });
});

describe('parseRetryAfter', () => {
  it.each<[string | string[] | undefined]>([[undefined], [''], [[]], ['   ']])('absent (%j) → null', (value) => {
    expect(parseRetryAfter(value, NOW)).toBeNull();
  });

  it.each([
    ['120', 120],
    ['0', 0],
    [' 30 ', 30],
    ['007', 7],
  ])('delay-seconds %j → %d', (value, seconds) => {
    expect(parseRetryAfter(value, NOW)).toBe(seconds);
  });

  it('caps a delay at 24 hours', () => {
    expect(parseRetryAfter(String(DAY), NOW)).toBe(DAY);
    expect(parseRetryAfter(String(DAY + 1), NOW)).toBe(DAY);
    expect(parseRetryAfter('99999999999999999999', NOW)).toBe(DAY);
  });

  it('an HTTP date in the future → the seconds until then', () => {
    expect(parseRetryAfter('Thu, 15 Jan 2026 10:02:00 GMT', NOW)).toBe(120);
    expect(parseRetryAfter(new Date(NOW + 90_500).toUTCString(), NOW)).toBe(90);
  });

  it('the obsolete HTTP-date forms too (RFC 850, asctime in GMT)', () => {
    expect(parseRetryAfter('Thursday, 15-Jan-26 10:02:00 GMT', NOW)).toBe(120);
    expect(parseRetryAfter('Thu Jan 15 10:02:00 2026', NOW)).toBe(120);
    expect(parseRetryAfter('Thu Jan  1 10:00:00 2026', NOW)).toBe(0);
  });

  it('an HTTP date in the past → 0 (retry now)', () => {
    expect(parseRetryAfter('Wed, 21 Oct 2015 07:28:00 GMT', NOW)).toBe(0);
  });

  it('an HTTP date more than a day ahead is capped at 24 hours', () => {
    expect(parseRetryAfter('Sat, 17 Jan 2026 10:00:00 GMT', NOW)).toBe(DAY);
  });

  it('uses the clock when no time is given', () => {
    const seconds = parseRetryAfter(new Date(Date.now() + 60_000).toUTCString());
    expect(seconds).toBeGreaterThan(55);
    expect(seconds).toBeLessThanOrEqual(60);
  });

  it.each([
    'soon',
    'tomorrow',
    '1e3',
    '120abc',
    'Thu, 45 Foo 2026',
    '-5',
    '-0',
    '+5',
    '1.5',
    '0x10',
    '1 2',
    '2026-01-15T10:02:00Z',
    'Jan 15 2026',
  ])('unusable %j → null (neither whole seconds nor an HTTP-date)', (value) => {
    expect(parseRetryAfter(value, NOW)).toBeNull();
  });

  it('takes the first of repeated headers', () => {
    expect(parseRetryAfter(['15', '600'], NOW)).toBe(15);
    expect(parseRetryAfter(['', '600'], NOW)).toBeNull();
  });
});

describe('nextDelaySeconds', () => {
  const schedule = [5, 300, 1800];
  const middle = () => 0.5; // no jitter: factor 1.0

  it('failed attempt n waits the n-th delay of the schedule (jittered)', () => {
    expect(nextDelaySeconds(1, schedule, null, middle)).toBe(5);
    expect(nextDelaySeconds(2, schedule, null, middle)).toBe(300);
    expect(nextDelaySeconds(3, schedule, null, middle)).toBe(1800);
    expect(nextDelaySeconds(2, schedule, null, () => 0)).toBe(240);
  });

  it('after the last delay the schedule is exhausted: null (give up)', () => {
    expect(nextDelaySeconds(4, schedule, null, middle)).toBeNull();
    expect(nextDelaySeconds(4, schedule, 10, middle)).toBeNull();
    expect(nextDelaySeconds(1, [], null, middle)).toBeNull();
  });

  it('the default schedule allows 7 retries', () => {
    expect(nextDelaySeconds(7, DEFAULT_SCHEDULE, null, middle)).toBe(36000);
    expect(nextDelaySeconds(8, DEFAULT_SCHEDULE, null, middle)).toBeNull();
  });

  it('honours a Retry-After that asks for more time', () => {
    expect(nextDelaySeconds(1, schedule, 120, middle)).toBe(120);
    expect(nextDelaySeconds(3, schedule, DAY, middle)).toBe(DAY);
  });

  it('ignores a Retry-After that asks for less time than planned', () => {
    expect(nextDelaySeconds(2, schedule, 10, middle)).toBe(300);
    expect(nextDelaySeconds(2, schedule, 0, middle)).toBe(300);
  });

  it('compares Retry-After with the jittered delay', () => {
    expect(nextDelaySeconds(2, schedule, 250, () => 0)).toBe(250); // planned 240
    expect(nextDelaySeconds(2, schedule, 250, () => 0.75)).toBe(330); // planned 330
  });

  it('works with the header as parsed', () => {
    expect(nextDelaySeconds(1, schedule, parseRetryAfter('3600', NOW), middle)).toBe(3600);
    expect(nextDelaySeconds(1, schedule, parseRetryAfter('junk', NOW), middle)).toBe(5);
  });
});
