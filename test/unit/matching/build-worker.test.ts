/*
 * The worker path runs the compiled build: a worker thread cannot load the TypeScript sources
 * ts-jest runs, so these tests load the match index from dist/ (which `npm test` builds first with
 * `npm run build`), where the worker script sits next to the module.
 */

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { setImmediate as nextTick } from 'node:timers/promises';
import { isHashgateError } from '../../../src/errors';
import type * as MatchIndexModule from '../../../src/matching/match-index';
import { buildMatchIndexSync } from '../../../src/matching/match-index';
import type * as HolderModule from '../../../src/matching/match-index-holder';
import { makeSnapshot, plant, prng, randomBytes, randomPdq } from './helpers';

const DIST = join(__dirname, '../../../dist/matching');

function loadCompiled(): { dist: typeof MatchIndexModule; holders: typeof HolderModule } {
  if (!existsSync(join(DIST, 'index-build-worker.js'))) {
    throw new Error('dist/matching is missing: run `npm run build` before these tests (`npm test` does)');
  }
  return {
    dist: require(join(DIST, 'match-index.js')) as typeof MatchIndexModule,
    holders: require(join(DIST, 'match-index-holder.js')) as typeof HolderModule,
  };
}

const { dist, holders } = loadCompiled();
const rand = prng(301);
const pdq = Array.from({ length: 5000 }, () => randomBytes(rand, 32));
const md5 = Array.from({ length: 3000 }, () => randomBytes(rand, 16));
const snapshot = makeSnapshot({
  list: 'hotline',
  categories: ['default', 'a1'],
  byType: {
    pdq: { hashes: pdq, categories: pdq.map((_, i) => i % 2) },
    md5: { hashes: md5, categories: md5.map((_, i) => (i % 3 === 0 ? 1 : 0)) },
  },
});

describe('the build worker (compiled dist/)', () => {
  it('is available next to the compiled module', () => {
    expect(dist.isBuildWorkerAvailable()).toBe(true);
  });

  it('builds in a worker thread with the same answers and sizes as a synchronous build', async () => {
    const sources = [{ snapshot, categories: ['a1'] }];
    const viaWorker = await dist.buildMatchIndex(sources, { mode: 'worker' });
    const reference = buildMatchIndexSync(sources);
    expect(viaWorker.stats.mode).toBe('worker');
    expect({ ...viaWorker.stats, buildMs: 0, mode: '' }).toEqual({
      ...reference.stats,
      buildMs: 0,
      mode: '',
    });
    for (const needle of [pdq[1]!, plant(pdq[3]!, 25, rand), pdq[2]!, randomPdq(rand)]) {
      expect(viaWorker.matchHamming('pdq', needle, 31)).toEqual(reference.matchHamming('pdq', needle, 31));
    }
    for (const hash of [md5[0]!, md5[1]!, md5[3]!, randomBytes(rand, 16)]) {
      expect(viaWorker.lookupExact('md5', hash)).toEqual(reference.lookupExact('md5', hash));
    }
  });

  it('chooses the worker in auto mode', async () => {
    const index = await dist.buildMatchIndex([snapshot]);
    expect(index.stats.mode).toBe('worker');
  });

  it('builds from hash columns that already live in shared memory', async () => {
    const entries = snapshot.byType.get('pdq')!;
    const shared = new Uint8Array(new SharedArrayBuffer(entries.hashes.byteLength));
    shared.set(entries.hashes);
    const sharedSnapshot = { ...snapshot, byType: new Map([['pdq', { ...entries, hashes: shared }]]) };
    const index = await dist.buildMatchIndex([sharedSnapshot], { mode: 'worker' });
    expect(index.matchHamming('pdq', pdq[7]!, 0)).toEqual([{ ref: 7, distance: 0 }]);
  });

  it('rejects with the code of an error found in the worker', async () => {
    const broken = makeSnapshot({
      list: 'broken',
      categories: ['default', 'a1'],
      byType: { md5: { hashes: [randomBytes(rand, 16)], categories: [9] } },
    });
    let caught: unknown;
    try {
      await dist.buildMatchIndex([{ snapshot: broken, categories: ['a1'] }], { mode: 'worker' });
    } catch (err) {
      caught = err;
    }
    expect(isHashgateError(caught) && caught.code).toBe('ERR_HASHGATE_INVALID_SNAPSHOT');
  });

  it('keeps queries answering from the old index during a worker rebuild, then from the new one', async () => {
    const oldHash = randomPdq(rand);
    const newHash = randomPdq(rand);
    const v1 = makeSnapshot({ list: 'l', version: 1, byType: { pdq: { hashes: [oldHash] } } });
    const v2 = makeSnapshot({
      list: 'l',
      version: 2,
      byType: { pdq: { hashes: [...Array.from({ length: 200000 }, () => randomBytes(rand, 32)), newHash] } },
    });
    const holder = holders.createMatchIndexHolder(dist.buildMatchIndexSync([v1]));
    let done = false;
    const rebuilding = holder.rebuild([v2], { mode: 'worker' }).then((state) => {
      done = true;
      return state;
    });
    let answeredByOld = 0;
    while (!done) {
      const { index, generation } = holder.state!;
      expect(generation).toBe(1);
      expect(index.matchHamming('pdq', oldHash, 0)).toHaveLength(1);
      answeredByOld++;
      await nextTick();
    }
    expect(answeredByOld).toBeGreaterThan(1);
    const state = await rebuilding;
    expect(state.generation).toBe(2);
    expect(state.index.stats.mode).toBe('worker');
    expect(holder.current!.matchHamming('pdq', oldHash, 0)).toEqual([]);
    expect(holder.current!.matchHamming('pdq', newHash, 0)).toHaveLength(1);
  });
});
