import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { hammingBytes } from '../../../src/hashing/hamming';
import { entryRefOrdinal } from '../../../src/matching/entry-ref';
import { buildMatchIndexSync } from '../../../src/matching/match-index';
import { fromHex, makeSnapshot } from './helpers';

// One row per file: source, then the hashes of its 8 dihedral variants, then quality.
const rows = readFileSync(join(__dirname, '../../fixtures/pdq-index/dihedral-bridge.csv'), 'utf8')
  .trim()
  .split('\n')
  .map((line) => line.split(','));
const header = rows[0]!;
const VARIANTS = header.slice(1, 9);
const files = new Map(
  rows.slice(1).map((r) => [r[0]!.replace(/^.*\//, '').replace(/\.jpg$/, ''), r.slice(1, 9)]),
);

function variantsOf(file: string) {
  const hashes = files.get(file)!;
  return VARIANTS.map((variant, i) => ({ variant, hash: fromHex(hashes[i]!) }));
}

describe('a dihedral batch query', () => {
  it('reads the 8 variant columns and the 8 bridge files from the fixture', () => {
    expect(VARIANTS).toEqual([
      'orig',
      'rot90',
      'rot180',
      'rot270',
      'flipx',
      'flipy',
      'flipplus1',
      'flipminus1',
    ]);
    expect(files.size).toBe(8);
  });

  it("finds the listed original once, through the rotated upload's rot270 variant, at distance 0", () => {
    const original = fromHex(files.get('bridge-1-original')![0]!);
    const index = buildMatchIndexSync([
      makeSnapshot({ list: 'known', byType: { pdq: { hashes: [original] } } }),
    ]);
    const matches = index.matchVariants('pdq', variantsOf('bridge-2-rotate-90'), 31);
    expect(matches).toEqual([{ ref: 0, distance: 0, variant: 'rot270' }]);
  });

  it('does not find the original from the rotated upload\'s own "orig" hash alone', () => {
    const original = fromHex(files.get('bridge-1-original')![0]!);
    const index = buildMatchIndexSync([
      makeSnapshot({ list: 'known', byType: { pdq: { hashes: [original] } } }),
    ]);
    const origOnly = variantsOf('bridge-2-rotate-90').slice(0, 1);
    expect(index.matchVariants('pdq', origOnly, 31)).toEqual([]);
  });

  it('finds each of the 8 transformed files once, with the variant that undoes its transform', () => {
    const names = [...files.keys()];
    const listed = names.map((name) => fromHex(files.get(name)![0]!));
    const index = buildMatchIndexSync([makeSnapshot({ list: 'known', byType: { pdq: { hashes: listed } } })]);
    const query = variantsOf('bridge-2-rotate-90');
    const matches = index.matchVariants('pdq', query, 31);
    expect(matches.map((m) => entryRefOrdinal(m.ref)).sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    for (const m of matches) {
      const entry = listed[entryRefOrdinal(m.ref)]!;
      const distances = query.map((v) => hammingBytes(v.hash, entry));
      const best = Math.min(...distances);
      expect(m.distance).toBe(best);
      expect(m.variant).toBe(query[distances.indexOf(best)]!.variant);
    }
    const original = matches.find((m) => entryRefOrdinal(m.ref) === names.indexOf('bridge-1-original'))!;
    expect(original.variant).toBe('rot270');
  });
});
