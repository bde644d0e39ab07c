import { setImmediate as nextTick } from 'node:timers/promises';
import { isHashgateError } from '../../../src/errors';
import { buildMatchIndexSync } from '../../../src/matching/match-index';
import { createMatchIndexHolder } from '../../../src/matching/match-index-holder';
import { makeSnapshot, prng, randomBytes, randomPdq } from './helpers';

const rand = prng(201);
const oldHash = randomPdq(rand);
const newHash = randomPdq(rand);
const v1 = makeSnapshot({ list: 'l', version: 1, byType: { pdq: { hashes: [oldHash] } } });
/** Version 2 drops the old hash, adds the new one, and is big enough that its build takes many slices. */
const v2 = makeSnapshot({
  list: 'l',
  version: 2,
  byType: { pdq: { hashes: [...Array.from({ length: 80000 }, () => randomBytes(rand, 32)), newHash] } },
});

describe('MatchIndexHolder', () => {
  it('has no index and generation 0 before the first swap', () => {
    const holder = createMatchIndexHolder();
    expect(holder.state).toBeUndefined();
    expect(holder.current).toBeUndefined();
    expect(holder.generation).toBe(0);
  });

  it('increments the generation by one on every swap', () => {
    const holder = createMatchIndexHolder(buildMatchIndexSync([v1]));
    expect(holder.generation).toBe(1);
    const next = buildMatchIndexSync([v1]);
    expect(holder.swap(next)).toEqual({ index: next, generation: 2 });
    expect(holder.current).toBe(next);
    expect(holder.swap(buildMatchIndexSync([v1])).generation).toBe(3);
  });

  it('keeps answering from the old index while a new one is built, then from the new one after the swap', async () => {
    const holder = createMatchIndexHolder(buildMatchIndexSync([v1]));
    let done = false;
    const rebuilding = holder.rebuild([v2], { mode: 'sliced', sliceMs: 1 }).then((state) => {
      done = true;
      return state;
    });
    const seen: { generation: number; old: number; new: number }[] = [];
    while (!done) {
      const { index, generation } = holder.state!;
      seen.push({
        generation,
        old: index.matchHamming('pdq', oldHash, 31).length,
        new: index.matchHamming('pdq', newHash, 31).length,
      });
      await nextTick();
    }
    expect(seen.length).toBeGreaterThan(2);
    expect(seen.every((s) => s.generation === 1 && s.old === 1 && s.new === 0)).toBe(true);
    const state = await rebuilding;
    expect(state.generation).toBe(2);
    expect(holder.generation).toBe(2);
    expect(holder.current!.matchHamming('pdq', oldHash, 31)).toEqual([]);
    expect(holder.current!.matchHamming('pdq', newHash, 31)).toHaveLength(1);
    expect(holder.current!.lists[0]!.version).toBe(2);
  });

  it('drops a rebuild that finishes after a newer index was swapped in', async () => {
    const holder = createMatchIndexHolder(buildMatchIndexSync([v1]));
    const slow = holder.rebuild([v2], { mode: 'sliced', sliceMs: 1 });
    const newer = buildMatchIndexSync([v1]);
    holder.swap(newer);
    const state = await slow;
    expect(state.index).toBe(newer);
    expect(holder.current).toBe(newer);
    expect(holder.generation).toBe(2);
  });

  it('keeps the current index when a rebuild fails', async () => {
    const first = buildMatchIndexSync([v1]);
    const holder = createMatchIndexHolder(first);
    const broken = makeSnapshot({ list: 'l', byType: { md5: { hashes: [randomBytes(rand, 20)] } } });
    let caught: unknown;
    try {
      await holder.rebuild([broken], { mode: 'sliced' });
    } catch (err) {
      caught = err;
    }
    expect(isHashgateError(caught) && caught.code).toBe('ERR_HASHGATE_INVALID_SNAPSHOT');
    expect(holder.current).toBe(first);
    expect(holder.generation).toBe(1);
  });
});
