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

export function isValidDate(value: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value)) return false;
  const t = Date.parse(`${value}T00:00:00Z`);
  return Number.isFinite(t) && new Date(t).toISOString().slice(0, 10) === value;
}
