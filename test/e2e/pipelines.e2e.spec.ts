import { pipelineStreamId } from '@app/domain';
import { EventStore, type RecordedEvent } from '@app/event-store';
import { describeEachBackend, useTestApp, useTokens } from '../support/test-app';
import { API, bearer, etagVersion, getDeal, OPPS, readStream, uniqueOrg } from './helpers';

/**
 * Configurable pipelines (stages with is_won / is_lost, loss reasons, a skip / backward policy):
 * CRUD, one audited event per change, validation, deals following their pipeline's probabilities
 * and policy, deletion guards, and pipeline-data / pipeline-summary per pipeline (figures by hand).
 */

const PIPES = `${API}/pipelines`;
const DEFAULT_LOSS_REASONS = [
  'price',
  'competitor',
  'no_decision',
  'timing',
  'lack_of_features',
  'internal_champion_left',
  'budget_cuts',
  'other',
];

/** Six stages, won and lost among them (given out of order: the API answers in display order), with probabilities. */
const SIX_STAGES = [
  { name: 'Closed Won', display_order: 5, is_won: true },
  { name: 'Lead', display_order: 1, probability: 10 },
  { name: 'Negotiation', display_order: 4, probability: 80 },
  { name: 'Qualified', display_order: 2, probability: 30 },
  { name: 'Closed Lost', display_order: 6, is_lost: true },
  { name: 'Proposal Sent', display_order: 3, probability: 60 },
];

const stage = (
  key: string,
  name: string,
  display_order: number,
  probability: number,
  deal_count = 0,
  kind: 'active' | 'won' | 'lost' | 'on_hold' = 'active',
) => ({
  key,
  name,
  display_order,
  probability,
  is_won: kind === 'won',
  is_lost: kind === 'lost',
  is_on_hold: kind === 'on_hold',
  deal_count,
});

describeEachBackend('configurable pipelines (%s)', (backend) => {
  const t = useTestApp(backend);
  const org = uniqueOrg('pipe');
  const tok = useTokens(t, { admin: [org, 'admin_p', 'admin'], manager: [org, 'mgr_p', 'manager'] });
  const http = () => t.http();

  const pipelineStream = (id: string, o = org): Promise<RecordedEvent[]> => t.app.get(EventStore).readStream(pipelineStreamId(o, id));

  async function createDeal(body: Record<string, unknown>, token = tok.manager): Promise<string> {
    const res = await http()
      .post(OPPS)
      .set(bearer(token))
      .send({ customer_id: 568, expected_close_date: '2027-03-31', ...body });
    expect(res.status).toBe(201);
    return res.body.data.id;
  }

  describe('pipeline definitions', () => {
    it('POST /pipelines (six stages, out of order) → 201: stages in display order with flags, default policy and loss reasons', async () => {
      const res = await http()
        .post(PIPES)
        .set(bearer(tok.admin))
        .set('X-Correlation-Id', 'pipe-create-1')
        .send({ name: 'SMB Sales', stages: SIX_STAGES });
      expect(res.status).toBe(201);
      expect(res.body.message).toBe('Pipeline created successfully');
      expect(res.body.data).toEqual({
        id: 'smb_sales',
        name: 'SMB Sales',
        policy: { allow_skip: false, allow_backward: true },
        loss_reasons: DEFAULT_LOSS_REASONS,
        stages: [
          { ...stage('lead', 'Lead', 1, 10), rotting_days: null },
          { ...stage('qualified', 'Qualified', 2, 30), rotting_days: null },
          { ...stage('proposal_sent', 'Proposal Sent', 3, 60), rotting_days: null },
          { ...stage('negotiation', 'Negotiation', 4, 80), rotting_days: null },
          { ...stage('closed_won', 'Closed Won', 5, 100, 0, 'won'), rotting_days: null },
          { ...stage('closed_lost', 'Closed Lost', 6, 0, 0, 'lost'), rotting_days: null },
        ],
        version: 1,
      });
      expect(etagVersion(res)).toBe(1);
      const events = await pipelineStream('smb_sales');
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({
        type: 'PipelineCreated',
        streamVersion: 1,
        data: { pipeline: { id: 'smb_sales', name: 'SMB Sales' } },
        metadata: { org_id: org, actor_id: 'admin_p', actor_role: 'admin', correlation_id: 'pipe-create-1' },
      });
      expect(events[0].metadata.causation_id).toEqual(expect.any(String));
      expect(Date.parse(events[0].metadata.occurred_at as string)).not.toBeNaN();
    });

    it('GET /pipelines lists the default pipeline first and ours, stages in display order with deal_count', async () => {
      const res = await http().get(PIPES).set(bearer(tok.manager));
      expect(res.status).toBe(200);
      expect(res.body.data.map((p: { id: string }) => p.id)).toEqual(['default', 'smb_sales']);
      const [def, smb] = res.body.data;
      expect(def.stages.map((s: { key: string }) => s.key)).toEqual([
        'prospecting',
        'qualification',
        'needs_analysis',
        'proposal',
        'negotiation',
        'verbal_commitment',
        'won',
        'lost',
        'on_hold',
      ]);
      expect(def.stages.map((s: { probability: number }) => s.probability)).toEqual([10, 25, 40, 60, 75, 90, 100, 0, 0]);
      expect(def.stages.find((s: { key: string }) => s.key === 'won')).toMatchObject({ is_won: true, deal_count: 0 });
      expect(smb.stages.map((s: { key: string }) => s.key)).toEqual([
        'lead',
        'qualified',
        'proposal_sent',
        'negotiation',
        'closed_won',
        'closed_lost',
      ]);
      expect(smb.stages.every((s: { deal_count: number }) => s.deal_count === 0)).toBe(true);
    });

    it('GET /pipelines/{id} → the pipeline with its ETag; unknown → 404; malformed → 400', async () => {
      const res = await http().get(`${PIPES}/smb_sales`).set(bearer(tok.manager));
      expect(res.status).toBe(200);
      expect(res.body.data).toMatchObject({ id: 'smb_sales', version: 1 });
      expect(etagVersion(res)).toBe(1);
      expect((await http().get(`${PIPES}/nope`).set(bearer(tok.manager))).status).toBe(404);
      expect((await http().get(`${PIPES}/Not-A-Key`).set(bearer(tok.manager))).status).toBe(400);
    });

    it('adds a stage (StageAdded) and updates a stage (StageUpdated): one event per change, with actor metadata', async () => {
      const add = await http()
        .post(`${PIPES}/smb_sales/stages`)
        .set(bearer(tok.admin))
        .send({ key: 'on_hold', name: 'On Hold', display_order: 7, is_on_hold: true });
      expect(add.status).toBe(201);
      expect(add.body.data.version).toBe(2);
      expect(add.body.data.stages.at(-1)).toMatchObject(stage('on_hold', 'On Hold', 7, 0, 0, 'on_hold'));

      const update = await http()
        .patch(`${PIPES}/smb_sales/stages/qualified`)
        .set(bearer(tok.admin))
        .send({ name: 'Qualified Lead', probability: 35 });
      expect(update.status).toBe(200);
      expect(update.body.data.version).toBe(3);
      expect(update.body.data.stages[1]).toMatchObject(stage('qualified', 'Qualified Lead', 2, 35));

      // Rejected changes append nothing.
      const wonAt90 = await http().patch(`${PIPES}/smb_sales/stages/closed_won`).set(bearer(tok.admin)).send({ probability: 90 });
      expect(wonAt90.status).toBe(400);
      const missing = await http().patch(`${PIPES}/smb_sales/stages/demo`).set(bearer(tok.admin)).send({ probability: 20 });
      expect(missing.status).toBe(404);
      const secondHold = await http()
        .post(`${PIPES}/smb_sales/stages`)
        .set(bearer(tok.admin))
        .send({ name: 'Paused', display_order: 8, is_on_hold: true });
      expect(secondHold.status).toBe(400);

      const events = await pipelineStream('smb_sales');
      expect(events.map((e) => [e.type, e.streamVersion])).toEqual([
        ['PipelineCreated', 1],
        ['StageAdded', 2],
        ['StageUpdated', 3],
      ]);
      expect(events[1].data).toMatchObject({
        stage: { key: 'on_hold', name: 'On Hold', display_order: 7, probability: 0, kind: 'on_hold' },
      });
      expect(events[2].data).toMatchObject({ key: 'qualified', changes: { name: 'Qualified Lead', probability: 35 } });
      for (const e of events) expect(e.metadata).toMatchObject({ actor_id: 'admin_p', actor_role: 'admin', org_id: org });
    });

    it.each([
      [
        'no won stage',
        [
          { name: 'A', display_order: 1 },
          { name: 'B', display_order: 2 },
          { name: 'Lost', display_order: 3, is_lost: true },
        ],
        'a pipeline needs exactly one stage with is_won',
      ],
      [
        'two lost stages',
        [
          { name: 'A', display_order: 1 },
          { name: 'Won', display_order: 2, is_won: true },
          { name: 'Lost', display_order: 3, is_lost: true },
          { name: 'Dropped', display_order: 4, is_lost: true },
        ],
        'a pipeline needs exactly one stage with is_lost',
      ],
      [
        'duplicate keys (same name)',
        [
          { name: 'Lead', display_order: 1 },
          { name: 'Lead', display_order: 2 },
          { name: 'Won', display_order: 3, is_won: true },
          { name: 'Lost', display_order: 4, is_lost: true },
        ],
        'stage keys must be unique',
      ],
      [
        'duplicate explicit keys',
        [
          { key: 'stage_a', name: 'First', display_order: 1 },
          { key: 'stage_a', name: 'Second', display_order: 2 },
          { name: 'Won', display_order: 3, is_won: true },
          { name: 'Lost', display_order: 4, is_lost: true },
        ],
        'stage keys must be unique',
      ],
    ])('invalid pipeline (%s) → 400, nothing stored', async (_label, stages, message) => {
      const id = `bad_${Math.random().toString(36).slice(2, 8)}`;
      const res = await http().post(PIPES).set(bearer(tok.admin)).send({ id, name: 'Bad', stages });
      expect(res.status).toBe(400);
      expect(res.body.code).toBe('validation_failed');
      expect(res.body.errors.stages).toContain(message);
      expect(await pipelineStream(id)).toEqual([]);
      expect((await http().get(`${PIPES}/${id}`).set(bearer(tok.admin))).status).toBe(404);
    });

    it('the same pipeline id twice → 409', async () => {
      const res = await http().post(PIPES).set(bearer(tok.admin)).send({ id: 'smb_sales', name: 'Again', stages: SIX_STAGES });
      expect(res.status).toBe(409);
      expect(await pipelineStream('smb_sales')).toHaveLength(3);
    });
  });

  describe('deals in a pipeline', () => {
    beforeAll(async () => {
      const res = await http()
        .post(PIPES)
        .set(bearer(tok.admin))
        .send({
          id: 'fast_track',
          name: 'Fast Track',
          stages: [
            { key: 'intake', name: 'Intake', display_order: 1, probability: 20 },
            { key: 'review', name: 'Review', display_order: 2, probability: 50 },
            { key: 'signature', name: 'Signature', display_order: 3, probability: 90 },
            { key: 'done', name: 'Done', display_order: 4, is_won: true },
            { key: 'dropped', name: 'Dropped', display_order: 5, is_lost: true },
            { key: 'paused', name: 'Paused', display_order: 6, is_on_hold: true },
          ],
          loss_reasons: ['budget', 'no_response'],
          policy: { allow_skip: true, allow_backward: false },
        });
      expect(res.status).toBe(201);
    }, 60_000);

    it("a deal created with pipeline_id starts in its first stage at that stage's probability", async () => {
      const res = await http()
        .post(OPPS)
        .set(bearer(tok.manager))
        .send({ name: 'SMB lead', customer_id: 568, value: 10000, expected_close_date: '2027-03-31', pipeline_id: 'smb_sales' });
      expect(res.status).toBe(201);
      expect(res.body.data).toMatchObject({
        pipeline_id: 'smb_sales',
        stage: 'lead',
        probability: 10,
        stage_probability: 10,
        weighted_value: 1000,
      });
      // The updated stage probability (30 → 35) applies: 40,000 × 35 % = 14,000.
      const q = await http().post(OPPS).set(bearer(tok.manager)).send({
        name: 'SMB qualified',
        customer_id: 568,
        value: 40000,
        expected_close_date: '2027-03-31',
        pipeline_id: 'smb_sales',
        stage: 'qualified',
      });
      expect(q.status).toBe(201);
      expect(q.body.data).toMatchObject({ stage: 'qualified', probability: 35, weighted_value: 14000 });
      const f = await http()
        .post(OPPS)
        .set(bearer(tok.manager))
        .send({ name: 'Fast', customer_id: 568, value: 1000, expected_close_date: '2027-03-31', pipeline_id: 'fast_track' });
      expect(f.body.data).toMatchObject({ stage: 'intake', probability: 20, weighted_value: 200 });
    });

    it('a stage of another pipeline, or a closing stage, at create → 400 on stage', async () => {
      for (const s of ['prospecting', 'closed_won', 'on_hold']) {
        const res = await http()
          .post(OPPS)
          .set(bearer(tok.manager))
          .send({ name: 'x', customer_id: 568, value: 1, expected_close_date: '2027-03-31', pipeline_id: 'smb_sales', stage: s });
        expect(res.status).toBe(400);
        expect(res.body.errors.stage).toEqual(['stage must be one of: lead, qualified, proposal_sent, negotiation']);
      }
    });

    it('unknown pipeline_id → 400 on pipeline_id', async () => {
      const res = await http()
        .post(OPPS)
        .set(bearer(tok.manager))
        .send({ name: 'x', customer_id: 568, value: 1, expected_close_date: '2027-03-31', pipeline_id: 'nope' });
      expect(res.status).toBe(400);
      expect(Object.keys(res.body.errors)).toEqual(['pipeline_id']);
    });

    it('forward-only (allow_skip false): no skipping; backward only with a reason', async () => {
      const id = await createDeal({ name: 'Forward only', value: 5000, pipeline_id: 'smb_sales' });
      const skip = await http().patch(`${OPPS}/${id}/stage`).set(bearer(tok.manager)).send({ stage: 'proposal_sent' });
      expect(skip.status).toBe(422);
      expect(skip.body).toMatchObject({
        message: 'Invalid stage transition',
        code: 'invalid_stage_transition',
        current_stage: 'lead',
        requested_stage: 'proposal_sent',
        reason: 'stages cannot be skipped',
        allowed_stages: ['qualified', 'closed_lost', 'on_hold'],
        allowed_with_reason: [],
      });
      const win = await http().post(`${OPPS}/${id}/win`).set(bearer(tok.manager)).send({});
      expect(win.status).toBe(422);
      const next = await http().post(`${OPPS}/${id}/stage/next`).set(bearer(tok.manager)).send({});
      expect(next.status).toBe(200);
      expect(next.body.data).toMatchObject({ stage: 'qualified', probability: 35, previous_stage: 'lead' });
      const back = await http().patch(`${OPPS}/${id}/stage`).set(bearer(tok.manager)).send({ stage: 'lead' });
      expect(back.status).toBe(422);
      expect(back.body.reason).toBe('moving backward requires a reason');
      const withReason = await http()
        .patch(`${OPPS}/${id}/stage`)
        .set(bearer(tok.manager))
        .send({ stage: 'lead', reason: 'Budget owner left' });
      expect(withReason.status).toBe(200);
      expect(withReason.body.data).toMatchObject({ stage: 'lead', probability: 10 });
      expect((await readStream(t, org, id)).at(-1)).toMatchObject({
        type: 'OpportunityStageChanged',
        data: { movement: 'backward', reason: 'Budget owner left' },
      });
      expect((await readStream(t, org, id)).length).toBe(3);
    });

    it('allow_skip true: jumps forward and wins from any active stage; allow_backward false refuses backward even with a reason', async () => {
      const id = await createDeal({ name: 'Skipper', value: 2000, pipeline_id: 'fast_track' });
      const jump = await http().patch(`${OPPS}/${id}/stage`).set(bearer(tok.manager)).send({ stage: 'signature' });
      expect(jump.status).toBe(200);
      expect(jump.body.data).toMatchObject({ stage: 'signature', probability: 90, previous_stage: 'intake' });
      const back = await http()
        .patch(`${OPPS}/${id}/stage`)
        .set(bearer(tok.manager))
        .send({ stage: 'intake', reason: 'Contract questions' });
      expect(back.status).toBe(422);
      expect(back.body).toMatchObject({
        message: 'Invalid stage transition',
        reason: 'this pipeline does not allow backward moves',
        allowed_with_reason: [],
      });
      const previous = await http().post(`${OPPS}/${id}/stage/previous`).set(bearer(tok.manager)).send({ reason: 'Contract questions' });
      expect(previous.status).toBe(422);
      expect(previous.body.reason).toBe('this pipeline does not allow backward moves');
      expect((await readStream(t, org, id)).length).toBe(2);

      const direct = await createDeal({ name: 'Direct win', value: 3000, pipeline_id: 'fast_track' });
      const win = await http().post(`${OPPS}/${direct}/win`).set(bearer(tok.manager)).send({});
      expect(win.status).toBe(200);
      expect(win.body.data).toMatchObject({ stage: 'done', probability: 100, value: 3000 });
    });

    it('a partial policy change (PATCH /pipelines/{id} {policy: {allow_backward}}) keeps the other flag and applies to existing deals', async () => {
      const id = await createDeal({ name: 'Policy change', value: 2000, pipeline_id: 'fast_track', stage: 'review' });
      const skipper = await createDeal({ name: 'Policy change skipper', value: 2000, pipeline_id: 'fast_track' });
      const patch = await http()
        .patch(`${PIPES}/fast_track`)
        .set(bearer(tok.admin))
        .send({ policy: { allow_backward: true } });
      expect(patch.status).toBe(200);
      const read = await http().get(`${PIPES}/fast_track`).set(bearer(tok.manager));
      const back = await http().patch(`${OPPS}/${id}/stage`).set(bearer(tok.manager)).send({ stage: 'intake', reason: 'Scope reset' });
      const skip = await http().patch(`${OPPS}/${skipper}/stage`).set(bearer(tok.manager)).send({ stage: 'signature' });
      const event = (await pipelineStream('fast_track')).at(-1)!;
      expect({
        response_policy: patch.body.data.policy,
        stored_policy: read.body.data.policy,
        event: [event.type, (event.data as { policy?: unknown }).policy],
        backward: [back.status, back.body.data?.stage],
        skip_still_allowed: [skip.status, skip.body.data?.stage ?? skip.body.reason],
      }).toEqual({
        response_policy: { allow_skip: true, allow_backward: true },
        stored_policy: { allow_skip: true, allow_backward: true },
        event: ['PipelineUpdated', { allow_skip: true, allow_backward: true }],
        backward: [200, 'intake'],
        skip_still_allowed: [200, 'signature'],
      });
    });

    it("lose with a reason outside the pipeline's loss_reasons → 400; accepted after PUT /loss-reasons", async () => {
      const id = await createDeal({ name: 'Lost to competitor', value: 4000, pipeline_id: 'fast_track' });
      const res = await http().post(`${OPPS}/${id}/lose`).set(bearer(tok.manager)).send({ loss_reason: 'competitor', competitor: 'Rival' });
      expect(res.status).toBe(400);
      expect(res.body.errors).toEqual({ loss_reason: ['loss_reason must be one of: budget, no_response'] });
      expect((await readStream(t, org, id)).length).toBe(1);

      const bad = await http()
        .put(`${PIPES}/fast_track/loss-reasons`)
        .set(bearer(tok.admin))
        .send({ loss_reasons: ['Bad Code'] });
      expect(bad.status).toBe(400);
      const dup = await http()
        .put(`${PIPES}/fast_track/loss-reasons`)
        .set(bearer(tok.admin))
        .send({ loss_reasons: ['budget', 'budget'] });
      expect(dup.status).toBe(400);
      const before = (await pipelineStream('fast_track')).length;
      const put = await http()
        .put(`${PIPES}/fast_track/loss-reasons`)
        .set(bearer(tok.admin))
        .send({ loss_reasons: ['budget', 'no_response', 'competitor'] });
      expect(put.status).toBe(200);
      expect(put.body.data.loss_reasons).toEqual(['budget', 'no_response', 'competitor']);
      const events = await pipelineStream('fast_track');
      expect(events).toHaveLength(before + 1);
      expect(events.at(-1)).toMatchObject({
        type: 'LossReasonsSet',
        data: { loss_reasons: ['budget', 'no_response', 'competitor'] },
        metadata: { actor_id: 'admin_p' },
      });

      const ok = await http().post(`${OPPS}/${id}/lose`).set(bearer(tok.manager)).send({ loss_reason: 'competitor', competitor: 'Rival' });
      expect(ok.status).toBe(200);
      expect(ok.body.data).toMatchObject({ stage: 'dropped', loss_reason: 'competitor', probability: 0 });
      // The default pipeline's reasons are untouched: 'budget' is not one of them.
      const other = await createDeal({ name: 'Default deal', value: 10 });
      const refused = await http().post(`${OPPS}/${other}/lose`).set(bearer(tok.manager)).send({ loss_reason: 'budget' });
      expect(refused.status).toBe(400);
    });
  });

  /**
   * A pipeline without an on_hold stage (the six stages above) is valid, so its deals must
   * still win from the last active stage and answer refused moves with "Invalid stage transition".
   */
  describe('a pipeline without an on_hold stage', () => {
    let id: string;

    beforeAll(async () => {
      const res = await http().post(PIPES).set(bearer(tok.admin)).send({ id: 'no_hold', name: 'No Hold', stages: SIX_STAGES });
      expect(res.status).toBe(201);
      id = await createDeal({ name: 'No hold deal', value: 10000, pipeline_id: 'no_hold' });
      for (let i = 0; i < 3; i++)
        expect((await http().post(`${OPPS}/${id}/stage/next`).set(bearer(tok.manager)).send({})).status).toBe(200);
    }, 60_000);

    it('a refused skip answers 422 "Invalid stage transition" with the allowed stages', async () => {
      const other = await createDeal({ name: 'No hold skipper', value: 100, pipeline_id: 'no_hold' });
      const res = await http().patch(`${OPPS}/${other}/stage`).set(bearer(tok.manager)).send({ stage: 'negotiation' });
      expect(res.status).toBe(422);
      expect(res.body).toMatchObject({
        message: 'Invalid stage transition',
        reason: 'stages cannot be skipped',
        allowed_stages: ['qualified', 'closed_lost'],
      });
    });

    it('wins from the last active stage (negotiation) → 200', async () => {
      const res = await http().post(`${OPPS}/${id}/win`).set(bearer(tok.manager)).send({ actual_value: 9500 });
      expect({ status: res.status, body: res.body }).toMatchObject({
        status: 200,
        body: { data: { stage: 'closed_won', probability: 100, value: 9500 } },
      });
    });

    it('loses with a default reason → 200', async () => {
      const other = await createDeal({ name: 'No hold loser', value: 100, pipeline_id: 'no_hold' });
      const res = await http().post(`${OPPS}/${other}/lose`).set(bearer(tok.manager)).send({ loss_reason: 'timing' });
      expect(res.status).toBe(200);
      expect(res.body.data).toMatchObject({ stage: 'closed_lost' });
    });
  });

  /**
   * Analytics over one pipeline (an org of its own, pipeline field_sales):
   *   lead 10 · qualified 35 · proposal_sent 60 · negotiation 80 · closed_won · closed_lost · on_hold.
   *
   * | deal | stage         | value      | prob      | weighted  |
   * |------|---------------|------------|-----------|-----------|
   * | P1   | lead          | 10,000.00  | 10        |  1,000.00 |
   * | P2   | lead          |  2,500.50  | 10        |    250.05 |
   * | P3   | qualified     | 40,000.00  | 50 (ovr)  | 20,000.00 |
   * | P4   | proposal_sent | 12,345.67  | 60        |  7,407.40 | (7,407.402 → 7,407.40)
   * | P5   | negotiation   | 50,000.00  | 80        | 40,000.00 |
   * | P6   | closed_won    | 48,000.00  | 100       | 48,000.00 | (negotiation, won with actual 48,000)
   * | P7   | closed_lost   |  8,000.00  | 0         |      0.00 | (lead, lost: price)
   * | P8   | on_hold       | 20,000.00  | 0         |      0.00 | (qualified, paused)
   * | P9   | default pipeline prospecting, 999.00 — not in field_sales
   * | P10  | lead, deleted — never counted
   *
   * pipeline-data (open, active stages): 5 deals, 114,846.17 value, 68,657.45 weighted, average 22,969.23
   *   (11,484,617 ¢ / 5 = 2,296,923.4 → 2,296,923 ¢); win rate 1 / 2 = 50 %; commit (≥ 90 %) 0;
   *   best case (≥ 60 %) P4 + P5 = 47,407.40; on hold 1 deal, 20,000.00.
   * pipeline-summary (every stage): 8 deals, 190,846.17 value, 116,657.45 weighted.
   */
  describe('pipeline-data and pipeline-summary per pipeline', () => {
    const morg = uniqueOrg('pipe_m');
    let madmin: string;
    let mgr: string;
    const P: Record<string, string> = {};

    beforeAll(async () => {
      madmin = await t.token(morg, 'admin_m', 'admin');
      mgr = await t.token(morg, 'mgr_m', 'manager');
      const created = await http()
        .post(PIPES)
        .set(bearer(madmin))
        .send({
          name: 'Field Sales',
          stages: [
            { name: 'Lead', display_order: 1, probability: 10 },
            { name: 'Qualified', display_order: 2, probability: 35 },
            { name: 'Proposal Sent', display_order: 3, probability: 60 },
            { name: 'Negotiation', display_order: 4, probability: 80 },
            { name: 'Closed Won', display_order: 5, is_won: true },
            { name: 'Closed Lost', display_order: 6, is_lost: true },
            { name: 'On Hold', display_order: 7, is_on_hold: true },
          ],
        });
      expect(created.status).toBe(201);
      expect(created.body.data.id).toBe('field_sales');
      const deal = async (label: string, body: Record<string, unknown>) => {
        const res = await http()
          .post(OPPS)
          .set(bearer(mgr))
          .send({ name: label, customer_id: 568, expected_close_date: '2027-03-31', pipeline_id: 'field_sales', ...body });
        expect(res.status).toBe(201);
        P[label] = res.body.data.id;
      };
      await deal('P1', { value: 10000 });
      await deal('P2', { value: '2500.50' });
      await deal('P3', { value: 40000, stage: 'qualified', probability: 50 });
      await deal('P4', { value: 12345.67, stage: 'proposal_sent' });
      await deal('P5', { value: 50000, stage: 'negotiation' });
      await deal('P6', { value: 50000, stage: 'negotiation' });
      await deal('P7', { value: 8000 });
      await deal('P8', { value: 20000, stage: 'qualified' });
      const p9 = await http()
        .post(OPPS)
        .set(bearer(mgr))
        .send({ name: 'P9', customer_id: 568, expected_close_date: '2027-03-31', value: 999 });
      expect(p9.status).toBe(201);
      await deal('P10', { value: 7777 });
      expect((await http().post(`${OPPS}/${P.P6}/win`).set(bearer(mgr)).send({ actual_value: 48000 })).status).toBe(200);
      expect((await http().post(`${OPPS}/${P.P7}/lose`).set(bearer(mgr)).send({ loss_reason: 'price' })).status).toBe(200);
      expect((await http().patch(`${OPPS}/${P.P8}/stage`).set(bearer(mgr)).send({ stage: 'on_hold' })).status).toBe(200);
      expect((await http().delete(`${OPPS}/${P.P10}`).set(bearer(mgr))).status).toBe(204);
    }, 60_000);

    it('GET /opportunities/pipeline-data?pipeline_id=field_sales', async () => {
      const res = await http().get(`${OPPS}/pipeline-data?pipeline_id=field_sales`).set(bearer(mgr));
      expect(res.status).toBe(200);
      const d = res.body.data;
      expect(d.by_stage).toEqual([
        { stage: 'lead', count: 2, total_value: 12500.5, weighted_value: 1250.05, average_deal_size: 6250.25 },
        { stage: 'qualified', count: 1, total_value: 40000, weighted_value: 20000, average_deal_size: 40000 },
        { stage: 'proposal_sent', count: 1, total_value: 12345.67, weighted_value: 7407.4, average_deal_size: 12345.67 },
        { stage: 'negotiation', count: 1, total_value: 50000, weighted_value: 40000, average_deal_size: 50000 },
      ]);
      expect(d.summary).toMatchObject({
        total_opportunities: 5,
        total_pipeline_value: 114846.17,
        total_weighted_value: 68657.45,
        average_deal_size: 22969.23,
        win_rate: 50,
      });
      expect(d.forecast).toEqual({ commit: 0, best_case: 47407.4, pipeline: 68657.45 });
      expect(d.on_hold).toEqual({ count: 1, total_value: 20000 });
      // The default pipeline holds only P9.
      const def = await http().get(`${OPPS}/pipeline-data`).set(bearer(mgr));
      expect(def.body.data.by_stage.map((s: { count: number }) => s.count)).toEqual([1, 0, 0, 0, 0, 0]);
      expect(def.body.data.summary).toMatchObject({ total_opportunities: 1, total_pipeline_value: 999 });
      const unknown = await http().get(`${OPPS}/pipeline-data?pipeline_id=nope`).set(bearer(mgr));
      expect(unknown.status).toBe(400);
    });

    it('GET /opportunities/pipeline-summary?pipeline_id=field_sales lists every stage in display order', async () => {
      const res = await http().get(`${OPPS}/pipeline-summary?pipeline_id=field_sales`).set(bearer(mgr));
      expect(res.status).toBe(200);
      const d = res.body.data;
      expect(d).toMatchObject({ pipeline_id: 'field_sales', total_deals: 8, total_value: 190846.17, total_weighted_value: 116657.45 });
      expect(d.stages).toEqual([
        {
          stage: 'lead',
          name: 'Lead',
          display_order: 1,
          is_won: false,
          is_lost: false,
          deal_count: 2,
          total_value: 12500.5,
          weighted_value: 1250.05,
        },
        {
          stage: 'qualified',
          name: 'Qualified',
          display_order: 2,
          is_won: false,
          is_lost: false,
          deal_count: 1,
          total_value: 40000,
          weighted_value: 20000,
        },
        {
          stage: 'proposal_sent',
          name: 'Proposal Sent',
          display_order: 3,
          is_won: false,
          is_lost: false,
          deal_count: 1,
          total_value: 12345.67,
          weighted_value: 7407.4,
        },
        {
          stage: 'negotiation',
          name: 'Negotiation',
          display_order: 4,
          is_won: false,
          is_lost: false,
          deal_count: 1,
          total_value: 50000,
          weighted_value: 40000,
        },
        {
          stage: 'closed_won',
          name: 'Closed Won',
          display_order: 5,
          is_won: true,
          is_lost: false,
          deal_count: 1,
          total_value: 48000,
          weighted_value: 48000,
        },
        {
          stage: 'closed_lost',
          name: 'Closed Lost',
          display_order: 6,
          is_won: false,
          is_lost: true,
          deal_count: 1,
          total_value: 8000,
          weighted_value: 0,
        },
        {
          stage: 'on_hold',
          name: 'On Hold',
          display_order: 7,
          is_won: false,
          is_lost: false,
          deal_count: 1,
          total_value: 20000,
          weighted_value: 0,
        },
      ]);
    });

    it('GET /pipelines/field_sales shows deal_count per stage (deleted deals excluded)', async () => {
      const res = await http().get(`${PIPES}/field_sales`).set(bearer(mgr));
      expect(res.body.data.stages.map((s: { key: string; deal_count: number }) => [s.key, s.deal_count])).toEqual([
        ['lead', 2],
        ['qualified', 1],
        ['proposal_sent', 1],
        ['negotiation', 1],
        ['closed_won', 1],
        ['closed_lost', 1],
        ['on_hold', 1],
      ]);
    });

    it('deleting a stage that holds deals → 409 naming how many; an empty stage → 200; the won stage → 400', async () => {
      const before = (await pipelineStream('field_sales', morg)).length;
      const held = await http().delete(`${PIPES}/field_sales/stages/lead`).set(bearer(madmin));
      expect(held.status).toBe(409);
      expect(held.body.message).toMatch(/\b2 opportunities\b/);
      expect(held.body.deal_count).toBe(2);
      expect(held.body.code).toBe('stage_in_use');
      const hold = await http().delete(`${PIPES}/field_sales/stages/on_hold`).set(bearer(madmin));
      expect(hold.status).toBe(409);
      expect(hold.body.deal_count).toBe(1);
      expect(await pipelineStream('field_sales', morg)).toHaveLength(before);

      const add = await http()
        .post(`${PIPES}/field_sales/stages`)
        .set(bearer(madmin))
        .send({ name: 'Demo', display_order: 8, probability: 70 });
      expect(add.status).toBe(201);
      const removed = await http().delete(`${PIPES}/field_sales/stages/demo`).set(bearer(madmin));
      expect(removed.status).toBe(200);
      expect(removed.body.data.stages.map((s: { key: string }) => s.key)).not.toContain('demo');
      const events = await pipelineStream('field_sales', morg);
      expect(events.slice(-2).map((e) => e.type)).toEqual(['StageAdded', 'StageRemoved']);
      expect(events.at(-1)).toMatchObject({ data: { key: 'demo' }, metadata: { actor_id: 'admin_m' } });
      expect((await http().delete(`${PIPES}/field_sales/stages/demo`).set(bearer(madmin))).status).toBe(404);

      // smb_sales' won stage is empty, but a pipeline needs exactly one.
      const won = await http().delete(`${PIPES}/smb_sales/stages/closed_won`).set(bearer(tok.admin));
      expect(won.status).toBe(400);
    });

    it('deleting a pipeline with deals → 409 with deal_count; an empty one → 204 and gone', async () => {
      const res = await http().delete(`${PIPES}/field_sales`).set(bearer(madmin));
      expect(res.status).toBe(409);
      expect(res.body.message).toMatch(/\b8 opportunities\b/);
      expect(res.body.deal_count).toBe(8);
      expect(res.body.code).toBe('pipeline_in_use');

      const empty = await http()
        .post(PIPES)
        .set(bearer(madmin))
        .send({
          id: 'scratch',
          name: 'Scratch',
          stages: [
            { name: 'One', display_order: 1 },
            { name: 'Won', display_order: 2, is_won: true },
            { name: 'Lost', display_order: 3, is_lost: true },
          ],
        });
      expect(empty.status).toBe(201);
      const del = await http().delete(`${PIPES}/scratch`).set(bearer(madmin));
      expect(del.status).toBe(204);
      expect((await http().get(`${PIPES}/scratch`).set(bearer(madmin))).status).toBe(404);
      const list = await http().get(PIPES).set(bearer(madmin));
      expect(list.body.data.map((p: { id: string }) => p.id)).toEqual(['default', 'field_sales']);
      expect((await pipelineStream('scratch', morg)).map((e) => e.type)).toEqual(['PipelineCreated', 'PipelineDeleted']);
      const deal = await http()
        .post(OPPS)
        .set(bearer(mgr))
        .send({ name: 'x', customer_id: 568, value: 1, expected_close_date: '2027-03-31', pipeline_id: 'scratch' });
      expect(deal.status).toBe(400);
      expect(Object.keys(deal.body.errors)).toEqual(['pipeline_id']);
      // The default pipeline cannot be deleted.
      const def = await http().delete(`${PIPES}/default`).set(bearer(madmin));
      expect(def.status).toBe(422);
      expect(def.body.code).toBe('default_pipeline_protected');
      // Deals in field_sales are untouched by all this.
      expect((await getDeal(t, mgr, P.P1)).body.data).toMatchObject({ pipeline_id: 'field_sales', stage: 'lead' });
    });
  });
});
