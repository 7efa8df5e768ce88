import { describeEachBackend, useTestApp, useTokens } from '../support/test-app';
import { API, bearer, createDeal, ISO_INSTANT, OPPS, uniqueOrg } from './helpers';

/**
 * The leads directory (like customers): create, list, read and update a lead of the caller's org,
 * ids as strings or JSON integers, validation (a 400 naming the field, nothing written), roles
 * (viewers read only) and tenancy (another org's lead is a 404). A deal names its lead by
 * `lead_id`; `includes=lead` renders `{id, email, source}` from the directory, and `{id}` alone for
 * a lead the directory does not hold.
 */

const LEADS = `${API}/leads`;

describeEachBackend('leads directory (%s)', (backend) => {
  const t = useTestApp(backend);
  const org = uniqueOrg('leads_dir');
  const other = uniqueOrg('leads_dir_other');
  const tok = useTokens(t, {
    admin: [org, 'admin_1', 'admin'],
    manager: [org, 'mgr_1', 'manager'],
    rep: [org, 'rep_1', 'rep'],
    viewer: [org, 'viewer_1', 'viewer'],
    outsider: [other, 'mgr_9', 'manager'],
  });
  const http = () => t.http();
  const as = (who: keyof typeof tok) => bearer(tok[who]);

  /** The org's leads as the list returns them (everything, one page). */
  async function allLeads(who: keyof typeof tok = 'admin') {
    const res = await http().get(`${LEADS}?per_page=100`).set(as(who));
    expect(res.status).toBe(200);
    return res.body as { data: Record<string, unknown>[]; meta: { total: number } };
  }

  async function lead(id: string, who: keyof typeof tok = 'admin') {
    return http().get(`${LEADS}/${id}`).set(as(who));
  }

  describe('create and read', () => {
    it('POST (rep may) with an integer id → 201 with the stored lead; GET returns it', async () => {
      const res = await http()
        .post(LEADS)
        .set(as('rep'))
        .send({ id: 1234, name: 'Jane Roe', company_name: 'Acme Corporation', email: 'contact@acmecorp.com', source: 'referral' });
      expect(res.status).toBe(201);
      expect(res.body.message).toBe('Lead created successfully');
      expect(res.body.data).toEqual({
        id: '1234',
        name: 'Jane Roe',
        company_name: 'Acme Corporation',
        email: 'contact@acmecorp.com',
        source: 'referral',
        created_at: expect.stringMatching(ISO_INSTANT),
        updated_at: expect.stringMatching(ISO_INSTANT),
      });
      const read = await lead('1234', 'viewer');
      expect(read.status).toBe(200);
      expect(read.body).toEqual({ data: res.body.data });
    });

    it('POST without an id → a generated id; optional fields are null; text is trimmed', async () => {
      const res = await http().post(LEADS).set(as('manager')).send({ name: '  Walk-in Visitor  ' });
      expect(res.status).toBe(201);
      expect(res.body.data).toMatchObject({ name: 'Walk-in Visitor', company_name: null, email: null, source: null });
      expect(res.body.data.id).toMatch(/^[0-9a-f-]{36}$/);
      expect((await lead(res.body.data.id)).body.data).toEqual(res.body.data);
    });

    it('a string id is kept as given; a duplicate id → 409 and the first lead is unchanged; the same id in another org is fine', async () => {
      expect((await http().post(LEADS).set(as('admin')).send({ id: 'ld_web.7', name: 'Web Seven', source: 'website' })).status).toBe(201);
      const dup = await http().post(LEADS).set(as('manager')).send({ id: 'ld_web.7', name: 'Again', source: 'event' });
      expect(dup.status).toBe(409);
      expect(dup.body).toMatchObject({ status: 409, code: 'already_exists', message: 'A lead with this id already exists' });
      const dupInteger = await http().post(LEADS).set(as('manager')).send({ id: '1234', name: 'Again' });
      expect(dupInteger.status).toBe(409);
      expect((await lead('ld_web.7')).body.data).toMatchObject({ name: 'Web Seven', source: 'website' });
      expect((await lead('1234')).body.data).toMatchObject({ name: 'Jane Roe' });

      const theirs = await http().post(LEADS).set(as('outsider')).send({ id: 'ld_web.7', name: 'Their Seven', email: 'x@other.test' });
      expect(theirs.status).toBe(201);
      expect((await lead('ld_web.7')).body.data).toMatchObject({ name: 'Web Seven', email: null });
      expect((await lead('ld_web.7', 'outsider')).body.data).toMatchObject({ name: 'Their Seven', email: 'x@other.test' });
    });

    it.each([
      ['no name', { source: 'website' }, 'name'],
      ['an empty name', { name: '' }, 'name'],
      ['a blank name', { name: '   ' }, 'name'],
      ['a null name', { name: null }, 'name'],
      ['a name too long', { name: 'n'.repeat(201) }, 'name'],
      ['a bad email', { name: 'X', email: 'contact@' }, 'email'],
      ['an email that is a number', { name: 'X', email: 42 }, 'email'],
      ['a source that is a number', { name: 'X', source: 7 }, 'source'],
      ['a blank source', { name: 'X', source: '  ' }, 'source'],
      ['a source too long', { name: 'X', source: 's'.repeat(101) }, 'source'],
      ['a company_name that is an object', { name: 'X', company_name: { a: 1 } }, 'company_name'],
      ['an id with a slash', { id: 'a/b', name: 'X' }, 'id'],
      ['a fractional id', { id: 12.5, name: 'X' }, 'id'],
      ['a null id', { id: null, name: 'X' }, 'id'],
      ['an id too long', { id: 'i'.repeat(101), name: 'X' }, 'id'],
      ['an unknown field', { name: 'X', phone: '123' }, 'phone'],
    ])('POST with %s → 400 naming the field, nothing created', async (_label, body, field) => {
      const before = await allLeads();
      const res = await http().post(LEADS).set(as('admin')).send(body);
      expect(res.status).toBe(400);
      expect(res.body.code).toBe('validation_failed');
      expect(Object.keys(res.body.errors)).toEqual([field]);
      expect(await allLeads()).toEqual(before);
    });

    it('GET an unknown lead → 404; another org’s → 404; a malformed id → 400', async () => {
      const unknown = await lead('ld_nobody');
      expect(unknown.status).toBe(404);
      expect(unknown.body).toMatchObject({ code: 'not_found', message: 'Lead not found' });
      expect((await lead('1234', 'outsider')).status).toBe(404);
      const malformed = await http().get(`${LEADS}/bad%20id`).set(as('admin'));
      expect(malformed.status).toBe(400);
      expect(Object.keys(malformed.body.errors)).toEqual(['id']);
    });
  });

  describe('list', () => {
    const listOrg = uniqueOrg('leads_list');
    const listTok = useTokens(t, { admin: [listOrg, 'adm', 'admin'], viewer: [listOrg, 'view', 'viewer'] });

    beforeAll(async () => {
      for (const body of [
        { id: 'k3', name: 'Cyan Person', email: 'hi@cyan.io', source: 'event' },
        { id: 'k1', name: 'Amber Person', company_name: 'Amber Inc', source: 'referral' },
        { id: 'k2', name: 'Beige Person', source: 'website' },
        { id: 'k0', name: 'Beige Person', company_name: '100% Beige' },
      ]) {
        expect((await http().post(LEADS).set(bearer(listTok.admin)).send(body)).status).toBe(201);
      }
    });

    const ids = (res: { body: { data: { id: string }[] } }) => res.body.data.map((x) => x.id);

    it('the org’s own leads only, by name then id, with the page envelope (viewers may read)', async () => {
      const res = await http().get(LEADS).set(bearer(listTok.viewer));
      expect(res.status).toBe(200);
      expect(ids(res)).toEqual(['k1', 'k0', 'k2', 'k3']);
      expect(res.body.meta).toEqual({ current_page: 1, per_page: 25, total: 4, last_page: 1 });
      expect(res.body.data[0]).toEqual({
        id: 'k1',
        name: 'Amber Person',
        company_name: 'Amber Inc',
        email: null,
        source: 'referral',
        created_at: expect.stringMatching(ISO_INSTANT),
        updated_at: expect.stringMatching(ISO_INSTANT),
      });
    });

    it('pages with page and per_page', async () => {
      const second = await http().get(`${LEADS}?page=2&per_page=3`).set(bearer(listTok.admin));
      expect(second.status).toBe(200);
      expect(ids(second)).toEqual(['k3']);
      expect(second.body.meta).toEqual({ current_page: 2, per_page: 3, total: 4, last_page: 2 });
      const past = await http().get(`${LEADS}?page=9&per_page=3`).set(bearer(listTok.admin));
      expect(past.body).toEqual({ data: [], meta: { current_page: 9, per_page: 3, total: 4, last_page: 2 } });
    });

    it('search matches name, company_name, email and source, case-insensitively; % is a literal', async () => {
      const search = async (term: string) =>
        ids(
          await http()
            .get(`${LEADS}?search=${encodeURIComponent(term)}`)
            .set(bearer(listTok.admin)),
        );
      expect(await search('AMBER')).toEqual(['k1']);
      expect(await search('cyan.io')).toEqual(['k3']);
      expect(await search('Webs')).toEqual(['k2']);
      expect(await search('beige')).toEqual(['k0', 'k2']);
      expect(await search('100%')).toEqual(['k0']);
      expect(await search('%')).toEqual(['k0']); // only the company name with a literal %
      expect(await search('_')).toEqual([]);
    });

    it.each([
      ['per_page=0', 'per_page'],
      ['per_page=101', 'per_page'],
      ['page=abc', 'page'],
      ['colour=blue', 'colour'],
    ])('GET ?%s → 400 naming the parameter', async (query, field) => {
      const res = await http().get(`${LEADS}?${query}`).set(bearer(listTok.admin));
      expect(res.status).toBe(400);
      expect(Object.keys(res.body.errors)).toEqual([field]);
    });
  });

  describe('update', () => {
    beforeAll(async () => {
      expect(
        (
          await http()
            .post(LEADS)
            .set(as('admin'))
            .send({ id: 'ld_patch', name: 'Before', company_name: 'Before Ltd', email: 'before@example.com', source: 'website' })
        ).status,
      ).toBe(201);
    });

    it('PATCH (rep may) changes the fields given and keeps the others; null clears an optional field', async () => {
      const before = (await lead('ld_patch')).body.data;
      const res = await http().patch(`${LEADS}/ld_patch`).set(as('rep')).send({ name: ' After ', source: 'event' });
      expect(res.status).toBe(200);
      expect(res.body.message).toBe('Lead updated successfully');
      expect(res.body.data).toEqual({
        ...before,
        name: 'After',
        source: 'event',
        updated_at: expect.stringMatching(ISO_INSTANT),
      });
      expect(Date.parse(res.body.data.updated_at)).toBeGreaterThanOrEqual(Date.parse(before.updated_at));
      expect((await lead('ld_patch')).body.data).toEqual(res.body.data);

      const cleared = await http().patch(`${LEADS}/ld_patch`).set(as('manager')).send({ email: null, company_name: null });
      expect(cleared.status).toBe(200);
      expect(cleared.body.data).toMatchObject({ name: 'After', company_name: null, email: null, source: 'event' });
    });

    it.each([
      ['a null name', { name: null }, 'name'],
      ['an empty name', { name: '' }, 'name'],
      ['a blank source', { source: ' ' }, 'source'],
      ['a bad email', { email: 'nope' }, 'email'],
      ['a source that is a list', { source: ['a'] }, 'source'],
      ['an id in the body', { id: 'ld_new' }, 'id'],
      ['an unknown field', { status: 'hot' }, 'status'],
    ])('PATCH with %s → 400 naming the field, nothing changes', async (_label, body, field) => {
      const before = (await lead('ld_patch')).body.data;
      const res = await http().patch(`${LEADS}/ld_patch`).set(as('admin')).send(body);
      expect(res.status).toBe(400);
      expect(Object.keys(res.body.errors)).toEqual([field]);
      expect((await lead('ld_patch')).body.data).toEqual(before);
      expect((await lead('ld_new')).status).toBe(404);
    });

    it('PATCH an unknown lead → 404 (nothing created); another org’s → 404 and it is unchanged; a malformed id → 400', async () => {
      const unknown = await http().patch(`${LEADS}/ld_ghost`).set(as('admin')).send({ name: 'Ghost' });
      expect(unknown.status).toBe(404);
      expect(unknown.body.code).toBe('not_found');
      expect((await lead('ld_ghost')).status).toBe(404);
      const theirs = (await lead('ld_web.7', 'outsider')).body.data;
      expect((await http().patch(`${LEADS}/ld_web.7`).set(as('admin')).send({ name: 'Hijack' })).status).toBe(200); // our own ld_web.7
      expect((await lead('ld_web.7', 'outsider')).body.data).toEqual(theirs);
      expect((await http().patch(`${LEADS}/1234`).set(as('outsider')).send({ name: 'Hijack' })).status).toBe(404);
      expect((await lead('1234')).body.data.name).toBe('Jane Roe');
      expect((await http().patch(`${LEADS}/a%2Fb`).set(as('admin')).send({ name: 'X' })).status).toBe(400);
    });
  });

  describe('roles', () => {
    it('a viewer may not create: 403, nothing created', async () => {
      const before = await allLeads();
      const res = await http().post(LEADS).set(as('viewer')).send({ id: 'ld_viewer', name: 'Nope' });
      expect(res.status).toBe(403);
      expect(res.body.code).toBe('forbidden');
      expect((await lead('ld_viewer')).status).toBe(404);
      expect(await allLeads()).toEqual(before);
    });

    it('a viewer may not update: 403, nothing changes', async () => {
      const before = (await lead('1234')).body.data;
      const res = await http().patch(`${LEADS}/1234`).set(as('viewer')).send({ source: 'cold_call' });
      expect(res.status).toBe(403);
      expect(res.body.code).toBe('forbidden');
      expect((await lead('1234')).body.data).toEqual(before);
    });

    it('a viewer reads the list and a lead; every write role may create', async () => {
      expect((await http().get(LEADS).set(as('viewer'))).status).toBe(200);
      expect((await lead('1234', 'viewer')).status).toBe(200);
      for (const who of ['admin', 'manager', 'rep'] as const) {
        expect(
          (
            await http()
              .post(LEADS)
              .set(as(who))
              .send({ id: `ld_by_${who}`, name: who })
          ).status,
        ).toBe(201);
      }
    });

    it('without a token → 401', async () => {
      expect((await http().get(LEADS)).status).toBe(401);
      expect((await http().post(LEADS).send({ name: 'Anon' })).status).toBe(401);
    });
  });

  describe('includes=lead on deals', () => {
    let known: string;
    let unknown: string;
    let none: string;
    let foreignOnly: string;

    beforeAll(async () => {
      expect(
        (await http().post(LEADS).set(as('admin')).send({ id: 'ld_inc', name: 'Included', email: 'inc@example.com', source: 'referral' }))
          .status,
      ).toBe(201);
      expect((await http().post(LEADS).set(as('outsider')).send({ id: 'ld_theirs', name: 'Theirs', email: 't@other.test' })).status).toBe(
        201,
      );
      known = (await createDeal(t, tok.manager, { name: 'Known lead', lead_id: 'ld_inc' })).id;
      unknown = (await createDeal(t, tok.manager, { name: 'Unknown lead', lead_id: 'ld_not_in_directory' })).id;
      none = (await createDeal(t, tok.manager, { name: 'No lead' })).id;
      foreignOnly = (await createDeal(t, tok.manager, { name: 'Foreign lead', lead_id: 'ld_theirs' })).id;
    });

    it('the detail renders {id, email, source} from the directory, and only when asked', async () => {
      const res = await http().get(`${OPPS}/${known}?includes=lead`).set(as('viewer'));
      expect(res.status).toBe(200);
      expect(res.body.data.lead_id).toBe('ld_inc');
      expect(res.body.data.lead).toEqual({ id: 'ld_inc', email: 'inc@example.com', source: 'referral' });
      const plain = await http().get(`${OPPS}/${known}`).set(as('viewer'));
      expect(plain.body.data).not.toHaveProperty('lead');
      expect(plain.body.data.lead_id).toBe('ld_inc');
    });

    it('the contract’s example: a deal whose lead_id is the integer 1234', async () => {
      const { id } = await createDeal(t, tok.manager, { name: 'Contract deal', lead_id: 1234 });
      const res = await http().get(`${OPPS}/${id}?includes=customer,lead`).set(as('manager'));
      expect(res.status).toBe(200);
      expect(res.body.data.lead).toEqual({ id: '1234', email: 'contact@acmecorp.com', source: 'referral' });
    });

    it('a lead the directory does not have is {id} alone; another org’s lead is not shown; no lead is null', async () => {
      const missing = await http().get(`${OPPS}/${unknown}?includes=lead`).set(as('manager'));
      expect(missing.status).toBe(200);
      expect(missing.body.data.lead).toEqual({ id: 'ld_not_in_directory' });
      const foreign = await http().get(`${OPPS}/${foreignOnly}?includes=lead`).set(as('manager'));
      expect(foreign.body.data.lead).toEqual({ id: 'ld_theirs' });
      const without = await http().get(`${OPPS}/${none}?includes=lead`).set(as('manager'));
      expect(without.body.data.lead_id).toBeNull();
      expect(without.body.data.lead).toBeNull();
    });

    it('a change to the lead shows in the next detail; so does a lead added to the directory later', async () => {
      expect((await http().patch(`${LEADS}/ld_inc`).set(as('rep')).send({ email: 'new@example.com', source: 'event' })).status).toBe(200);
      const res = await http().get(`${OPPS}/${known}?includes=lead`).set(as('manager'));
      expect(res.body.data.lead).toEqual({ id: 'ld_inc', email: 'new@example.com', source: 'event' });

      expect(
        (await http().post(LEADS).set(as('manager')).send({ id: 'ld_not_in_directory', name: 'Late', source: 'website' })).status,
      ).toBe(201);
      const late = await http().get(`${OPPS}/${unknown}?includes=lead`).set(as('manager'));
      expect(late.body.data.lead).toEqual({ id: 'ld_not_in_directory', email: null, source: 'website' });
    });

    it('as_of renders the lead too (today’s directory record)', async () => {
      const res = await http()
        .get(`${OPPS}/${known}?includes=lead&as_of=${encodeURIComponent(new Date().toISOString())}`)
        .set(as('manager'));
      expect(res.status).toBe(200);
      expect(res.body.data.lead).toEqual({ id: 'ld_inc', email: 'new@example.com', source: 'event' });
    });

    it('another org cannot read the deal at all', async () => {
      expect((await http().get(`${OPPS}/${known}?includes=lead`).set(as('outsider'))).status).toBe(404);
    });

    it('the list with includes=lead renders each deal’s lead from the directory as the detail does (null without one), and omits it when not asked', async () => {
      const res = await http().get(`${OPPS}?includes=lead&sort_by=name&sort_direction=asc&search=lead`).set(as('manager'));
      expect(res.status).toBe(200);
      const byName = Object.fromEntries(res.body.data.map((d: { name: string; lead: unknown }) => [d.name, d.lead]));
      // Rendered from the directory, as the detail does (both leads were changed or added by the test above).
      expect(byName['Known lead']).toEqual({ id: 'ld_inc', email: 'new@example.com', source: 'event' });
      expect(byName['Unknown lead']).toEqual({ id: 'ld_not_in_directory', email: null, source: 'website' });
      expect(byName['No lead']).toBeNull();
      expect(byName['Foreign lead']).toEqual({ id: 'ld_theirs' }); // another org's lead is not shown
      const plain = await http().get(`${OPPS}?search=lead`).set(as('manager'));
      expect(plain.body.data.length).toBeGreaterThan(0);
      for (const d of plain.body.data) expect(d).not.toHaveProperty('lead');
    });
  });
});
