import { OpportunityProjection } from './opportunities/opportunity.projection';
import type { Projection } from './projector/projection';

/** Every read model the service keeps; API and worker run the same list. */
export function allProjections(): Projection[] {
  return [new OpportunityProjection()];
}
