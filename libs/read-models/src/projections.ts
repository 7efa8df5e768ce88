import { OpportunityProjection } from './opportunities/opportunity.projection';
import { PipelinesProjection } from './pipelines/pipelines.projection';
import type { Projection } from './projector/projection';
import { TimelineProjection } from './timeline/timeline.projection';

/** Every read model the service keeps; API and worker run the same list. */
export function allProjections(): Projection[] {
  return [new OpportunityProjection(), new TimelineProjection(), new PipelinesProjection()];
}

/** What queries wait for to read their own writes. */
export const READ_MODEL_NAMES = [OpportunityProjection.NAME, TimelineProjection.NAME, PipelinesProjection.NAME];
