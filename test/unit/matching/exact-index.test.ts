import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { packEntryRef } from '../../../src/matching/entry-ref';
import { buildMatchIndexSync } from '../../../src/matching/match-index';
import { fromHex, makeSnapshot, prng, randomBytes } from './helpers';

const md5 = (s: string) => new Uint8Array(createHash('md5').update(s).digest());
const sha1 = (s: string) => new Uint8Array(createHash('sha1').update(s).digest());
const sha256 = (s: string) => new Uint8Array(createHash('sha256').update(s).digest());

describe('ExactIndex', () => {
  it('finds an entry whose hash equals the query', () => {
    const index = buildMatchIndexSync([
      makeSnapshot({ list: 'a', byType: { md5: { hashes: [md5('cat'), md5('dog'), md5('owl')] } } }),
    ]);
    expect(index.lookupExact('md5', md5('dog'))).toEqual([packEntryRef(0, 1)]);
    expect(index.exact('md5')!.has(md5('owl'))).toBe(true);
  });

  it('returns nothing for a hash that is not in any list', () => {
    const index = buildMatchIndexSync([
      makeSnapshot({ list: 'a', byType: { md5: { hashes: [md5('cat'), md5('dog')] } } }),
    ]);
    expect(index.lookupExact('md5', md5('horse'))).toEqual([]);
    expect(index.exact('md5')!.has(md5('horse'))).toBe(false);
  });

  it('returns both entries when two lists carry the same hash, in list order', () => {
    const index = buildMatchIndexSync([
      makeSnapshot({ list: 'hotline', byType: { sha256: { hashes: [sha256('x'), sha256('shared')] } } }),
      makeSnapshot({ list: 'own', byType: { sha256: { hashes: [sha256('shared'), sha256('y')] } } }),
    ]);
    expect(index.lookupExact('sha256', sha256('shared'))).toEqual([packEntryRef(0, 1), packEntryRef(1, 0)]);
  });

  it('returns every copy of a hash listed twice in one list', () => {
    const index = buildMatchIndexSync([
      makeSnapshot({ list: 'a', byType: { md5: { hashes: [md5('dup'), md5('other'), md5('dup')] } } }),
    ]);
    expect(index.lookupExact('md5', md5('dup'))).toEqual([packEntryRef(0, 0), packEntryRef(0, 2)]);
  });

  it('keeps the hash types apart: an MD5 query never sees SHA-1 entries', () => {
    const index = buildMatchIndexSync([
      makeSnapshot({ list: 'a', byType: { md5: { hashes: [md5('a')] }, sha1: { hashes: [sha1('a')] } } }),
    ]);
    expect(index.lookupExact('sha1', sha1('a'))).toEqual([packEntryRef(0, 0)]);
    expect(index.lookupExact('sha1', sha1('b'))).toEqual([]);
    expect(index.lookupExact('sha256', sha256('a'))).toEqual([]);
  });

  it('distinguishes SHA-1 hashes that differ only in their last byte', () => {
    const base = fromHex('00112233445566778899aabbccddeeff00112233');
    const other = Uint8Array.from(base);
    other[19] = 0x34;
    const index = buildMatchIndexSync([makeSnapshot({ list: 'a', byType: { sha1: { hashes: [base] } } })]);
    expect(index.lookupExact('sha1', base)).toHaveLength(1);
    expect(index.lookupExact('sha1', other)).toEqual([]);
  });

  it('agrees with a set of hex strings on random keys, including ones that share leading bits', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 0x7fffffff }), fc.integer({ min: 0, max: 3000 }), (seed, n) => {
        const rand = prng(seed);
        const hashes = Array.from({ length: n }, (_, i) => {
          const h = randomBytes(rand, 16);
          if (i % 3 === 0) h.fill(0x5a, 0, 6); // cluster: many keys in one directory bucket
          return h;
        });
        const index = buildMatchIndexSync([makeSnapshot({ list: 'a', byType: { md5: { hashes } } })]);
        const expected = new Map<string, number[]>();
        hashes.forEach((h, i) => {
          const key = Buffer.from(h).toString('hex');
          expected.set(key, [...(expected.get(key) ?? []), i]);
        });
        for (const [key, ordinals] of expected) {
          expect(index.lookupExact('md5', fromHex(key))).toEqual(ordinals.map((o) => packEntryRef(0, o)));
        }
        for (let i = 0; i < 50; i++) {
          const miss = randomBytes(rand, 16);
          if (!expected.has(Buffer.from(miss).toString('hex')))
            expect(index.lookupExact('md5', miss)).toEqual([]);
        }
      }),
      { numRuns: 30 },
    );
  });

  it('answers an empty MD5 list with no matches', () => {
    const index = buildMatchIndexSync([makeSnapshot({ list: 'a', byType: { md5: { hashes: [] } } })]);
    expect(index.exact('md5')!.size).toBe(0);
    expect(index.lookupExact('md5', md5('a'))).toEqual([]);
  });

  it('refuses a query of the wrong length for the type', () => {
    const index = buildMatchIndexSync([makeSnapshot({ list: 'a', byType: { md5: { hashes: [md5('a')] } } })]);
    expect(() => index.lookupExact('md5', sha1('a'))).toThrow(
      expect.objectContaining({ code: 'ERR_HASHGATE_INVALID_QUERY' }),
    );
  });

  it('stores about 26 bytes per MD5 entry', () => {
    const rand = prng(3);
    const hashes = Array.from({ length: 4096 }, () => randomBytes(rand, 16));
    const index = buildMatchIndexSync([makeSnapshot({ list: 'a', byType: { md5: { hashes } } })]);
    const exact = index.exact('md5')!;
    // 16 key bytes + 2 list + 4 ordinal per entry, and a directory of 2**12 + 1 offsets.
    expect(exact.byteLength).toBe(4096 * 22 + (4096 + 1) * 4);
    expect(index.stats.types[0]).toMatchObject({ type: 'md5', kind: 'exact', entries: 4096 });
  });
});
