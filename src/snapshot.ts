/**
 * Owns the immutable snapshot of one hash list: the contract between list sync (which produces
 * it) and the match index (which is built from it). Columnar, so that millions of entries cost
 * typed arrays rather than millions of small objects.
 */

/** The entries of one list that share one hash type, in columns. Entry `i` is row `i` of every column. */
export interface TypedEntries {
  /** Hash type name (`md5`, `sha1`, `sha256`, `pdq`, `blockhash` or a custom type). */
  readonly type: string;
  /** Number of entries. */
  readonly count: number;
  /** Bytes per hash (16 for md5, 20 for sha1, 32 for sha256, pdq and blockhash). */
  readonly hashBytes: number;
  /** `count * hashBytes` bytes; entry `i`'s hash is `hashes.subarray(i * hashBytes, (i + 1) * hashBytes)`. */
  readonly hashes: Uint8Array;
  /** Entry ids as the list publishes them. */
  readonly ids: readonly string[];
  /** Per entry, an index into {@link ListSnapshot.categories}. */
  readonly categories: Uint16Array;
  /** Labels of the entries that have any, by entry index (sparse). */
  readonly labels: ReadonlyMap<number, readonly string[]>;
}

/** One accepted version of one list, after every entry was validated. Never mutated once built. */
export interface ListSnapshot {
  /** List name, unique within a hashgate instance. */
  readonly list: string;
  /** Monotonically increasing list version. */
  readonly version: number;
  /** When the publisher created this version (ISO 8601). */
  readonly createdAt: string;
  /** Category names; entries without a category are in `default`. */
  readonly categories: readonly string[];
  /** Entries grouped by hash type. */
  readonly byType: ReadonlyMap<string, TypedEntries>;
}
