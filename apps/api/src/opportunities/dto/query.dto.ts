import { Transform } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, Matches, Max, MaxLength, Min } from 'class-validator';
import { DATE_RANGES, DateRange, SORTABLE, SortField } from '@app/read-models';
import { IsAmount, IsDateOnly } from './validators';

const toInt = ({ value }: { value: unknown }) => (typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : value);
const toBool = ({ value }: { value: unknown }) =>
  value === 'true' || value === '1' ? true : value === 'false' || value === '0' ? false : value;
const toList = ({ value }: { value: unknown }) =>
  typeof value === 'string'
    ? value
        .split(',')
        .map((v) => v.trim())
        .filter(Boolean)
    : value;

const LIST_ITEM = /^[A-Za-z0-9_.:@-]{1,100}$/;

/** Paging shared by every list. */
export class PageQueryDto {
  @IsOptional() @Transform(toInt) @IsInt({ message: 'page must be a whole number' }) @Min(1) @Max(1_000_000) page: number = 1;
  @IsOptional()
  @Transform(toInt)
  @IsInt({ message: 'per_page must be a whole number' })
  @Min(1)
  @Max(100, { message: 'per_page must not be greater than 100' })
  per_page: number = 25;
}

export const INCLUDES = ['customer', 'lead', 'activities', 'assigned_user', 'campaign', 'stakeholders'] as const;

export class DetailQueryDto {
  @IsOptional()
  @Transform(toList)
  @IsIn(INCLUDES, { each: true, message: `includes may contain: ${INCLUDES.join(', ')}` })
  includes?: string[];
  /** Time travel: the deal as it stood at this instant. */
  @IsOptional() @IsString() @MaxLength(40) as_of?: string;
}

export class ListOpportunitiesQueryDto extends PageQueryDto {
  @IsOptional()
  @Transform(toList)
  @Matches(LIST_ITEM, { each: true, message: 'stage must be stage keys separated by commas' })
  stage?: string[];
  /** `stage!=won,lost` excludes stages. */
  @IsOptional()
  @Transform(toList)
  @Matches(LIST_ITEM, { each: true, message: 'stage! must be stage keys separated by commas' })
  'stage!'?: string[];
  @IsOptional()
  @Transform(toList)
  @Matches(LIST_ITEM, { each: true, message: 'exclude_stage must be stage keys separated by commas' })
  exclude_stage?: string[];
  @IsOptional()
  @Transform(toList)
  @IsIn(['open', 'won', 'lost'], { each: true, message: 'status must be open, won or lost' })
  status?: Array<'open' | 'won' | 'lost'>;
  @IsOptional() @Matches(LIST_ITEM, { message: 'customer_id must be an id' }) customer_id?: string;
  @IsOptional() @Matches(LIST_ITEM, { message: 'assigned_user_id must be an id' }) assigned_user_id?: string;
  /** Deals this contact is a stakeholder of. */
  @IsOptional() @Matches(LIST_ITEM, { message: 'contact_id must be an id' }) contact_id?: string;
  @IsOptional()
  @Transform(toList)
  @IsIn(['low', 'medium', 'high'], { each: true, message: 'priority must be low, medium or high' })
  priority?: string[];
  @IsOptional() @Matches(LIST_ITEM) pipeline_id?: string;
  @IsOptional() @IsString() @MaxLength(100) source?: string;
  @IsOptional() @Matches(LIST_ITEM) category_id?: string;
  @IsOptional() @Matches(/^[A-Z]{3}$/, { message: 'currency must be a 3-letter ISO 4217 code' }) currency?: string;
  @IsOptional() @IsDateOnly() expected_close_date_from?: string;
  @IsOptional() @IsDateOnly() expected_close_date_to?: string;
  @IsOptional() @IsAmount() min_value?: string;
  @IsOptional() @IsAmount() max_value?: string;
  @IsOptional() @IsString() @MaxLength(200) search?: string;
  @IsOptional() @Transform(toBool) @IsIn([true, false], { message: 'overdue must be true or false' }) overdue?: boolean;
  @IsOptional() @Transform(toBool) @IsIn([true, false], { message: 'needs_follow_up must be true or false' }) needs_follow_up?: boolean;
  /** Rotting: no activity for the stage's rotting_days (or STALE_AFTER_DAYS). */
  @IsOptional() @Transform(toBool) @IsIn([true, false], { message: 'stale must be true or false' }) stale?: boolean;
  @IsOptional()
  @Transform(toInt)
  @IsInt({ message: 'days_in_stage_min must be a whole number' })
  @Min(0)
  @Max(36500)
  days_in_stage_min?: number;
  @IsOptional()
  @Transform(toInt)
  @IsInt({ message: 'last_activity_days_ago_min must be a whole number' })
  @Min(0)
  @Max(36500)
  last_activity_days_ago_min?: number;
  @IsOptional() @Transform(toList) @IsString({ each: true }) @MaxLength(50, { each: true }) tags?: string[];
  @IsOptional()
  @IsIn(Object.keys(SORTABLE), { message: `sort_by must be one of: ${Object.keys(SORTABLE).join(', ')}` })
  sort_by: SortField = 'created_at';
  @IsOptional() @IsIn(['asc', 'desc'], { message: 'sort_direction must be asc or desc' }) sort_direction: 'asc' | 'desc' = 'desc';
  @IsOptional()
  @Transform(toList)
  @IsIn(INCLUDES, { each: true, message: `includes may contain: ${INCLUDES.join(', ')}` })
  includes?: string[];
}

export class PipelineDataQueryDto {
  @IsOptional() @Matches(LIST_ITEM, { message: 'user_id must be an id' }) user_id?: string;
  @IsOptional() @IsIn(DATE_RANGES, { message: `date_range must be one of: ${DATE_RANGES.join(', ')}` }) date_range?: DateRange;
  @IsOptional() @Matches(LIST_ITEM) pipeline_id?: string;
  @IsOptional() @Matches(/^[A-Z]{3}$/, { message: 'currency must be a 3-letter ISO 4217 code' }) currency?: string;
  @IsOptional() @IsString() @MaxLength(40) as_of?: string;
}

export class ForecastQueryDto {
  @IsOptional() @IsIn(['Q1', 'Q2', 'Q3', 'Q4', 'q1', 'q2', 'q3', 'q4'], { message: 'quarter must be Q1, Q2, Q3 or Q4' }) quarter?: string;
  @IsOptional() @Transform(toInt) @IsInt({ message: 'year must be a whole number' }) @Min(1970) @Max(9999) year?: number;
  @IsOptional() @Matches(LIST_ITEM, { message: 'user_id must be an id' }) user_id?: string;
  @IsOptional() @Matches(/^[A-Z]{3}$/, { message: 'currency must be a 3-letter ISO 4217 code' }) currency?: string;
  @IsOptional() @IsString() @MaxLength(40) as_of?: string;
}

export class MonthlyForecastQueryDto {
  @IsOptional() @IsDateOnly() close_date__gte?: string;
  @IsOptional() @IsDateOnly() close_date__lte?: string;
  @IsOptional() @IsDateOnly() from?: string;
  @IsOptional() @IsDateOnly() to?: string;
  @IsOptional() @Matches(LIST_ITEM, { message: 'user_id must be an id' }) user_id?: string;
  @IsOptional() @Matches(/^[A-Z]{3}$/, { message: 'currency must be a 3-letter ISO 4217 code' }) currency?: string;
}

export class StatsQueryDto {
  @IsOptional() @Matches(LIST_ITEM) pipeline_id?: string;
  @IsOptional() @Transform(toInt) @IsInt() @Min(1) @Max(3650) stale_days?: number;
  @IsOptional() @Matches(/^[A-Z]{3}$/, { message: 'currency must be a 3-letter ISO 4217 code' }) currency?: string;
}

export class PipelineSummaryQueryDto {
  @IsOptional() @Matches(LIST_ITEM) pipeline_id?: string;
  @IsOptional() @IsIn(DATE_RANGES, { message: `period must be one of: ${DATE_RANGES.join(', ')}` }) period?: DateRange;
  @IsOptional() @Matches(/^[A-Z]{3}$/, { message: 'currency must be a 3-letter ISO 4217 code' }) currency?: string;
}
