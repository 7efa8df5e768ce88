import { Controller, Get, Header, Inject, Injectable, NestMiddleware, Res } from '@nestjs/common';
import { HealthCheck, HealthCheckService, HealthIndicatorService } from '@nestjs/terminus';
import type { NextFunction, Request, Response } from 'express';
import { sql } from 'kysely';
import { EventStore } from '@app/event-store';
import { Database, DATABASE, Metrics, Public } from '@app/platform';
import { ProjectionRunner } from '@app/read-models';

const MAX_READY_LAG = Number(process.env.READINESS_MAX_LAG ?? 10_000);

/** Events appended but not applied, per projection, counted by the event store (PostgreSQL or EventStoreDB). */
@Injectable()
export class ProjectionLag {
  constructor(
    @Inject(DATABASE) private readonly database: Database,
    private readonly store: EventStore,
    private readonly runner: ProjectionRunner,
  ) {}

  async measure(): Promise<{ projection: string; behind: number; halted: string | null }[]> {
    const names = new Set(this.runner.projections.map((p) => p.name));
    const checkpoints = (
      await this.database.db.selectFrom('projection_checkpoints').select(['projection', 'checkpoint', 'halted_reason']).execute()
    ).filter((c) => names.has(c.projection));
    return Promise.all(
      checkpoints.map(async (c) => ({
        projection: c.projection,
        // Counted up to just past the readiness bound: beyond it the exact figure changes nothing.
        behind: await this.store.behindBy(c.checkpoint as string | null, { max: MAX_READY_LAG + 1 }),
        halted: c.halted_reason as string | null,
      })),
    );
  }
}

/** Latency per route for every request, labelled by the route pattern (not the raw URL). */
@Injectable()
export class HttpMetricsMiddleware implements NestMiddleware {
  constructor(private readonly metrics: Metrics) {}

  use(req: Request, res: Response, next: NextFunction): void {
    const end = this.metrics.httpDuration.startTimer();
    res.on('finish', () => {
      const route = req.route?.path ? `${req.baseUrl}${req.route.path}` : 'unmatched';
      end({ method: req.method, route, status: String(res.statusCode) });
    });
    next();
  }
}

@Controller()
export class OperationsController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly metrics: Metrics,
    private readonly lag: ProjectionLag,
    @Inject(DATABASE) private readonly database: Database,
    private readonly store: EventStore,
  ) {}

  /** Liveness: the process answers and its database does. */
  @Get('health')
  @Public()
  @HealthCheck()
  live() {
    return this.health.check([() => this.databaseUp()]);
  }

  /** Readiness: database up, no projection halted, and every one within READINESS_MAX_LAG events of the log's head. */
  @Get('health/ready')
  @Public()
  @HealthCheck()
  ready() {
    return this.health.check([
      () => this.databaseUp(),
      async () => {
        const check = this.indicators.check('event_store');
        const health = await this.store.health();
        return health.up ? check.up({ store: this.store.name }) : check.down({ store: this.store.name, reason: health.reason });
      },
      async () => {
        const check = this.indicators.check('projections');
        const lags = await this.lag.measure();
        const data = Object.fromEntries(lags.map((l) => [l.projection, l.behind]));
        // Names only: this endpoint is public, and a halt's reason names another org's stream.
        const halted = lags.filter((l) => l.halted !== null).map((l) => l.projection);
        if (halted.length > 0) return check.down({ lag_events: data, halted });
        return lags.every((l) => l.behind <= MAX_READY_LAG)
          ? check.up({ lag_events: data })
          : check.down({ lag_events: data, max_lag: MAX_READY_LAG });
      },
    ]);
  }

  @Get('metrics')
  @Public()
  @Header('Content-Type', 'text/plain; version=0.0.4')
  async prometheus(@Res({ passthrough: true }) res: Response) {
    for (const { projection, behind } of await this.lag.measure()) this.metrics.projectionLag.set({ projection }, behind);
    res.setHeader('Content-Type', this.metrics.registry.contentType);
    return this.metrics.registry.metrics();
  }

  private async databaseUp() {
    const check = this.indicators.check('database');
    try {
      await sql`select 1`.execute(this.database.db);
      return check.up({ kind: this.database.kind });
    } catch (error) {
      return check.down({ kind: this.database.kind, message: error instanceof Error ? error.message : String(error) });
    }
  }
}
