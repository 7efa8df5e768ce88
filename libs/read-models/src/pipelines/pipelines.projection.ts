import { type Kysely } from 'kysely';
import {
  initialPipelineState,
  parseStreamName,
  PIPELINE_EVENT_TYPES,
  type PipelineState,
  foldStoredPipeline,
  type Pipeline,
} from '@app/domain';
import type { RecordedEvent } from '@app/event-store';
import type { Projection, ProjectionRebuild } from '../projector/projection';
import type { ReadModelTables } from '../tables';

const HANDLED = new Set<string>(PIPELINE_EVENT_TYPES);

/** The org's pipelines for listing (a pipeline's rules are read from its stream when deciding). */
export class PipelinesProjection implements Projection {
  static readonly NAME = 'pipelines';
  static readonly TABLES = ['pipelines'] as const;
  readonly name = PipelinesProjection.NAME;

  async applyBatch(trx: Kysely<ReadModelTables>, events: RecordedEvent[]): Promise<void> {
    for (const e of events) {
      const name = pipelineOf(e);
      if (!name) continue;
      const { orgId, id } = name;
      const row = await trx
        .selectFrom('pipelines')
        .select(['definition', 'version', 'deleted_at'])
        .where('org_id', '=', orgId)
        .where('id', '=', id)
        .executeTakeFirst();
      const values = pipelineRow(
        orgId,
        id,
        row ? { definition: row.definition, version: Number(row.version), deleted: row.deleted_at !== null } : null,
        e,
      );
      if (!values) continue;
      const stored = { ...values, definition: JSON.stringify(values.definition) };
      await trx
        .insertInto('pipelines')
        .values(stored)
        .onConflict((oc) => oc.columns(['org_id', 'id']).doUpdateSet(stored))
        .execute();
    }
  }

  rebuild(): ProjectionRebuild {
    const rows = new Map<string, PipelineRow>();
    return {
      add(events) {
        for (const e of events) {
          const name = pipelineOf(e);
          if (!name) continue;
          const key = `${name.orgId}/${name.id}`;
          const row = rows.get(key);
          const next = pipelineRow(
            name.orgId,
            name.id,
            row ? { definition: row.definition, version: row.version, deleted: row.deleted_at !== null } : null,
            e,
          );
          if (next) rows.set(key, next);
        }
        return new Map();
      },
      finish: () => new Map([['pipelines', [...rows.values()] as unknown as Record<string, unknown>[]]]),
    };
  }
}

function pipelineOf(e: RecordedEvent): { orgId: string; id: string } | null {
  const name = parseStreamName(e.streamId);
  return name?.category === 'pipeline' && HANDLED.has(e.type) ? name : null;
}

interface PipelineRow {
  org_id: string;
  id: string;
  name: string;
  definition: Pipeline;
  version: number;
  deleted_at: Date | null;
  updated_at: Date;
}

/** The row after event `e` of a pipeline stored as `stored` (null: none yet); null when already applied. */
function pipelineRow(
  orgId: string,
  id: string,
  stored: { definition: Pipeline; version: number; deleted: boolean } | null,
  e: RecordedEvent,
): PipelineRow | null {
  const version = stored?.version ?? 0;
  if (e.streamVersion <= version) return null;
  const state: PipelineState = stored
    ? { version, exists: true, deleted: stored.deleted, pipeline: stored.definition }
    : initialPipelineState(id);
  const next = foldStoredPipeline(id, [e], state);
  return {
    org_id: orgId,
    id,
    name: next.pipeline!.name,
    definition: next.pipeline!,
    version: e.streamVersion,
    deleted_at: next.deleted ? e.recordedAt : null,
    updated_at: e.recordedAt,
  };
}
