import { randomBytes } from 'node:crypto';
import { hammingBytes } from '../../../src/hashing/hamming';
import { MAX_RECHECK_ENTRIES, RecheckIndex } from '../../../src/incidents/recheck-index';
import { balancedHex256 } from './helpers';

function flip(hash: Buffer, bits: number): Buffer {
  const c = Buffer.from(hash);
  const seen = new Set<number>();
  while (seen.size < bits) seen.add(randomBytes(1)[0]!);
  for (const p of seen) c[p >> 3]! ^= 0x80 >> (p & 7);
  return c;
}

describe('re-check index', () => {
  const entries = Array.from({ length: 300 }, () => Buffer.from(balancedHex256(), 'hex'));
  const packed = Buffer.concat(entries);
  // queries at every distance from 0 to 40 from some entry, plus unrelated ones
  const queries = [
    ...Array.from({ length: 41 }, (_, d) => flip(entries[d * 7]!, d)),
    ...Array.from({ length: 200 }, () => Buffer.from(balancedHex256(), 'hex')),
  ];

  function brute(radius: number): string[] {
    const out: string[] = [];
    queries.forEach((q, qi) => {
      entries.forEach((e, row) => {
        const d = hammingBytes(q, e);
        if (d <= radius) out.push(`${qi}:${row}:${d}`);
      });
    });
    return out.sort();
  }

  it.each([0, 8, 15, 16, 24, 31])(
    'finds exactly what a linear scan finds at radius %i, one query at a time and in a batch',
    (radius) => {
      const index = new RecheckIndex(packed, entries.length, radius);
      const single = new Set<string>();
      const q = new Uint32Array(8);
      queries.forEach((query, qi) => {
        expect(RecheckIndex.pack(query, 0, q, 0)).toBe(true);
        index.search(q, 0, (row, d) => single.add(`${qi}:${row}:${d}`));
      });
      const all = new Uint32Array(queries.length * 8);
      for (const [qi, query] of queries.entries()) RecheckIndex.pack(query, 0, all, qi * 8);
      const batch = new Set<string>();
      index.searchBatch(all, queries.length, (qi, row, d) => batch.add(`${qi}:${row}:${d}`));
      const expected = brute(radius);
      expect([...single].sort()).toEqual(expected);
      expect([...batch].sort()).toEqual(expected);
      expect(expected.length).toBeGreaterThanOrEqual(radius + 1);
    },
  );

  it('leaves degenerate hashes out and refuses what it cannot serve', () => {
    const flat = Buffer.concat([Buffer.alloc(32), entries[0]!]);
    const index = new RecheckIndex(flat, 2, 31);
    expect(index.size).toBe(1);
    expect(RecheckIndex.pack(Buffer.alloc(32, 0xff), 0, new Uint32Array(8), 0)).toBe(false);
    expect(() => new RecheckIndex(packed, 300, 32)).toThrow(RangeError);
    expect(() => new RecheckIndex(new Uint8Array(0), MAX_RECHECK_ENTRIES + 1, 31)).toThrow(RangeError);
  });
});
