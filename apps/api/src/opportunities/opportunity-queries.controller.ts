import { Controller, Get, Param, Query, Req, Res } from '@nestjs/common';
import { QueryBus } from '@nestjs/cqrs';
import type { Request, Response } from 'express';
import { Actor, CurrentActor, validateQuery } from '@app/platform';
import { ConsistencyReport, ConsistencyService, quarterOf, READ_MODEL_NAMES } from '@app/read-models';
import {
  DetailQueryDto,
  ForecastQueryDto,
  ListOpportunitiesQueryDto,
  MonthlyForecastQueryDto,
  PipelineDataQueryDto,
  PipelineSummaryQueryDto,
  StatsQueryDto,
} from './dto/query.dto';
import { AuditService, parseAsOf } from '../audit/audit.service';
import { ParseOpportunityIdPipe } from './opportunity-id.pipe';
import { OpportunityViews } from './opportunity-views.service';
import { StaleRules } from '../pipelines/stale-rules.service';
import {
  GetForecast,
  GetMonthlyForecast,
  GetOpportunity,
  GetPipelineData,
  GetPipelineSummary,
  GetStats,
  ListOpportunities,
  minorOrUndefined,
} from './queries/opportunity-queries';

const CUSTOM_FIELD_PARAM = /^cf_([A-Za-z0-9_]{1,64})$/;
const READ_MODELS = READ_MODEL_NAMES;

/** Queries read the projections; they first wait (bounded) for the caller's last write. */
@Controller('opportunities')
export class OpportunityQueriesController {
  constructor(
    private readonly queries: QueryBus,
    private readonly consistency: ConsistencyService,
    private readonly audit: AuditService,
    private readonly views: OpportunityViews,
    private readonly staleRules: StaleRules,
  ) {}

  @Get()
  async list(
    @Query() raw: Record<string, unknown>,
    @CurrentActor() actor: Actor,
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response,
  ) {
    const { rest, customFields } = splitCustomFields(withoutConsistency(raw));
    const q = validateQuery(ListOpportunitiesQueryDto, rest);
    const report = await this.waitForWrites(req, res, actor);
    const { 'stage!': excluded, exclude_stage, min_value, max_value, includes, stale, ...filters } = q;
    const result = await this.queries.execute(
      new ListOpportunities(
        actor,
        {
          ...filters,
          ...(stale !== undefined ? { stale: { value: stale, rules: await this.staleRules.forOrg(actor.orgId) } } : {}),
          exclude_stage: [...(excluded ?? []), ...(exclude_stage ?? [])],
          min_value_minor: minorOrUndefined(min_value),
          max_value_minor: minorOrUndefined(max_value),
          custom_fields: customFields,
        },
        includes ?? [],
      ),
    );
    return withConsistency(result, report);
  }

  @Get('pipeline-data')
  async pipelineData(
    @Query() raw: Record<string, unknown>,
    @CurrentActor() actor: Actor,
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response,
  ) {
    const q = validateQuery(PipelineDataQueryDto, withoutConsistency(raw));
    const asOf = q.as_of === undefined ? undefined : parseAsOf(q.as_of);
    const report = await this.waitForWrites(req, res, actor);
    const data = await this.queries.execute(
      new GetPipelineData(actor, { userId: q.user_id, dateRange: q.date_range, pipelineId: q.pipeline_id, currency: q.currency, asOf }),
    );
    return withConsistency({ data }, report);
  }

  @Get('forecast')
  async forecast(
    @Query() raw: Record<string, unknown>,
    @CurrentActor() actor: Actor,
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response,
  ) {
    const q = validateQuery(ForecastQueryDto, withoutConsistency(raw));
    const asOf = q.as_of === undefined ? undefined : parseAsOf(q.as_of);
    const report = await this.waitForWrites(req, res, actor);
    const current = quarterOf(asOf ?? new Date());
    const data = await this.queries.execute(
      new GetForecast(actor, {
        year: q.year ?? current.year,
        quarter: q.quarter ? Number(q.quarter.slice(1)) : current.quarter,
        userId: q.user_id,
        currency: q.currency,
        asOf,
      }),
    );
    return withConsistency({ data }, report);
  }

  @Get('forecast/monthly')
  async monthly(
    @Query() raw: Record<string, unknown>,
    @CurrentActor() actor: Actor,
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response,
  ) {
    const q = validateQuery(MonthlyForecastQueryDto, withoutConsistency(raw));
    const report = await this.waitForWrites(req, res, actor);
    const data = await this.queries.execute(
      new GetMonthlyForecast(actor, {
        from: q.close_date__gte ?? q.from,
        to: q.close_date__lte ?? q.to,
        userId: q.user_id,
        currency: q.currency,
      }),
    );
    return withConsistency({ data }, report);
  }

  @Get('stats')
  async stats(
    @Query() raw: Record<string, unknown>,
    @CurrentActor() actor: Actor,
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response,
  ) {
    const q = validateQuery(StatsQueryDto, withoutConsistency(raw));
    const report = await this.waitForWrites(req, res, actor);
    const data = await this.queries.execute(
      new GetStats(actor, { pipelineId: q.pipeline_id, staleDays: q.stale_days, currency: q.currency }),
    );
    return withConsistency({ data }, report);
  }

  @Get('pipeline-summary')
  async pipelineSummary(
    @Query() raw: Record<string, unknown>,
    @CurrentActor() actor: Actor,
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response,
  ) {
    const q = validateQuery(PipelineSummaryQueryDto, withoutConsistency(raw));
    const report = await this.waitForWrites(req, res, actor);
    const data = await this.queries.execute(
      new GetPipelineSummary(actor, { pipelineId: q.pipeline_id, period: q.period, currency: q.currency }),
    );
    return withConsistency({ data }, report);
  }

  @Get(':id')
  async get(
    @Param('id', ParseOpportunityIdPipe) id: string,
    @Query() raw: Record<string, unknown>,
    @CurrentActor() actor: Actor,
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response,
  ) {
    const q = validateQuery(DetailQueryDto, withoutConsistency(raw));
    if (q.as_of !== undefined) {
      // Time travel: folded from the event log, no read model involved.
      const at = parseAsOf(q.as_of);
      const state = await this.audit.asOf(actor, id, at);
      res.setHeader('ETag', `"${state.version}"`);
      return { data: await this.views.detail(actor, state, q.includes ?? []), meta: { as_of: at.toISOString() } };
    }
    const report = await this.waitForWrites(req, res, actor);
    const result = await this.queries.execute(new GetOpportunity(actor, id, q.includes ?? []));
    res.setHeader('ETag', `"${result.version}"`);
    return withConsistency({ data: result.data }, report);
  }

  private async waitForWrites(req: Request, res: Response, actor: Actor): Promise<ConsistencyReport> {
    const explicit = req.header('x-consistency-token') ?? (typeof req.query.consistency === 'string' ? req.query.consistency : undefined);
    const report = await this.consistency.waitFor(explicit, actor.orgId, READ_MODELS);
    res.setHeader('X-Consistency', report.reached ? 'reached' : 'behind');
    res.setHeader('X-Projection-Position', report.projection_position);
    return report;
  }
}

function withoutConsistency(raw: Record<string, unknown>): Record<string, unknown> {
  const { consistency: _ignored, ...rest } = raw;
  return rest;
}

function splitCustomFields(raw: Record<string, unknown>) {
  const rest: Record<string, unknown> = {};
  // No prototype: cf___proto__ is a key like any other (it matches no deal), not a prototype assignment.
  const customFields: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [key, value] of Object.entries(raw)) {
    const match = CUSTOM_FIELD_PARAM.exec(key);
    if (match && typeof value === 'string') customFields[match[1]] = value;
    else rest[key] = value;
  }
  return { rest, customFields };
}

/** When the read models could not catch up in time the body says how far behind they are. */
function withConsistency<T extends object>(body: T, report: ConsistencyReport): T {
  if (report.reached) return body;
  const meta = (body as { meta?: object }).meta ?? {};
  return { ...body, meta: { ...meta, consistency: report } };
}
