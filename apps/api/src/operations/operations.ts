import { Controller, Get, Header, Inject, Injectable, NestMiddleware } from '@nestjs/common';
import { HealthCheck, HealthCheckService, HealthIndicatorService } from '@nestjs/terminus';
import type { NextFunction, Request, Response } from 'express';
import { sql } from 'kysely';
import { EventStore } from '@app/event-store';
import { Database, DATABASE, Metrics, Public, ResponseHeaders } from '@app/platform';
import { MAX_READY_LAG, ProjectionLag } from '../read-side.module';

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
  async prometheus(@ResponseHeaders() headers: Record<string, string>) {
    const { contentType, body } = await this.lag.prometheus();
    headers['Content-Type'] = contentType;
    return body;
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
