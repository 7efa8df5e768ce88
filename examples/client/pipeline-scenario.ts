/**
 * The main pipeline scenario through a client generated from the OpenAPI document:
 * `schema.d.ts` is what openapi-typescript makes of /api/v1/crm/docs-json (npm run client:generate),
 * and openapi-fetch types every path, parameter, body and response from it. Compiled with
 * `tsc --strict` (examples/client/tsconfig.json) and run against the real API by the e2e suites.
 *
 *   API_URL=http://localhost:3000 API_TOKEN=opp_… node dist/examples/client/pipeline-scenario.js
 */
import createClient from 'openapi-fetch';
import type { paths } from './schema';

export interface ScenarioResult {
  dealId: string;
  stages: string[];
  wonValue: number;
  skipStatus: number;
  skipCode: string;
  listed: number;
  /** Null when the matches are in several currencies, which do not add up. */
  listTotalValue: number | null;
  forecastPeriod: string;
  closedWon: { count: number; value: number };
}

function must<T>(result: { data?: T; error?: unknown; response: Response }, what: string): T {
  if (result.data === undefined) throw new Error(`${what}: ${result.response.status} ${JSON.stringify(result.error)}`);
  return result.data;
}

function quarterOf(date: Date): { quarter: string; year: string } {
  return { quarter: `Q${Math.floor(date.getUTCMonth() / 3) + 1}`, year: String(date.getUTCFullYear()) };
}

export async function runPipelineScenario(baseUrl: string, token: string): Promise<ScenarioResult> {
  const api = createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${token}` } });

  // A deal in the first stage of the default pipeline.
  const created = await api.POST('/api/v1/crm/opportunities', {
    body: {
      name: 'Acme Corp - Platform Expansion',
      customer_id: 568,
      value: 150000,
      expected_close_date: '2027-03-31',
      priority: 'high',
      tags: ['example', 'enterprise'],
    },
  });
  const deal = must(created, 'create').data;
  const id = deal.id;
  const stages = [deal.stage];

  // Forward one stage at a time, five times: prospecting → … → verbal_commitment.
  for (let i = 0; i < 5; i++) {
    const next = await api.POST('/api/v1/crm/opportunities/{id}/stage/next', { params: { path: { id } }, body: {} });
    stages.push(must(next, 'stage/next').data.stage);
  }

  const won = await api.POST('/api/v1/crm/opportunities/{id}/win', {
    params: { path: { id } },
    body: { close_reason: 'Signed after the steering committee' },
  });
  const win = must(won, 'win').data;
  stages.push(win.stage);
  const position = won.response.headers.get('X-Global-Position') ?? undefined;

  // Skipping stages is refused by the default pipeline's policy: a 422 problem, the deal unchanged.
  const other = must(
    await api.POST('/api/v1/crm/opportunities', {
      body: { name: 'Skipper', customer_id: '569', value: '1200.50', expected_close_date: '2027-06-30' },
    }),
    'create',
  ).data;
  const skip = await api.PATCH('/api/v1/crm/opportunities/{id}/stage', { params: { path: { id: other.id } }, body: { stage: 'proposal' } });
  if (!skip.error) throw new Error('a skip from prospecting to proposal was accepted');

  // The list with filters, read at least as fresh as the win.
  const list = await api.GET('/api/v1/crm/opportunities', {
    params: { query: { status: 'won', tags: 'example', min_value: '1000', consistency: position, per_page: '10' } },
  });
  const page = must(list, 'list');

  const forecast = await api.GET('/api/v1/crm/opportunities/forecast', {
    params: { query: { ...quarterOf(new Date()), consistency: position } },
  });
  const data = must(forecast, 'forecast').data;

  return {
    dealId: id,
    stages,
    wonValue: win.actual_value,
    skipStatus: skip.response.status,
    skipCode: skip.error.code,
    listed: page.data.length,
    listTotalValue: page.summary.total_value,
    forecastPeriod: data.period,
    closedWon: { count: data.forecast_categories.closed_won.count, value: data.forecast_categories.closed_won.value },
  };
}

if (require.main === module) {
  const url = process.env.API_URL ?? 'http://localhost:3000';
  const token = process.env.API_TOKEN;
  if (!token) {
    process.stderr.write('Set API_TOKEN to a manager or admin token (npm start prints an admin token on first start)\n');
    process.exit(2);
  }
  runPipelineScenario(url, token).then(
    (result) => process.stdout.write(`${JSON.stringify(result)}\n`),
    (error: unknown) => {
      process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    },
  );
}
