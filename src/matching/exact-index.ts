/**
 * Owns the exact index for cryptographic hashes (MD5, SHA-1, SHA-256 and custom exact types):
 * sorted fixed-width keys in one `Uint32Array` with a radix directory over their leading bits.
 *
 * Keys are the hash bytes packed into big-endian 32-bit words (zero-padded to whole words) and
 * sorted; `directory[b]` .. `directory[b + 1]` delimit the keys whose top `dirBits` bits equal
 * `b`. With about one key per directory bucket a lookup reads one directory pair and one or two
 * keys: constant time for uniformly distributed hashes, and a binary search inside the bucket
 * (logarithmic) if a custom type's keys cluster. Equal keys (the same hash in several lists or
 * twice in one) sit next to each other, so a lookup returns all of them.
 */

import { assertIndexable, BUILD_CHUNK, type BuildPart, isRowEnabled, touchInSlices } from './build-input';
import { type EntryRef, packEntryRef } from './entry-ref';
import { MatchingErrorCodes, matchingError } from './errors';

/**
 * The plain-data form of an {@link ExactIndex}: typed arrays only, so a worker can build it and
 * transfer every buffer to the main thread without copying.
 */
export interface ExactIndexData {
  /** Hash type name. */
  readonly type: string;
  /** Bytes per hash. */
  readonly hashBytes: number;
  /** 32-bit words per key: `ceil(hashBytes / 4)`. */
  readonly wordsPerKey: number;
  /** Entries indexed. */
  readonly count: number;
  /** Entries left out because their category is disabled. */
  readonly excluded: number;
  /** Sorted keys, `count * wordsPerKey` words. */
  readonly keys: Uint32Array;
  /** Per sorted key, the list position of its entry. */
  readonly lists: Uint16Array;
  /** Per sorted key, the entry's row in its list's `TypedEntries`. */
  readonly ordinals: Uint32Array;
  /** Number of leading key bits the directory resolves (1 to 24). */
  readonly dirBits: number;
  /** `2 ** dirBits + 1` offsets into the sorted keys. */
  readonly directory: Uint32Array;
}

/** Reads `hashBytes` bytes at `off` into `wpk` big-endian words at `out[oi..]`, zero-padding the last word. */
function packKey(
  bytes: Uint8Array,
  off: number,
  hashBytes: number,
  wpk: number,
  out: Uint32Array,
  oi: number,
) {
  for (let w = 0; w < wpk; w++) {
    let x = 0;
    for (let b = 0; b < 4; b++) {
      const i = w * 4 + b;
      x = (x << 8) | (i < hashBytes ? bytes[off + i]! : 0);
    }
    out[oi + w] = x >>> 0;
  }
}

/** Compares the key at `a[ai..]` with the key at `b[bi..]` word by word (words are unsigned). */
function compareKeys(a: Uint32Array, ai: number, b: Uint32Array, bi: number, wpk: number): number {
  for (let w = 0; w < wpk; w++) {
    const x = a[ai + w]!;
    const y = b[bi + w]!;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

function countEnabled(part: BuildPart, start: number, end: number): number {
  let n = 0;
  for (let i = start; i < end; i++) if (isRowEnabled(part, i)) n++;
  return n;
}

function packKeys(
  part: BuildPart,
  start: number,
  end: number,
  hashBytes: number,
  wpk: number,
  keys: Uint32Array,
  lists: Uint16Array,
  ordinals: Uint32Array,
  next: number,
): number {
  for (let i = start; i < end; i++) {
    if (!isRowEnabled(part, i)) continue;
    packKey(part.hashes, i * hashBytes, hashBytes, wpk, keys, next * wpk);
    lists[next] = part.list;
    ordinals[next] = i;
    next++;
  }
  return next;
}

function countBuckets(
  keys: Uint32Array,
  wpk: number,
  shift: number,
  start: number,
  end: number,
  dir: Uint32Array,
) {
  for (let i = start; i < end; i++) dir[(keys[i * wpk]! >>> shift) + 1]!++;
}

function scatterPermutation(
  keys: Uint32Array,
  wpk: number,
  shift: number,
  start: number,
  end: number,
  cursor: Uint32Array,
  perm: Uint32Array,
): void {
  for (let i = start; i < end; i++) perm[cursor[keys[i * wpk]! >>> shift]!++] = i;
}

/** Sorts `perm[lo..hi)` by key; stable, so equal keys keep list order. */
function sortBucket(perm: Uint32Array, lo: number, hi: number, keys: Uint32Array, wpk: number): void {
  if (hi - lo <= 16) {
    for (let i = lo + 1; i < hi; i++) {
      const x = perm[i]!;
      let j = i - 1;
      while (j >= lo && compareKeys(keys, perm[j]! * wpk, keys, x * wpk, wpk) > 0) {
        perm[j + 1] = perm[j]!;
        j--;
      }
      perm[j + 1] = x;
    }
    return;
  }
  const sorted = Array.from(perm.subarray(lo, hi)).sort((a, b) =>
    compareKeys(keys, a * wpk, keys, b * wpk, wpk),
  );
  perm.set(sorted, lo);
}

/**
 * Builds the data of an exact index from the parts of one hash type, yielding every
 * {@link BUILD_CHUNK} rows or buckets so a caller can run it in slices. Pure computation: the same
 * code runs in the build worker and on the main thread.
 */
export function* buildExactData(
  type: string,
  hashBytes: number,
  parts: readonly BuildPart[],
): Generator<void, ExactIndexData> {
  const wpk = Math.ceil(hashBytes / 4);
  let count = 0;
  let total = 0;
  for (const part of parts) {
    total += part.count;
    for (let start = 0; start < part.count; start += BUILD_CHUNK) {
      count += countEnabled(part, start, Math.min(part.count, start + BUILD_CHUNK));
      yield;
    }
  }
  assertIndexable(type, count);

  const rawKeys = new Uint32Array(count * wpk);
  const rawLists = new Uint16Array(count);
  const rawOrdinals = new Uint32Array(count);
  let next = 0;
  for (const part of parts) {
    for (let start = 0; start < part.count; start += BUILD_CHUNK) {
      const end = Math.min(part.count, start + BUILD_CHUNK);
      next = packKeys(part, start, end, hashBytes, wpk, rawKeys, rawLists, rawOrdinals, next);
      yield;
    }
  }

  // Counting sort by the leading dirBits bits gives the directory and a permutation at once; then
  // each (small) bucket is sorted by the full key.
  const dirBits = count < 4 ? 1 : Math.min(24, Math.floor(Math.log2(count)));
  const shift = 32 - dirBits;
  const buckets = 2 ** dirBits;
  const directory = new Uint32Array(buckets + 1);
  const cursor = new Uint32Array(buckets);
  const perm = new Uint32Array(count);
  yield* touchInSlices(directory, cursor, perm);
  for (let i0 = 0; i0 < count; i0 += BUILD_CHUNK) {
    countBuckets(rawKeys, wpk, shift, i0, Math.min(count, i0 + BUILD_CHUNK), directory);
    yield;
  }
  for (let b0 = 0; b0 < buckets; b0 += BUILD_CHUNK) {
    const b1 = Math.min(buckets, b0 + BUILD_CHUNK);
    for (let b = b0; b < b1; b++) directory[b + 1] = directory[b + 1]! + directory[b]!;
    cursor.set(directory.subarray(b0, b1), b0);
    yield;
  }
  for (let i0 = 0; i0 < count; i0 += BUILD_CHUNK) {
    scatterPermutation(rawKeys, wpk, shift, i0, Math.min(count, i0 + BUILD_CHUNK), cursor, perm);
    yield;
  }
  for (let b0 = 0; b0 < buckets; b0 += BUILD_CHUNK) {
    const b1 = Math.min(buckets, b0 + BUILD_CHUNK);
    for (let b = b0; b < b1; b++) {
      const lo = directory[b]!;
      const hi = directory[b + 1]!;
      if (hi - lo > 1) sortBucket(perm, lo, hi, rawKeys, wpk);
    }
    yield;
  }

  const keys = new Uint32Array(count * wpk);
  const lists = new Uint16Array(count);
  const ordinals = new Uint32Array(count);
  for (let i0 = 0; i0 < count; i0 += BUILD_CHUNK) {
    const i1 = Math.min(count, i0 + BUILD_CHUNK);
    for (let i = i0; i < i1; i++) {
      const p = perm[i]!;
      for (let w = 0; w < wpk; w++) keys[i * wpk + w] = rawKeys[p * wpk + w]!;
      lists[i] = rawLists[p]!;
      ordinals[i] = rawOrdinals[p]!;
    }
    yield;
  }

  return {
    type,
    hashBytes,
    wordsPerKey: wpk,
    count,
    excluded: total - count,
    keys,
    lists,
    ordinals,
    dirBits,
    directory,
  };
}

/** Every typed array of an {@link ExactIndexData}, for byte counts and transfer lists. */
export function exactDataArrays(data: ExactIndexData): ArrayBufferView[] {
  return [data.keys, data.lists, data.ordinals, data.directory];
}

/**
 * Exact index over one hash type. Immutable once built; safe to query from any number of callers.
 * Build it through `buildMatchIndex()` (off the event loop) or from data with
 * {@link ExactIndex.fromData}.
 *
 * Memory per entry: the hash rounded up to whole words (16 bytes for MD5, 20 for SHA-1, 32 for
 * SHA-256), 6 bytes of list and ordinal, and 2 to 4 bytes of directory.
 *
 * @example
 * for (const ref of index.lookup(md5Bytes)) console.log(entryRefList(ref), entryRefOrdinal(ref));
 */
export class ExactIndex {
  /** Hash type name, e.g. `md5`. */
  readonly type: string;
  /** Bytes per hash. */
  readonly hashBytes: number;
  /** Entries indexed. */
  readonly size: number;
  /** Entries left out because their category was disabled. */
  readonly excluded: number;
  readonly #wpk: number;
  readonly #shift: number;
  readonly #keys: Uint32Array;
  readonly #lists: Uint16Array;
  readonly #ordinals: Uint32Array;
  readonly #directory: Uint32Array;
  readonly #query: Uint32Array;
  readonly #data: ExactIndexData;

  private constructor(data: ExactIndexData) {
    this.type = data.type;
    this.hashBytes = data.hashBytes;
    this.size = data.count;
    this.excluded = data.excluded;
    this.#wpk = data.wordsPerKey;
    this.#shift = 32 - data.dirBits;
    this.#keys = data.keys;
    this.#lists = data.lists;
    this.#ordinals = data.ordinals;
    this.#directory = data.directory;
    this.#query = new Uint32Array(data.wordsPerKey);
    this.#data = data;
  }

  /** Wraps built data (from a worker or a sliced build) without copying it. */
  static fromData(data: ExactIndexData): ExactIndex {
    if (
      data.wordsPerKey !== Math.ceil(data.hashBytes / 4) ||
      data.keys.length !== data.count * data.wordsPerKey ||
      data.lists.length !== data.count ||
      data.ordinals.length !== data.count ||
      data.dirBits < 1 ||
      data.dirBits > 24 ||
      data.directory.length !== 2 ** data.dirBits + 1
    ) {
      throw matchingError(
        MatchingErrorCodes.INDEX_BUILD_FAILED,
        `The built ${data.type} index data is inconsistent`,
      );
    }
    return new ExactIndex(data);
  }

  /** Sum of the byte lengths of every typed array the index holds. */
  get byteLength(): number {
    let n = 0;
    for (const a of exactDataArrays(this.#data)) n += a.byteLength;
    return n;
  }

  /**
   * Every entry whose hash equals `hash`, in list order (several when lists share a hash).
   * Throws `ERR_HASHGATE_INVALID_QUERY` when `hash` is not `hashBytes` long.
   */
  lookup(hash: Uint8Array): EntryRef[] {
    const first = this.#find(hash);
    const out: EntryRef[] = [];
    if (first < 0) return out;
    const wpk = this.#wpk;
    const end = this.#directory[(this.#query[0]! >>> this.#shift) + 1]!;
    for (let i = first; i < end && compareKeys(this.#keys, i * wpk, this.#query, 0, wpk) === 0; i++) {
      out.push(packEntryRef(this.#lists[i]!, this.#ordinals[i]!));
    }
    return out;
  }

  /** Whether any entry's hash equals `hash` (no allocation). Throws like {@link lookup}. */
  has(hash: Uint8Array): boolean {
    return this.#find(hash) >= 0;
  }

  /** Position of the first key equal to `hash` (left in the query scratch), or -1. */
  #find(hash: Uint8Array): number {
    if (!(hash instanceof Uint8Array) || hash.length !== this.hashBytes) {
      throw matchingError(
        MatchingErrorCodes.INVALID_QUERY,
        `A ${this.type} query hash must be ${this.hashBytes} bytes`,
      );
    }
    const wpk = this.#wpk;
    const q = this.#query;
    packKey(hash, 0, this.hashBytes, wpk, q, 0);
    const keys = this.#keys;
    const b = q[0]! >>> this.#shift;
    let lo = this.#directory[b]!;
    let hi = this.#directory[b + 1]!;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareKeys(keys, mid * wpk, q, 0, wpk) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo < this.#directory[b + 1]! && compareKeys(keys, lo * wpk, q, 0, wpk) === 0 ? lo : -1;
  }
}
