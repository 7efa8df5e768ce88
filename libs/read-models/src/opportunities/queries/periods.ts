import { DATE_BOUNDS, DomainError, LATEST_DATE } from '@app/domain';

/** Calendar periods in UTC: quarters, years, and the named ranges the API accepts. */
export interface Period {
  label: string;
  from: string;
  to: string;
}

const pad = (n: number) => String(n).padStart(2, '0');
const yyyy = (year: number) => String(year).padStart(4, '0');
const lastDay = (year: number, month: number) => new Date(Date.UTC(year, month, 0)).getUTCDate();

export function quarterPeriod(year: number, quarter: number): Period {
  const startMonth = (quarter - 1) * 3 + 1;
  const endMonth = startMonth + 2;
  return {
    label: `Q${quarter} ${year}`,
    from: `${yyyy(year)}-${pad(startMonth)}-01`,
    to: `${yyyy(year)}-${pad(endMonth)}-${pad(lastDay(year, endMonth))}`,
  };
}

export function quarterOf(date: Date): { year: number; quarter: number } {
  return { year: date.getUTCFullYear(), quarter: Math.floor(date.getUTCMonth() / 3) + 1 };
}

export function shiftQuarter(year: number, quarter: number, by: number): { year: number; quarter: number } {
  const index = year * 4 + (quarter - 1) + by;
  return { year: Math.floor(index / 4), quarter: (index % 4) + 1 };
}

export const DATE_RANGES = ['this_quarter', 'next_quarter', 'last_quarter', 'this_year', 'next_year', 'all_time'] as const;
export type DateRange = (typeof DATE_RANGES)[number];

/** A named range relative to `now`; one that ends past the last accepted date is a 400 on `as_of`. */
export function namedPeriod(range: DateRange, now: Date): Period | null {
  const period = relativePeriod(range, now);
  if (period && (period.to.length > LATEST_DATE.length || period.to > LATEST_DATE)) {
    throw DomainError.validation({
      as_of: [`${range} as of ${now.toISOString().slice(0, 10)} ends past ${LATEST_DATE}: dates are ${DATE_BOUNDS}`],
    });
  }
  return period;
}

function relativePeriod(range: DateRange, now: Date): Period | null {
  const { year, quarter } = quarterOf(now);
  switch (range) {
    case 'this_quarter':
      return quarterPeriod(year, quarter);
    case 'next_quarter': {
      const q = shiftQuarter(year, quarter, 1);
      return quarterPeriod(q.year, q.quarter);
    }
    case 'last_quarter': {
      const q = shiftQuarter(year, quarter, -1);
      return quarterPeriod(q.year, q.quarter);
    }
    case 'this_year':
      return { label: String(year), from: `${yyyy(year)}-01-01`, to: `${yyyy(year)}-12-31` };
    case 'next_year':
      return { label: String(year + 1), from: `${yyyy(year + 1)}-01-01`, to: `${yyyy(year + 1)}-12-31` };
    case 'all_time':
      return null;
    default: {
      const unreachable: never = range;
      throw new Error(`Unknown range ${String(unreachable)}`);
    }
  }
}
