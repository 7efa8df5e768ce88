import type { Kysely } from 'kysely';
import type { RecordedEvent } from '@app/event-store';
import type { ReadModelTables } from '../tables';
import type { TableRows } from './copy-rows';

/**
 * A read model fed from the global log. Batches run in one transaction with the checkpoint, on a
 * handle that may be confined to a schema of its own (a rebuild): write through `trx`, with fixed
 * table names.
 */
export interface Projection {
  readonly name: string;
  /** Apply events in commit order. Must be idempotent per stream version (rows keep last_version). */
  applyBatch(trx: Kysely<ReadModelTables>, events: RecordedEvent[]): Promise<void>;
  /**
   * A rebuild from the whole log that keeps its state in memory and produces each row once (for
   * COPY into empty tables), instead of reading rows back and rewriting them batch by batch. Its
   * result must equal what applyBatch makes of the same events.
   */
  rebuild?(): ProjectionRebuild;
  /**
   * Tables of running sums (one row per group): a partitioned rebuild gets rows of the same group
   * from several passes, and adds them up by `key` before writing.
   */
  readonly summedTables?: Readonly<Record<string, SummedTable>>;
}

export interface SummedTable {
  key: readonly string[];
  sums: readonly string[];
}

/**
 * Events of the log in commit order go to `add`, page by page (only the streams of one partition,
 * when the rebuild is partitioned: every event of a stream lands in the same one). Rows that can no
 * longer change may be returned as they become final; `finish` returns the rest. Any error thrown
 * makes the caller fall back to applyBatch, which sets failing events aside one by one.
 */
export interface ProjectionRebuild {
  add(events: RecordedEvent[]): TableRows;
  finish(): TableRows;
}
