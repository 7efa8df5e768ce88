import type { Migration } from 'kysely/migration';
import * as readModels from './2026_11_21_0003_read_models';
import * as intervals from './2026_11_21_0005_opportunity_intervals';
import * as activitiesPipelines from './2026_11_21_0007_activities_pipelines';
import * as forecastAtRisk from './2026_11_21_0008_forecast_at_risk';
import * as projectionHalts from './2026_12_03_0009_projection_halts';
import * as contacts from './2026_12_03_0012_contacts';
import * as leads from './2026_12_04_0014_leads';
import * as listFacetTotals from './2026_12_04_0015_list_facet_totals';

/**
 * The read models' tables (projection checkpoints and dead letters, directory: users, customers,
 * contacts and leads, opportunity list, totals, list facet totals, intervals, activities, notes, pipelines,
 * categories). Names are what the database records as applied: never rename or edit a landed
 * entry. The application merges every library's list.
 */
export const READ_MODEL_MIGRATIONS: Record<string, Migration> = {
  '2026_11_21_0003_read_models': readModels,
  '2026_11_21_0005_opportunity_intervals': intervals,
  '2026_11_21_0007_activities_pipelines': activitiesPipelines,
  '2026_11_21_0008_forecast_at_risk': forecastAtRisk,
  '2026_12_03_0009_projection_halts': projectionHalts,
  '2026_12_03_0012_contacts': contacts,
  '2026_12_04_0014_leads': leads,
  '2026_12_04_0015_list_facet_totals': listFacetTotals,
};
