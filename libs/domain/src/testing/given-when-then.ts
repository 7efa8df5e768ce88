/**
 * Given/When/Then helper for the opportunity decider (test-only code).
 *
 *   given(...atStage('proposal')).when({ type: 'AdvanceStage' }).then(stageChanged('proposal', 'negotiation'));
 *   given(created()).when({ type: 'Win' }).thenThrows(ErrorCode.InvalidStageTransition, { current_stage: 'prospecting' });
 *
 * Note: the result of `when()` has a `then` method and is therefore "thenable": never `await` it
 * or return it un-asserted from a test callback.
 */
import { DomainError, type ErrorCode } from '../errors';
import { DEFAULT_PIPELINE, findStage } from '../pipeline';
import type { OpportunityCommand } from '../opportunity/decide';
import { decide, type DecideContext } from '../opportunity/decide';
import type { OpportunityCreated, OpportunityEvent, OpportunityStageChanged, StageMovement } from '../opportunity/events';
import { fold } from '../opportunity/state';

export const NOW = '2026-01-15T10:00:00.000Z';
export const DEFAULT_CTX: DecideContext = { now: NOW, actor_id: 'user-1', pipeline: DEFAULT_PIPELINE };

/** The default pipeline's active stages in order. */
export const ACTIVE_STAGES = ['prospecting', 'qualification', 'needs_analysis', 'proposal', 'negotiation', 'verbal_commitment'];

export function given(...events: OpportunityEvent[]) {
  return {
    when(command: OpportunityCommand, ctx: Partial<DecideContext> = {}) {
      const run = () => decide(command, fold(events), { ...DEFAULT_CTX, ...ctx });
      return {
        /** The produced events, for tests that chain decisions. */
        events: (): OpportunityEvent[] => run(),
        then(...expected: OpportunityEvent[]): void {
          expect(run()).toEqual(expected);
        },
        thenNothing(): void {
          expect(run()).toEqual([]);
        },
        thenThrows(code: ErrorCode, partialDetails?: Record<string, unknown>): DomainError {
          let result: OpportunityEvent[] | undefined;
          try {
            result = run();
          } catch (err) {
            expect(err).toBeInstanceOf(DomainError);
            const error = err as DomainError;
            expect({ code: error.code, message: error.message }).toEqual({ code, message: expect.any(String) });
            if (partialDetails) expect(error.details).toMatchObject(partialDetails);
            return error;
          }
          throw new Error(`expected DomainError(${code}) but decide returned ${JSON.stringify(result)}`);
        },
      };
    },
  };
}

/** Instant of the n-th day of January 2026 at 09:00 UTC (all builder events happen before NOW). */
export const day = (n: number): string => `2026-01-${String(n).padStart(2, '0')}T09:00:00.000Z`;

export function created(overrides: Partial<OpportunityCreated['data']> = {}): OpportunityCreated {
  const stage = overrides.stage ?? 'prospecting';
  const stageProbability = findStage(DEFAULT_PIPELINE, stage)?.probability ?? 0;
  return {
    type: 'OpportunityCreated',
    data: {
      opportunity_id: 'opp-1',
      pipeline_id: 'default',
      stage,
      probability: overrides.probability_override ?? stageProbability,
      probability_override: null,
      assigned_user_id: 'user-7',
      created_by: 'user-1',
      created_at: day(1),
      name: 'Acme Corp - Enterprise Platform Implementation',
      description: null,
      customer_id: 'cust-568',
      lead_id: null,
      value_minor: 15_000_000,
      expected_revenue_minor: null,
      currency: 'USD',
      expected_close_date: '2026-03-31',
      source: null,
      priority: null,
      campaign_id: null,
      territory: null,
      competitor: null,
      decision_maker: null,
      budget_confirmed: false,
      authority_confirmed: false,
      need_confirmed: false,
      timeline_confirmed: false,
      next_step: null,
      discovery_notes: null,
      proposal_notes: null,
      demo_date: null,
      proposal_date: null,
      prospect_name: null,
      prospect_email: null,
      prospect_phone: null,
      category_id: null,
      follow_up_date: null,
      tags: [],
      custom_fields: {},
      ...overrides,
    },
  };
}

/** An OpportunityStageChanged event with the default pipeline's probability for the target stage. */
export function stageChanged(
  from: string,
  to: string,
  movement: StageMovement = 'forward',
  extra: Partial<OpportunityStageChanged['data']> = {},
): OpportunityStageChanged {
  const probability = findStage(DEFAULT_PIPELINE, to)?.probability ?? 0;
  return {
    type: 'OpportunityStageChanged',
    data: { from_stage: from, to_stage: to, movement, probability, reason: null, notes: null, changed_at: NOW, ...extra },
  };
}

/** Events that bring a deal (created in prospecting) to `stage` by legal moves only. */
export function atStage(stage: string, createdOverrides: Partial<OpportunityCreated['data']> = {}): OpportunityEvent[] {
  const events: OpportunityEvent[] = [created(createdOverrides)];
  const target = stage === 'won' ? 'verbal_commitment' : ACTIVE_STAGES.includes(stage) ? stage : 'prospecting';
  for (let i = 1; i <= ACTIVE_STAGES.indexOf(target); i++) {
    events.push(stageChanged(ACTIVE_STAGES[i - 1], ACTIVE_STAGES[i], 'forward', { changed_at: day(i + 1) }));
  }
  const at = day(events.length + 1);
  if (stage === 'won') {
    events.push({
      type: 'OpportunityWon',
      data: {
        from_stage: target,
        to_stage: 'won',
        actual_value_minor: 15_000_000,
        close_date: at.slice(0, 10),
        close_reason: null,
        won_at: at,
      },
    });
  } else if (stage === 'lost') {
    events.push({
      type: 'OpportunityLost',
      data: {
        from_stage: target,
        to_stage: 'lost',
        loss_reason: 'price',
        competitor: null,
        loss_notes: null,
        lessons_learned: null,
        close_date: at.slice(0, 10),
        lost_at: at,
      },
    });
  } else if (stage === 'on_hold') {
    events.push(stageChanged(target, 'on_hold', 'on_hold', { changed_at: at }));
  } else if (!ACTIVE_STAGES.includes(stage)) {
    throw new Error(`atStage: unknown stage ${stage}`);
  }
  return events;
}

/** Events that put a deal on hold from the given active stage. */
export function onHoldFrom(stage: string): OpportunityEvent[] {
  const events = atStage(stage);
  return [...events, stageChanged(stage, 'on_hold', 'on_hold', { changed_at: day(events.length + 1) })];
}
