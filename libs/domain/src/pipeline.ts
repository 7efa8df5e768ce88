import { DomainError, ErrorCode } from './errors';

export type StageKind = 'active' | 'won' | 'lost' | 'on_hold';

export interface StageDefinition {
  key: string;
  name: string;
  /** Position among active stages (1-based); terminal and on_hold stages sort after them. */
  display_order: number;
  probability: number;
  kind: StageKind;
  /** Days without activity after which an open deal in this stage is stale (Pipedrive's rotting). */
  rotting_days?: number;
}

export interface PipelinePolicy {
  /** Forward moves may jump over stages. */
  allow_skip: boolean;
  /** Backward moves are allowed at all (always with a recorded reason). */
  allow_backward: boolean;
}

export interface Pipeline {
  id: string;
  name: string;
  stages: StageDefinition[];
  loss_reasons: string[];
  policy: PipelinePolicy;
}

export const DEFAULT_PIPELINE_ID = 'default';

export const DEFAULT_LOSS_REASONS = [
  'price',
  'competitor',
  'no_decision',
  'timing',
  'lack_of_features',
  'internal_champion_left',
  'budget_cuts',
  'other',
];

export const DEFAULT_PIPELINE: Pipeline = {
  id: DEFAULT_PIPELINE_ID,
  name: 'Sales pipeline',
  stages: [
    { key: 'prospecting', name: 'Prospecting', display_order: 1, probability: 10, kind: 'active' },
    { key: 'qualification', name: 'Qualification', display_order: 2, probability: 25, kind: 'active' },
    { key: 'needs_analysis', name: 'Needs Analysis', display_order: 3, probability: 40, kind: 'active' },
    { key: 'proposal', name: 'Proposal', display_order: 4, probability: 60, kind: 'active' },
    { key: 'negotiation', name: 'Negotiation', display_order: 5, probability: 75, kind: 'active' },
    { key: 'verbal_commitment', name: 'Verbal Commitment', display_order: 6, probability: 90, kind: 'active' },
    { key: 'won', name: 'Won', display_order: 7, probability: 100, kind: 'won' },
    { key: 'lost', name: 'Lost', display_order: 8, probability: 0, kind: 'lost' },
    { key: 'on_hold', name: 'On Hold', display_order: 9, probability: 0, kind: 'on_hold' },
  ],
  loss_reasons: DEFAULT_LOSS_REASONS,
  policy: { allow_skip: false, allow_backward: true },
};

export function findStage(pipeline: Pipeline, key: string): StageDefinition | undefined {
  return pipeline.stages.find((s) => s.key === key);
}

export function requireStage(pipeline: Pipeline, key: string, field = 'stage'): StageDefinition {
  const stage = findStage(pipeline, key);
  if (!stage) {
    throw DomainError.validation({
      [field]: [`${field} must be one of: ${pipeline.stages.map((s) => s.key).join(', ')}`],
    });
  }
  return stage;
}

export function activeStages(pipeline: Pipeline): StageDefinition[] {
  return pipeline.stages.filter((s) => s.kind === 'active').sort((a, b) => a.display_order - b.display_order);
}

export function stageOfKind(pipeline: Pipeline, kind: Exclude<StageKind, 'active'>): StageDefinition {
  const stage = pipeline.stages.find((s) => s.kind === kind);
  if (!stage) throw new DomainError(ErrorCode.StageKindMissing, `Pipeline ${pipeline.id} has no ${kind} stage`, { missing: kind });
  return stage;
}

export function isTerminal(stage: StageDefinition): boolean {
  return stage.kind === 'won' || stage.kind === 'lost';
}

/** Rank among active stages (0-based), or -1 for won/lost/on_hold. */
export function activeRank(pipeline: Pipeline, key: string): number {
  return activeStages(pipeline).findIndex((s) => s.key === key);
}
