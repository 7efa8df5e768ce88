import { Injectable } from '@nestjs/common';
import { type CustomFieldsState, customFieldsStreamId, foldStoredCustomFields } from '@app/domain';
import { EventStore, type RecordedEvent } from '@app/event-store';

/** An org's custom-field definitions, read by folding their (short) stream, so rules are never stale. */
@Injectable()
export class CustomFieldsRepository {
  constructor(private readonly store: EventStore) {}

  async load(orgId: string): Promise<CustomFieldsState> {
    return foldStoredCustomFields(await this.store.readStream(customFieldsStreamId(orgId)));
  }

  history(orgId: string): Promise<RecordedEvent[]> {
    return this.store.readStream(customFieldsStreamId(orgId));
  }
}
