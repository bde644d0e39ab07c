/** Synthetic data for the match index benchmark: random PDQ-like and MD5-like hashes, planted near-duplicates, snapshots. */

import { popcount32 } from '../../src/hashing/hamming';
import type { ListSnapshot, TypedEntries } from '../../src/snapshot';

/** A fast deterministic PRNG (xorshift32). */
export function prng(seed: number): () => number {
  let s = seed >>> 0 || 0x9e3779b9;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

function writeWord(out: Uint8Array, off: number, x: number): void {
  out[off] = x >>> 24;
  out[off + 1] = (x >>> 16) & 0xff;
  out[off + 2] = (x >>> 8) & 0xff;
  out[off + 3] = x & 0xff;
}

/** Writes a random 256-bit hash with exactly 128 bits set (like every PDQ hash) at `out[off..off+32)`. */
export function writeRandomPdq(
  rand: () => number,
  out: Uint8Array,
  off: number,
  words = new Uint32Array(8),
): void {
  let weight = 0;
  for (let w = 0; w < 8; w++) {
    words[w] = rand();
    weight += popcount32(words[w]!);
  }
  while (weight !== 128) {
    const bit = rand() & 255;
    const mask = 1 << (bit & 31);
    const w = bit >>> 5;
    const set = (words[w]! & mask) !== 0;
    if (weight > 128 && set) {
      words[w] = (words[w]! & ~mask) >>> 0;
      weight--;
    } else if (weight < 128 && !set) {
      words[w] = (words[w]! | mask) >>> 0;
      weight++;
    }
  }
  for (let w = 0; w < 8; w++) writeWord(out, off + w * 4, words[w]!);
}

/** `count` random PDQ-like hashes, 32 bytes each, in one array. */
export function randomPdqColumn(count: number, seed: number): Uint8Array {
  const rand = prng(seed);
  const out = new Uint8Array(count * 32);
  const words = new Uint32Array(8);
  for (let i = 0; i < count; i++) writeRandomPdq(rand, out, i * 32, words);
  return out;
}

/** `count` random 16-byte hashes (MD5-like) in one array. */
export function randomColumn(count: number, bytes: number, seed: number): Uint8Array {
  const rand = prng(seed);
  const out = new Uint8Array(count * bytes);
  for (let i = 0; i < out.length; i += 4) {
    const x = rand();
    out[i] = x & 0xff;
    out[i + 1] = (x >>> 8) & 0xff;
    out[i + 2] = (x >>> 16) & 0xff;
    out[i + 3] = x >>> 24;
  }
  return out;
}

/**
 * A copy of `hash` at distance exactly `distance` that keeps the weight at 128 when the distance
 * is even (half the flips clear set bits, half set clear bits) and is as close as possible otherwise.
 */
export function nearDuplicate(hash: Uint8Array, distance: number, rand: () => number): Uint8Array {
  const out = Uint8Array.from(hash);
  const flipped = new Set<number>();
  let clear = Math.ceil(distance / 2);
  let set = distance - clear;
  while (clear + set > 0) {
    const bit = rand() & 255;
    if (flipped.has(bit)) continue;
    const isSet = (out[bit >>> 3]! & (0x80 >>> (bit & 7))) !== 0;
    if (isSet && clear > 0) clear--;
    else if (!isSet && set > 0) set--;
    else continue;
    flipped.add(bit);
    out[bit >>> 3]! ^= 0x80 >>> (bit & 7);
  }
  return out;
}

/**
 * Entry ids made on demand: the index never reads them, and ten million real strings would only
 * measure the V8 heap, not the index.
 */
function lazyIds(count: number, prefix: string): readonly string[] {
  return new Proxy([] as string[], {
    get(target, prop, receiver) {
      if (prop === 'length') return count;
      if (typeof prop === 'string' && /^\d+$/.test(prop))
        return Number(prop) < count ? `${prefix}${prop}` : undefined;
      return Reflect.get(target, prop, receiver);
    },
  });
}

/** A one-type list snapshot over a hash column (every entry in category `default`). */
export function columnSnapshot(
  list: string,
  type: string,
  hashBytes: number,
  hashes: Uint8Array,
): ListSnapshot {
  const count = hashes.length / hashBytes;
  const entries: TypedEntries = {
    type,
    count,
    hashBytes,
    hashes,
    ids: lazyIds(count, `${type}-`),
    categories: new Uint16Array(count),
    labels: new Map(),
  };
  return {
    list,
    version: 1,
    createdAt: new Date(0).toISOString(),
    categories: ['default'],
    byType: new Map([[type, entries]]),
  };
}

/** Median and percentiles of a sample (sorted copy). */
export function percentiles(sample: readonly number[]): {
  p50: number;
  p99: number;
  mean: number;
  max: number;
} {
  const s = [...sample].sort((a, b) => a - b);
  const at = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? Number.NaN;
  return {
    p50: at(0.5),
    p99: at(0.99),
    mean: s.reduce((a, b) => a + b, 0) / (s.length || 1),
    max: s.at(-1) ?? 0,
  };
}
