import { describeEachBackend, useTestApp, useTokens } from '../support/test-app';
import { bearer, dealBody, OPPS, uniqueOrg } from './helpers';

/**
 * A deal may be worth up to 9,999,999,999,999.99; eleven of them sum to 10,999,999,999,999,989
 * cents, past 2^53, where a JS number loses the last cent. Every total the API forms is exact.
 */
describeEachBackend('totals past 2^53 cents (%s)', (backend) => {
  const t = useTestApp(backend);
  const org = uniqueOrg('exact');
  const tok = useTokens(t, { manager: [org, 'mgr_1', 'manager'] });
  let head: string;
  const MAX = '9999999999999.99';
  const ELEVEN = '109999999999999.89';

  beforeAll(async () => {
    for (let i = 0; i < 11; i++) {
      const res = await t
        .http()
        .post(OPPS)
        .set(bearer(tok.manager))
        .send(dealBody({ name: `Max ${i}`, value: MAX, stage: 'verbal_commitment', probability: 100, expected_close_date: '2031-02-14' }));
      expect(res.status).toBe(201);
      head = res.headers['x-global-position'];
    }
  });

  /** The raw response text: JSON.parse would round the number back to a double. */
  const raw = async (url: string) => {
    const res = await t.http().get(url).set(bearer(tok.manager)).set('X-Consistency-Token', head);
    expect(res.status).toBe(200);
    return res.text;
  };

  it('list summary: total_value and total_weighted_value to the cent (and the average)', async () => {
    const text = await raw(`${OPPS}?per_page=1`);
    expect(text).toContain(`"total_value":${ELEVEN}`);
    expect(text).toContain(`"total_weighted_value":${ELEVEN}`);
    expect(text).toContain(`"average_deal_size":${MAX}`);
  });

  it('list summary through a filter the pre-aggregates cannot answer (the deals table itself)', async () => {
    const text = await raw(`${OPPS}?per_page=1&search=Max`);
    expect(text).toContain(`"total_value":${ELEVEN}`);
  });

  it('stats: total_value and weighted_value', async () => {
    const text = await raw(`${OPPS}/stats`);
    expect(text).toContain(`"total_value":${ELEVEN}`);
    expect(text).toContain(`"weighted_value":${ELEVEN}`);
  });

  it('pipeline-data: the stage total and the pipeline total', async () => {
    const text = await raw(`${OPPS}/pipeline-data`);
    expect(text).toContain(`"total_value":${ELEVEN}`);
    expect(text).toContain(`"total_pipeline_value":${ELEVEN}`);
  });

  it('monthly forecast: the month and the totals', async () => {
    const text = await raw(`${OPPS}/forecast/monthly`);
    expect(text).toContain(`"unweighted":${ELEVEN}`);
    expect(text).toMatch(new RegExp(`"totals":\\{"unweighted":${ELEVEN.replace('.', '\\.')}`));
  });

  it('quarterly forecast: the pipeline category', async () => {
    const text = await raw(`${OPPS}/forecast?quarter=Q1&year=2031`);
    expect(text).toContain(`"unweighted_value":${ELEVEN}`);
  });
});
