import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { entryRefOrdinal } from '../../../src/matching/entry-ref';
import { buildMatchIndexSync } from '../../../src/matching/match-index';
import { bruteForce, fromHex, makeSnapshot } from './helpers';

const FIXTURES = join(__dirname, '../../fixtures/pdq-index');
const readHashes = (name: string) =>
  readFileSync(join(FIXTURES, name), 'utf8')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.length > 0)
    .map(fromHex);

const needles = readHashes('needles.txt');
const haystack = readHashes('haystack.txt');
const index = buildMatchIndexSync([
  makeSnapshot({ list: 'haystack', byType: { pdq: { hashes: haystack } } }),
]);

describe("the PDQ reference's needle and haystack data", () => {
  it('has 100 needles and 1350 haystack hashes, all indexed', () => {
    expect(needles).toHaveLength(100);
    expect(haystack).toHaveLength(1350);
    expect(index.stats.entries).toBe(1350);
    expect(index.stats.degenerate).toBe(0);
  });

  it.each([
    [0, 50],
    [16, 152],
    [31, 250],
    [32, 250],
    [47, 287],
  ])('gives the reference count of needle-haystack pairs within distance %i (%i)', (radius, pairs) => {
    let count = 0;
    for (const needle of needles) count += index.matchHamming('pdq', needle, radius).length;
    expect(count).toBe(pairs);
  });

  it.each([0, 16, 31, 32, 47, 63, 64])(
    'finds exactly the brute-force pairs and distances at radius %i',
    (radius) => {
      for (const needle of needles) {
        const got = index
          .matchHamming('pdq', needle, radius)
          .map((m) => [entryRefOrdinal(m.ref), m.distance]);
        const want = bruteForce(haystack, needle, radius)
          .sort((a, b) => a.distance - b.distance || a.position - b.position)
          .map((m) => [m.position, m.distance]);
        expect(got).toEqual(want);
      }
    },
  );
});
