import { ForeignCheckpointError } from '../event-store.port';
import {
  checkpointString,
  decodeMetadata,
  defaultStreamPrefixes,
  encodeMetadata,
  matchBatch,
  orgPrefixes,
  parseCheckpoint,
  parsePosition,
  toExpectedRevision,
  versionOf,
} from './mapping';

describe('EventStoreDB mapping', () => {
  it('follows every stream category of the domain by default', () => {
    expect(defaultStreamPrefixes()).toEqual(['opportunity-', 'pipeline-', 'custom_fields-']);
  });

  it("narrows the configured prefixes to one org's streams", () => {
    expect(orgPrefixes(['opportunity-', 'pipeline-', 'custom_fields-'], 'acme')).toEqual([
      'opportunity-acme-',
      'pipeline-acme-',
      'custom_fields-acme-',
    ]);
    expect(orgPrefixes(['opportunity-acme-', 'pipeline-acme-'], 'acme')).toEqual(['opportunity-acme-', 'pipeline-acme-']);
    expect(orgPrefixes(['opportunity-acme-'], 'other')).toEqual([]);
    expect(orgPrefixes(['opportunity-'], 'a-b')).toEqual([]);
  });

  it('keeps the schema version apart from every app metadata key', () => {
    const app = { org_id: 'o', schema_version: 'mine', $schema_version: 'mine too', $$x: 1, __proto__x: 2 };
    const stored = encodeMetadata(app, 4);
    expect(stored).toEqual({
      $schema_version: 4,
      org_id: 'o',
      schema_version: 'mine',
      $$schema_version: 'mine too',
      $$$x: 1,
      __proto__x: 2,
    });
    expect(decodeMetadata(JSON.parse(JSON.stringify(stored)))).toEqual({ metadata: app, schemaVersion: 4 });
    // Written by another tool: no schema version (1), its own $-keys kept.
    expect(decodeMetadata({ $correlationId: 'c', a: 1 })).toEqual({ metadata: { $correlationId: 'c', a: 1 }, schemaVersion: 1 });
    expect(decodeMetadata(new Uint8Array([1]))).toEqual({ metadata: {}, schemaVersion: 1 });
    const proto = decodeMetadata(JSON.parse('{"__proto__": {"polluted": true}}'));
    expect(Object.keys(proto.metadata)).toEqual(['__proto__']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('checkpoints name the store; the PostgreSQL ones (prefixed or not) are refused', () => {
    const position = { commit: 1234n, prepare: 1234n };
    expect(checkpointString(position)).toBe('esdb:1234:1234');
    expect(parseCheckpoint('esdb:1234:1234')).toEqual(position);
    expect(parseCheckpoint(null)).toBeNull();
    expect(() => parseCheckpoint('pg:1:2')).toThrow(ForeignCheckpointError);
    expect(() => parseCheckpoint('1:2')).toThrow(/made by the PostgreSQL event store, not by EventStoreDB/);
    expect(() => parseCheckpoint('esdb:1')).toThrow(RangeError);
    expect(() => parseCheckpoint('esdb:99999999999999999999:1')).toThrow(RangeError);
  });

  it('positions are decimal int64 values', () => {
    expect(parsePosition('42')).toBe(42n);
    expect(parsePosition('9223372036854775807')).toBe(9223372036854775807n);
    expect(parsePosition('9223372036854775808')).toBeNull();
    for (const bad of ['', '-1', '1.5', 'abc', '1:2']) expect(parsePosition(bad)).toBeNull();
  });

  it('maps versions to revisions and back', () => {
    expect(toExpectedRevision(0)).toBe('no_stream');
    expect(toExpectedRevision(3)).toBe(2n);
    expect(() => toExpectedRevision(-1)).toThrow(RangeError);
    expect(versionOf(2n)).toBe(3);
    expect(versionOf(-1n)).toBe(0);
    expect(versionOf('no_stream')).toBe(0);
  });

  it('tells a re-sent batch from a partial match', () => {
    expect(matchBatch(['a', 'b', 'c'], ['B', 'c'])).toEqual({ kind: 'all', index: 1 });
    expect(matchBatch(['a', 'b'], ['x'])).toEqual({ kind: 'none' });
    expect(matchBatch(['a', 'b'], ['a', 'x'])).toEqual({ kind: 'partial' });
    expect(matchBatch(['a', 'b'], ['a', 'b', 'x'])).toEqual({ kind: 'partial' });
    expect(matchBatch(['a', 'b'], ['x', 'b'])).toEqual({ kind: 'partial' });
  });
});
