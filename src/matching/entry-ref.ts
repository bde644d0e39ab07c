/**
 * Owns the compact reference from a match back to the list entry it came from: one plain number
 * that packs a list's position in the index and the entry's row in that list's columns.
 */

/**
 * Identifies one list entry of one hash type inside a match index, as a single non-negative
 * safe integer: `list * 2**32 + ordinal`.
 *
 * - `list` is the position of the list in {@link MatchIndex.lists} (the order the snapshots were
 *   given to the builder), 0 to 2**21 - 1.
 * - `ordinal` is the entry's row in that list's `TypedEntries` for the hash type that matched
 *   (`snapshot.byType.get(type).ids[ordinal]` is its id), 0 to 2**32 - 1.
 *
 * A ref only means something together with the hash type it was returned for. Being a number, it
 * costs no allocation, compares with `===`, sorts, and works as a `Map` or `Set` key.
 *
 * @example
 * const ref = packEntryRef(1, 42);
 * entryRefList(ref); // 1
 * entryRefOrdinal(ref); // 42
 */
export type EntryRef = number;

const TWO_32 = 2 ** 32;

/** Largest list position an {@link EntryRef} can carry (the ref stays a safe integer). */
export const MAX_REF_LIST = 2 ** 21 - 1;

/** Packs a list position and an entry ordinal into an {@link EntryRef}. */
export function packEntryRef(list: number, ordinal: number): EntryRef {
  if (!Number.isInteger(list) || list < 0 || list > MAX_REF_LIST) {
    throw new RangeError(`An entry ref needs a list position from 0 to ${MAX_REF_LIST}`);
  }
  if (!Number.isInteger(ordinal) || ordinal < 0 || ordinal >= TWO_32) {
    throw new RangeError('An entry ref needs an ordinal from 0 to 2**32 - 1');
  }
  return list * TWO_32 + ordinal;
}

/** The list position of an {@link EntryRef}: an index into {@link MatchIndex.lists}. */
export function entryRefList(ref: EntryRef): number {
  return Math.floor(ref / TWO_32);
}

/** The entry's row in its list's `TypedEntries` columns. */
export function entryRefOrdinal(ref: EntryRef): number {
  // ToUint32 is the value modulo 2**32, exact for every safe integer.
  return ref >>> 0;
}
