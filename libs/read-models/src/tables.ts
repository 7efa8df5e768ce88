import type { ColumnType, Generated, GeneratedAlways, JSONColumnType, Selectable } from 'kysely';
import type { OpportunityState, Pipeline } from '@app/domain';

/*
 * The read models' tables as both drivers return them (libs/platform/src/database/database.ts sets
 * the parsers): int8 as strings (money and positions stay exact), date as 'YYYY-MM-DD', timestamptz
 * as Date, jsonb parsed. jsonb goes in as JSON text through kysely; bulkInsert takes plain values.
 */

/** int8: read as a string, written as a number or a string. */
type Int8 = ColumnType<string, number | string, number | string>;
/** int8 with a default. */
type Int8Default = ColumnType<string, number | string | undefined, number | string>;
/** timestamptz: read as a Date, written as a Date or an ISO string. */
type Timestamp = ColumnType<Date, Date | string, Date | string>;
/** timestamptz the database fills in (default now()). */
type CreatedAt = ColumnType<Date, Date | string | undefined, Date | string>;
/** date: 'YYYY-MM-DD' both ways. */
type DateString = string;

/** Where each projection has got to in the log; one row per projection. */
export interface ProjectionCheckpointsTable {
  projection: string;
  /** The event store's resume token; null before the first event. */
  checkpoint: string | null;
  position: Int8Default;
  events_processed: Int8Default;
  updated_at: CreatedAt;
  /** Why the projection stopped at a poison event (halt-on-poison), until a runner starts it again. */
  halted_reason: string | null;
  halted_stream_id: string | null;
  halted_at: Timestamp | null;
}

/** Events a projection could not apply, set aside so the rest of the log goes on. */
export interface ProjectionDeadLettersTable {
  id: Generated<string>;
  projection: string;
  event_id: string;
  stream_id: string;
  stream_version: Int8;
  position: Int8;
  event_type: string;
  error: string;
  attempts: number;
  created_at: CreatedAt;
}

export interface UsersTable {
  org_id: string;
  id: string;
  name: string;
  email: string | null;
  created_at: CreatedAt;
  updated_at: CreatedAt;
}

export interface CustomersTable {
  org_id: string;
  id: string;
  customer_number: string;
  company_name: string;
  email: string | null;
  created_at: CreatedAt;
  updated_at: CreatedAt;
}

export interface ContactsTable {
  org_id: string;
  id: string;
  first_name: string;
  last_name: string;
  email: string | null;
  phone: string | null;
  title: string | null;
  customer_id: string | null;
  created_at: CreatedAt;
  updated_at: CreatedAt;
}

/** A lead a deal can name as its lead_id; `includes=lead` renders {id, email, source}. */
export interface LeadsTable {
  org_id: string;
  id: string;
  name: string;
  company_name: string | null;
  email: string | null;
  /** Where the lead came from: referral, website, event … (free text, as a deal's source). */
  source: string | null;
  created_at: CreatedAt;
  updated_at: CreatedAt;
}

/** One row per deal (list, detail and every list filter); `state` is the deal's folded domain state. */
export interface OpportunityListTable {
  org_id: string;
  id: string;
  pipeline_id: string;
  name: string;
  description: string | null;
  customer_id: string | null;
  lead_id: string | null;
  stage: string;
  stage_kind: 'active' | 'won' | 'lost' | 'on_hold';
  status: 'open' | 'won' | 'lost';
  value_minor: Int8;
  weighted_value_minor: Int8;
  currency: string;
  probability: number;
  expected_close_date: DateString | null;
  priority: string | null;
  source: string | null;
  assigned_user_id: string | null;
  tags: ColumnType<string[], string[] | undefined, string[]>;
  custom_fields: JSONColumnType<Record<string, unknown>, string | undefined, string>;
  bant_score: number;
  follow_up_date: DateString | null;
  category_id: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
  stage_changed_at: Timestamp;
  last_activity_at: Timestamp;
  actual_close_date: DateString | null;
  sales_cycle_days: number | null;
  deleted_at: Timestamp | null;
  /** tsvector of name and description, for the search filter. */
  search: GeneratedAlways<string>;
  state: JSONColumnType<OpportunityState>;
  last_version: Int8;
  last_position: Int8;
}

/** Pre-aggregated figures per (pipeline, stage, status, owner, currency, close month, probability band). */
export interface PipelineTotalsTable {
  org_id: string;
  pipeline_id: string;
  stage: string;
  status: 'open' | 'won' | 'lost';
  /** '' when unassigned (part of the primary key). */
  assigned_user_id: string;
  currency: string;
  /** First day of the close month; NO_CLOSE_MONTH when the deal has no date. */
  close_month: DateString;
  probability_band: number;
  deal_count: Int8;
  value_minor: Int8;
  weighted_value_minor: Int8;
  sales_cycle_days_sum: Int8;
}

/** Each state of a deal with the span it held, [valid_from, valid_to): "as of" analytics. */
export interface OpportunityIntervalsTable {
  org_id: string;
  id: string;
  version: Int8;
  valid_from: Timestamp;
  /** null while the state is the deal's current one. */
  valid_to: Timestamp | null;
  pipeline_id: string;
  stage: string;
  status: 'open' | 'won' | 'lost';
  assigned_user_id: string;
  currency: string;
  expected_close_date: DateString | null;
  close_month: DateString;
  probability_band: number;
  value_minor: Int8;
  weighted_value_minor: Int8;
  sales_cycle_days: number | null;
  stage_changed_at: Timestamp;
  last_activity_at: Timestamp;
}

export interface OpportunityActivitiesTable {
  org_id: string;
  id: string;
  opportunity_id: string;
  activity_type: string;
  subject: string | null;
  description: string | null;
  outcome: string | null;
  priority: string | null;
  status: 'scheduled' | 'completed';
  scheduled_at: Timestamp | null;
  completed_at: Timestamp | null;
  created_by: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface OpportunityNotesTable {
  org_id: string;
  id: string;
  opportunity_id: string;
  content: string;
  created_by: string | null;
  created_at: Timestamp;
}

/** The org's pipelines for listing; `definition` is the pipeline as its stream last left it. */
export interface PipelinesTable {
  org_id: string;
  id: string;
  name: string;
  definition: JSONColumnType<Pipeline>;
  version: Int8;
  deleted_at: Timestamp | null;
  updated_at: Timestamp;
}

/** An org's deal categories (opportunity_list.category_id names one). */
export interface CategoriesTable {
  org_id: string;
  id: string;
  name: string;
  color: string | null;
  sort_order: ColumnType<number, number | undefined, number>;
  is_active: ColumnType<boolean, boolean | undefined, boolean>;
  created_at: CreatedAt;
  updated_at: CreatedAt;
}

/** Deals per calendar day of a date a list filter reads (list-facets.ts), crossed with the summary's groups. */
export interface ListDayTotalsTable {
  org_id: string;
  facet: 'expected_close' | 'stage_changed' | 'last_activity' | 'follow_up';
  day: DateString;
  pipeline_id: string;
  stage: string;
  stage_kind: string;
  status: 'open' | 'won' | 'lost';
  currency: string;
  deal_count: Int8;
  value_minor: Int8;
  weighted_value_minor: Int8;
}

/** Deals per tag set ('tags': a sorted array, or 'unlisted') and per custom-field value ('field': [key, value] or [key]). */
export interface ListLabelTotalsTable {
  org_id: string;
  facet: 'tags' | 'field';
  label: ColumnType<string | unknown[], string | unknown[], string | unknown[]>;
  pipeline_id: string;
  stage: string;
  status: 'open' | 'won' | 'lost';
  currency: string;
  deal_count: Int8;
  value_minor: Int8;
  weighted_value_minor: Int8;
}

/** A type, not an interface, so that Kysely's withTables() takes it. */
export type ReadModelTables = {
  projection_checkpoints: ProjectionCheckpointsTable;
  projection_dead_letters: ProjectionDeadLettersTable;
  users: UsersTable;
  customers: CustomersTable;
  contacts: ContactsTable;
  leads: LeadsTable;
  opportunity_list: OpportunityListTable;
  pipeline_totals: PipelineTotalsTable;
  list_day_totals: ListDayTotalsTable;
  list_label_totals: ListLabelTotalsTable;
  opportunity_intervals: OpportunityIntervalsTable;
  opportunity_activities: OpportunityActivitiesTable;
  opportunity_notes: OpportunityNotesTable;
  pipelines: PipelinesTable;
  categories: CategoriesTable;
};

export type OpportunityActivityRow = Selectable<OpportunityActivitiesTable>;
