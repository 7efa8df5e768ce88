/**
 * Stream names, in one place: '<category>-<org>-<id>'. Every stream carries its org, so no id can
 * reach another org's data; org ids have no '-' (a-z, 0-9, _), so the first two dashes split a name.
 */
export const STREAM_CATEGORIES = ['opportunity', 'pipeline', 'custom_fields'] as const;
export type StreamCategory = (typeof STREAM_CATEGORIES)[number];

export interface StreamName {
  category: StreamCategory;
  orgId: string;
  id: string;
}

export function streamName(category: StreamCategory, orgId: string, id: string): string {
  return `${category}-${orgId}-${id}`;
}

export const opportunityStreamId = (orgId: string, opportunityId: string) => streamName('opportunity', orgId, opportunityId);
export const pipelineStreamId = (orgId: string, pipelineId: string) => streamName('pipeline', orgId, pipelineId);
/** One stream per org holds its custom-field definitions and settings. */
export const customFieldsStreamId = (orgId: string) => streamName('custom_fields', orgId, 'definitions');

/** The prefix every stream of a category starts with (a server-side filter on EventStoreDB). */
export const categoryPrefix = (category: StreamCategory) => `${category}-`;

/** The parts of one of our stream names; null for anything else (system streams, other apps' streams). */
export function parseStreamName(streamId: string): StreamName | null {
  const first = streamId.indexOf('-');
  const second = first < 0 ? -1 : streamId.indexOf('-', first + 1);
  if (second < 0) return null;
  const category = streamId.slice(0, first);
  const orgId = streamId.slice(first + 1, second);
  const id = streamId.slice(second + 1);
  if (!(STREAM_CATEGORIES as readonly string[]).includes(category) || !/^[a-z0-9_]+$/.test(orgId) || id === '') return null;
  return { category: category as StreamCategory, orgId, id };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Opportunity, activity and category ids are UUIDs (any case; lower-cased before they name a stream). */
export const isUuid = (value: string) => UUID.test(value);
