/**
 * Owns the Hamming index for 256-bit perceptual hashes (PDQ, blockhash): multi-index hashing over
 * 16 slots of 16 bits, with CSR posting lists in typed arrays, exact distances and dihedral batch
 * queries.
 *
 * Layout and search, in short:
 * - Slot `s` (0..15) is bytes `2s` and `2s+1` of the hash as hex orders them, i.e. the high
 *   (`s` even) or low (`s` odd) half of packed word `s >> 1`. For PDQ that is DCT row `15 - s`;
 *   any fixed split gives the same guarantees.
 * - Per slot, a CSR table: `offsets[s * 65537 + v]` .. `offsets[s * 65537 + v + 1]` delimit the
 *   postings of the entries whose slot `s` equals `v`. A posting is an entry id (`Uint32Array`)
 *   plus the other 16 bits of the same 32-bit word, its "partner" slot (`Uint16Array`).
 * - Pigeonhole twice: if `distance <= r`, some of the 8 words is within `K = floor(r / 8)` bits,
 *   and one half of that word is within `k = floor(r / 16)` bits. So the search visits, per slot,
 *   the buckets within `k` bits of the query's slot value, and for each posting first checks the
 *   partner (`slotDistance + partnerDistance <= K`) from the posting itself. Only postings that
 *   pass touch the packed hashes (a random memory access) to get the exact distance. `k` is the
 *   classic 16-slot multi-index bound; the partner check only removes candidates that cannot match.
 * - An entry can qualify at several slots (and for several variants of a batch). Matches are few,
 *   so duplicates collapse in a small map of matches at the end; candidates that do not match are
 *   rejected by the partner check or the distance and need no deduplication, so there is no
 *   visited table over all entries.
 * - Radii above 63 use a linear scan (the bucket enumeration would cost more than it saves).
 */

import { hamming256, popcount32 } from '../hashing/hamming';
import { PERCEPTUAL_WEIGHT_RANGE } from '../hashing/hash-types';
import { assertIndexable, BUILD_CHUNK, type BuildPart, isRowEnabled, touchInSlices } from './build-input';
import { type EntryRef, packEntryRef } from './entry-ref';
import { MatchingErrorCodes, matchingError } from './errors';

/** Number of 16-bit slots in a 256-bit hash. */
export const SLOTS = 16;
/** Entries of one slot's CSR offsets table: one per 16-bit value, plus the end. */
export const SLOT_OFFSETS = 65537;
/** Largest radius served by multi-index search; larger radii scan linearly. */
export const MAX_INDEXED_RADIUS = 63;
/** Largest radius a query may ask for (the number of bits). */
export const MAX_RADIUS = 256;

/** One hash of an upload with the name of the transform that produced it (`orig`, `rot90`, ...). */
export interface HashVariant {
  /** Name of the dihedral transform, reported back with each match. */
  readonly variant: string;
  /** 32 bytes. */
  readonly hash: Uint8Array;
}

/** An entry within the query radius, with its exact Hamming distance. */
export interface HammingMatch {
  /** Which entry (see {@link EntryRef}). */
  readonly ref: EntryRef;
  /** Hamming distance in bits. */
  readonly distance: number;
}

/** A match from a batch query: the smallest distance over the variants, and the variant that gave it. */
export interface VariantMatch extends HammingMatch {
  /** The variant with the smallest distance; on a tie, the earliest in the query. */
  readonly variant: string;
}

/**
 * The plain-data form of a {@link HammingIndex}: typed arrays only, so a worker can build it and
 * transfer every buffer to the main thread without copying.
 */
export interface HammingIndexData {
  /** Hash type name. */
  readonly type: string;
  /** Entries indexed. */
  readonly count: number;
  /** Entries left out because their hash is degenerate (all zero or weight outside `PERCEPTUAL_WEIGHT_RANGE`). */
  readonly degenerate: number;
  /** Entries left out because their category is disabled. */
  readonly excluded: number;
  /** Packed hashes, 8 big-endian words per entry; entry id `i` at `i * 8`. */
  readonly words: Uint32Array;
  /** Per entry id, the row in its list's `TypedEntries`. */
  readonly ordinals: Uint32Array;
  /** Entry ids are grouped by list: run `r` starts at `runStarts[r]` (one extra element: the end). */
  readonly runStarts: Uint32Array;
  /** List position of each run. */
  readonly runLists: Uint32Array;
  /** CSR offsets of all 16 slots, `SLOTS * SLOT_OFFSETS` elements. */
  readonly offsets: Uint32Array;
  /** Per slot, entry ids ordered by slot value (ascending id within a bucket). */
  readonly postings: readonly Uint32Array[];
  /** Per slot, the partner half-word of each posting, parallel to `postings`. */
  readonly partners: readonly Uint16Array[];
}

// All 16-bit masks with at most 3 bits set, by increasing weight: the neighbours of a slot value.
const MASK_COUNT_BY_BITS = [1, 17, 137, 697] as const;
const MASKS = new Uint16Array(697);
const MASK_WEIGHTS = new Uint8Array(697);
{
  let n = 0;
  for (let w = 0; w <= 3; w++) {
    for (let m = 0; m < 65536; m++) {
      if (popcount32(m) === w) {
        MASKS[n] = m;
        MASK_WEIGHTS[n] = w;
        n++;
      }
    }
  }
}

/** Reads 32 bytes at `off` into 8 big-endian words at `out[oi..]`. */
function packRow(bytes: Uint8Array, off: number, out: Uint32Array, oi: number): void {
  for (let w = 0; w < 8; w++) {
    const i = off + w * 4;
    out[oi + w] = ((bytes[i]! << 24) | (bytes[i + 1]! << 16) | (bytes[i + 2]! << 8) | bytes[i + 3]!) >>> 0;
  }
}

function weightOfWords(words: Uint32Array, wi: number): number {
  let w = 0;
  for (let i = 0; i < 8; i++) w += popcount32(words[wi + i]!);
  return w;
}

/** True when 8 packed words form a hash that must never be indexed or matched (see `PERCEPTUAL_WEIGHT_RANGE`). */
export function isDegenerateWords(words: Uint32Array, wi: number): boolean {
  const w = weightOfWords(words, wi);
  return w < PERCEPTUAL_WEIGHT_RANGE[0] || w > PERCEPTUAL_WEIGHT_RANGE[1];
}

interface RowCounts {
  accepted: number;
  degenerate: number;
  excluded: number;
}

function countRows(part: BuildPart, start: number, end: number, scratch: Uint32Array, acc: RowCounts): void {
  for (let i = start; i < end; i++) {
    if (!isRowEnabled(part, i)) {
      acc.excluded++;
      continue;
    }
    packRow(part.hashes, i * 32, scratch, 0);
    if (isDegenerateWords(scratch, 0)) acc.degenerate++;
    else acc.accepted++;
  }
}

function packRows(
  part: BuildPart,
  start: number,
  end: number,
  scratch: Uint32Array,
  words: Uint32Array,
  ordinals: Uint32Array,
  next: number,
): number {
  for (let i = start; i < end; i++) {
    if (!isRowEnabled(part, i)) continue;
    packRow(part.hashes, i * 32, scratch, 0);
    if (isDegenerateWords(scratch, 0)) continue;
    for (let w = 0; w < 8; w++) words[next * 8 + w] = scratch[w]!;
    ordinals[next] = i;
    next++;
  }
  return next;
}

function countSlots(
  words: Uint32Array,
  w: number,
  start: number,
  end: number,
  hi: Uint32Array,
  lo: Uint32Array,
) {
  for (let i = start; i < end; i++) {
    const x = words[i * 8 + w]!;
    hi[(x >>> 16) + 1]!++;
    lo[(x & 0xffff) + 1]!++;
  }
}

function scatterSlots(
  words: Uint32Array,
  w: number,
  start: number,
  end: number,
  hiCursor: Uint32Array,
  loCursor: Uint32Array,
  hiIds: Uint32Array,
  hiPartners: Uint16Array,
  loIds: Uint32Array,
  loPartners: Uint16Array,
): void {
  for (let i = start; i < end; i++) {
    const x = words[i * 8 + w]!;
    const h = x >>> 16;
    const l = x & 0xffff;
    const ph = hiCursor[h]!++;
    hiIds[ph] = i;
    hiPartners[ph] = l;
    const pl = loCursor[l]!++;
    loIds[pl] = i;
    loPartners[pl] = h;
  }
}

/**
 * Builds the data of a Hamming index from the parts of one 256-bit hash type, yielding every
 * {@link BUILD_CHUNK} rows so a caller can run it in slices. Pure computation: the same code runs
 * in the build worker and on the main thread.
 */
export function* buildHammingData(
  type: string,
  parts: readonly BuildPart[],
): Generator<void, HammingIndexData> {
  const scratch = new Uint32Array(8);
  const counts: RowCounts = { accepted: 0, degenerate: 0, excluded: 0 };
  for (const part of parts) {
    for (let start = 0; start < part.count; start += BUILD_CHUNK) {
      countRows(part, start, Math.min(part.count, start + BUILD_CHUNK), scratch, counts);
      yield;
    }
  }
  const count = counts.accepted;
  assertIndexable(type, count);

  const words = new Uint32Array(count * 8);
  const ordinals = new Uint32Array(count);
  const runStarts: number[] = [];
  const runLists: number[] = [];
  let next = 0;
  for (const part of parts) {
    const runStart = next;
    for (let start = 0; start < part.count; start += BUILD_CHUNK) {
      next = packRows(part, start, Math.min(part.count, start + BUILD_CHUNK), scratch, words, ordinals, next);
      yield;
    }
    if (next > runStart) {
      runStarts.push(runStart);
      runLists.push(part.list);
    }
  }
  runStarts.push(next);

  const offsets = new Uint32Array(SLOTS * SLOT_OFFSETS);
  const postings: Uint32Array[] = [];
  const partners: Uint16Array[] = [];
  const hiCursor = new Uint32Array(65536);
  const loCursor = new Uint32Array(65536);
  for (let w = 0; w < 8; w++) {
    const hi = offsets.subarray(2 * w * SLOT_OFFSETS, (2 * w + 1) * SLOT_OFFSETS);
    const lo = offsets.subarray((2 * w + 1) * SLOT_OFFSETS, (2 * w + 2) * SLOT_OFFSETS);
    for (let start = 0; start < count; start += BUILD_CHUNK) {
      countSlots(words, w, start, Math.min(count, start + BUILD_CHUNK), hi, lo);
      yield;
    }
    for (let v = 0; v < 65536; v++) {
      hi[v + 1] = hi[v + 1]! + hi[v]!;
      lo[v + 1] = lo[v + 1]! + lo[v]!;
    }
    hiCursor.set(hi.subarray(0, 65536));
    loCursor.set(lo.subarray(0, 65536));
    const hiIds = new Uint32Array(count);
    const hiPartners = new Uint16Array(count);
    const loIds = new Uint32Array(count);
    const loPartners = new Uint16Array(count);
    yield* touchInSlices(hiIds, hiPartners, loIds, loPartners);
    for (let start = 0; start < count; start += BUILD_CHUNK) {
      const end = Math.min(count, start + BUILD_CHUNK);
      scatterSlots(words, w, start, end, hiCursor, loCursor, hiIds, hiPartners, loIds, loPartners);
      yield;
    }
    postings.push(hiIds, loIds);
    partners.push(hiPartners, loPartners);
  }

  return {
    type,
    count,
    degenerate: counts.degenerate,
    excluded: counts.excluded,
    words,
    ordinals,
    runStarts: Uint32Array.from(runStarts),
    runLists: Uint32Array.from(runLists),
    offsets,
    postings,
    partners,
  };
}

/** Every typed array of a {@link HammingIndexData}, for byte counts and transfer lists. */
export function hammingDataArrays(data: HammingIndexData): ArrayBufferView[] {
  return [
    data.words,
    data.ordinals,
    data.runStarts,
    data.runLists,
    data.offsets,
    ...data.postings,
    ...data.partners,
  ];
}

function assertRadius(radius: number): void {
  if (!Number.isInteger(radius) || radius < 0 || radius > MAX_RADIUS) {
    throw matchingError(
      MatchingErrorCodes.INVALID_QUERY,
      `Expected an integer from 0 to ${MAX_RADIUS} for the radius but received ${String(radius)}`,
    );
  }
}

function packQuery(type: string, hash: Uint8Array, out: Uint32Array, oi: number): void {
  if (!(hash instanceof Uint8Array) || hash.length !== 32) {
    throw matchingError(MatchingErrorCodes.INVALID_QUERY, `A ${type} query hash must be 32 bytes`);
  }
  packRow(hash, 0, out, oi);
}

/**
 * Multi-index Hamming index over one 256-bit hash type. Immutable once built; safe to query from
 * any number of callers. Build it through `buildMatchIndex()` (off the event loop) or from data
 * with {@link HammingIndex.fromData}.
 *
 * Memory: 32 bytes of packed hash, 4 of ordinal and 16 x 6 of postings per entry (132 bytes), plus
 * a fixed 4 MiB of CSR offsets.
 *
 * @example
 * const matches = index.matchVariants(upload.pdqVariants, 31);
 * for (const m of matches) console.log(entryRefList(m.ref), m.distance, m.variant);
 */
export class HammingIndex {
  /** Hash type name, e.g. `pdq`. */
  readonly type: string;
  /** Entries indexed. */
  readonly size: number;
  /** Entries left out because their hash was degenerate. */
  readonly degenerate: number;
  /** Entries left out because their category was disabled. */
  readonly excluded: number;
  readonly #words: Uint32Array;
  readonly #ordinals: Uint32Array;
  readonly #runStarts: Uint32Array;
  readonly #runLists: Uint32Array;
  readonly #offsets: Uint32Array;
  readonly #postings: readonly Uint32Array[];
  readonly #partners: readonly Uint16Array[];
  readonly #data: HammingIndexData;

  private constructor(data: HammingIndexData) {
    this.type = data.type;
    this.size = data.count;
    this.degenerate = data.degenerate;
    this.excluded = data.excluded;
    this.#words = data.words;
    this.#ordinals = data.ordinals;
    this.#runStarts = data.runStarts;
    this.#runLists = data.runLists;
    this.#offsets = data.offsets;
    this.#postings = data.postings;
    this.#partners = data.partners;
    this.#data = data;
  }

  /** Wraps built data (from a worker or a sliced build) without copying it. */
  static fromData(data: HammingIndexData): HammingIndex {
    if (
      data.words.length !== data.count * 8 ||
      data.ordinals.length !== data.count ||
      data.offsets.length !== SLOTS * SLOT_OFFSETS ||
      data.postings.length !== SLOTS ||
      data.partners.length !== SLOTS
    ) {
      throw matchingError(
        MatchingErrorCodes.INDEX_BUILD_FAILED,
        `The built ${data.type} index data is inconsistent`,
      );
    }
    return new HammingIndex(data);
  }

  /** Sum of the byte lengths of every typed array the index holds. */
  get byteLength(): number {
    let n = 0;
    for (const a of hammingDataArrays(this.#data)) n += a.byteLength;
    return n;
  }

  /** The {@link EntryRef} of an internal entry id. */
  #refOf(id: number): EntryRef {
    const starts = this.#runStarts;
    let lo = 0;
    let hi = this.#runLists.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (starts[mid]! <= id) lo = mid;
      else hi = mid - 1;
    }
    return packEntryRef(this.#runLists[lo]!, this.#ordinals[id]!);
  }

  /**
   * Every entry within `radius` bits of `hash`, with exact distances, closest first (then by ref).
   * A degenerate query hash (all zero, weight outside `PERCEPTUAL_WEIGHT_RANGE`) matches nothing.
   * Throws `ERR_HASHGATE_INVALID_QUERY` for a hash that is not 32 bytes or a radius outside 0..256.
   */
  match(hash: Uint8Array, radius: number): HammingMatch[] {
    return this.matchVariants([{ variant: '', hash }], radius).map(({ ref, distance }) => ({
      ref,
      distance,
    }));
  }

  /**
   * Batch query for the variants of one upload (typically the 8 dihedral transforms of its PDQ
   * hash): every entry within `radius` bits of any variant, once, with its smallest distance and
   * the variant that gave it (the earliest on a tie), closest first (then by ref). Degenerate
   * variants are skipped. Throws `ERR_HASHGATE_INVALID_QUERY` like {@link match}.
   */
  matchVariants(variants: readonly HashVariant[], radius: number): VariantMatch[] {
    assertRadius(radius);
    const q = new Uint32Array(variants.length * 8);
    const live: number[] = [];
    for (let v = 0; v < variants.length; v++) {
      packQuery(this.type, variants[v]!.hash, q, v * 8);
      if (!isDegenerateWords(q, v * 8)) live.push(v);
    }
    const hitIds: number[] = [];
    const hitDistances: number[] = [];
    const hitVariants: number[] = [];
    if (this.size > 0 && live.length > 0) {
      if (radius > MAX_INDEXED_RADIUS) this.#scan(q, live, radius, hitIds, hitDistances, hitVariants);
      else for (const v of live) this.#search(q, v, radius, hitIds, hitDistances, hitVariants);
    }
    // One result per entry: the smallest distance, then the earliest variant. Matches are few.
    const best = new Map<number, number>();
    for (let h = 0; h < hitIds.length; h++) {
      const id = hitIds[h]!;
      const prev = best.get(id);
      if (
        prev === undefined ||
        hitDistances[h]! < hitDistances[prev]! ||
        (hitDistances[h] === hitDistances[prev] && hitVariants[h]! < hitVariants[prev]!)
      ) {
        best.set(id, h);
      }
    }
    const out: VariantMatch[] = [];
    for (const [id, h] of best) {
      out.push({
        ref: this.#refOf(id),
        distance: hitDistances[h]!,
        variant: variants[hitVariants[h]!]!.variant,
      });
    }
    out.sort((a, b) => a.distance - b.distance || a.ref - b.ref);
    return out;
  }

  /** Multi-index search for the variant at `q[v * 8..]`; appends entries within the radius (possibly more than once). */
  #search(
    q: Uint32Array,
    v: number,
    radius: number,
    ids: number[],
    distances: number[],
    variantsOut: number[],
  ): void {
    const qi = v * 8;
    const words = this.#words;
    const offsets = this.#offsets;
    const k = radius >>> 4;
    const pairBudget = radius >>> 3;
    const maskCount = MASK_COUNT_BY_BITS[k as 0 | 1 | 2 | 3];
    for (let s = 0; s < SLOTS; s++) {
      const qw = q[qi + (s >>> 1)]!;
      const even = (s & 1) === 0;
      const qSlot = even ? qw >>> 16 : qw & 0xffff;
      const qPartner = even ? qw & 0xffff : qw >>> 16;
      const postings = this.#postings[s]!;
      const partners = this.#partners[s]!;
      const base = s * SLOT_OFFSETS;
      for (let m = 0; m < maskCount; m++) {
        const partnerBudget = pairBudget - MASK_WEIGHTS[m]!;
        const bucket = base + (qSlot ^ MASKS[m]!);
        const end = offsets[bucket + 1]!;
        for (let j = offsets[bucket]!; j < end; j++) {
          if (popcount32(partners[j]! ^ qPartner) > partnerBudget) continue;
          const id = postings[j]!;
          const d = hamming256(words, id * 8, q, qi);
          if (d > radius) continue;
          ids.push(id);
          distances.push(d);
          variantsOut.push(v);
        }
      }
    }
  }

  /** Linear scan for large radii: each entry's hash is read once and compared with every live variant. */
  #scan(
    q: Uint32Array,
    live: readonly number[],
    radius: number,
    ids: number[],
    distances: number[],
    variantsOut: number[],
  ) {
    const words = this.#words;
    for (let id = 0; id < this.size; id++) {
      for (const v of live) {
        const d = hamming256(words, id * 8, q, v * 8);
        if (d <= radius) {
          ids.push(id);
          distances.push(d);
          variantsOut.push(v);
        }
      }
    }
  }
}
