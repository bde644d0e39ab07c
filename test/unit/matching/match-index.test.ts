import { createHash } from 'node:crypto';
import { isHashgateError } from '../../../src/errors';
import { packEntryRef } from '../../../src/matching/entry-ref';
import {
  buildMatchIndex,
  buildMatchIndexSync,
  isBuildWorkerAvailable,
  type MatchIndexSource,
} from '../../../src/matching/match-index';
import { makeSnapshot, plant, prng, randomBytes, randomPdq } from './helpers';

const md5 = (s: string) => new Uint8Array(createHash('md5').update(s).digest());

async function codeOf(promise: Promise<unknown> | (() => unknown)): Promise<string | undefined> {
  try {
    await (typeof promise === 'function' ? promise() : promise);
  } catch (err) {
    return isHashgateError(err) ? err.code : `not a HashgateError: ${String(err)}`;
  }
  return undefined;
}

describe('buildMatchIndex', () => {
  const rand = prng(101);
  const pdqA = randomPdq(rand);
  const pdqB = randomPdq(rand);
  const hotline = makeSnapshot({
    list: 'hotline',
    version: 7,
    categories: ['default', 'a1', 'b2'],
    byType: {
      md5: { hashes: [md5('one'), md5('two'), md5('three')], categories: [1, 2, 0], ids: ['h1', 'h2', 'h3'] },
      pdq: {
        hashes: [pdqA, pdqB],
        categories: [1, 2],
        ids: ['p1', 'p2'],
        labels: new Map([[1, ['seen-2024']]]),
      },
    },
  });
  const own = makeSnapshot({
    list: 'own',
    version: 3,
    byType: { pdq: { hashes: [plant(pdqB, 5, rand)], ids: ['o1'] } },
  });

  it('resolves a match to its list, version, entry id, category and labels', () => {
    const index = buildMatchIndexSync([hotline, own]);
    const [first, second] = index.matchHamming('pdq', pdqB, 31);
    expect(index.resolve('pdq', first!.ref)).toEqual({
      list: 'hotline',
      listVersion: 7,
      type: 'pdq',
      id: 'p2',
      category: 'b2',
      labels: ['seen-2024'],
    });
    expect(index.resolve('pdq', second!.ref)).toEqual({
      list: 'own',
      listVersion: 3,
      type: 'pdq',
      id: 'o1',
      category: 'default',
      labels: [],
    });
    expect(index.lists.map((l) => [l.name, l.version])).toEqual([
      ['hotline', 7],
      ['own', 3],
    ]);
  });

  it('resolves nothing for a ref outside the index', () => {
    const index = buildMatchIndexSync([hotline]);
    expect(index.resolve('pdq', packEntryRef(5, 0))).toBeUndefined();
    expect(index.resolve('pdq', packEntryRef(0, 99))).toBeUndefined();
    expect(index.resolve('sha1', packEntryRef(0, 0))).toBeUndefined();
  });

  it.each<[string, MatchIndexSource['categories']]>([
    ['a set', new Set(['a1'])],
    ['an array', ['a1']],
    ['a function', (c: string) => c === 'a1'],
  ])('leaves out entries in categories not enabled by %s, and counts them', (_, categories) => {
    const index = buildMatchIndexSync([{ snapshot: hotline, categories }, own]);
    expect(index.lookupExact('md5', md5('one'))).toEqual([packEntryRef(0, 0)]);
    expect(index.lookupExact('md5', md5('two'))).toEqual([]);
    expect(index.lookupExact('md5', md5('three'))).toEqual([]);
    expect(index.matchHamming('pdq', pdqA, 0)).toHaveLength(1);
    expect(index.matchHamming('pdq', pdqB, 0)).toEqual([]);
    expect(index.matchHamming('pdq', pdqB, 31)).toEqual([{ ref: packEntryRef(1, 0), distance: 5 }]);
    expect(index.stats.excluded).toBe(3);
    expect(index.stats.types.map((t) => [t.type, t.entries, t.excluded])).toEqual([
      ['md5', 1, 2],
      ['pdq', 2, 1],
    ]);
  });

  it('indexes every category when no filter is given', () => {
    const index = buildMatchIndexSync([hotline]);
    expect(index.stats.entries).toBe(5);
    expect(index.stats.excluded).toBe(0);
  });

  it('skips entries of a hash type it does not know, and counts them', () => {
    const snapshot = makeSnapshot({ list: 'x', byType: { photodna: { hashes: [randomBytes(rand, 144)] } } });
    const index = buildMatchIndexSync([snapshot]);
    expect(index.stats.skipped).toEqual([{ type: 'photodna', entries: 1 }]);
    expect(index.stats.entries).toBe(0);
  });

  it('indexes custom types declared in typeKinds', () => {
    const custom = randomBytes(rand, 10);
    const perceptual = randomPdq(rand);
    const snapshot = makeSnapshot({
      list: 'x',
      byType: { tiny: { hashes: [custom] }, vhash: { hashes: [perceptual] } },
    });
    const index = buildMatchIndexSync([snapshot], { typeKinds: { tiny: 'exact', vhash: 'perceptual' } });
    expect(index.lookupExact('tiny', custom)).toEqual([packEntryRef(0, 0)]);
    expect(index.matchHamming('vhash', plant(perceptual, 20, rand), 31)).toEqual([{ ref: 0, distance: 20 }]);
  });

  it('refuses a perceptual type whose hashes are not 256 bits', async () => {
    const snapshot = makeSnapshot({ list: 'x', byType: { vhash: { hashes: [randomBytes(rand, 8)] } } });
    expect(await codeOf(() => buildMatchIndexSync([snapshot], { typeKinds: { vhash: 'perceptual' } }))).toBe(
      'ERR_HASHGATE_INVALID_SNAPSHOT',
    );
  });

  it('refuses a built-in type with the wrong hash size', async () => {
    const snapshot = makeSnapshot({ list: 'x', byType: { md5: { hashes: [randomBytes(rand, 20)] } } });
    expect(await codeOf(() => buildMatchIndexSync([snapshot]))).toBe('ERR_HASHGATE_INVALID_SNAPSHOT');
  });

  it('refuses a snapshot whose hash column is shorter than its count says', async () => {
    const snapshot = makeSnapshot({ list: 'x', byType: { md5: { hashes: [md5('a'), md5('b')] } } });
    const entries = snapshot.byType.get('md5')!;
    const broken = {
      ...snapshot,
      byType: new Map([['md5', { ...entries, hashes: entries.hashes.subarray(0, 20) }]]),
    };
    expect(await codeOf(() => buildMatchIndexSync([broken]))).toBe('ERR_HASHGATE_INVALID_SNAPSHOT');
  });

  it('refuses an entry whose category index is outside the list categories when filtering by category', async () => {
    const snapshot = makeSnapshot({
      list: 'x',
      categories: ['default', 'other'],
      byType: { md5: { hashes: [md5('a')], categories: [4] } },
    });
    expect(await codeOf(() => buildMatchIndexSync([{ snapshot, categories: ['other'] }]))).toBe(
      'ERR_HASHGATE_INVALID_SNAPSHOT',
    );
  });

  it('refuses the same list twice', async () => {
    expect(await codeOf(() => buildMatchIndexSync([hotline, hotline]))).toBe('ERR_HASHGATE_INVALID_SNAPSHOT');
  });

  it('refuses an unknown build mode or a slice length that is not positive', async () => {
    expect(await codeOf(buildMatchIndex([hotline], { mode: 'thread' as 'worker' }))).toBe(
      'ERR_HASHGATE_INVALID_OPTION',
    );
    expect(await codeOf(buildMatchIndex([hotline], { sliceMs: 0 }))).toBe('ERR_HASHGATE_INVALID_OPTION');
  });

  it('builds an empty index from no lists', () => {
    const index = buildMatchIndexSync([]);
    expect(index.stats).toMatchObject({ entries: 0, bytes: 0, bytesPerEntry: 0 });
    expect(index.matchVariants('pdq', [{ variant: 'orig', hash: pdqA }], 31)).toEqual([]);
    expect(index.lookupExact('md5', md5('one'))).toEqual([]);
  });

  it('reports bytes as the sum of every typed array, and bytes per entry', () => {
    const index = buildMatchIndexSync([hotline, own]);
    const md5Bytes = index.exact('md5')!.byteLength;
    const pdqBytes = index.hamming('pdq')!.byteLength;
    expect(index.stats.bytes).toBe(md5Bytes + pdqBytes);
    expect(index.stats.bytesPerEntry).toBeCloseTo((md5Bytes + pdqBytes) / 6);
    expect(index.stats.types.find((t) => t.type === 'pdq')!.bytesPerEntry).toBeCloseTo(pdqBytes / 3);
    expect(index.stats.mode).toBe('sync');
  });

  it('builds in slices that yield to the event loop, with the same answers as a synchronous build', async () => {
    const r = prng(102);
    const hashes = Array.from({ length: 60000 }, () => randomBytes(r, 32));
    const snapshot = makeSnapshot({ list: 'big', byType: { pdq: { hashes } } });
    let ticks = 0;
    const timer = setInterval(() => ticks++, 0);
    const index = await buildMatchIndex([snapshot], { mode: 'sliced', sliceMs: 1 });
    clearInterval(timer);
    expect(index.stats.mode).toBe('sliced');
    expect(ticks).toBeGreaterThan(2);
    const reference = buildMatchIndexSync([snapshot]);
    for (const needle of [hashes[0]!, plant(hashes[123]!, 30, r), randomPdq(r)]) {
      expect(index.matchHamming('pdq', needle, 31)).toEqual(reference.matchHamming('pdq', needle, 31));
    }
    expect(index.stats.bytes).toBe(reference.stats.bytes);
  });

  it('falls back to the sliced build under ts-jest, where no compiled worker script sits beside the module', async () => {
    expect(isBuildWorkerAvailable()).toBe(false);
    const index = await buildMatchIndex([hotline]);
    expect(index.stats.mode).toBe('sliced');
  });

  it('fails a forced worker build with ERR_HASHGATE_INDEX_BUILD_FAILED when the worker script is missing', async () => {
    expect(await codeOf(buildMatchIndex([hotline], { mode: 'worker' }))).toBe(
      'ERR_HASHGATE_INDEX_BUILD_FAILED',
    );
  });
});
