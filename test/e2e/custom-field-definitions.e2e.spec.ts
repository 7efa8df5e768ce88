import { describeEachBackend, useTestApp, useTokens } from '../support/test-app';
import { API, bearer, createDeal, dealBody, getDeal, OPPS, uniqueOrg } from './helpers';

/**
 * Typed custom-field definitions per org: admins define, change and remove them (a rep or a
 * manager gets 403); deal creates and updates are checked against them (a wrong type is a 400 on
 * custom_fields.<key> and nothing is appended); the detail lists the definitions of the deal's
 * pipeline and the stored values that no longer fit after a change (the value stays); number and
 * date fields filter by range and sort; every change is an event (GET /custom-fields/history).
 */

const FIELDS = `${API}/custom-fields`;

describeEachBackend('custom-field definitions (%s)', (backend) => {
  const t = useTestApp(backend);
  const org = uniqueOrg('cfd');
  const tokens = useTokens(t, {
    admin: [org, 'admin_1', 'admin'],
    manager: [org, 'mgr_1', 'manager'],
    rep: [org, 'rep_1', 'rep'],
  });
  const as = (who: keyof typeof tokens) => bearer(tokens[who]);
  let dealId: string;

  describe('definitions', () => {
    it('admins define fields; reps and managers may read but not write', async () => {
      const seats = await t.http().post(FIELDS).set(as('admin')).send({ key: 'seats', label: 'Seats', type: 'number', display_order: 2 });
      expect(seats.status).toBe(201);
      expect(seats.body.data).toEqual({
        key: 'seats',
        label: 'Seats',
        type: 'number',
        options: null,
        required: false,
        display_order: 2,
        pipeline_id: null,
      });
      for (const body of [
        { key: 'renewal', label: 'Renewal date', type: 'date', display_order: 3 },
        { key: 'tier', label: 'Tier', type: 'single_select', options: ['gold', 'silver'], display_order: 1 },
        { key: 'modules', label: 'Modules', type: 'multi_select', options: ['crm', 'erp'], display_order: 4 },
        { key: 'signed', label: 'Signed', type: 'boolean', display_order: 5 },
      ]) {
        expect((await t.http().post(FIELDS).set(as('admin')).send(body)).status).toBe(201);
      }
      const before = await t.countEvents(org);
      expect((await t.http().post(FIELDS).set(as('rep')).send({ key: 'x', label: 'X', type: 'text' })).status).toBe(403);
      expect((await t.http().post(FIELDS).set(as('manager')).send({ key: 'x', label: 'X', type: 'text' })).status).toBe(403);
      expect((await t.http().patch(`${FIELDS}/seats`).set(as('rep')).send({ label: 'Y' })).status).toBe(403);
      expect((await t.http().delete(`${FIELDS}/seats`).set(as('rep'))).status).toBe(403);
      expect((await t.http().put(`${FIELDS}/settings`).set(as('rep')).send({ allow_unknown: false })).status).toBe(403);
      expect(await t.countEvents(org)).toBe(before);

      const list = await t.http().get(FIELDS).set(as('rep'));
      expect(list.status).toBe(200);
      expect(list.body.data.map((d: { key: string }) => d.key)).toEqual(['tier', 'seats', 'renewal', 'modules', 'signed']);
      expect(list.body.meta).toMatchObject({ allow_unknown: true });
      const one = await t.http().get(`${FIELDS}/tier`).set(as('rep'));
      expect(one.status).toBe(200);
      expect(one.body.data.options).toEqual(['gold', 'silver']);
      expect((await t.http().get(`${FIELDS}/nope`).set(as('rep'))).status).toBe(404);
    });

    it('refuses bad definitions with a 400 naming the field, and appends nothing', async () => {
      const before = await t.countEvents(org);
      for (const [body, field] of [
        [{ key: 'Bad-Key', label: 'x', type: 'text' }, 'key'],
        [{ key: 'seats', label: 'again', type: 'text' }, 'key'],
        [{ key: 'history', label: 'x', type: 'text' }, 'key'],
        [{ key: 'ok', label: 'x', type: 'colour' }, 'type'],
        [{ key: 'ok', label: 'x', type: 'single_select' }, 'options'],
        [{ key: 'ok', label: 'x', type: 'multi_select', options: ['a', 'a'] }, 'options'],
        [{ key: 'ok', label: 'x', type: 'text', pipeline_id: 'no_such_pipeline' }, 'pipeline_id'],
        [{ key: 'ok', label: 'x', type: 'text', display_order: 1.5 }, 'display_order'],
      ] as const) {
        const res = await t.http().post(FIELDS).set(as('admin')).send(body);
        expect({ body, status: res.status }).toEqual({ body, status: 400 });
        expect(Object.keys(res.body.errors ?? {})).toContain(field);
      }
      expect((await t.http().patch(`${FIELDS}/nope`).set(as('admin')).send({ label: 'x' })).status).toBe(404);
      expect((await t.http().patch(`${FIELDS}/seats`).set(as('admin')).send({ type: 'single_select' })).status).toBe(400);
      expect((await t.http().put(`${FIELDS}/settings`).set(as('admin')).send({ allow_unknown: 'no' })).status).toBe(400);
      expect(await t.countEvents(org)).toBe(before);
    });
  });

  describe('deals against the definitions', () => {
    it('accepts typed values and keeps keys without a definition while allow_unknown is true', async () => {
      const { id } = await createDeal(t, tokens.rep, {
        name: 'Typed',
        custom_fields: { seats: 40, renewal: '2027-01-31', tier: 'gold', modules: ['crm'], signed: false, free_text: [1, 2] },
      });
      dealId = id;
      const res = await getDeal(t, tokens.rep, id);
      expect(res.body.data.custom_fields).toEqual({
        seats: 40,
        renewal: '2027-01-31',
        tier: 'gold',
        modules: ['crm'],
        signed: false,
        free_text: [1, 2],
      });
    });

    it('refuses a wrong type with a 400 naming custom_fields.<key> and the type, and appends nothing', async () => {
      const before = await t.countEvents(org);
      for (const [fields, key, expected] of [
        [{ seats: '40' }, 'seats', 'number'],
        [{ renewal: '2027-02-30' }, 'renewal', 'date'],
        [{ renewal: '0000-01-01' }, 'renewal', 'date'],
        [{ tier: 'bronze' }, 'tier', 'single_select'],
        [{ modules: ['crm', 'crm'] }, 'modules', 'multi_select'],
        [{ modules: ['hr'] }, 'modules', 'multi_select'],
        [{ signed: 'yes' }, 'signed', 'boolean'],
      ] as const) {
        const created = await t
          .http()
          .post(OPPS)
          .set(as('rep'))
          .send(dealBody({ custom_fields: fields }));
        expect({ fields, status: created.status }).toEqual({ fields, status: 400 });
        expect(created.body.errors[`custom_fields.${key}`].join(' ')).toContain(expected);
        const updated = await t.http().patch(`${OPPS}/${dealId}`).set(as('rep')).send({ custom_fields: fields });
        expect({ fields, status: updated.status }).toEqual({ fields, status: 400 });
        expect(Object.keys(updated.body.errors)).toEqual([`custom_fields.${key}`]);
      }
      // 1e400 parses as Infinity: not a finite number, so not storable as one.
      const huge = await t
        .http()
        .post(OPPS)
        .set(as('rep'))
        .set('Content-Type', 'application/json')
        .send(JSON.stringify(dealBody({ custom_fields: { seats: 0 } })).replace('"seats":0', '"seats":1e400'));
      expect(huge.status).toBe(400);
      expect(Object.keys(huge.body.errors)).toEqual(['custom_fields.seats']);
      expect(await t.countEvents(org)).toBe(before);
    });

    it('a required field is needed on create; unknown keys are refused once allow_unknown is false', async () => {
      expect((await t.http().patch(`${FIELDS}/signed`).set(as('admin')).send({ required: true })).status).toBe(200);
      const before = await t.countEvents(org);
      const missing = await t.http().post(OPPS).set(as('rep')).send(dealBody());
      expect(missing.status).toBe(400);
      expect(Object.keys(missing.body.errors)).toEqual(['custom_fields.signed']);
      expect(await t.countEvents(org)).toBe(before);

      const settings = await t.http().put(`${FIELDS}/settings`).set(as('admin')).send({ allow_unknown: false });
      expect(settings.status).toBe(200);
      expect(settings.body.data).toEqual({ allow_unknown: false });
      const after = await t.countEvents(org);
      const unknown = await t
        .http()
        .patch(`${OPPS}/${dealId}`)
        .set(as('rep'))
        .send({ custom_fields: { other_key: 1 } });
      expect(unknown.status).toBe(400);
      expect(Object.keys(unknown.body.errors)).toEqual(['custom_fields.other_key']);
      expect(await t.countEvents(org)).toBe(after);
      expect(
        (
          await t
            .http()
            .patch(`${OPPS}/${dealId}`)
            .set(as('rep'))
            .send({ custom_fields: { seats: 41 } })
        ).status,
      ).toBe(200);
      expect((await t.http().put(`${FIELDS}/settings`).set(as('admin')).send({ allow_unknown: true })).status).toBe(200);
      expect((await t.http().patch(`${FIELDS}/signed`).set(as('admin')).send({ required: false })).status).toBe(200);
    });
  });

  describe('the detail', () => {
    it('lists the definitions that apply, in display order, and reports values that no longer fit', async () => {
      const res = await getDeal(t, tokens.rep, dealId);
      expect(res.body.data.custom_field_definitions.map((d: { key: string }) => d.key)).toEqual([
        'tier',
        'seats',
        'renewal',
        'modules',
        'signed',
      ]);
      expect(res.body.data.custom_field_mismatches).toEqual([]);

      // seats becomes a single_select: the stored 41 stays readable and is reported.
      const before = await t.countEvents(org);
      const changed = await t
        .http()
        .patch(`${FIELDS}/seats`)
        .set(as('admin'))
        .send({ type: 'single_select', options: ['small', 'large'] });
      expect(changed.status).toBe(200);
      expect(changed.body.data).toMatchObject({ type: 'single_select', options: ['small', 'large'] });
      expect(await t.countEvents(org)).toBe(before + 1);
      const after = await getDeal(t, tokens.rep, dealId);
      expect(after.body.data.custom_fields.seats).toBe(41);
      expect(after.body.data.custom_field_mismatches).toEqual([{ key: 'seats', reason: expect.stringContaining('single_select') }]);
      const list = await t.http().get(`${OPPS}?cf_seats=41`).set(as('rep'));
      expect(list.body.data.map((d: { id: string }) => d.id)).toEqual([dealId]);
      expect(list.body.data[0].custom_field_definitions).toBeUndefined();

      expect((await t.http().patch(`${FIELDS}/seats`).set(as('admin')).send({ type: 'number' })).status).toBe(200);
      expect((await getDeal(t, tokens.rep, dealId)).body.data.custom_field_mismatches).toEqual([]);
    });

    it('a field of one pipeline applies only to its deals', async () => {
      const pipeline = await t
        .http()
        .post(`${API}/pipelines`)
        .set(as('admin'))
        .send({
          id: 'enterprise',
          name: 'Enterprise',
          stages: [
            { key: 'open', name: 'Open', display_order: 1 },
            { key: 'won', name: 'Won', display_order: 2, is_won: true },
            { key: 'lost', name: 'Lost', display_order: 3, is_lost: true },
          ],
        });
      expect(pipeline.status).toBe(201);
      const region = await t
        .http()
        .post(FIELDS)
        .set(as('admin'))
        .send({ key: 'region', label: 'Region', type: 'text', pipeline_id: 'enterprise', display_order: 0 });
      expect(region.status).toBe(201);
      const { id } = await createDeal(t, tokens.rep, { stage: 'open', pipeline_id: 'enterprise', custom_fields: { region: 'EMEA' } });
      const enterprise = await getDeal(t, tokens.rep, id);
      expect(enterprise.body.data.custom_field_definitions.map((d: { key: string }) => d.key)[0]).toBe('region');
      const other = await getDeal(t, tokens.rep, dealId);
      expect(other.body.data.custom_field_definitions.map((d: { key: string }) => d.key)).not.toContain('region');
    });
  });

  describe('typed filters and sorts', () => {
    const ids: Record<string, string> = {};
    const idsOf = (res: { body: { data: { id: string }[] } }) => res.body.data.map((d) => d.id);

    beforeAll(async () => {
      // A value recorded before its key had a definition: 'lots' is no number, '2027-13-99' no date.
      ids.old = (await createDeal(t, tokens.rep, { name: 'Old', custom_fields: { score: 'lots', due: '2027-13-99' } })).id;
      expect((await t.http().post(FIELDS).set(as('admin')).send({ key: 'score', label: 'Score', type: 'number' })).status).toBe(201);
      expect((await t.http().post(FIELDS).set(as('admin')).send({ key: 'due', label: 'Due', type: 'date' })).status).toBe(201);
      for (const [name, score, due] of [
        ['Low', 5, '2027-03-01'],
        ['Mid', 50.5, '2026-12-31'],
        ['High', 500, '2028-01-15'],
      ] as const) {
        ids[name] = (await createDeal(t, tokens.rep, { name, custom_fields: { score, due } })).id;
      }
    });

    it('filters a number range; a value of another type never matches (and never fails the query)', async () => {
      const mid = await t.http().get(`${OPPS}?cf_score__gte=10&cf_score__lte=500`).set(as('rep'));
      expect(mid.status).toBe(200);
      expect(idsOf(mid).sort()).toEqual([ids.Mid, ids.High].sort());
      const low = await t.http().get(`${OPPS}?cf_score__lte=50.5`).set(as('rep'));
      expect(idsOf(low).sort()).toEqual([ids.Low, ids.Mid].sort());
      expect(low.body.meta.total).toBe(2);
      const dates = await t.http().get(`${OPPS}?cf_due__gte=2027-01-01&cf_due__lte=2027-12-31`).set(as('rep'));
      expect(idsOf(dates)).toEqual([ids.Low]);
    });

    it('sorts by a date field, values of another type last', async () => {
      const asc = await t.http().get(`${OPPS}?sort_by=cf_due&sort_direction=asc&cf_score__gte=0`).set(as('rep'));
      expect(asc.status).toBe(200);
      expect(idsOf(asc)).toEqual([ids.Mid, ids.Low, ids.High]);
      const all = await t.http().get(`${OPPS}?sort_by=cf_due&sort_direction=desc&per_page=100`).set(as('rep'));
      expect(idsOf(all).slice(0, 3)).toEqual([ids.High, ids.Low, ids.Mid]);
      expect(idsOf(all)).toContain(ids.old);
      const byScore = await t.http().get(`${OPPS}?sort_by=cf_score&sort_direction=desc&per_page=100`).set(as('rep'));
      expect(idsOf(byScore).slice(0, 3)).toEqual([ids.High, ids.Mid, ids.Low]);
    });

    it('refuses unknown or non-range keys and bad bounds with a 400 naming the parameter', async () => {
      for (const [query, param] of [
        ['cf_nope__gte=1', 'cf_nope__gte'],
        ['cf_tier__gte=a', 'cf_tier__gte'],
        ['cf_score__lte=ten', 'cf_score__lte'],
        ['cf_score__gte=1e5', 'cf_score__gte'],
        ['cf_due__gte=2027-02-30', 'cf_due__gte'],
        ['sort_by=cf_tier', 'sort_by'],
        ['sort_by=cf_nope', 'sort_by'],
        ['sort_by=cf_', 'sort_by'],
      ] as const) {
        const res = await t.http().get(`${OPPS}?${query}`).set(as('rep'));
        expect({ query, status: res.status }).toEqual({ query, status: 400 });
        expect(Object.keys(res.body.errors)).toEqual([param]);
      }
    });
  });

  describe('history', () => {
    it('every change of the definitions is an event with who made it', async () => {
      const removed = await t.http().delete(`${FIELDS}/region`).set(as('admin'));
      expect(removed.status).toBe(204);
      expect((await t.http().get(`${FIELDS}/region`).set(as('rep'))).status).toBe(404);
      const res = await t.http().get(`${FIELDS}/history`).set(as('rep'));
      expect(res.status).toBe(200);
      const types = res.body.data.map((e: { type: string }) => e.type);
      expect(types.slice(0, 5)).toEqual(Array(5).fill('CustomFieldDefined'));
      expect(types).toContain('CustomFieldSettingsChanged');
      const change = res.body.data.find(
        (e: { type: string; data: { definition: { key: string } } }) =>
          e.type === 'CustomFieldChanged' && e.data.definition.key === 'seats',
      );
      expect(change).toMatchObject({
        actor_id: 'admin_1',
        data: { previous: { type: 'number' }, definition: { type: 'single_select', options: ['small', 'large'] } },
      });
      expect(res.body.data.map((e: { version: number }) => e.version)).toEqual(types.map((_: string, i: number) => i + 1));
    });
  });
});
