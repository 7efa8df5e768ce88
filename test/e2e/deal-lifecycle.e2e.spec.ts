import type { Response } from 'supertest';
import { describeEachBackend, type TestApp, useTestApp, useTokens } from '../support/test-app';
import { bearer, calendarDaysBetween, etagVersion, globalPosition, ISO_INSTANT, OPPS, readStream, uniqueOrg } from './helpers';

/**
 * One deal moved through the default pipeline, request by request, from creation to won.
 * Expected events (one per request):
 *   v1 create          → OpportunityCreated        (prospecting 10)
 *   v2 stage/next      → OpportunityStageChanged   (qualification 25)
 *   v3 PATCH BANT      → OpportunityUpdated
 *   v4 stage/next      → OpportunityStageChanged   (needs_analysis 40)
 *   v5 stage/next      → OpportunityStageChanged   (proposal 60)
 *   v6 PATCH proposal  → OpportunityUpdated
 *   v7 stage/next      → OpportunityStageChanged   (negotiation 75)
 *   v8 stage/next      → OpportunityStageChanged   (verbal_commitment 90)
 *   v9 win             → OpportunityWon            (won 100)
 */
describeEachBackend('deal lifecycle: moving a deal through the pipeline to won (%s)', (backend) => {
  const t = useTestApp(backend);
  const org = uniqueOrg('life');
  const user = 'user_7';
  const tok = useTokens(t, { manager: [org, user, 'manager'] });
  const correlationId = 'lifecycle-proposal-corr-42';

  let id: string;
  let createdAt: string;
  let version = 0;
  let position = 0n;

  const NOTES = {
    qualification:
      'Completed discovery call. Qualified using BANT. Budget confirmed $200K. CTO is decision maker. Clear need for integration platform. Timeline Q1 2026.',
    needs_analysis: 'Full technical discovery completed. Requirements documented. Solution architecture defined.',
    proposal: 'Proposal created and sent. Includes technical solution, pricing, implementation timeline. Presenting Dec 22.',
    negotiation: 'Proposal approved. Negotiating final pricing and implementation timeline. Customer requested 10% discount.',
    verbal_commitment:
      'Verbal commitment received. Agreed on $185K (reduced from $200K). Finalizing contract. Expecting signature by Dec 28.',
  };
  const CLOSE_REASON = 'Contract signed. $185K deal. Implementation starts January 15, 2026.';

  /** Every command response: the ETag is the previous version + 1, the position grows. */
  function expectAppendedOne(res: Response): void {
    const v = etagVersion(res);
    expect(v).toBe(version + 1);
    version = v;
    expect(res.headers['x-global-position']).toBeDefined();
    const p = globalPosition(res);
    expect(p).toBeGreaterThan(position);
    position = p;
  }

  async function next(expected: { stage: string; probability: number; previous: string }, notes: string): Promise<Response> {
    const res = await t.http().post(`${OPPS}/${id}/stage/next`).set(bearer(tok.manager)).send({ notes });
    expect(res.status).toBe(200);
    expect(res.body.message).toBe('Opportunity advanced to next stage successfully');
    expect(res.body.data).toMatchObject({
      id,
      stage: expected.stage,
      probability: expected.probability,
      previous_stage: expected.previous,
    });
    expectAppendedOne(res);
    return res;
  }

  it('Stage 1: creates the opportunity in prospecting (201, probability 10)', async () => {
    const res = await t
      .http()
      .post(OPPS)
      .set(bearer(tok.manager))
      .set('Content-Type', 'application/json')
      // Raw JSON so that customer_id is a JSON integer and value is written "200000.00", as a client may send it.
      .send(
        '{"name": "BigCorp - Platform Deployment", "customer_id": 568, "value": 200000.00, ' +
          '"expected_close_date": "2026-04-30", "stage": "prospecting", "next_step": "Schedule discovery call"}',
      );
    expect(res.status).toBe(201);
    expect(res.body.message).toBe('Opportunity created successfully');
    const d = res.body.data;
    expect(d).toMatchObject({
      name: 'BigCorp - Platform Deployment',
      customer_id: '568', // JSON integers are normalised to strings (reference ids are opaque strings)
      stage: 'prospecting',
      probability: 10,
      value: 200000,
      weighted_value: 20000, // 200,000.00 × 10% = 20,000.00
      expected_close_date: '2026-04-30',
      next_step: 'Schedule discovery call',
      assigned_user_id: user, // owner defaults to the creator
      bant_score: 0,
      previous_stage: null,
    });
    expect(d.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(d.created_at).toMatch(ISO_INSTANT);
    id = d.id;
    createdAt = d.created_at;
    expect(res.headers.location).toBe(`${OPPS}/${id}`);
    expectAppendedOne(res);
    expect(version).toBe(1);
  });

  it('Stage 2: stage/next → qualification (25)', async () => {
    await next({ stage: 'qualification', probability: 25, previous: 'prospecting' }, NOTES.qualification);
  });

  it('updates BANT: bant_score 4, stage unchanged', async () => {
    const res = await t.http().patch(`${OPPS}/${id}`).set(bearer(tok.manager)).send({
      budget_confirmed: true,
      authority_confirmed: true,
      need_confirmed: true,
      timeline_confirmed: true,
      next_step: 'Conduct detailed technical discovery',
    });
    expect(res.status).toBe(200);
    expect(res.body.message).toBe('Opportunity updated successfully');
    expect(res.body.data).toMatchObject({
      id,
      stage: 'qualification',
      probability: 25,
      previous_stage: 'prospecting',
      budget_confirmed: true,
      authority_confirmed: true,
      need_confirmed: true,
      timeline_confirmed: true,
      bant_score: 4,
      next_step: 'Conduct detailed technical discovery',
    });
    expectAppendedOne(res);
  });

  it('Stage 3: stage/next → needs_analysis (40)', async () => {
    await next({ stage: 'needs_analysis', probability: 40, previous: 'qualification' }, NOTES.needs_analysis);
  });

  it('Stage 4: stage/next → proposal (60)', async () => {
    await next({ stage: 'proposal', probability: 60, previous: 'needs_analysis' }, NOTES.proposal);
  });

  it('records proposal delivery (with an X-Correlation-Id that is echoed)', async () => {
    const res = await t.http().patch(`${OPPS}/${id}`).set(bearer(tok.manager)).set('X-Correlation-Id', correlationId).send({
      proposal_date: '2025-12-20',
      proposal_notes: 'Comprehensive proposal delivered. Includes 3 pricing tiers, implementation plan, ROI analysis.',
      next_step: 'Present proposal to stakeholder committee Dec 22',
    });
    expect(res.status).toBe(200);
    expect(res.body.message).toBe('Opportunity updated successfully');
    expect(res.headers['x-correlation-id']).toBe(correlationId);
    expect(res.body.data).toMatchObject({
      id,
      stage: 'proposal',
      probability: 60,
      previous_stage: 'needs_analysis',
      proposal_date: '2025-12-20',
      proposal_notes: 'Comprehensive proposal delivered. Includes 3 pricing tiers, implementation plan, ROI analysis.',
      next_step: 'Present proposal to stakeholder committee Dec 22',
      bant_score: 4,
      weighted_value: 120000, // 200,000.00 × 60% = 120,000.00
    });
    expectAppendedOne(res);
  });

  it('Stage 5: stage/next → negotiation (75)', async () => {
    await next({ stage: 'negotiation', probability: 75, previous: 'proposal' }, NOTES.negotiation);
  });

  it('Stage 6: stage/next → verbal_commitment (90)', async () => {
    await next({ stage: 'verbal_commitment', probability: 90, previous: 'negotiation' }, NOTES.verbal_commitment);
  });

  it('Stage 7: win with actual_value 185000.00 and close_date 2025-12-28', async () => {
    const before = Date.now();
    const res = await t
      .http()
      .post(`${OPPS}/${id}/win`)
      .set(bearer(tok.manager))
      .set('Content-Type', 'application/json')
      .send(`{"close_reason": ${JSON.stringify(CLOSE_REASON)}, "actual_value": 185000.00, "close_date": "2025-12-28"}`);
    const after = Date.now();
    expect(res.status).toBe(200);
    expect(res.body.message).toBe('Opportunity marked as won');

    // days_early: 2025-12-28 → 2026-04-30 = 3 (Dec 29..31) + 31 (Jan) + 28 (Feb) + 31 (Mar) + 30 (Apr) = 123.
    const daysEarly = 3 + 31 + 28 + 31 + 30;
    expect(daysEarly).toBe(calendarDaysBetween('2025-12-28', '2026-04-30'));
    // sales_cycle_days: from the creation date (today, from the response) to the close date.
    const salesCycle = calendarDaysBetween(createdAt.slice(0, 10), '2025-12-28');

    const d = res.body.data;
    expect(d).toMatchObject({
      id,
      stage: 'won',
      probability: 100,
      actual_close_date: '2025-12-28T00:00:00Z',
      expected_close_date: '2026-04-30',
      days_early: daysEarly,
      value: 185000,
      sales_cycle_days: salesCycle,
      close_reason: CLOSE_REASON,
    });
    expect(d.won_at).toMatch(ISO_INSTANT);
    const wonAt = Date.parse(d.won_at);
    expect(wonAt).toBeGreaterThanOrEqual(before - 1000);
    expect(wonAt).toBeLessThanOrEqual(after + 1000);
    expectAppendedOne(res);
    expect(version).toBe(9);
  });

  it('GET shows the won deal at version 9', async () => {
    const res = await t.http().get(`${OPPS}/${id}`).set(bearer(tok.manager));
    expect(res.status).toBe(200);
    expect(res.headers.etag).toBe('"9"');
    expect(res.body.data).toMatchObject({
      id,
      stage: 'won',
      status: 'won',
      probability: 100,
      value: 185000,
      actual_value: 185000,
      weighted_value: 185000,
      bant_score: 4,
      previous_stage: 'verbal_commitment',
      version: 9,
    });
  });

  it('the event stream holds exactly the nine events, in order, with full metadata', async () => {
    const events = await readStream(t, org, id);
    expect(events.map((e) => e.type)).toEqual([
      'OpportunityCreated',
      'OpportunityStageChanged',
      'OpportunityUpdated',
      'OpportunityStageChanged',
      'OpportunityStageChanged',
      'OpportunityUpdated',
      'OpportunityStageChanged',
      'OpportunityStageChanged',
      'OpportunityWon',
    ]);
    expect(events.map((e) => e.streamVersion)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const positions = events.map((e) => BigInt(e.position));
    for (let i = 1; i < positions.length; i++) expect(positions[i]).toBeGreaterThan(positions[i - 1]);
    expect(positions[positions.length - 1]).toBe(position);

    for (const e of events) {
      expect(e.metadata).toMatchObject({ actor_id: user, org_id: org });
      expect(typeof e.metadata.correlation_id).toBe('string');
      expect(e.metadata.correlation_id.length).toBeGreaterThan(0);
      expect(typeof e.metadata.causation_id).toBe('string');
      expect(e.metadata.causation_id.length).toBeGreaterThan(0);
    }
    // One command per request: every event has its own causation id.
    expect(new Set(events.map((e) => e.metadata.causation_id)).size).toBe(9);
    // The proposal PATCH (v6) carried the client's correlation id; the others got their own.
    expect(events[5].metadata.correlation_id).toBe(correlationId);
    expect(events.filter((e) => e.metadata.correlation_id === correlationId)).toHaveLength(1);

    // The notes sent with each stage change are in the events.
    const stageChanges = events.filter((e) => e.type === 'OpportunityStageChanged').map((e) => e.data as Record<string, unknown>);
    expect(stageChanges.map((d) => [d.from_stage, d.to_stage, d.notes])).toEqual([
      ['prospecting', 'qualification', NOTES.qualification],
      ['qualification', 'needs_analysis', NOTES.needs_analysis],
      ['needs_analysis', 'proposal', NOTES.proposal],
      ['proposal', 'negotiation', NOTES.negotiation],
      ['negotiation', 'verbal_commitment', NOTES.verbal_commitment],
    ]);
    expect(events[0].data).toMatchObject({
      customer_id: '568',
      value_minor: 20_000_000,
      stage: 'prospecting',
      expected_close_date: '2026-04-30',
    });
    expect(events[8].data).toMatchObject({
      from_stage: 'verbal_commitment',
      to_stage: 'won',
      actual_value_minor: 18_500_000,
      close_date: '2025-12-28',
      close_reason: CLOSE_REASON,
    });
  });

  describe('after won, every command is rejected (422 Invalid stage transition) and nothing is appended', () => {
    const commands: [string, (r: ReturnType<TestApp['http']>, id: string) => ReturnType<ReturnType<TestApp['http']>['get']>][] = [
      ['PATCH', (r, i) => r.patch(`${OPPS}/${i}`).send({ next_step: 'Kick-off' })],
      ['PUT', (r, i) => r.put(`${OPPS}/${i}`).send({ next_step: 'Kick-off' })],
      ['PATCH stage', (r, i) => r.patch(`${OPPS}/${i}/stage`).send({ stage: 'negotiation', reason: 'reopen' })],
      ['stage/next', (r, i) => r.post(`${OPPS}/${i}/stage/next`).send({})],
      ['stage/previous', (r, i) => r.post(`${OPPS}/${i}/stage/previous`).send({ reason: 'reopen' })],
      ['win again', (r, i) => r.post(`${OPPS}/${i}/win`).send({ actual_value: 1 })],
      ['lose', (r, i) => r.post(`${OPPS}/${i}/lose`).send({ loss_reason: 'price' })],
      ['assign', (r, i) => r.post(`${OPPS}/${i}/assign`).send({ user_id: 'user_9' })],
      ['DELETE', (r, i) => r.delete(`${OPPS}/${i}`)],
    ];

    it.each(commands)('%s → 422', async (_label, send) => {
      const res = await send(t.http(), id).set(bearer(tok.manager));
      expect(res.status).toBe(422);
      expect(res.body.message).toBe('Invalid stage transition');
      expect(res.body.code).toBe('invalid_stage_transition');
      expect(res.body.current_stage).toBe('won');
      expect(res.body.allowed_stages).toEqual([]);
    });

    it('GET still works and the stream is still at version 9', async () => {
      const res = await t.http().get(`${OPPS}/${id}`).set(bearer(tok.manager));
      expect(res.status).toBe(200);
      expect(res.headers.etag).toBe('"9"');
      expect(res.body.data.stage).toBe('won');
      expect((await readStream(t, org, id)).length).toBe(9);
    });
  });
});
