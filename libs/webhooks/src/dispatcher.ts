import { Logger } from '@nestjs/common';
import { type Kysely, sql } from 'kysely';
import { randomUUID } from 'node:crypto';
import { Agent, request } from 'undici';
import { Waiter } from '@app/event-store';
import type { AppConfig } from '@app/platform';
import { type AddressPolicy } from './address-policy';
import { TEST_EVENT_TYPE } from './payload';
import { nextDelaySeconds, parseRetryAfter } from './schedule';
import { signatureHeader } from './signing';
import type { WebhookTables } from './tables';

export interface DispatcherOptions {
  timeoutMs: number;
  /**
   * Seconds to wait after failed attempt 1, 2, …; exhausted → that message failed, endpoint
   * disabled (its other messages stay pending until it is enabled again).
   */
  retrySchedule: number[];
  pollMs: number;
  /** Messages claimed per round; each claim is a lease, so a crashed worker's messages come back. */
  batchSize: number;
  leaseSeconds: number;
  concurrency: number;
}

export interface AttemptResult {
  webhook_id: string;
  attempt: number;
  delivered: boolean;
  status_code: number | null;
  latency_ms: number;
  error: string | null;
}

/** A due message with what sending it takes from its endpoint. */
type Claimed = Awaited<ReturnType<WebhookDispatcher['load']>>[number];

const EXCERPT_BYTES = 1024;

/** Dispatcher settings from the service configuration (the lease outlives a timed-out attempt). */
export function dispatcherOptionsFrom(config: AppConfig): DispatcherOptions {
  return {
    timeoutMs: config.webhookTimeoutMs,
    retrySchedule: config.webhookRetrySchedule,
    pollMs: config.webhookPollMs,
    batchSize: 50,
    leaseSeconds: Math.ceil(config.webhookTimeoutMs / 1000) * 2 + 30,
    concurrency: 8,
  };
}

/**
 * Delivers outbox messages (at least once). Workers claim due messages with
 * FOR UPDATE SKIP LOCKED and a lease, so several share the work and none is lost if one dies.
 */
export class WebhookDispatcher {
  private readonly logger = new Logger('Webhooks');
  private readonly agent: Agent;
  private readonly waiter = new Waiter();
  private loop: Promise<void> | null = null;
  private stopping = false;
  /** Called after every attempt (metrics). */
  onOutcome: ((outcome: 'delivered' | 'retried' | 'failed') => void) | null = null;

  constructor(
    private readonly db: Kysely<WebhookTables>,
    private readonly policy: AddressPolicy,
    private readonly options: DispatcherOptions,
  ) {
    this.agent = new Agent({ connect: { lookup: policy.lookup as never, timeout: options.timeoutMs } });
  }

  start(): void {
    this.stopping = false;
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.wake();
    await this.loop;
    this.loop = null;
    await this.agent.close();
  }

  /** New messages may be due (the outbox projector just committed). */
  wake(): void {
    this.waiter.wake();
  }

  /** Claims and delivers due messages until none is due; returns how many were attempted. */
  async drain(): Promise<number> {
    let total = 0;
    for (;;) {
      const claimed = await this.claim();
      if (claimed.length === 0) return total;
      total += claimed.length;
      await this.deliverAll(claimed);
    }
  }

  /** Sends a signed webhook.test message now and reports the attempt. */
  async sendTest(orgId: string, endpointId: string): Promise<AttemptResult> {
    const id = `msg_${randomUUID().replace(/-/g, '')}`;
    const body = JSON.stringify({
      type: TEST_EVENT_TYPE,
      timestamp: new Date().toISOString(),
      data: { endpoint_id: endpointId, message: 'Test ping' },
    });
    await this.db
      .insertInto('webhook_messages')
      .values({ id, org_id: orgId, endpoint_id: endpointId, event_type: TEST_EVENT_TYPE, body, status: 'pending', next_attempt_at: null })
      .execute();
    const [message] = await this.load([id]);
    return this.deliver(message, { retry: false });
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      let attempted = 0;
      try {
        attempted = await this.drain();
      } catch (error) {
        this.logger.warn(`Webhook dispatch round failed: ${error instanceof Error ? error.message : String(error)}`);
      }
      if (attempted === 0 && !this.stopping) await this.sleep(this.options.pollMs);
    }
  }

  private async claim(): Promise<Claimed[]> {
    // A disabled endpoint's messages are not claimed: they stay pending, untouched, until it is
    // enabled again. A deleted endpoint's are, to be failed.
    const { rows } = await sql<{ id: string }>`
      with due as (
        select m.id from webhook_messages m
        join webhook_endpoints e on e.id = m.endpoint_id
        where m.status = 'pending' and m.next_attempt_at <= now()
          and (e.enabled or e.deleted_at is not null)
        order by m.next_attempt_at
        limit ${this.options.batchSize}
        for update of m skip locked
      )
      update webhook_messages m
      set next_attempt_at = now() + make_interval(secs => ${this.options.leaseSeconds})
      from due where m.id = due.id
      returning m.id`.execute(this.db);
    return rows.length ? this.load(rows.map((r) => r.id)) : [];
  }

  private load(ids: string[]) {
    return this.db
      .selectFrom('webhook_messages as m')
      .innerJoin('webhook_endpoints as e', 'e.id', 'm.endpoint_id')
      .select([
        'm.id',
        'm.endpoint_id',
        'm.body',
        'm.attempts',
        'm.total_attempts',
        'e.url',
        'e.secret',
        'e.previous_secret',
        'e.previous_secret_expires_at',
        'e.enabled',
        'e.deleted_at',
      ])
      .where('m.id', 'in', ids)
      .execute();
  }

  private async deliverAll(messages: Claimed[]): Promise<void> {
    const queue = [...messages];
    // Endpoints this batch disabled: their messages loaded with it are not sent either.
    const disabled = new Set<string>();
    const workers = Array.from({ length: Math.min(this.options.concurrency, queue.length) }, async () => {
      for (let m = queue.shift(); m; m = queue.shift()) await this.deliver(m, { retry: true, disabled });
    });
    await Promise.all(workers);
  }

  private async deliver(m: Claimed, { retry, disabled }: { retry: boolean; disabled?: Set<string> }): Promise<AttemptResult> {
    const attempt = m.attempts + 1;
    const logNumber = m.total_attempts + 1;
    const skipped = (error: string): AttemptResult => ({
      webhook_id: m.id,
      attempt: logNumber - 1,
      delivered: false,
      status_code: null,
      latency_ms: 0,
      error,
    });
    if (m.deleted_at) {
      await this.finish(m.id, 'failed', m.attempts, null, false);
      return skipped('endpoint deleted');
    }
    if (retry && (!m.enabled || disabled?.has(m.endpoint_id))) {
      // Disabled after the claim: give the lease back. The message keeps its place in the retry
      // schedule and is sent once the endpoint is enabled again (the claim skips it until then).
      await this.db
        .updateTable('webhook_messages')
        .set({ next_attempt_at: sql`now()` })
        .where('id', '=', m.id)
        .execute();
      return skipped('endpoint disabled; the message waits until it is enabled again');
    }
    const secrets = [m.secret];
    if (m.previous_secret && m.previous_secret_expires_at && m.previous_secret_expires_at.getTime() > Date.now()) {
      secrets.push(m.previous_secret); // rotation overlap: receivers holding either secret verify
    }
    const timestamp = Math.floor(Date.now() / 1000);
    const started = Date.now();
    let status: number | null = null;
    let excerpt: string | null = null;
    let error: string | null = null;
    let retryAfter: number | null = null;
    try {
      const url = new URL(m.url);
      this.policy.assertLiteralAllowed(url);
      const response = await request(url, {
        method: 'POST',
        dispatcher: this.agent,
        headers: {
          'content-type': 'application/json',
          'user-agent': 'opportunity-pipeline-webhooks/1',
          'webhook-id': m.id,
          'webhook-timestamp': String(timestamp),
          'webhook-signature': signatureHeader(secrets, m.id, timestamp, m.body),
        },
        body: m.body,
        headersTimeout: this.options.timeoutMs,
        bodyTimeout: this.options.timeoutMs,
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
      status = response.statusCode;
      retryAfter = parseRetryAfter(response.headers['retry-after']);
      excerpt = await readExcerpt(response.body);
    } catch (e) {
      error = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    }
    const latency = Date.now() - started;
    await this.db
      .insertInto('webhook_attempts')
      .values({
        message_id: m.id,
        attempt: logNumber,
        attempted_at: new Date(started),
        status_code: status,
        latency_ms: latency,
        response_excerpt: excerpt,
        error,
      })
      .execute();
    const delivered = status !== null && status >= 200 && status < 300;
    if (delivered) {
      this.onOutcome?.('delivered');
      await this.finish(m.id, 'delivered', attempt, status);
    } else if (status === 410) {
      this.onOutcome?.('failed');
      await this.finish(m.id, 'failed', attempt, status);
      await this.disable(m.endpoint_id, 'the endpoint answered 410 Gone', disabled);
    } else if (!retry) {
      await this.finish(m.id, 'failed', attempt, status);
    } else {
      const delay = nextDelaySeconds(attempt, this.options.retrySchedule, retryAfter);
      if (delay === null) {
        this.onOutcome?.('failed');
        await this.finish(m.id, 'failed', attempt, status);
        await this.disable(m.endpoint_id, `retry schedule exhausted (${attempt} attempts)`, disabled);
      } else {
        this.onOutcome?.('retried');
        await this.db
          .updateTable('webhook_messages')
          .set({
            attempts: attempt,
            total_attempts: sql`total_attempts + 1`,
            last_attempt_at: new Date(started),
            last_status_code: status,
            next_attempt_at: sql`now() + make_interval(secs => ${delay})`,
          })
          .where('id', '=', m.id)
          .execute();
      }
    }
    return { webhook_id: m.id, attempt: logNumber, delivered, status_code: status, latency_ms: latency, error };
  }

  private async finish(id: string, status: 'delivered' | 'failed', attempts: number, code: number | null, attempted = true): Promise<void> {
    await this.db
      .updateTable('webhook_messages')
      .set({
        status,
        attempts,
        ...(attempted ? { total_attempts: sql`total_attempts + 1` } : {}),
        last_attempt_at: sql`now()`,
        last_status_code: code,
        next_attempt_at: null,
        ...(status === 'delivered' ? { delivered_at: sql`now()` } : {}),
      })
      .where('id', '=', id)
      .execute();
  }

  /** Only this endpoint stops: its other pending messages wait (see claim) instead of failing. */
  private async disable(endpointId: string, reason: string, disabled?: Set<string>): Promise<void> {
    disabled?.add(endpointId);
    this.logger.warn(`Webhook endpoint ${endpointId} disabled: ${reason}`);
    await this.db
      .updateTable('webhook_endpoints')
      .set({ enabled: false, disabled_reason: reason, updated_at: sql`now()` })
      .where('id', '=', endpointId)
      .execute();
  }

  private sleep(ms: number): Promise<void> {
    return this.waiter.sleep(ms);
  }
}

async function readExcerpt(body: AsyncIterable<Buffer | string> & { dump?: () => Promise<void> }): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    if (size < EXCERPT_BYTES) chunks.push(buffer);
    size += buffer.length;
  }
  return Buffer.concat(chunks).subarray(0, EXCERPT_BYTES).toString('utf8');
}
