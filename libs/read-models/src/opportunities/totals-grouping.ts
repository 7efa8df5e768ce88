/*
 * How pipeline_totals and opportunity_intervals group deals: by close month and probability band.
 */

/** The close month of a deal with no close date (part of pipeline_totals' primary key). */
export const NO_CLOSE_MONTH = '1900-01-01';

/** Forecast categories: commit ≥ 90 %, best case ≥ 60 %. */
export const COMMIT_MIN_PROBABILITY = 90;
export const BEST_CASE_MIN_PROBABILITY = 60;

export function probabilityBand(probability: number): number {
  return probability >= COMMIT_MIN_PROBABILITY
    ? COMMIT_MIN_PROBABILITY
    : probability >= BEST_CASE_MIN_PROBABILITY
      ? BEST_CASE_MIN_PROBABILITY
      : 0;
}
