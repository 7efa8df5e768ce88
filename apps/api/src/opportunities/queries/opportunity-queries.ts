import { Inject } from '@nestjs/common';
import { IQueryHandler, QueryHandler } from '@nestjs/cqrs';
import { DomainError, parseAmount } from '@app/domain';
import { Actor, Database, DATABASE } from '@app/platform';
import {
  forecast,
  ForecastQuery as ForecastParams,
  listOpportunities,
  ListQuery,
  loadRefs,
  monthlyForecast,
  MonthlyQuery,
  pipelineData,
  PipelineDataQuery as PipelineDataParams,
  pipelineSummary,
  DateRange,
  stats,
  type ReadModelTables,
} from '@app/read-models';
import { sumToMajor } from '@app/domain';
import { OpportunityRepository } from '../opportunity.repository';
import { opportunityListItem, stakeholderContactIds } from '../opportunity.view';
import { OpportunityViews } from '../opportunity-views.service';
import { StaleRules } from '../../pipelines/stale-rules.service';
import { activitiesByDeal, averageMinor } from '@app/read-models';

export class GetOpportunity {
  constructor(
    readonly actor: Actor,
    readonly id: string,
    readonly includes: string[],
  ) {}
}

@QueryHandler(GetOpportunity)
export class GetOpportunityHandler implements IQueryHandler<GetOpportunity> {
  constructor(
    @Inject(DATABASE) private readonly database: Database,
    private readonly views: OpportunityViews,
  ) {}

  async execute({ actor, id, includes }: GetOpportunity) {
    const row = await this.database
      .tables<ReadModelTables>()
      .selectFrom('opportunity_list')
      .select(['state', 'last_version'])
      .where('org_id', '=', actor.orgId)
      .where('id', '=', id)
      .where('deleted_at', 'is', null)
      .executeTakeFirst();
    if (!row) throw DomainError.notFound('Opportunity');
    const activities = includes.includes('activities')
      ? ((await activitiesByDeal(this.database.tables<ReadModelTables>(), actor.orgId, [id])).get(id) ?? [])
      : undefined;
    return { version: Number(row.last_version), data: await this.views.detail(actor, row.state, includes, activities) };
  }
}

export class ListOpportunities {
  constructor(
    readonly actor: Actor,
    readonly query: ListQuery,
    readonly includes: string[],
  ) {}
}

@QueryHandler(ListOpportunities)
export class ListOpportunitiesHandler implements IQueryHandler<ListOpportunities> {
  constructor(
    @Inject(DATABASE) private readonly database: Database,
    private readonly repository: OpportunityRepository,
    private readonly staleRules: StaleRules,
  ) {}

  async execute({ actor, query, includes }: ListOpportunities) {
    const now = new Date();
    const db = this.database.tables<ReadModelTables>();
    const [{ rows, byCurrency, total }, winRateRows] = await Promise.all([
      listOpportunities(db, actor.orgId, query, now),
      db
        .selectFrom('pipeline_totals')
        .select(['status', (eb) => eb.fn.sum<string>('deal_count').as('n')])
        .where('org_id', '=', actor.orgId)
        .where('status', 'in', ['won', 'lost'])
        .$if(!!query.assigned_user_id, (qb) => qb.where('assigned_user_id', '=', query.assigned_user_id!))
        .groupBy('status')
        .execute(),
    ]);
    const states = rows.map((r) => r.state);
    const refs = await loadRefs(
      db,
      actor.orgId,
      states.map((s) => s.assigned_user_id),
      states.map((s) => s.customer_id),
      includes.includes('stakeholders') ? stakeholderContactIds(states) : [],
      includes.includes('lead') ? states.map((s) => s.lead_id) : [],
    );
    const iso = now.toISOString();
    const pipelineIds = [...new Set(states.map((s) => s.pipeline_id))];
    const pipelines = new Map(
      await Promise.all(pipelineIds.map(async (id) => [id, await this.repository.pipelineForDisplay(actor.orgId, id)] as const)),
    );
    const activities = includes.includes('activities')
      ? await activitiesByDeal(
          db,
          actor.orgId,
          states.map((s) => s.opportunity_id),
        )
      : new Map();
    const data = states.map((s) =>
      opportunityListItem(s, pipelines.get(s.pipeline_id)!, iso, refs, {
        includes,
        activities: activities.get(s.opportunity_id) ?? [],
        staleAfterDays: this.staleRules.defaultDays,
      }),
    );
    const won = Number(winRateRows.find((r) => r.status === 'won')?.n ?? 0);
    const lost = Number(winRateRows.find((r) => r.status === 'lost')?.n ?? 0);
    const main = query.currency
      ? byCurrency.find((c) => c.currency === query.currency)
      : byCurrency.length === 1
        ? byCurrency[0]
        : undefined;
    // Nothing to add up: no deal matches (in the currency asked for, if one is).
    const noDeals = query.currency ? !main : byCurrency.length === 0;
    return {
      data,
      meta: {
        current_page: query.page,
        per_page: query.per_page,
        total,
        last_page: Math.max(1, Math.ceil(total / query.per_page)),
        // Past the last page there is nothing to number: null, as for an empty result.
        from: data.length === 0 ? null : (query.page - 1) * query.per_page + 1,
        to: data.length === 0 ? null : (query.page - 1) * query.per_page + data.length,
      },
      summary: {
        total_opportunities: total,
        // Money is summed per currency; the single figures appear when one currency is in play (or
        // none: the sums of no deals are 0), and are null when several are, which do not add up.
        currency: main?.currency ?? null,
        total_value: main ? sumToMajor(main.value_minor) : noDeals ? 0 : null,
        total_weighted_value: main ? sumToMajor(main.weighted_value_minor) : noDeals ? 0 : null,
        average_deal_size: main && main.count ? sumToMajor(averageMinor(main)) : noDeals ? 0 : null,
        win_rate: won + lost === 0 ? null : Math.round((won / (won + lost)) * 1000) / 10,
        by_currency: byCurrency.map((c) => ({
          currency: c.currency,
          count: c.count,
          total_value: sumToMajor(c.value_minor),
          total_weighted_value: sumToMajor(c.weighted_value_minor),
          average_deal_size: c.count ? sumToMajor(averageMinor(c)) : 0,
        })),
      },
    };
  }
}

export class GetPipelineData {
  constructor(
    readonly actor: Actor,
    readonly params: Omit<PipelineDataParams, 'pipeline'> & { pipelineId?: string },
  ) {}
}

@QueryHandler(GetPipelineData)
export class GetPipelineDataHandler implements IQueryHandler<GetPipelineData> {
  constructor(
    @Inject(DATABASE) private readonly database: Database,
    private readonly repository: OpportunityRepository,
  ) {}

  async execute({ actor, params }: GetPipelineData) {
    const pipeline = await this.repository.pipelineFor(actor.orgId, params.pipelineId);
    return pipelineData(this.database.tables<ReadModelTables>(), actor.orgId, { ...params, pipeline }, new Date());
  }
}

export class GetForecast {
  constructor(
    readonly actor: Actor,
    readonly params: ForecastParams,
  ) {}
}

@QueryHandler(GetForecast)
export class GetForecastHandler implements IQueryHandler<GetForecast> {
  constructor(@Inject(DATABASE) private readonly database: Database) {}

  execute({ actor, params }: GetForecast) {
    return forecast(this.database.tables<ReadModelTables>(), actor.orgId, params, new Date());
  }
}

export class GetMonthlyForecast {
  constructor(
    readonly actor: Actor,
    readonly params: MonthlyQuery,
  ) {}
}

@QueryHandler(GetMonthlyForecast)
export class GetMonthlyForecastHandler implements IQueryHandler<GetMonthlyForecast> {
  constructor(@Inject(DATABASE) private readonly database: Database) {}

  execute({ actor, params }: GetMonthlyForecast) {
    return monthlyForecast(this.database.tables<ReadModelTables>(), actor.orgId, params, new Date());
  }
}

export class GetStats {
  constructor(
    readonly actor: Actor,
    readonly params: { pipelineId?: string; staleDays?: number; currency?: string },
  ) {}
}

@QueryHandler(GetStats)
export class GetStatsHandler implements IQueryHandler<GetStats> {
  constructor(
    @Inject(DATABASE) private readonly database: Database,
    private readonly repository: OpportunityRepository,
    private readonly staleRules: StaleRules,
  ) {}

  async execute({ actor, params }: GetStats) {
    const pipeline = await this.repository.pipelineFor(actor.orgId, params.pipelineId);
    const days = params.staleDays ?? this.staleRules.defaultDays;
    const rules = await this.staleRules.forOrg(actor.orgId, days);
    return stats(this.database.tables<ReadModelTables>(), actor.orgId, pipeline, new Date(), rules, days, params.currency);
  }
}

export class GetPipelineSummary {
  constructor(
    readonly actor: Actor,
    readonly params: { pipelineId?: string; period?: DateRange; currency?: string },
  ) {}
}

@QueryHandler(GetPipelineSummary)
export class GetPipelineSummaryHandler implements IQueryHandler<GetPipelineSummary> {
  constructor(
    @Inject(DATABASE) private readonly database: Database,
    private readonly repository: OpportunityRepository,
  ) {}

  async execute({ actor, params }: GetPipelineSummary) {
    const pipeline = await this.repository.pipelineFor(actor.orgId, params.pipelineId);
    return pipelineSummary(this.database.tables<ReadModelTables>(), actor.orgId, pipeline, new Date(), params.period, params.currency);
  }
}

export const QUERY_HANDLERS = [
  GetOpportunityHandler,
  ListOpportunitiesHandler,
  GetPipelineDataHandler,
  GetForecastHandler,
  GetMonthlyForecastHandler,
  GetStatsHandler,
  GetPipelineSummaryHandler,
];

export function minorOrUndefined(value: string | undefined): number | undefined {
  return value === undefined ? undefined : (parseAmount(value) ?? undefined);
}
