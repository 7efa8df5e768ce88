import { autoPartitions, partitionOf } from './replay';

describe('in-memory rebuild partitions', () => {
  it('a stream always lands in the same partition, and streams spread over all of them', () => {
    const ids = Array.from(
      { length: 3000 },
      (_, i) => `opportunity-org_${i % 7}-${i.toString(16).padStart(8, '0')}-0000-4000-8000-000000000000`,
    );
    for (const id of ids.slice(0, 50)) expect(partitionOf(id, 4)).toBe(partitionOf(id, 4));
    const counts = [0, 0, 0, 0];
    for (const id of ids) counts[partitionOf(id, 4)]++;
    for (const n of counts) expect(n).toBeGreaterThan(600); // 750 each if even
    expect(new Set(ids.map((id) => partitionOf(id, 1)))).toEqual(new Set([0]));
  });

  it('as many passes as keep the state within half of the heap', () => {
    const heap = 4 * 2 ** 30;
    expect(autoPartitions(0, heap)).toBe(1);
    expect(autoPartitions(1_000_000, heap)).toBe(1);
    expect(autoPartitions(4_630_000, heap)).toBe(5);
    expect(autoPartitions(4_630_000, 2 * heap)).toBe(3);
  });
});
