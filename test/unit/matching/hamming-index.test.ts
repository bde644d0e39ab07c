import fc from 'fast-check';
import { isHashgateError } from '../../../src/errors';
import { hammingBytes } from '../../../src/hashing/hamming';
import { entryRefList, entryRefOrdinal } from '../../../src/matching/entry-ref';
import type { HammingIndex } from '../../../src/matching/hamming-index';
import { buildMatchIndexSync } from '../../../src/matching/match-index';
import { bruteForce, makeSnapshot, plant, prng, randomBytes, randomPdq } from './helpers';

const RADII = [0, 16, 31, 32, 47, 63, 64] as const;
const PATTERNS = ['random', 'spread', 'one-slot'] as const;

function pdqIndex(hashes: readonly Uint8Array[]): HammingIndex {
  const index = buildMatchIndexSync([makeSnapshot({ list: 'a', byType: { pdq: { hashes } } })]);
  return index.hamming('pdq')!;
}

/** Distances that sit on and around the radius, so the boundary is always exercised. */
function plantDistance(radius: number) {
  return fc.oneof(
    fc.integer({ min: 0, max: 80 }),
    fc.constantFrom(...[radius - 1, radius, radius + 1, (radius >>> 4) * 16 + 15].filter((d) => d >= 0)),
  );
}

function scenario(radius: number, needles: number) {
  return fc.record({
    seed: fc.integer({ min: 1, max: 0x7fffffff }),
    noise: fc.integer({ min: 0, max: 300 }),
    plants: fc.array(
      fc.record({
        needle: fc.integer({ min: 0, max: needles - 1 }),
        distance: plantDistance(radius),
        pattern: fc.constantFrom(...PATTERNS),
      }),
      { minLength: 1, maxLength: 60 },
    ),
  });
}

/** Random haystack with near-duplicates of the needles planted at chosen distances, shuffled. */
function haystackFor(
  seed: number,
  needleCount: number,
  noise: number,
  plants: readonly { needle: number; distance: number; pattern: (typeof PATTERNS)[number] }[],
) {
  const rand = prng(seed);
  const needles = Array.from({ length: needleCount }, () => randomBytes(rand, 32));
  const haystack: Uint8Array[] = [];
  for (let i = 0; i < noise; i++) haystack.push(randomBytes(rand, 32));
  for (const p of plants) haystack.push(plant(needles[p.needle]!, p.distance, rand, p.pattern));
  for (let i = haystack.length - 1; i > 0; i--) {
    const j = rand() % (i + 1);
    [haystack[i], haystack[j]] = [haystack[j]!, haystack[i]!];
  }
  return { needles, haystack };
}

describe('HammingIndex', () => {
  describe.each(RADII)('at radius %i', (radius) => {
    it('finds every entry within the radius, none beyond it, with exact distances', () => {
      fc.assert(
        fc.property(scenario(radius, 1), ({ seed, noise, plants }) => {
          const { needles, haystack } = haystackFor(seed, 1, noise, plants);
          const index = pdqIndex(haystack);
          const got = index.match(needles[0]!, radius).map((m) => ({
            position: entryRefOrdinal(m.ref),
            distance: m.distance,
          }));
          const want = bruteForce(haystack, needles[0]!, radius).sort(
            (a, b) => a.distance - b.distance || a.position - b.position,
          );
          expect(got).toEqual(want);
        }),
        { numRuns: 40 },
      );
    });

    it('answers a batch of 8 variants with each entry once, at its smallest distance and first such variant', () => {
      fc.assert(
        fc.property(scenario(radius, 8), ({ seed, noise, plants }) => {
          const { needles, haystack } = haystackFor(seed, 8, noise, plants);
          const index = pdqIndex(haystack);
          const variants = needles.map((hash, v) => ({ variant: `v${v}`, hash }));
          const got = index.matchVariants(variants, radius).map((m) => ({
            position: entryRefOrdinal(m.ref),
            distance: m.distance,
            variant: m.variant,
          }));
          const want: { position: number; distance: number; variant: string }[] = [];
          haystack.forEach((h, position) => {
            let best = -1;
            let bestDistance = Number.POSITIVE_INFINITY;
            needles.forEach((n, v) => {
              const d = hammingBytes(h, n);
              if (d < bestDistance) {
                bestDistance = d;
                best = v;
              }
            });
            if (bestDistance <= radius) want.push({ position, distance: bestDistance, variant: `v${best}` });
          });
          want.sort((a, b) => a.distance - b.distance || a.position - b.position);
          expect(got).toEqual(want);
        }),
        { numRuns: 25 },
      );
    });
  });

  it('finds an entry whose 31 differing bits are spread over all 16 slots at radius 31', () => {
    const rand = prng(7);
    const needle = randomPdq(rand);
    const spread = plant(needle, 31, rand, 'spread');
    const index = pdqIndex([randomPdq(rand), spread, randomPdq(rand)]);
    expect(index.match(needle, 31)).toEqual([{ ref: 1, distance: 31 }]);
    expect(index.match(needle, 30)).toEqual([]);
  });

  it('returns every copy of a hash that appears several times', () => {
    const rand = prng(11);
    const h = randomPdq(rand);
    const index = pdqIndex([h, randomPdq(rand), h, h]);
    expect(index.match(h, 0).map((m) => m.ref)).toEqual([0, 2, 3]);
  });

  it('identifies matches by list position and entry ordinal across several lists', () => {
    const rand = prng(12);
    const h = randomPdq(rand);
    const index = buildMatchIndexSync([
      makeSnapshot({ list: 'a', byType: { pdq: { hashes: [randomPdq(rand), h] } } }),
      makeSnapshot({
        list: 'b',
        byType: { pdq: { hashes: [randomPdq(rand), randomPdq(rand), plant(h, 3, rand)] } },
      }),
    ]);
    const matches = index.matchHamming('pdq', h, 31);
    expect(matches.map((m) => [entryRefList(m.ref), entryRefOrdinal(m.ref), m.distance])).toEqual([
      [0, 1, 0],
      [1, 2, 3],
    ]);
  });

  it('leaves degenerate hashes out of the index and counts them', () => {
    const rand = prng(13);
    const good = randomPdq(rand);
    const allZero = new Uint8Array(32);
    const light = new Uint8Array(32);
    light[0] = 0xff; // weight 8, far below the accepted range
    const heavy = new Uint8Array(32).fill(0xff);
    const index = buildMatchIndexSync([
      makeSnapshot({ list: 'a', byType: { pdq: { hashes: [allZero, good, light, heavy] } } }),
    ]);
    expect(index.hamming('pdq')!.size).toBe(1);
    expect(index.stats.types.find((t) => t.type === 'pdq')).toMatchObject({ entries: 1, degenerate: 3 });
    expect(index.stats.degenerate).toBe(3);
    expect(index.matchHamming('pdq', good, 0)).toEqual([{ ref: 1, distance: 0 }]);
    expect(index.matchHamming('pdq', light, 256)).toEqual([]);
  });

  it('matches nothing for a degenerate query hash, even at the largest radius', () => {
    const rand = prng(14);
    const index = pdqIndex([randomPdq(rand), randomPdq(rand)]);
    expect(index.match(new Uint8Array(32), 256)).toEqual([]);
    expect(index.matchVariants([{ variant: 'orig', hash: new Uint8Array(32) }], 31)).toEqual([]);
  });

  it('returns every entry at radius 256', () => {
    const rand = prng(15);
    const index = pdqIndex([randomPdq(rand), randomPdq(rand), randomPdq(rand)]);
    expect(index.match(randomPdq(rand), 256)).toHaveLength(3);
  });

  it('refuses a radius that is not an integer from 0 to 256', () => {
    const rand = prng(16);
    const index = pdqIndex([randomPdq(rand)]);
    for (const radius of [-1, 257, 1.5, Number.NaN]) {
      let caught: unknown;
      try {
        index.match(randomPdq(rand), radius);
      } catch (err) {
        caught = err;
      }
      expect(isHashgateError(caught) && caught.code).toBe('ERR_HASHGATE_INVALID_QUERY');
    }
  });

  it('refuses a query hash that is not 32 bytes, without echoing it', () => {
    const index = pdqIndex([randomPdq(prng(17))]);
    const short = new Uint8Array(31).fill(0xab);
    expect(() => index.match(short, 31)).toThrow(
      expect.objectContaining({ code: 'ERR_HASHGATE_INVALID_QUERY' }),
    );
    expect(() => index.match(short, 31)).toThrow(/^(?!.*abab).*$/);
  });

  it('answers from an empty index with no matches', () => {
    const index = pdqIndex([]);
    expect(index.size).toBe(0);
    expect(index.match(randomPdq(prng(18)), 63)).toEqual([]);
  });

  it('uses 132 bytes per entry plus 4 MiB of fixed offsets', () => {
    const rand = prng(19);
    const hashes = Array.from({ length: 1000 }, () => randomPdq(rand));
    const index = pdqIndex(hashes);
    // 16 x 65537 offsets, 2 x 4 bytes of list runs, then per entry 32 + 4 + 16 x (4 + 2).
    expect(index.byteLength).toBe(16 * 65537 * 4 + 8 + 4 + 1000 * 132);
  });
});
