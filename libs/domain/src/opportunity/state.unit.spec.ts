import { evolve, fold, INITIAL_STATE, type OpportunityEvent } from '@app/domain';
import { atStage, created, day, onHoldFrom, stageChanged } from '../testing/given-when-then';

const updated = (data: Partial<Extract<OpportunityEvent, { type: 'OpportunityUpdated' }>['data']>, at = day(20)): OpportunityEvent => ({
  type: 'OpportunityUpdated',
  data: { changes: {}, updated_at: at, ...data },
});

describe('evolve / fold', () => {
  it('starts from an empty, non-existent state at version 0', () => {
    expect(fold([])).toEqual(INITIAL_STATE);
    expect(INITIAL_STATE).toMatchObject({ exists: false, deleted: false, version: 0 });
  });

  it('OpportunityCreated: copies the data and starts the stage clock', () => {
    const s = fold([created({ stage: 'qualification', probability: 25, assigned_user_id: 'user-7', created_at: day(1) })]);
    expect(s).toMatchObject({
      exists: true,
      deleted: false,
      version: 1,
      opportunity_id: 'opp-1',
      pipeline_id: 'default',
      stage: 'qualification',
      previous_stage: null,
      probability: 25,
      probability_override: null,
      reached_stages: ['qualification'],
      held_from_stage: null,
      assigned_user_id: 'user-7',
      assigned_at: day(1),
      created_by: 'user-1',
      created_at: day(1),
      updated_at: day(1),
      stage_changed_at: day(1),
      last_activity_at: day(1),
      value_minor: 15_000_000,
      name: 'Acme Corp - Enterprise Platform Implementation',
    });
  });

  it('OpportunityCreated without owner leaves assigned_at null', () => {
    expect(fold([created({ assigned_user_id: null })]).assigned_at).toBeNull();
  });

  it('increments the version by one per event, whatever the event', () => {
    const events = [...atStage('verbal_commitment'), updated({ changes: { next_step: 'x' } })];
    events.forEach((_, i) => expect(fold(events.slice(0, i + 1)).version).toBe(i + 1));
    expect(fold(atStage('won')).version).toBe(7); // created + 5 forward moves + won
    expect(fold(atStage('lost')).version).toBe(2);
    const deleted = fold([created(), { type: 'OpportunityDeleted', data: { deleted_at: day(3), reason: null } }]);
    expect(deleted.version).toBe(2);
  });

  it('evolve is pure: it does not mutate the previous state', () => {
    const before = fold([created()]);
    const snapshot = JSON.parse(JSON.stringify(before));
    evolve(before, stageChanged('prospecting', 'qualification'));
    expect(before).toEqual(snapshot);
  });

  describe('probability override', () => {
    it('an override from create is the effective probability', () => {
      const s = fold([created({ stage: 'qualification', probability: 35, probability_override: 35 })]);
      expect(s).toMatchObject({ probability: 35, probability_override: 35 });
    });

    it('is kept across updates, assignments and unrelated changes until the next stage change', () => {
      const events: OpportunityEvent[] = [
        ...atStage('proposal'),
        updated({ probability_override: 65, probability: 65 }, day(20)),
        updated({ changes: { value_minor: 17_500_000, next_step: 'Legal review' } }, day(21)),
        {
          type: 'OpportunityAssigned',
          data: { user_id: 'user-9', previous_owner_id: 'user-7', reason: null, notify: false, assigned_at: day(22) },
        },
      ];
      expect(fold(events)).toMatchObject({ stage: 'proposal', probability: 65, probability_override: 65, value_minor: 17_500_000 });
    });

    it.each([
      ['a forward move', stageChanged('proposal', 'negotiation', 'forward', { changed_at: day(23) }), 'negotiation', 75],
      [
        'a backward move',
        stageChanged('proposal', 'needs_analysis', 'backward', { reason: 'r', changed_at: day(23) }),
        'needs_analysis',
        40,
      ],
      ['putting on hold', stageChanged('proposal', 'on_hold', 'on_hold', { changed_at: day(23) }), 'on_hold', 0],
    ])('is reset to the stage default by %s', (_label, change, stage, probability) => {
      const s = fold([...atStage('proposal'), updated({ probability_override: 65, probability: 65 }), change]);
      expect(s).toMatchObject({ stage, probability, probability_override: null });
    });

    it('clearing (null) returns to the stage default carried by the event', () => {
      const s = fold([
        ...atStage('proposal'),
        updated({ probability_override: 65, probability: 65 }),
        updated({ probability_override: null, probability: 60 }),
      ]);
      expect(s).toMatchObject({ probability: 60, probability_override: null });
    });

    it('an update without probability fields leaves probability and override untouched', () => {
      const s = fold([created({ probability: 35, probability_override: 35 }), updated({ changes: { name: 'x' } })]);
      expect(s).toMatchObject({ probability: 35, probability_override: 35, name: 'x' });
    });

    it('is cleared by win (100) and loss (0)', () => {
      const override = updated({ probability_override: 80, probability: 80 }, day(8));
      const won = fold([
        ...atStage('verbal_commitment'),
        override,
        {
          type: 'OpportunityWon',
          data: {
            from_stage: 'verbal_commitment',
            to_stage: 'won',
            actual_value_minor: 1,
            close_date: '2026-01-09',
            close_reason: null,
            won_at: day(9),
          },
        },
      ]);
      expect(won).toMatchObject({ probability: 100, probability_override: null });
      const lost = fold([
        ...atStage('proposal'),
        override,
        {
          type: 'OpportunityLost',
          data: {
            from_stage: 'proposal',
            to_stage: 'lost',
            loss_reason: 'price',
            competitor: null,
            loss_notes: null,
            lessons_learned: null,
            close_date: '2026-01-09',
            lost_at: day(9),
          },
        },
      ]);
      expect(lost).toMatchObject({ probability: 0, probability_override: null });
    });
  });

  describe('stages', () => {
    it('records every active stage reached, in order', () => {
      expect(fold(atStage('negotiation')).reached_stages).toEqual([
        'prospecting',
        'qualification',
        'needs_analysis',
        'proposal',
        'negotiation',
      ]);
    });

    it('a backward move does not duplicate or remove reached stages', () => {
      const s = fold([...atStage('proposal'), stageChanged('proposal', 'qualification', 'backward', { reason: 'r', changed_at: day(9) })]);
      expect(s.reached_stages).toEqual(['prospecting', 'qualification', 'needs_analysis', 'proposal']);
      expect(s).toMatchObject({ stage: 'qualification', previous_stage: 'proposal', probability: 25, stage_changed_at: day(9) });
    });

    it('a stage created beyond prospecting only counts that stage as reached', () => {
      expect(fold([created({ stage: 'proposal' })]).reached_stages).toEqual(['proposal']);
    });

    it('on_hold is not a reached stage; the held-from stage is remembered', () => {
      const s = fold(onHoldFrom('needs_analysis'));
      expect(s).toMatchObject({
        stage: 'on_hold',
        previous_stage: 'needs_analysis',
        held_from_stage: 'needs_analysis',
        probability: 0,
        reached_stages: ['prospecting', 'qualification', 'needs_analysis'],
      });
    });

    it('resuming clears held_from_stage and keeps reached stages', () => {
      const s = fold([...onHoldFrom('needs_analysis'), stageChanged('on_hold', 'qualification', 'resumed', { changed_at: day(10) })]);
      expect(s).toMatchObject({
        stage: 'qualification',
        previous_stage: 'on_hold',
        held_from_stage: null,
        probability: 25,
        stage_changed_at: day(10),
        reached_stages: ['prospecting', 'qualification', 'needs_analysis'],
      });
    });

    it('a stage change updates updated_at, last_activity_at and stage_changed_at', () => {
      const s = fold([created({ created_at: day(1) }), stageChanged('prospecting', 'qualification', 'forward', { changed_at: day(5) })]);
      expect(s).toMatchObject({
        stage_changed_at: day(5),
        updated_at: day(5),
        last_activity_at: day(5),
        created_at: day(1),
        previous_stage: 'prospecting',
      });
    });
  });

  describe('updates', () => {
    it('applies the changes and bumps updated_at / last_activity_at', () => {
      const s = fold([
        created({ custom_fields: { a: 1 } }),
        updated({ changes: { value_minor: 17_500_000, tags: ['x'], custom_fields: { b: 2 }, timeline_confirmed: true } }, day(12)),
      ]);
      expect(s).toMatchObject({
        value_minor: 17_500_000,
        tags: ['x'],
        custom_fields: { b: 2 },
        timeline_confirmed: true,
        updated_at: day(12),
        last_activity_at: day(12),
      });
      expect(s.stage_changed_at).toBe(day(1));
    });
  });

  describe('closing', () => {
    it('won: value becomes the actual value; close fields set', () => {
      const s = fold([
        ...atStage('verbal_commitment'),
        {
          type: 'OpportunityWon',
          data: {
            from_stage: 'verbal_commitment',
            to_stage: 'won',
            actual_value_minor: 17_500_000,
            close_date: '2025-12-18',
            close_reason: 'Signed',
            won_at: day(9),
          },
        },
      ]);
      expect(s).toMatchObject({
        stage: 'won',
        previous_stage: 'verbal_commitment',
        probability: 100,
        value_minor: 17_500_000,
        actual_value_minor: 17_500_000,
        actual_close_date: '2025-12-18',
        close_reason: 'Signed',
        won_at: day(9),
        stage_changed_at: day(9),
        updated_at: day(9),
        lost_at: null,
      });
    });

    it('lost: reason, notes and competitor recorded; the known competitor is kept when none is given', () => {
      const lost = (competitor: string | null): OpportunityEvent => ({
        type: 'OpportunityLost',
        data: {
          from_stage: 'proposal',
          to_stage: 'lost',
          loss_reason: 'competitor',
          competitor,
          loss_notes: 'Lost to Y',
          lessons_learned: 'Bundle migration',
          close_date: '2026-01-09',
          lost_at: day(9),
        },
      });
      expect(fold([...atStage('proposal', { competitor: 'Competitor X' }), lost('Competitor Y')])).toMatchObject({
        stage: 'lost',
        previous_stage: 'proposal',
        probability: 0,
        loss_reason: 'competitor',
        competitor: 'Competitor Y',
        loss_notes: 'Lost to Y',
        close_reason: 'Lost to Y',
        lessons_learned: 'Bundle migration',
        actual_close_date: '2026-01-09',
        lost_at: day(9),
        value_minor: 15_000_000,
      });
      expect(fold([...atStage('proposal', { competitor: 'Competitor X' }), lost(null)]).competitor).toBe('Competitor X');
    });
  });

  it('assigned: owner and assigned_at change', () => {
    const s = fold([
      created(),
      {
        type: 'OpportunityAssigned',
        data: { user_id: 'user-9', previous_owner_id: 'user-7', reason: null, notify: true, assigned_at: day(4) },
      },
    ]);
    expect(s).toMatchObject({ assigned_user_id: 'user-9', assigned_at: day(4), updated_at: day(4), last_activity_at: day(4) });
  });

  it('deleted: flagged as deleted, still exists', () => {
    const s = fold([created(), { type: 'OpportunityDeleted', data: { deleted_at: day(3), reason: 'dup' } }]);
    expect(s).toMatchObject({ exists: true, deleted: true, deleted_at: day(3), updated_at: day(3) });
  });

  it('fold can continue from a given state', () => {
    const events = atStage('proposal');
    expect(fold(events.slice(2), fold(events.slice(0, 2)))).toEqual(fold(events));
  });
});
