import {
  categoryPrefix,
  customFieldsStreamId,
  opportunityStreamId,
  parseStreamName,
  pipelineStreamId,
  streamName,
  type StreamCategory,
} from './streams';

describe('stream names', () => {
  const uuid = '3f6c2b1e-9a4d-4c1b-8e2f-0a1b2c3d4e5f';

  it('builds <category>-<org>-<id>', () => {
    expect(opportunityStreamId('acme', uuid)).toBe(`opportunity-acme-${uuid}`);
    expect(pipelineStreamId('acme_eu', 'enterprise')).toBe('pipeline-acme_eu-enterprise');
    expect(categoryPrefix('pipeline')).toBe('pipeline-');
    expect(customFieldsStreamId('acme')).toBe('custom_fields-acme-definitions');
  });

  it.each([
    [`opportunity-acme-${uuid}`, { category: 'opportunity', orgId: 'acme', id: uuid }],
    ['pipeline-acme_eu-default', { category: 'pipeline', orgId: 'acme_eu', id: 'default' }],
    ['pipeline-o1-a-b', { category: 'pipeline', orgId: 'o1', id: 'a-b' }],
    ['custom_fields-acme-definitions', { category: 'custom_fields', orgId: 'acme', id: 'definitions' }],
  ])('parses %s', (name, parts) => {
    expect(parseStreamName(name)).toEqual(parts);
    expect(streamName(parts.category as StreamCategory, parts.orgId, parts.id)).toBe(name);
  });

  it.each([
    ['$stats-127.0.0.1:2113'],
    ['opportunity-acme'],
    ['opportunity--x'],
    ['order-acme-1'],
    ['opportunity-ACME-1'],
    ['opportunity-acme-'],
    [''],
  ])('refuses %j', (name) => {
    expect(parseStreamName(name)).toBeNull();
  });
});
