import type { Kysely } from 'kysely';
import type { RecordedEvent } from '@app/event-store';
import type { ReadModelTables } from '../tables';

/**
 * A read model fed from the global log. Batches run in one transaction with the checkpoint, on a
 * handle that may be confined to a schema of its own (a rebuild): write through `trx`, with fixed
 * table names.
 */
export interface Projection {
  readonly name: string;
  /** Apply events in commit order. Must be idempotent per stream version (rows keep last_version). */
  applyBatch(trx: Kysely<ReadModelTables>, events: RecordedEvent[]): Promise<void>;
}
