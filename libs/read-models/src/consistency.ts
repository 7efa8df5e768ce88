import { type Kysely } from 'kysely';
import { DomainError } from '@app/domain';
import type { EventStore } from '@app/event-store';
import type { ProjectionRunner } from './projector/projection-runner';
import type { ReadModelTables } from './tables';

export interface ConsistencyReport {
  /** The position the caller asked to see (or the session's last write). */
  requested_position: string | null;
  reached: boolean;
  /** Lowest position the read models have applied. */
  projection_position: string;
  /** How many events the slowest read model has still to apply up to the requested one (0 when reached), counted by the event store. */
  behind_by: number;
  waited_ms: number;
}

const POLL_MS = 20;

interface Applied {
  checkpoint: string | null;
  position: string;
}
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
    private readonly db: Kysely<ReadModelTables>,
    private readonly store: EventStore,
    private readonly runner: ProjectionRunner | null,
    private readonly timeoutMs: number,
  ) {}

  /**
   * The session's latest write. Positions may arrive out of order (concurrent commands): the
   * highest stays (global positions grow with the log). Either way the session is now the most
   * recently written one.
   */
  remember(sessionKey: string, position: string): void {
    const known = this.sessions.get(sessionKey);
    this.sessions.delete(sessionKey);
    this.sessions.set(sessionKey, known !== undefined && BigInt(known) > BigInt(position) ? known : position);
    if (this.sessions.size > SESSION_LIMIT) this.sessions.delete(this.sessions.keys().next().value!);
  }

  async waitFor(explicit: string | undefined, sessionKey: string | undefined, projections: string[]): Promise<ConsistencyReport> {
    if (explicit !== undefined && !/^\d{1,20}$/.test(explicit)) {
      throw DomainError.validation({ consistency: ['consistency must be a position returned in X-Global-Position'] });
    }
    const requested = explicit ?? (sessionKey ? this.sessions.get(sessionKey) : undefined) ?? null;
    const started = Date.now();
    if (requested === null) return this.report(null, true, await this.applied(projections), started);
    const target = await this.store.checkpointAt(requested);
    if (target === null) {
      if (explicit !== undefined) throw DomainError.validation({ consistency: ['no event has this position'] });
      return this.report(requested, true, await this.applied(projections), started);
    }
    for (;;) {
      const applied = await this.applied(projections);
      const reached = applied.every((c) => this.store.compareCheckpoints(c.checkpoint, target) >= 0);
      if (reached || Date.now() - started >= this.timeoutMs) {
        const behind = reached ? 0 : await this.store.behindBy(this.slowest(applied), { upTo: target });
        return this.report(requested, reached, applied, started, behind);
      }
      await this.nextProgress();
    }
  }

  private report(requested: string | null, reached: boolean, applied: Applied[], started: number, behind = 0): ConsistencyReport {
    const lowest = applied.reduce((m, c) => (BigInt(c.position) < BigInt(m) ? c.position : m), applied[0]?.position ?? '0');
    return { requested_position: requested, reached, projection_position: lowest, behind_by: behind, waited_ms: Date.now() - started };
  }

  /** The checkpoint of the read model furthest behind (null: one has applied nothing yet). */
  private slowest(applied: Applied[]): string | null {
    return applied.reduce<string | null>(
      (m, c) => (this.store.compareCheckpoints(c.checkpoint, m) < 0 ? c.checkpoint : m),
      applied[0]?.checkpoint ?? null,
    );
  }

  private async applied(projections: string[]): Promise<Applied[]> {
    return this.db.selectFrom('projection_checkpoints').select(['checkpoint', 'position']).where('projection', 'in', projections).execute();
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
