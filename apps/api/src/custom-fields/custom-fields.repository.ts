import { Injectable } from '@nestjs/common';
import {
  type CustomFieldEvent,
  type CustomFieldsState,
  customFieldsStreamId,
  evolveCustomFields,
  INITIAL_CUSTOM_FIELDS_STATE,
} from '@app/domain';
import { EventStore, type RecordedEvent } from '@app/event-store';

export function foldCustomFields(recorded: RecordedEvent[]): CustomFieldsState {
  return recorded.reduce((s, e) => evolveCustomFields(s, { type: e.type, data: e.data } as CustomFieldEvent), INITIAL_CUSTOM_FIELDS_STATE);
}

/** An org's custom-field definitions, read by folding their (short) stream, so rules are never stale. */
@Injectable()
export class CustomFieldsRepository {
  constructor(private readonly store: EventStore) {}

  async load(orgId: string): Promise<CustomFieldsState> {
    return foldCustomFields(await this.store.readStream(customFieldsStreamId(orgId)));
  }

  history(orgId: string): Promise<RecordedEvent[]> {
    return this.store.readStream(customFieldsStreamId(orgId));
  }
}
