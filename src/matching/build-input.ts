/**
 * Owns the plain-data input of an index build: the columns of each list's entries for one hash
 * type, in a shape that can cross into a worker thread (typed arrays only, no functions).
 */

import type { HashKind } from '../hashing/hash-types';
import { MatchingErrorCodes, matchingError } from './errors';

/** The entries of one list for one hash type, as the builder reads them. */
export interface BuildPart {
  /** Position of the list in the index (see `EntryRef`). */
  readonly list: number;
  /** Number of rows in `hashes`. */
  readonly count: number;
  /** `count * hashBytes` bytes, row `i` at `i * hashBytes`. */
  readonly hashes: Uint8Array;
  /** Per row, an index into the list's categories; present only when some category is disabled. */
  readonly categories?: Uint16Array;
  /** Per category index, 1 when enabled and 0 when not; present only together with `categories`. */
  readonly allowed?: Uint8Array;
}

/** Everything the builder needs for one hash type. */
export interface TypePlan {
  /** Hash type name. */
  readonly type: string;
  /** `exact` goes to an exact index, `perceptual` to a Hamming index. */
  readonly kind: HashKind;
  /** Bytes per hash. */
  readonly hashBytes: number;
  /** One part per list that has entries of this type, in list order. */
  readonly parts: readonly BuildPart[];
}

/** The whole input of a build: one plan per indexed hash type. */
export interface BuildPlan {
  readonly types: readonly TypePlan[];
}

/** Rows processed between two yields of a build generator (keeps each slice well under a millisecond or two). */
export const BUILD_CHUNK = 32768;

/** Elements written per yield when pre-touching a fresh array (see {@link touchInSlices}). */
const TOUCH_CHUNK = 1 << 18;

/**
 * Writes zeros over fresh typed arrays a slice at a time, yielding in between. Large arrays are
 * mapped lazily by the OS; an array filled in random order (CSR postings, a counting sort's
 * permutation) would otherwise take all of its page faults in the first slice that writes to it.
 */
export function* touchInSlices(...arrays: (Uint8Array | Uint16Array | Uint32Array)[]): Generator<void, void> {
  for (const a of arrays) {
    for (let start = 0; start < a.length; start += TOUCH_CHUNK) {
      a.fill(0, start, Math.min(a.length, start + TOUCH_CHUNK));
      yield;
    }
  }
}

/** Most entries of one hash type an index holds (ids are 32-bit and packed hashes stay addressable). */
export const MAX_ENTRIES_PER_TYPE = 2 ** 28;

/**
 * Whether row `i` of a part is in an enabled category. Throws `ERR_HASHGATE_INVALID_SNAPSHOT`
 * when the row's category index is outside the list's categories.
 */
export function isRowEnabled(part: BuildPart, i: number): boolean {
  const allowed = part.allowed;
  if (allowed === undefined) return true;
  const flag = allowed[part.categories![i]!];
  if (flag === undefined) {
    throw matchingError(
      MatchingErrorCodes.INVALID_SNAPSHOT,
      `Entry ${i} of list position ${part.list} has a category index outside the list's categories`,
    );
  }
  return flag === 1;
}

/** Throws `ERR_HASHGATE_INDEX_TOO_LARGE` when one hash type has more entries than an index can hold. */
export function assertIndexable(type: string, count: number): void {
  if (count > MAX_ENTRIES_PER_TYPE) {
    throw matchingError(
      MatchingErrorCodes.INDEX_TOO_LARGE,
      `The ${type} entries (${count}) exceed the ${MAX_ENTRIES_PER_TYPE} one index can hold; split the lists across instances`,
    );
  }
}
