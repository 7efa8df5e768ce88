import { Injectable } from '@nestjs/common';
import { type CustomFieldsState, customFieldsStreamId, foldStoredCustomFields } from '@app/domain';
import { EventStore, type RecordedEvent } from '@app/event-store';
import { type StreamReads, StreamStateCache } from '../command-handling/stream-state-cache';

/** An org's custom-field definitions, read by folding their (short) stream, so rules are never stale. */
@Injectable()
export class CustomFieldsRepository {
  constructor(
    private readonly store: EventStore,
    private readonly cache: StreamStateCache,
  ) {}

  async load(orgId: string): Promise<CustomFieldsState> {
    const recorded = await this.store.readStream(customFieldsStreamId(orgId));
    const state = foldStoredCustomFields(recorded);
    this.cache.set(customFieldsStreamId(orgId), { state, version: recorded.at(-1)?.streamVersion ?? 0 });
    return state;
  }

  /** The definitions as this process last saw them (cached), else as stored: for a command's response. */
  async lastSeen(orgId: string): Promise<CustomFieldsState> {
    return this.cache.get<CustomFieldsState>(customFieldsStreamId(orgId))?.state ?? (await this.load(orgId));
  }

  /** The definitions a command checks against: cached when they can be, the version read into `reads`. */
  async forCommand(orgId: string, reads: StreamReads): Promise<CustomFieldsState> {
    const streamId = customFieldsStreamId(orgId);
    const cached = reads.mayUseCache ? this.cache.get<CustomFieldsState>(streamId) : undefined;
    if (cached) {
      reads.add(streamId, cached.version, true);
      return cached.state;
    }
    const recorded = await this.store.readStream(streamId);
    const state = foldStoredCustomFields(recorded);
    const version = recorded.at(-1)?.streamVersion ?? 0;
    this.cache.set(streamId, { state, version });
    reads.add(streamId, version, false);
    return state;
  }

  history(orgId: string): Promise<RecordedEvent[]> {
    return this.store.readStream(customFieldsStreamId(orgId));
  }
}
