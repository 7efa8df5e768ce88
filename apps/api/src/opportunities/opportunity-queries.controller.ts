import { Controller, Get, Param } from '@nestjs/common';
import { QueryBus } from '@nestjs/cqrs';
import { type CustomFieldsState, DomainError, isValidDate } from '@app/domain';
import { Actor, CurrentActor, ResponseHeaders, validateQuery } from '@app/platform';
import { type CustomFieldRange, quarterOf, type TypedCustomField } from '@app/read-models';
import { CustomFieldsRepository } from '../custom-fields/custom-fields.repository';
import { ReadQuery, ReadYourWrites } from '../read-your-writes';
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
import { OrgPipelines } from '../pipelines/org-pipelines.service';
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
const CUSTOM_FIELD_RANGE = /^cf_([a-z][a-z0-9_]{0,63})__(gte|lte)$/;
const DECIMAL = /^-?\d{1,30}(\.\d{1,30})?$/;

/** Queries read the projections; each first waits (bounded) for the caller's last write (@ReadYourWrites). */
@Controller('opportunities')
export class OpportunityQueriesController {
  constructor(
    private readonly queries: QueryBus,
    private readonly audit: AuditService,
    private readonly views: OpportunityViews,
    private readonly staleRules: StaleRules,
    private readonly customFields: CustomFieldsRepository,
    private readonly pipelines: OrgPipelines,
  ) {}

  // Declared first, and still never taken for /stats: routes are registered most specific first.
  @ReadYourWrites()
  @Get(':id')
  async get(
    @Param('id', ParseOpportunityIdPipe) id: string,
    @ReadQuery() raw: Record<string, unknown>,
    @CurrentActor() actor: Actor,
    @ResponseHeaders() headers: Record<string, string>,
  ) {
    const q = validateQuery(DetailQueryDto, raw);
    if (q.as_of !== undefined) {
      // Time travel: folded from the event log, no read model involved.
      const at = parseAsOf(q.as_of);
      const state = await this.audit.asOf(actor, id, at);
      headers.ETag = `"${state.version}"`;
      return { data: await this.views.detail(actor, state, q.includes ?? []), meta: { as_of: at.toISOString() } };
    }
    const result = await this.queries.execute(new GetOpportunity(actor, id, q.includes ?? []));
    headers.ETag = `"${result.version}"`;
    return { data: result.data };
  }

  @ReadYourWrites()
  @Get()
  async list(@ReadQuery() raw: Record<string, unknown>, @CurrentActor() actor: Actor) {
    const { rest, customFields, ranges, sortKey } = splitCustomFields(raw);
    const typed = ranges.length > 0 || sortKey !== undefined ? await this.customFields.load(actor.orgId) : undefined;
    const customFieldRanges = ranges.map((r) => typedRange(typed!, r));
    const sortCustomField = sortKey === undefined ? undefined : typedField(typed!, sortKey, 'sort_by');
    const q = validateQuery(ListOpportunitiesQueryDto, rest);
    const { 'stage!': excluded, exclude_stage, min_value, max_value, includes, stale, ...filters } = q;
    await this.checkStages(actor.orgId, { stage: q.stage, 'stage!': excluded, exclude_stage });
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
          custom_field_ranges: customFieldRanges,
          ...(sortCustomField ? { sort_custom_field: sortCustomField } : {}),
        },
        includes ?? [],
      ),
    );
    return result;
  }

  /**
   * A stage filter names stages some pipeline of the org defines (its own or the default one): any
   * other key is a 400 naming it and the known ones, as an unknown status is, not an empty list.
   */
  private async checkStages(orgId: string, filters: Record<string, string[] | undefined>): Promise<void> {
    const given = Object.entries(filters).filter(([, keys]) => keys !== undefined && keys.length > 0);
    if (given.length === 0) return;
    const known = await this.pipelines.stageKeys(orgId);
    const errors: Record<string, string[]> = {};
    for (const [param, keys] of given) {
      const unknown = [...new Set(keys!.filter((k) => !known.includes(k)))];
      if (unknown.length === 0) continue;
      errors[param] = [`${param} names no stage of this org's pipelines: ${unknown.join(', ')} (stages: ${known.join(', ')})`];
    }
    if (Object.keys(errors).length > 0) throw DomainError.validation(errors);
  }

  @ReadYourWrites()
  @Get('pipeline-data')
  async pipelineData(@ReadQuery() raw: Record<string, unknown>, @CurrentActor() actor: Actor) {
    const q = validateQuery(PipelineDataQueryDto, raw);
    const asOf = q.as_of === undefined ? undefined : parseAsOf(q.as_of);
    const data = await this.queries.execute(
      new GetPipelineData(actor, { userId: q.user_id, dateRange: q.date_range, pipelineId: q.pipeline_id, currency: q.currency, asOf }),
    );
    return { data };
  }

  @ReadYourWrites()
  @Get('forecast')
  async forecast(@ReadQuery() raw: Record<string, unknown>, @CurrentActor() actor: Actor) {
    const q = validateQuery(ForecastQueryDto, raw);
    const asOf = q.as_of === undefined ? undefined : parseAsOf(q.as_of);
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
    return { data };
  }

  @ReadYourWrites()
  @Get('forecast/monthly')
  async monthly(@ReadQuery() raw: Record<string, unknown>, @CurrentActor() actor: Actor) {
    const q = validateQuery(MonthlyForecastQueryDto, raw);
    const data = await this.queries.execute(
      new GetMonthlyForecast(actor, {
        from: q.close_date__gte ?? q.from,
        to: q.close_date__lte ?? q.to,
        userId: q.user_id,
        currency: q.currency,
      }),
    );
    return { data };
  }

  @ReadYourWrites()
  @Get('stats')
  async stats(@ReadQuery() raw: Record<string, unknown>, @CurrentActor() actor: Actor) {
    const q = validateQuery(StatsQueryDto, raw);
    const data = await this.queries.execute(
      new GetStats(actor, { pipelineId: q.pipeline_id, staleDays: q.stale_days, currency: q.currency }),
    );
    return { data };
  }

  @ReadYourWrites()
  @Get('pipeline-summary')
  async pipelineSummary(@ReadQuery() raw: Record<string, unknown>, @CurrentActor() actor: Actor) {
    const q = validateQuery(PipelineSummaryQueryDto, raw);
    const data = await this.queries.execute(
      new GetPipelineSummary(actor, { pipelineId: q.pipeline_id, period: q.period, currency: q.currency }),
    );
    return { data };
  }
}

/**
 * cf_<key>=value (equality), cf_<key>__gte / __lte (ranges on number and date fields) and
 * sort_by=cf_<key>; the rest goes to the DTO.
 */
function splitCustomFields(raw: Record<string, unknown>) {
  const rest: Record<string, unknown> = {};
  // No prototype: cf___proto__ is a key like any other (it matches no deal), not a prototype assignment.
  const customFields: Record<string, string> = Object.create(null) as Record<string, string>;
  const ranges: { param: string; key: string; op: 'gte' | 'lte'; value: unknown }[] = [];
  let sortKey: string | undefined;
  for (const [key, value] of Object.entries(raw)) {
    const range = CUSTOM_FIELD_RANGE.exec(key);
    const match = CUSTOM_FIELD_PARAM.exec(key);
    if (range) ranges.push({ param: key, key: range[1], op: range[2] as 'gte' | 'lte', value });
    else if (match && typeof value === 'string') customFields[match[1]] = value;
    else if (key === 'sort_by' && typeof value === 'string' && value.startsWith('cf_')) sortKey = value.slice(3);
    else rest[key] = value;
  }
  return { rest, customFields, ranges, sortKey };
}

/** A number or date definition of the org, or a 400 naming the parameter. */
function typedField(state: CustomFieldsState, key: string, param: string): TypedCustomField {
  const definition = state.definitions.find((d) => d.key === key);
  if (!definition || (definition.type !== 'number' && definition.type !== 'date')) {
    const rangeCapable = state.definitions.filter((d) => d.type === 'number' || d.type === 'date').map((d) => `cf_${d.key}`);
    throw DomainError.validation({
      [param]: [
        `${param} needs a number or date custom field; ${definition ? `${key} is a ${definition.type} field` : `${key} is not defined`}` +
          (rangeCapable.length ? ` (these are: ${rangeCapable.join(', ')})` : ''),
      ],
    });
  }
  return { key, type: definition.type };
}

function typedRange(state: CustomFieldsState, r: { param: string; key: string; op: 'gte' | 'lte'; value: unknown }): CustomFieldRange {
  const field = typedField(state, r.key, r.param);
  const value = r.value;
  if (field.type === 'number') {
    if (typeof value !== 'string' || !DECIMAL.test(value)) throw DomainError.validation({ [r.param]: [`${r.param} must be a number`] });
    return { ...field, op: r.op, value };
  }
  if (typeof value !== 'string' || !isValidDate(value)) {
    throw DomainError.validation({ [r.param]: [`${r.param} must be a date in the form YYYY-MM-DD`] });
  }
  return { ...field, op: r.op, value };
}
