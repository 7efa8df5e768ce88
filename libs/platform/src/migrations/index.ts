import { type Migration, type MigrationProvider } from 'kysely/migration';
import * as eventStore from './2026_11_21_0001_event_store';
import * as tenancy from './2026_11_21_0002_tenancy';
import * as readModels from './2026_11_21_0003_read_models';
import * as audit from './2026_11_21_0004_audit';
import * as intervals from './2026_11_21_0005_opportunity_intervals';
import * as webhooks from './2026_11_21_0006_webhooks';
import * as activitiesPipelines from './2026_11_21_0007_activities_pipelines';
import * as forecastAtRisk from './2026_11_21_0008_forecast_at_risk';
import * as projectionHalts from './2026_12_03_0009_projection_halts';
import * as idempotencyLeases from './2026_12_03_0010_idempotency_leases';

// Static list: bundlers and `nest build` cannot follow a folder scan. Never edit a landed entry.
const MIGRATIONS: Record<string, Migration> = {
  '2026_11_21_0001_event_store': eventStore,
  '2026_11_21_0002_tenancy': tenancy,
  '2026_11_21_0003_read_models': readModels,
  '2026_11_21_0004_audit': audit,
  '2026_11_21_0005_opportunity_intervals': intervals,
  '2026_11_21_0006_webhooks': webhooks,
  '2026_11_21_0007_activities_pipelines': activitiesPipelines,
  '2026_11_21_0008_forecast_at_risk': forecastAtRisk,
  '2026_12_03_0009_projection_halts': projectionHalts,
  '2026_12_03_0010_idempotency_leases': idempotencyLeases,
};

export class StaticMigrationProvider implements MigrationProvider {
  constructor(private readonly extra: Record<string, Migration> = {}) {}
  async getMigrations(): Promise<Record<string, Migration>> {
    return { ...MIGRATIONS, ...this.extra };
  }
}
