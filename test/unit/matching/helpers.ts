/** Test helpers for the match index: benign random hashes, planted near-duplicates and snapshots. */

import { hammingBytes } from '../../../src/hashing/hamming';
import { getHashType } from '../../../src/hashing/hash-types';
import type { ListSnapshot, TypedEntries } from '../../../src/snapshot';

/** A small deterministic PRNG (xorshift32); never returns the same stream for different seeds. */
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

/** Random bytes from a PRNG. */
export function randomBytes(rand: () => number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = rand() & 0xff;
  return out;
}

/** A random 256-bit hash with exactly 128 bits set, like PDQ. */
export function randomPdq(rand: () => number): Uint8Array {
  const bits: number[] = Array.from({ length: 256 }, (_, i) => i);
  for (let i = 255; i > 0; i--) {
    const j = rand() % (i + 1);
    [bits[i], bits[j]] = [bits[j]!, bits[i]!];
  }
  const out = new Uint8Array(32);
  for (const b of bits.slice(0, 128)) out[b >>> 3]! |= 0x80 >>> (b & 7);
  return out;
}

/**
 * A copy of `hash` at Hamming distance exactly `distance`. `spread` puts the flips as evenly as
 * possible over the 16 slots of 16 bits (the hardest case for multi-index search: every slot
 * differs by about distance / 16 bits); `random` flips random distinct bits; `one-slot` fills
 * slots one after the other.
 */
export function plant(
  hash: Uint8Array,
  distance: number,
  rand: () => number,
  pattern: 'random' | 'spread' | 'one-slot' = 'random',
): Uint8Array {
  const out = Uint8Array.from(hash);
  const chosen = new Set<number>();
  if (pattern === 'random') {
    while (chosen.size < distance) chosen.add(rand() & 255);
  } else if (pattern === 'one-slot') {
    const start = (rand() & 15) * 16;
    for (let i = 0; i < distance; i++) chosen.add((start + i) & 255);
  } else {
    const slotOrder = Array.from({ length: 16 }, (_, i) => i);
    for (let i = 15; i > 0; i--) {
      const j = rand() % (i + 1);
      [slotOrder[i], slotOrder[j]] = [slotOrder[j]!, slotOrder[i]!];
    }
    const perSlot = new Array<number>(16).fill(0);
    for (let i = 0; i < distance; i++) perSlot[slotOrder[i % 16]!]!++;
    perSlot.forEach((n, slot) => {
      const inSlot = new Set<number>();
      while (inSlot.size < n) inSlot.add(slot * 16 + (rand() & 15));
      for (const b of inSlot) chosen.add(b);
    });
  }
  for (const b of chosen) out[b >>> 3]! ^= 0x80 >>> (b & 7);
  return out;
}

/** Every haystack position within `radius` of `needle`, with its distance, by brute force. */
export function bruteForce(haystack: readonly Uint8Array[], needle: Uint8Array, radius: number) {
  const out: { position: number; distance: number }[] = [];
  haystack.forEach((h, position) => {
    const distance = hammingBytes(h, needle);
    if (distance <= radius) out.push({ position, distance });
  });
  return out;
}

/** Bytes from lower-case or upper-case hex. */
export function fromHex(hex: string): Uint8Array {
  return new Uint8Array(Buffer.from(hex, 'hex'));
}

/** Description of one hash type's entries for {@link makeSnapshot}. */
export interface EntriesSpec {
  hashes: readonly Uint8Array[];
  /** Per entry, an index into the snapshot's categories. @default all 0 */
  categories?: readonly number[];
  ids?: readonly string[];
  labels?: ReadonlyMap<number, readonly string[]>;
  /** Overrides the hash size (for invalid-snapshot tests). */
  hashBytes?: number;
}

/** Builds a columnar {@link ListSnapshot} from rows. */
export function makeSnapshot(spec: {
  list: string;
  version?: number;
  categories?: readonly string[];
  byType: Readonly<Record<string, EntriesSpec>>;
}): ListSnapshot {
  const byType = new Map<string, TypedEntries>();
  for (const [type, e] of Object.entries(spec.byType)) {
    const hashBytes = e.hashBytes ?? e.hashes[0]?.length ?? (getHashType(type)?.bits ?? 256) / 8;
    const hashes = new Uint8Array(e.hashes.length * hashBytes);
    e.hashes.forEach((h, i) => {
      hashes.set(h.subarray(0, hashBytes), i * hashBytes);
    });
    byType.set(type, {
      type,
      count: e.hashes.length,
      hashBytes,
      hashes,
      ids: e.ids ?? e.hashes.map((_, i) => `${spec.list}-${type}-${i}`),
      categories: Uint16Array.from(e.categories ?? e.hashes.map(() => 0)),
      labels: e.labels ?? new Map(),
    });
  }
  return {
    list: spec.list,
    version: spec.version ?? 1,
    createdAt: '2025-01-01T00:00:00Z',
    categories: spec.categories ?? ['default'],
    byType,
  };
}
