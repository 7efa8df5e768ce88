import { type Kysely } from 'kysely';
import { initialPipelineState, parseStreamName, PIPELINE_EVENT_TYPES, type PipelineState, foldStoredPipeline } from '@app/domain';
import type { RecordedEvent } from '@app/event-store';
import type { Projection } from '../projector/projection';
import type { ReadModelTables } from '../tables';

const HANDLED = new Set<string>(PIPELINE_EVENT_TYPES);

/** The org's pipelines for listing (a pipeline's rules are read from its stream when deciding). */
export class PipelinesProjection implements Projection {
  static readonly NAME = 'pipelines';
  static readonly TABLES = ['pipelines'] as const;
  readonly name = PipelinesProjection.NAME;

  async applyBatch(trx: Kysely<ReadModelTables>, events: RecordedEvent[]): Promise<void> {
    for (const e of events) {
      const name = parseStreamName(e.streamId);
      if (name?.category !== 'pipeline' || !HANDLED.has(e.type)) continue;
      const { orgId, id } = name;
      const row = await trx
        .selectFrom('pipelines')
        .select(['definition', 'version', 'deleted_at'])
        .where('org_id', '=', orgId)
        .where('id', '=', id)
        .executeTakeFirst();
      const version = row ? Number(row.version) : 0;
      if (e.streamVersion <= version) continue;
      const state: PipelineState = row
        ? {
            version,
            exists: true,
            deleted: row.deleted_at !== null,
            pipeline: row.definition,
          }
        : initialPipelineState(id);
      const next = foldStoredPipeline(id, [e], state);
      const values = {
        org_id: orgId,
        id,
        name: next.pipeline!.name,
        definition: JSON.stringify(next.pipeline),
        version: e.streamVersion,
        deleted_at: next.deleted ? e.recordedAt : null,
        updated_at: e.recordedAt,
      };
      await trx
        .insertInto('pipelines')
        .values(values)
        .onConflict((oc) => oc.columns(['org_id', 'id']).doUpdateSet(values))
        .execute();
    }
  }
}
