import { type Kysely } from 'kysely';
import { DomainError } from '@app/domain';
import type { EventStore } from '@app/event-store';
import type { ProjectionRunner } from './projector/projection-runner';

export interface ConsistencyReport {
  /** The position the caller asked to see (or the session's last write). */
  requested_position: string | null;
  reached: boolean;
  /** Lowest position the read models have applied. */
  projection_position: string;
  /** How many positions the slowest read model is still behind the requested one (0 when reached). */
  behind_by: number;
  waited_ms: number;
}

const POLL_MS = 20;
const SESSION_LIMIT = 10_000;

/**
 * Read-your-writes: a query waits (bounded) until the read models have applied the position a
 * command returned. The position comes from the caller (X-Consistency-Token or ?consistency=)
 * or, within this process, from the org's latest command, so everyone in an org reads what
 * anyone in it just wrote through this process.
 */
export class ConsistencyService {
  private readonly sessions = new Map<string, string>();

  constructor(
    private readonly db: Kysely<any>,
    private readonly store: EventStore,
    private readonly runner: ProjectionRunner | null,
    private readonly timeoutMs: number,
  ) {}

  remember(sessionKey: string, position: string): void {
    this.sessions.delete(sessionKey);
    this.sessions.set(sessionKey, position);
    if (this.sessions.size > SESSION_LIMIT) this.sessions.delete(this.sessions.keys().next().value!);
  }

  async waitFor(explicit: string | undefined, sessionKey: string | undefined, projections: string[]): Promise<ConsistencyReport> {
    if (explicit !== undefined && !/^\d{1,20}$/.test(explicit)) {
      throw DomainError.validation({ consistency: ['consistency must be a position returned in X-Global-Position'] });
    }
    const requested = explicit ?? (sessionKey ? this.sessions.get(sessionKey) : undefined) ?? null;
    const started = Date.now();
    if (requested === null) return this.report(null, true, await this.lowest(projections), started);
    const target = await this.store.checkpointAt(requested);
    if (target === null) {
      if (explicit !== undefined) throw DomainError.validation({ consistency: ['no event has this position'] });
      return this.report(requested, true, await this.lowest(projections), started);
    }
    for (;;) {
      const checkpoints = await this.checkpoints(projections);
      const reached = checkpoints.every((c) => this.store.compareCheckpoints(c.checkpoint, target) >= 0);
      const lowest = checkpoints.reduce((m, c) => (BigInt(c.position) < BigInt(m) ? c.position : m), checkpoints[0]?.position ?? '0');
      if (reached || Date.now() - started >= this.timeoutMs) return this.report(requested, reached, lowest, started);
      await this.nextProgress();
    }
  }

  private report(requested: string | null, reached: boolean, lowest: string, started: number): ConsistencyReport {
    const behind = requested && !reached ? Math.max(0, Number(BigInt(requested) - BigInt(lowest))) : 0;
    return { requested_position: requested, reached, projection_position: lowest, behind_by: behind, waited_ms: Date.now() - started };
  }

  private async lowest(projections: string[]): Promise<string> {
    const checkpoints = await this.checkpoints(projections);
    return checkpoints.reduce((m, c) => (BigInt(c.position) < BigInt(m) ? c.position : m), checkpoints[0]?.position ?? '0');
  }

  private async checkpoints(projections: string[]): Promise<{ checkpoint: string | null; position: string }[]> {
    const rows = await this.db
      .selectFrom('projection_checkpoints')
      .select(['checkpoint', 'position'])
      .where('projection', 'in', projections)
      .execute();
    return rows.map((r) => ({ checkpoint: r.checkpoint, position: String(r.position) }));
  }

  /** The in-process projector announces each batch; another process is polled. */
  private nextProgress(): Promise<void> {
    return new Promise((resolve) => {
      const off = this.runner?.onProgress(done);
      const timer = setTimeout(done, POLL_MS);
      function done() {
        clearTimeout(timer);
        off?.();
        resolve();
      }
    });
  }
}
