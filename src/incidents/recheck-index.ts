/**
 * Owns the index a ledger re-check queries: the few thousand new entries of a list update, with
 * every 16-bit half-word stored under itself and its one-bit neighbours, so that each of the
 * millions of ledger hashes (and their dihedral variants) costs 16 table lookups instead of a
 * multi-probe search. Serves radii up to 31 bits (PDQ's match threshold).
 *
 * Why it finds every match: if two 256-bit hashes differ in at most `r` bits, one of their eight
 * 32-bit words differs in at most `K = floor(r / 8)` bits, and one half of that word in at most
 * `floor(K / 2)` bits (0 or 1 for `r <= 31`). Each entry is filed, per half-word slot, under every
 * value within that many bits of its own, together with the other half ("partner") and the bits
 * already spent; a lookup with the query's exact half-word then only has to check
 * `partner distance + spent <= K` before computing the full distance.
 */

import { hamming256, popcount32 } from '../hashing/hamming';
import { PERCEPTUAL_WEIGHT_RANGE } from '../hashing/hash-types';

/** Largest radius the index serves. */
export const MAX_RECHECK_RADIUS = 31;

/** Most entries one index holds (a posting packs the entry into 15 bits); larger updates are split. */
export const MAX_RECHECK_ENTRIES = 32768;

const SLOTS = 16;
const BUCKETS = 65536;

function packWords(bytes: Uint8Array, off: number, out: Uint32Array, oi: number): void {
  for (let w = 0; w < 8; w++) {
    const i = off + w * 4;
    out[oi + w] = ((bytes[i]! << 24) | (bytes[i + 1]! << 16) | (bytes[i + 2]! << 8) | bytes[i + 3]!) >>> 0;
  }
}

function isDegenerate(words: Uint32Array, wi: number): boolean {
  let w = 0;
  for (let i = 0; i < 8; i++) w += popcount32(words[wi + i]!);
  return w < PERCEPTUAL_WEIGHT_RANGE[0] || w > PERCEPTUAL_WEIGHT_RANGE[1];
}

/** An index over 256-bit hashes for radius-limited queries (see the module comment). */
export class RecheckIndex {
  /** Entries indexed (degenerate hashes are left out). */
  readonly size: number;
  readonly radius: number;
  readonly #words: Uint32Array;
  /** Row of each indexed entry in the input. */
  readonly #rows: Uint32Array;
  readonly #offsets: Uint32Array;
  /** One word per posting, so a bucket is one contiguous read: partner << 16 | spent << 15 | entry. */
  readonly #postings: Uint32Array;
  readonly #budget: number;

  /**
   * Indexes `count` hashes of 32 bytes each, packed in `hashes`, for queries within `radius`
   * (0 to {@link MAX_RECHECK_RADIUS}).
   */
  constructor(hashes: Uint8Array, count: number, radius: number) {
    if (!Number.isInteger(radius) || radius < 0 || radius > MAX_RECHECK_RADIUS) {
      throw new RangeError(`The re-check index serves radii from 0 to ${MAX_RECHECK_RADIUS}`);
    }
    if (count > MAX_RECHECK_ENTRIES)
      throw new RangeError(`The re-check index holds at most ${MAX_RECHECK_ENTRIES} entries`);
    this.radius = radius;
    this.#budget = radius >>> 3;
    const spread = this.#budget >>> 1; // 0 or 1
    const all = new Uint32Array(count * 8);
    const rows: number[] = [];
    for (let i = 0; i < count; i++) {
      packWords(hashes, i * 32, all, i * 8);
      if (!isDegenerate(all, i * 8)) rows.push(i);
    }
    this.size = rows.length;
    this.#rows = Uint32Array.from(rows);
    this.#words = new Uint32Array(this.size * 8);
    for (let e = 0; e < this.size; e++) this.#words.set(all.subarray(rows[e]! * 8, rows[e]! * 8 + 8), e * 8);
    const masks = spread === 0 ? [0] : [0, ...Array.from({ length: 16 }, (_, b) => 1 << b)];
    const offsets = new Uint32Array(SLOTS * (BUCKETS + 1));
    for (let e = 0; e < this.size; e++) {
      for (let s = 0; s < SLOTS; s++) {
        const w = this.#words[e * 8 + (s >>> 1)]!;
        const half = (s & 1) === 0 ? w >>> 16 : w & 0xffff;
        for (const m of masks) offsets[s * (BUCKETS + 1) + ((half ^ m) + 1)]!++;
      }
    }
    for (let s = 0; s < SLOTS; s++) {
      const base = s * (BUCKETS + 1);
      if (s > 0) offsets[base] = offsets[base - 1]!;
      for (let v = 1; v <= BUCKETS; v++) offsets[base + v]! += offsets[base + v - 1]!;
    }
    const total = offsets[SLOTS * (BUCKETS + 1) - 1]!;
    this.#postings = new Uint32Array(total);
    const fill = new Uint32Array(SLOTS * BUCKETS);
    for (let s = 0; s < SLOTS; s++) {
      for (let v = 0; v < BUCKETS; v++) fill[s * BUCKETS + v] = offsets[s * (BUCKETS + 1) + v]!;
    }
    for (let e = 0; e < this.size; e++) {
      for (let s = 0; s < SLOTS; s++) {
        const w = this.#words[e * 8 + (s >>> 1)]!;
        const even = (s & 1) === 0;
        const half = even ? w >>> 16 : w & 0xffff;
        const partner = even ? w & 0xffff : w >>> 16;
        for (const m of masks) {
          const at = fill[s * BUCKETS + (half ^ m)]!++;
          this.#postings[at] = ((partner << 16) | (m === 0 ? 0 : 0x8000) | e) >>> 0;
        }
      }
    }
    this.#offsets = offsets;
  }

  /**
   * Calls `found(row, distance)` for every indexed entry within the radius of the hash packed as
   * 8 big-endian words at `q[qi..qi + 8]` (`row` is the entry's position in the input). An entry
   * may be reported more than once (once per slot that finds it).
   */
  search(q: Uint32Array, qi: number, found: (row: number, distance: number) => void): void {
    const offsets = this.#offsets;
    const postings = this.#postings;
    const words = this.#words;
    const budget = this.#budget;
    const radius = this.radius;
    for (let s = 0; s < SLOTS; s++) {
      const qw = q[qi + (s >>> 1)]!;
      const even = (s & 1) === 0;
      const bucket = s * (BUCKETS + 1) + (even ? qw >>> 16 : qw & 0xffff);
      const qp = (even ? qw << 16 : qw & 0xffff0000) >>> 0;
      const end = offsets[bucket + 1]!;
      for (let j = offsets[bucket]!; j < end; j++) {
        const p = postings[j]!;
        if (popcount32((p ^ qp) & 0xffff0000) + ((p >>> 15) & 1) > budget) continue;
        const e = p & 0x7fff;
        const d = hamming256(words, e * 8, q, qi);
        if (d <= radius) found(this.#rows[e]!, d);
      }
    }
  }

  /**
   * Batch form of {@link search} for `count` queries packed at `q[i * 8..]`: calls
   * `found(query, row, distance)` for every match (possibly more than once). Per slot it visits the
   * queries in bucket order, so the tables are read front to back instead of at random: for
   * thousands of queries this is several times faster than one {@link search} each, because the
   * postings of a large update do not fit in the CPU caches.
   */
  searchBatch(
    q: Uint32Array,
    count: number,
    found: (query: number, row: number, distance: number) => void,
  ): void {
    const offsets = this.#offsets;
    const postings = this.#postings;
    const words = this.#words;
    const rows = this.#rows;
    const budget = this.#budget;
    const radius = this.radius;
    const keys = new Uint16Array(count);
    const partnersIn = new Uint32Array(count);
    // the queries of one slot sorted by bucket: their index, key and partner half in three columns
    const order = new Uint32Array(count);
    const sortedKeys = new Uint16Array(count);
    const sortedPartners = new Uint32Array(count);
    const starts = new Uint32Array(BUCKETS + 1);
    for (let s = 0; s < SLOTS; s++) {
      const wordOffset = s >>> 1;
      const even = (s & 1) === 0;
      starts.fill(0);
      for (let i = 0; i < count; i++) {
        const qw = q[i * 8 + wordOffset]!;
        const key = even ? qw >>> 16 : qw & 0xffff;
        keys[i] = key;
        partnersIn[i] = (even ? qw << 16 : qw & 0xffff0000) >>> 0;
        starts[key + 1]!++;
      }
      for (let v = 1; v <= BUCKETS; v++) starts[v]! += starts[v - 1]!;
      for (let i = 0; i < count; i++) {
        const at = starts[keys[i]!]!++;
        order[at] = i;
        sortedKeys[at] = keys[i]!;
        sortedPartners[at] = partnersIn[i]!;
      }
      const base = s * (BUCKETS + 1);
      for (let k = 0; k < count; k++) {
        const bucket = base + sortedKeys[k]!;
        const end = offsets[bucket + 1]!;
        let j = offsets[bucket]!;
        if (j === end) continue;
        const qp = sortedPartners[k]!;
        for (; j < end; j++) {
          const p = postings[j]!;
          if (popcount32((p ^ qp) & 0xffff0000) + ((p >>> 15) & 1) > budget) continue;
          const e = p & 0x7fff;
          const i = order[k]!;
          const d = hamming256(words, e * 8, q, i * 8);
          if (d <= radius) found(i, rows[e]!, d);
        }
      }
    }
  }

  /** Packs a 32-byte hash at `bytes[off..]` into `out[oi..oi + 8]` for {@link search}; false when it is degenerate. */
  static pack(bytes: Uint8Array, off: number, out: Uint32Array, oi: number): boolean {
    packWords(bytes, off, out, oi);
    return !isDegenerate(out, oi);
  }
}
