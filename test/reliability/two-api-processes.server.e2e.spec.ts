import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { Client } from 'pg';
import { opportunityStreamId } from '@app/domain';
import { type ApiProcess, ROOT, startApi } from '../support/api-process';
import { postgresTarget, type Target } from '../support/api-targets';
import { postgresUrl } from '../support/test-database';
import { call, type Reply, useBuiltApi } from './support/targets';

/**
 * Two API processes on one PostgreSQL database, each with its own caches (folded streams, the
 * pipeline and custom-field definitions a command decides with, resolved tokens) and its own
 * projectors. What one process does must be what the other decides with on its very next request:
 * no lost update under contention across both, read models equal to a rebuild, a revoked token
 * refused at once everywhere, a pipeline or custom-field change applied by the next command of the
 * other process. Server only: an embedded database belongs to one process.
 */

const url = postgresUrl();
const ORG = 'default';
const CONTENDED_DEALS = 8;
const CONTENDERS = 6;
const LIVES = 2;
const LOAD_MS = 8_000;
const TOKEN_ROUNDS = 50;

type Kind = 'note' | 'activity' | 'increment';

/** A command that answered 2xx: the version it reported and what identifies its event. */
interface Ack {
  kind: Kind;
  who: string;
  version: number;
  /** Note and activity: the id the response gave, and the unique text sent. */
  id?: string;
  text?: string;
  /** Increment: the value it set. */
  valueMinor?: number;
}

interface Contended {
  id: string;
  initialMinor: number;
  acks: Ack[];
  /** Texts of notes and activities that were refused (409): none of them may be in the stream. */
  refusedTexts: string[];
}

interface Life {
  id: string;
  versions: number[];
}

interface StoredEvent {
  version: number;
  type: string;
  data: any;
}

const versionOf = (reply: Reply) => Number(String(reply.etag ?? '').replace(/\D/g, '') || NaN);
const ok = (status: number) => status >= 200 && status < 300;
const dealBody = (name: string, extra: Record<string, unknown> = {}) => ({
  name,
  customer_id: 'c1',
  value: 1000,
  expected_close_date: '2031-01-31',
  ...extra,
});

/** How long a command may take to answer before the test says it did not (the call itself waits 20 s). */
const ANSWER_MS = 5_000;
const NO_ANSWER = `no answer in ${ANSWER_MS} ms`;

/** The reply, or one with status NO_ANSWER: a command that never answers is a finding, not a timeout of the test. */
type Answer = Omit<Reply, 'status'> & { status: number | string };

async function answer(reply: Promise<Reply>): Promise<Answer> {
  let timer: NodeJS.Timeout | undefined;
  const none = new Promise<Answer>((resolve) => {
    timer = setTimeout(
      () => resolve({ status: NO_ANSWER, body: null, etag: undefined, position: undefined, consistency: undefined }),
      ANSWER_MS,
    );
  });
  try {
    return await Promise.race([reply, none]);
  } finally {
    clearTimeout(timer);
  }
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('two API processes on one PostgreSQL database', () => {
  const built = useBuiltApi('two-api-processes');
  const admin = `opp_admin_${randomBytes(12).toString('hex')}`;
  let target: Target;
  let a: ApiProcess;
  let b: ApiProcess;
  let pg: Client;
  const contended: Contended[] = [];
  const lives: Life[] = [];

  beforeAll(async () => {
    target = postgresTarget(url!, 'two_api_');
    await target.prepare();
    // One after the other: the first migrates the database and creates the ADMIN_TOKEN row.
    a = await startApi({ ...target.env, ADMIN_TOKEN: admin });
    b = await startApi({ ...target.env, ADMIN_TOKEN: admin });
    pg = new Client({ connectionString: target.env.DATABASE_URL });
    await pg.connect();
  }, 120_000);

  afterAll(async () => {
    await pg?.end().catch(() => undefined);
    await a?.kill9();
    await b?.kill9();
    await target?.cleanup();
  });

  async function stream(dealId: string): Promise<StoredEvent[]> {
    const { rows } = await pg.query<{ version: string; type: string; data: any }>(
      'select stream_version::text as version, type, data from events where stream_id = $1 order by stream_version',
      [opportunityStreamId(ORG, dealId)],
    );
    return rows.map((r) => ({ version: Number(r.version), type: r.type, data: r.data }));
  }

  /** Every projection of the process within 0 events of the log's head. */
  async function caughtUp(api: ApiProcess): Promise<true | undefined> {
    const res = await call(api, admin, 'GET', '/health/ready').catch(() => undefined);
    const lags = Object.values((res?.body?.details?.projections?.lag_events ?? {}) as Record<string, number>);
    return lags.length > 0 && lags.every((lag) => lag === 0) ? true : undefined;
  }

  it('W1 on both processes and contention on the same deals from both: every acknowledged command is one event, nothing else is', async () => {
    for (let i = 0; i < CONTENDED_DEALS; i++) {
      const created = await call(i % 2 ? b : a, admin, 'POST', '/opportunities', dealBody(`Contended ${i}`));
      expect(created.status).toBe(201);
      expect(versionOf(created)).toBe(1);
      contended.push({ id: created.body.data.id, initialMinor: 100_000, acks: [], refusedTexts: [] });
    }
    // An increment reads the deal's row first, on either process.
    await until('process A to project the deals', () => caughtUp(a));
    await until('process B to project the deals', () => caughtUp(b));
    /** Replies that no client may get: a 5xx anywhere, or a status the command cannot answer. */
    const unexpected: string[] = [];
    const deadline = Date.now() + LOAD_MS;

    // Each client alternates between the processes, so each one's cached state of a deal is stale
    // whenever the other one appended last.
    async function contender(n: number): Promise<void> {
      for (let seq = 0; Date.now() < deadline; seq++) {
        const api = (n + seq) % 2 ? b : a;
        const side = api === a ? 'A' : 'B';
        const deal = contended[Math.floor(Math.random() * contended.length)];
        const kind = (['note', 'activity', 'increment'] as const)[Math.floor(Math.random() * 3)];
        const who = `${kind} c${n}#${seq} on ${side}`;
        const text = `c${n}#${seq} ${randomBytes(4).toString('hex')}`;
        if (kind === 'increment') {
          // A read-modify-write: the value as of a version, set one higher on exactly that version.
          const read = await call(api, admin, 'GET', `/opportunities/${deal.id}`);
          if (read.status !== 200) {
            unexpected.push(`${who}: GET ${read.status} ${JSON.stringify(read.body)}`);
            continue;
          }
          const valueMinor = Math.round(Number(read.body.data.value) * 100) + 100;
          const res = await call(api, admin, 'PATCH', `/opportunities/${deal.id}`, { value: valueMinor / 100 }, { 'if-match': read.etag! });
          if (ok(res.status)) deal.acks.push({ kind, who, version: versionOf(res), valueMinor });
          else if (res.status === 412 && res.body?.code === 'precondition_failed') continue;
          else if (res.status === 409 && res.body?.code === 'concurrency_conflict') continue;
          else unexpected.push(`${who}: ${res.status} ${JSON.stringify(res.body)}`);
          continue;
        }
        const res =
          kind === 'note'
            ? await call(api, admin, 'POST', `/opportunities/${deal.id}/notes`, { content: text })
            : await call(api, admin, 'POST', '/activities', { opportunity_id: deal.id, type: 'call', subject: text });
        if (ok(res.status)) deal.acks.push({ kind, who, version: versionOf(res), id: res.body?.data?.id, text });
        else if (res.status === 409 && res.body?.code === 'concurrency_conflict') deal.refusedTexts.push(text);
        else unexpected.push(`${who}: ${res.status} ${JSON.stringify(res.body)}`);
      }
    }

    // W1: create → stage/next × 5 → win, each command on the other process than the one before.
    async function life(n: number): Promise<void> {
      for (let round = 0; Date.now() < deadline; round++) {
        let id = '';
        const versions: number[] = [];
        for (let step = 0; step < 7; step++) {
          const api = (n + round + step) % 2 ? b : a;
          const res =
            step === 0
              ? await call(api, admin, 'POST', '/opportunities', dealBody(`Life ${n}.${round}`))
              : await call(api, admin, 'POST', `/opportunities/${id}/${step < 6 ? 'stage/next' : 'win'}`, {});
          if (!ok(res.status)) {
            unexpected.push(`life ${n}.${round} step ${step} on ${api === a ? 'A' : 'B'}: ${res.status} ${JSON.stringify(res.body)}`);
            break;
          }
          if (step === 0) id = res.body.data.id;
          versions.push(versionOf(res));
        }
        if (id) lives.push({ id, versions });
      }
    }

    await Promise.all([...Array.from({ length: CONTENDERS }, (_, n) => contender(n)), ...Array.from({ length: LIVES }, (_, n) => life(n))]);

    expect(unexpected).toEqual([]);
    // The load was real: many acknowledged commands on the contended deals, and whole lives.
    const acknowledged = (kind: Kind) => contended.reduce((sum, d) => sum + d.acks.filter((x) => x.kind === kind).length, 0);
    expect({
      note: acknowledged('note') > CONTENDED_DEALS,
      activity: acknowledged('activity') > CONTENDED_DEALS,
      increment: acknowledged('increment') > 0,
    }).toEqual({ note: true, activity: true, increment: true });
    expect(lives.length).toBeGreaterThanOrEqual(LIVES);

    for (const deal of contended) {
      const events = await stream(deal.id);
      const n = events.length;
      const label = `deal ${deal.id}`;
      // 1 + the acknowledged commands, versions 1..n with no gap or repeat, the last version seen is n.
      expect({ label, n, versions: events.map((e) => e.version) }).toEqual({
        label,
        n: 1 + deal.acks.length,
        versions: events.map((_, i) => i + 1),
      });
      expect({ label, last: Math.max(1, ...deal.acks.map((x) => x.version)) }).toEqual({ label, last: n });
      // Each acknowledged command's event is at the version it reported, and is its own.
      const byVersion = new Map(events.map((e) => [e.version, e]));
      const mismatched = deal.acks.filter((x) => {
        const e = byVersion.get(x.version);
        if (x.kind === 'note') return !(e?.type === 'NoteAdded' && e.data.note_id === x.id && e.data.content === x.text);
        if (x.kind === 'activity') return !(e?.type === 'ActivityLogged' && e.data.activity_id === x.id && e.data.subject === x.text);
        return !(e?.type === 'OpportunityUpdated' && e.data.changes?.value_minor === x.valueMinor);
      });
      expect({ label, mismatched }).toEqual({ label, mismatched: [] });
      // A refused command appended nothing.
      const texts = new Set(
        events.map((e) => (e.type === 'NoteAdded' ? e.data.content : e.type === 'ActivityLogged' ? e.data.subject : null)),
      );
      expect({ label, stored: deal.refusedTexts.filter((t) => texts.has(t)) }).toEqual({ label, stored: [] });
      // No increment lost: each one read the value at the version it changed.
      const increments = deal.acks.filter((x) => x.kind === 'increment').length;
      const finalMinor = events.reduce(
        (value, e) => (e.type === 'OpportunityUpdated' && e.data.changes?.value_minor !== undefined ? e.data.changes.value_minor : value),
        deal.initialMinor,
      );
      expect({ label, finalMinor }).toEqual({ label, finalMinor: deal.initialMinor + 100 * increments });
    }

    for (const one of lives) {
      const events = await stream(one.id);
      const label = `life ${one.id}`;
      expect({ label, types: events.map((e) => e.type), versions: events.map((e) => e.version), acked: one.versions }).toEqual({
        label,
        types: ['OpportunityCreated', ...Array<string>(5).fill('OpportunityStageChanged'), 'OpportunityWon'],
        versions: [1, 2, 3, 4, 5, 6, 7],
        acked: [1, 2, 3, 4, 5, 6, 7],
      });
    }
  });

  it('the read models of both processes equal a rebuild from the log', async () => {
    await until('process A to catch up', () => caughtUp(a));
    await until('process B to catch up', () => caughtUp(b));

    const verify = join(dirname(built.main), 'verify.js');
    const result = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        [verify],
        { cwd: ROOT, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...target.env }, timeout: 90_000 },
        (error, stdout, stderr) => resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });
    expect({ code: result.code, stdout: result.stdout.trim().split('\n'), stderr: result.code === 0 ? '' : result.stderr }).toEqual({
      code: 0,
      stdout: ['opportunities: no differences', 'timeline: no differences', 'pipelines: no differences'],
      stderr: '',
    });

    // Both processes answer every contended deal as its stream has it.
    for (const deal of contended) {
      const events = await stream(deal.id);
      const valueMinor = events.reduce(
        (v, e) => (e.type === 'OpportunityUpdated' ? (e.data.changes?.value_minor ?? v) : v),
        deal.initialMinor,
      );
      for (const api of [a, b]) {
        const res = await call(api, admin, 'GET', `/opportunities/${deal.id}`);
        expect({ id: deal.id, status: res.status, etag: res.etag, value: Math.round(Number(res.body?.data?.value) * 100) }).toEqual({
          id: deal.id,
          status: 200,
          etag: `"${events.length}"`,
          value: valueMinor,
        });
      }
    }
    const ids = new Set([...contended.map((d) => d.id), ...lives.map((l) => l.id)]);
    for (const api of [a, b]) {
      const listed = await call(api, admin, 'GET', '/opportunities?per_page=100&page=1');
      expect(listed.status).toBe(200);
      expect(listed.body.meta.total).toBe(ids.size);
    }
  });

  it('a token revoked in one process is refused by the next request in both', async () => {
    const outcomes: { round: number; revokedOn: string; other: number; same: number }[] = [];
    for (let round = 0; round < TOKEN_ROUNDS * 2; round++) {
      const [revoker, other] = round < TOKEN_ROUNDS ? [a, b] : [b, a];
      const revokedOn = revoker === a ? 'A' : 'B';
      const minted = await call(other, admin, 'POST', '/tokens', { user_id: `reader_${round}`, role: 'viewer' });
      expect(minted.status).toBe(201);
      const { id, token } = minted.body.data as { id: string; token: string };
      // Both processes resolve it (and keep it in memory).
      for (const api of [a, b, a, b]) expect((await call(api, token, 'GET', '/custom-fields')).status).toBe(200);

      const revoked = await call(revoker, admin, 'DELETE', `/tokens/${id}`);
      expect(revoked.status).toBe(204);
      const onOther = await call(other, token, 'GET', '/custom-fields');
      const onSame = await call(revoker, token, 'GET', '/custom-fields');
      outcomes.push({ round, revokedOn, other: onOther.status, same: onSame.status });
    }
    expect(outcomes).toEqual(outcomes.map(({ round, revokedOn }) => ({ round, revokedOn, other: 401, same: 401 })));
  });

  describe('a change of the reference data in one process', () => {
    const pipelineId = `two_api_${randomBytes(3).toString('hex')}`;
    const stages = [
      ...Array.from({ length: 12 }, (_, i) => ({
        key: `s${i + 1}`,
        name: `Stage ${i + 1}`,
        display_order: (i + 1) * 10,
        probability: i + 1,
      })),
      { key: 'won', name: 'Won', display_order: 900, is_won: true, probability: 100 },
      { key: 'lost', name: 'Lost', display_order: 901, is_lost: true, probability: 0 },
    ];

    async function dealIn(api: ApiProcess, name: string, extra: Record<string, unknown> = {}): Promise<string> {
      const created = await call(api, admin, 'POST', '/opportunities', dealBody(name, { pipeline_id: pipelineId, ...extra }));
      expect({ name, status: created.status, body: created.status === 201 ? null : created.body }).toEqual({
        name,
        status: 201,
        body: null,
      });
      return created.body.data.id;
    }

    beforeAll(async () => {
      expect((await call(a, admin, 'POST', '/pipelines', { id: pipelineId, name: 'Two processes', stages })).status).toBe(201);
    });

    it('a pipeline change is decided with by the next command of the other process', async () => {
      // Each deal is commanded by one process only, so its own state is never stale there: only the pipeline is.
      const onB = await dealIn(b, 'Commanded on B');
      const onA = await dealIn(a, 'Commanded on A');

      const seen: unknown[] = [];
      const expected: unknown[] = [];
      for (let r = 1; r <= 8; r++) {
        const key = `s${r + 1}`;
        const change = async (api: ApiProcess, probability: number) => {
          const res = await call(api, admin, 'PATCH', `/pipelines/${pipelineId}/stages/${key}`, { probability });
          expect(res.status).toBe(200);
        };
        await change(a, 40 + r);
        const nextB = await answer(call(b, admin, 'POST', `/opportunities/${onB}/stage/next`, {}));
        await change(b, 70 + r);
        const nextA = await answer(call(a, admin, 'POST', `/opportunities/${onA}/stage/next`, {}));
        seen.push({ r, b: [nextB.status, nextB.body?.data?.stage, nextB.body?.data?.probability] });
        seen.push({ r, a: [nextA.status, nextA.body?.data?.stage, nextA.body?.data?.probability] });
        expected.push({ r, b: [200, key, 40 + r] }, { r, a: [200, key, 70 + r] });
        if (nextA.status === NO_ANSWER || nextB.status === NO_ANSWER) break;
      }
      expect(seen).toEqual(expected);

      // A stage added before the next one: the next command moves there.
      const added = await call(a, admin, 'POST', `/pipelines/${pipelineId}/stages`, {
        key: 'inserted',
        name: 'Inserted',
        display_order: 95,
        probability: 93,
      });
      expect(added.status).toBe(201);
      const toInserted = await answer(call(b, admin, 'POST', `/opportunities/${onB}/stage/next`, {}));
      expect([toInserted.status, toInserted.body?.data?.stage, toInserted.body?.data?.probability]).toEqual([200, 'inserted', 93]);

      // The policy, both ways: allowed by the change, then refused by the change back.
      const policy = async (api: ApiProcess, value: Record<string, boolean>) => {
        const res = await call(api, admin, 'PATCH', `/pipelines/${pipelineId}`, { policy: value });
        expect(res.status).toBe(200);
      };
      await policy(a, { allow_skip: true });
      const skipped = await answer(call(b, admin, 'PATCH', `/opportunities/${onB}/stage`, { stage: 's12' }));
      expect([skipped.status, skipped.body?.data?.stage]).toEqual([200, 's12']);
      await policy(a, { allow_backward: false });
      const back = await answer(call(b, admin, 'POST', `/opportunities/${onB}/stage/previous`, { reason: 'not ready' }));
      expect([back.status, back.body?.code]).toEqual([422, 'invalid_stage_transition']);
      await policy(a, { allow_backward: true });
      const backAgain = await answer(call(b, admin, 'POST', `/opportunities/${onB}/stage/previous`, { reason: 'not ready' }));
      expect([backAgain.status, backAgain.body?.data?.stage]).toEqual([200, 's11']);

      // The other way round: changed on B, decided on A.
      await policy(b, { allow_backward: false });
      const backOnA = await answer(call(a, admin, 'POST', `/opportunities/${onA}/stage/previous`, { reason: 'not ready' }));
      expect([backOnA.status, backOnA.body?.code]).toEqual([422, 'invalid_stage_transition']);
      await policy(b, { allow_skip: false, allow_backward: true });
      const skipOnA = await answer(call(a, admin, 'PATCH', `/opportunities/${onA}/stage`, { stage: 's12' }));
      expect([skipOnA.status, skipOnA.body?.code]).toEqual([422, 'invalid_stage_transition']);
    });

    it('a select option removed in one process is refused by the next update of the other', async () => {
      // Each round one process replaces the options, and the other process's next update must
      // refuse the option just removed and accept the one just added.
      const defined = await call(a, admin, 'POST', '/custom-fields', {
        key: 'tier',
        label: 'Tier',
        type: 'single_select',
        options: ['o0'],
        pipeline_id: pipelineId,
      });
      expect(defined.status).toBe(201);
      const onB = await dealIn(b, 'Tier on B', { custom_fields: { tier: 'o0' } });
      const onA = await dealIn(a, 'Tier on A', { custom_fields: { tier: 'o0' } });
      const seen: unknown[] = [];
      const expected: unknown[] = [];
      for (let r = 1; r <= 6; r++) {
        const [changer, commander, deal] = r % 2 ? [a, b, onB] : [b, a, onA];
        const side = commander === a ? 'A' : 'B';
        const changed = await call(changer, admin, 'PATCH', '/custom-fields/tier', { options: [`o${r}`] });
        expect(changed.status).toBe(200);
        // The deal's last value is o(r-2) or o0; the option removed now is o(r-1).
        const removed = await answer(call(commander, admin, 'PATCH', `/opportunities/${deal}`, { custom_fields: { tier: `o${r - 1}` } }));
        const fresh = await answer(call(commander, admin, 'PATCH', `/opportunities/${deal}`, { custom_fields: { tier: `o${r}` } }));
        seen.push({ r, side, removed: [removed.status, removed.body?.code], added: fresh.status });
        expected.push({ r, side, removed: [400, 'validation_failed'], added: 200 });
        // A command that never answers keeps its process busy: the rounds after it would measure that.
        if (removed.status === NO_ANSWER || fresh.status === NO_ANSWER) break;
      }
      expect(seen).toEqual(expected);
    });

    it('a required custom field defined in one process is required by the next create of the other', async () => {
      // Each round one process defines one more, and the other process's next create without it
      // must be a 400 that names it; both have the definitions in memory from a create before.
      await dealIn(a, 'Before the required fields');
      await dealIn(b, 'Before the required fields');
      const seenRequired: unknown[] = [];
      const expectedRequired: unknown[] = [];
      const values: Record<string, string> = {};
      for (let r = 1; r <= 6; r++) {
        const [changer, commander] = r % 2 ? [a, b] : [b, a];
        const side = commander === a ? 'A' : 'B';
        const key = `needed_${r}`;
        const res = await call(changer, admin, 'POST', '/custom-fields', {
          key,
          label: key,
          type: 'text',
          required: true,
          pipeline_id: pipelineId,
        });
        expect(res.status).toBe(201);
        const create = (name: string) =>
          answer(call(commander, admin, 'POST', '/opportunities', dealBody(name, { pipeline_id: pipelineId, custom_fields: values })));
        const without = await create(`Without ${key}`);
        values[key] = 'given';
        const withIt = await create(`With ${key}`);
        seenRequired.push({ r, side, without: [without.status, Object.keys(without.body?.errors ?? {})], with: withIt.status });
        expectedRequired.push({ r, side, without: [400, [`custom_fields.${key}`]], with: 201 });
        if (without.status === NO_ANSWER || withIt.status === NO_ANSWER) break;
      }
      expect(seenRequired).toEqual(expectedRequired);
    });
  });
});
