import type { Kysely } from 'kysely';
import type { RecordedEvent } from '@app/event-store';

/** A read model fed from the global log. Batches run in one transaction with the checkpoint. */
export interface Projection {
  readonly name: string;
  /** Apply events in commit order. Must be idempotent per stream version (rows keep last_version). */
  applyBatch(trx: Kysely<any>, events: RecordedEvent[]): Promise<void>;
  /** Empty the read model (rebuild from the start). */
  reset(trx: Kysely<any>): Promise<void>;
}
