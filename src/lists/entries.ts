/**
 * Owns list entries: validating each untrusted entry, dropping and counting bad ones, and
 * collecting the good ones into the columnar {@link ListSnapshot}; also the snapshot helpers the
 * sync needs (category filter, counts, "what was added").
 */

import { forEachCooperative, Yielder } from '../cooperative';
import { getHashType, type HashIssue, type HashType, PERCEPTUAL_WEIGHT_RANGE } from '../hashing/hash-types';
import type { ListSnapshot, TypedEntries } from '../snapshot';
import { allocBytes, columnarEntries, IdColumn, IdSet, isColumnar } from './entry-ids';
import { ListErrorCodes, listError } from './errors';

/** Category of an entry that has none. */
export const DEFAULT_CATEGORY = 'default';

/** Why an entry (or a line) was dropped. Counted per reason in the list status; never fatal. */
export type DropReason =
  /** The line is not JSON. */
  | 'invalid-json'
  /** The entry is not an object, or a field has the wrong JSON type. */
  | 'invalid-entry'
  /** The id is missing, empty, too long or has control characters. */
  | 'invalid-id'
  /** The hash type is not known to this hashgate. */
  | 'unknown-type'
  /** A threatexchange signal type that is not a hash of the file bytes (url, text, ...). */
  | 'unsupported-type'
  /** The hash has the wrong number of hex digits for its type. */
  | 'wrong-length'
  /** The hash has characters other than hex digits. */
  | 'not-hex'
  /** A perceptual hash with (almost) no bits or all bits set. */
  | 'degenerate'
  /** The category is not a short name of letters, digits and `._:/ -`. */
  | 'invalid-category'
  /** Labels are not an array of up to 32 short strings. */
  | 'invalid-labels'
  /** The id was already used by an earlier entry of the list. */
  | 'duplicate-id'
  /** The same hash of the same type was already in the list (the first entry is kept). */
  | 'duplicate-hash'
  /** The line is longer than the line limit. */
  | 'line-too-long'
  /** The list uses more distinct categories than a snapshot can hold (65536). */
  | 'too-many-categories'
  /** A threatexchange CSV row whose opinion is NEGATIVE_CLASS (known not to be harmful). */
  | 'negative-opinion'
  /** A delta removes an id the list does not have. */
  | 'unknown-remove';

/** Dropped entries by reason. Reasons with no drops are absent. */
export type DropCounts = Partial<Record<DropReason, number>>;

/** Value of a hex digit by its byte (the caller checked that the byte is a hex digit). */
const HEX_VALUE = new Uint8Array(256);
for (let d = 0; d < 16; d++) {
  HEX_VALUE['0123456789abcdef'.charCodeAt(d)] = d;
  HEX_VALUE['0123456789ABCDEF'.charCodeAt(d)] = d;
}
/** Set bits of each byte value. */
const BIT_COUNT = new Uint8Array(256);
for (let b = 1; b < 256; b++) BIT_COUNT[b] = (b & 1) + BIT_COUNT[b >> 1]!;

function bytesEqual(a: Uint8Array, buf: Uint8Array, start: number, end: number): boolean {
  if (a.length !== end - start) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== buf[start + i]) return false;
  return true;
}

/** Finds a hash type by its name in a list (built-in or custom). */
export type HashTypeResolver = (name: string) => HashType | undefined;

/** Resolves built-in types, then the given custom types (by their `name`). */
export function createHashTypeResolver(custom: readonly HashType[] = []): HashTypeResolver {
  if (custom.length === 0) return getHashType;
  const byName = new Map(custom.map((t) => [t.name, t]));
  return (name) => getHashType(name) ?? byName.get(name);
}

const MAX_ID_LENGTH = 200;
// biome-ignore lint/suspicious/noControlCharactersInRegex: the pattern exists to find control characters in ids
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;
const CATEGORY_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:/ -]{0,63}$/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: labels must not contain control characters
const LABEL_PATTERN = /^[^\u0000-\u001f\u007f]{1,64}$/;
const MAX_LABELS = 32;
const MAX_CATEGORIES = 65536;

/** True when `id` is an acceptable entry id: a non-empty string of at most 200 characters without control characters. */
export function isValidEntryId(id: unknown): id is string {
  return typeof id === 'string' && id.length > 0 && id.length <= MAX_ID_LENGTH && !CONTROL_CHARS.test(id);
}

/** True when `name` is an acceptable category name. */
export function isValidCategory(name: unknown): name is string {
  return typeof name === 'string' && CATEGORY_PATTERN.test(name);
}

/** Parses an optional labels value; `null` means invalid. */
function parseLabels(value: unknown): readonly string[] | undefined | null {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value) || value.length > MAX_LABELS) return null;
  for (const l of value) if (typeof l !== 'string' || !LABEL_PATTERN.test(l)) return null;
  return value.length === 0 ? undefined : Object.freeze([...(value as string[])]);
}

function issueToReason(issue: HashIssue): DropReason {
  switch (issue) {
    case 'wrong-length':
      return 'wrong-length';
    case 'not-hex':
      return 'not-hex';
    case 'degenerate':
      return 'degenerate';
    default:
      return 'invalid-entry';
  }
}

/**
 * Open-addressing hash set over fixed-width rows of a byte buffer: finds duplicate hashes without
 * a JavaScript string per entry (millions of entries cost a few bytes each).
 */
export class RowIndex {
  /** The rows; replace it when the owner grows its buffer (rows keep their offsets). */
  buf: Uint8Array;
  readonly #width: number;
  /** Pairs `(row + 1, hash code)`: a probe reads one cache line, and the rows only when codes agree. */
  #table: Int32Array;
  #mask: number;
  #size = 0;

  constructor(buf: Uint8Array, width: number, expectedRows = 0) {
    this.buf = buf;
    this.#width = width;
    let cap = 1024;
    while (cap < expectedRows * 2) cap *= 2;
    this.#table = new Int32Array(cap * 2);
    this.#mask = cap - 1;
  }

  #code(buf: Uint8Array, off: number): number {
    let h = 0x811c9dc5;
    for (let i = 0; i < this.#width; i++) h = Math.imul(h ^ buf[off + i]!, 0x01000193);
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b);
    return h ^ (h >>> 13);
  }

  #equalRows(a: Uint8Array, aOff: number, rowB: number): boolean {
    const b = this.buf;
    const bOff = rowB * this.#width;
    for (let i = 0; i < this.#width; i++) if (a[aOff + i] !== b[bOff + i]) return false;
    return true;
  }

  /** The row whose bytes equal `buf[off, off + width)`, or -1. */
  find(buf: Uint8Array, off: number): number {
    const code = this.#code(buf, off);
    const t = this.#table;
    let s = code & this.#mask;
    for (;;) {
      const v = t[s * 2]!;
      if (v === 0) return -1;
      if (t[s * 2 + 1] === code && this.#equalRows(buf, off, v - 1)) return v - 1;
      s = (s + 1) & this.#mask;
    }
  }

  /** Adds `row` (its bytes already in {@link buf}) unless an equal row exists; returns that row, or -1 when added. */
  addRow(row: number): number {
    if ((this.#size + 1) * 2 > this.#mask + 1) this.#grow();
    const off = row * this.#width;
    const code = this.#code(this.buf, off);
    const t = this.#table;
    let s = code & this.#mask;
    for (;;) {
      const v = t[s * 2]!;
      if (v === 0) {
        t[s * 2] = row + 1;
        t[s * 2 + 1] = code;
        this.#size++;
        return -1;
      }
      if (t[s * 2 + 1] === code && this.#equalRows(this.buf, off, v - 1)) return v - 1;
      s = (s + 1) & this.#mask;
    }
  }

  #grow(): void {
    const old = this.#table;
    const cap = (this.#mask + 1) * 2;
    const t = new Int32Array(cap * 2);
    const mask = cap - 1;
    for (let i = 0; i < old.length; i += 2) {
      const v = old[i]!;
      if (v === 0) continue;
      const code = old[i + 1]!;
      let s = code & mask;
      while (t[s * 2] !== 0) s = (s + 1) & mask;
      t[s * 2] = v;
      t[s * 2 + 1] = code;
    }
    this.#table = t;
    this.#mask = mask;
  }
}

class Column {
  readonly type: HashType;
  readonly width: number;
  hashes: Uint8Array;
  categories: Uint16Array;
  readonly ids: IdColumn;
  /** This column's number in the builder's {@link IdSet}. */
  readonly idsNo: number;
  readonly labels = new Map<number, readonly string[]>();
  readonly index: RowIndex;
  count = 0;

  constructor(type: HashType, expected: number, idSet: IdSet) {
    this.type = type;
    this.width = type.bits / 8;
    const cap = Math.max(64, expected);
    this.ids = new IdColumn(cap);
    this.idsNo = idSet.addColumn(this.ids);
    this.hashes = new Uint8Array(cap * this.width);
    this.categories = new Uint16Array(cap);
    this.index = new RowIndex(this.hashes, this.width, cap);
  }

  ensureRoom(): void {
    if (this.count < this.categories.length) return;
    const cap = this.categories.length * 2;
    const h = new Uint8Array(cap * this.width);
    h.set(this.hashes);
    this.hashes = h;
    this.index.buf = h;
    const c = new Uint16Array(cap);
    c.set(this.categories);
    this.categories = c;
  }
}

/** Options of a {@link SnapshotBuilder}. */
export interface SnapshotBuilderOptions {
  /** Resolves hash type names. @default built-in types only */
  resolveType?: HashTypeResolver;
  /** Expected number of entries per type, to size the tables once (from the manifest). */
  expectedCounts?: Readonly<Record<string, number>>;
  /** Refuse (throw `ERR_HASHGATE_LIST_TOO_LARGE`) beyond this many accepted entries. @default 50_000_000 */
  maxEntries?: number;
}

/**
 * Collects validated entries of one list into columns by hash type. Invalid entries, duplicate
 * ids and duplicate hashes are dropped and counted by reason; the first occurrence wins.
 */
export class SnapshotBuilder {
  readonly #resolve: HashTypeResolver;
  readonly #expected: Readonly<Record<string, number>>;
  readonly #maxEntries: number;
  readonly #columns = new Map<string, Column>();
  readonly #ids: IdSet;
  readonly #categories: string[] = [];
  readonly #categoryIndex = new Map<string, number>();
  readonly #dropped: Record<string, number> = {};
  /** Type names as they appear in the list -> resolved type (null: unknown), to skip the lookup per entry. */
  readonly #typeCache = new Map<string, HashType | null>();
  /** The type name bytes of the last canonical line, their type, and whether it is a built-in one. */
  #lastType: { bytes: Uint8Array; type: HashType | null; builtIn: boolean } | null = null;
  readonly #hashScratch = new Uint8Array(64);
  /** Scratch space for ids given as strings. */
  #scratch = Buffer.allocUnsafe(1024);
  #total = 0;

  constructor(options: SnapshotBuilderOptions = {}) {
    this.#resolve = options.resolveType ?? getHashType;
    this.#expected = options.expectedCounts ?? {};
    this.#maxEntries = options.maxEntries ?? 50_000_000;
    let expected = 0;
    for (const n of Object.values(this.#expected)) expected += Number.isSafeInteger(n) && n > 0 ? n : 0;
    this.#ids = new IdSet(Math.min(expected, this.#maxEntries));
  }

  /** Number of entries accepted so far. */
  get size(): number {
    return this.#total;
  }

  /** Dropped entries by reason so far. */
  get dropped(): DropCounts {
    return { ...this.#dropped } as DropCounts;
  }

  /** Counts one dropped entry. */
  drop(reason: DropReason): false {
    this.#dropped[reason] = (this.#dropped[reason] ?? 0) + 1;
    return false;
  }

  #encode(id: string): { buf: Buffer; end: number } {
    if (id.length * 3 > this.#scratch.length) this.#scratch = Buffer.allocUnsafe(id.length * 3);
    return { buf: this.#scratch, end: this.#scratch.write(id, 0, 'utf8') };
  }

  /** True when an entry with this id was accepted. */
  hasId(id: string): boolean {
    const { buf, end } = this.#encode(id);
    return this.#ids.has(buf, 0, end);
  }

  /**
   * Validates one untrusted entry object (`{id, type, hash, category?, labels?}`) and adds it;
   * false (and counted) when it was dropped.
   */
  addUntrusted(value: unknown): boolean {
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      return this.drop('invalid-entry');
    const v = value as Record<string, unknown>;
    if (!isValidEntryId(v.id)) return this.drop('invalid-id');
    if (typeof v.type !== 'string') return this.drop('invalid-entry');
    return this.addHex(v.id, v.type, v.hash, v.category, v.labels);
  }

  #typeOf(typeName: string): HashType | null {
    let type = this.#typeCache.get(typeName);
    if (type === undefined) {
      type = this.#resolve(typeName.toLowerCase()) ?? null;
      if (this.#typeCache.size < 64) this.#typeCache.set(typeName, type);
    }
    return type;
  }

  /**
   * Validates and adds an entry given as fields (used by the text formats). `category` may be
   * undefined (then `default`); `labels` undefined or an array of strings.
   */
  addHex(id: string, typeName: string, hash: unknown, category?: unknown, labels?: unknown): boolean {
    const { buf, end } = this.#encode(id);
    return this.addHexIdBytes(buf, 0, end, typeName, hash, category, labels);
  }

  /**
   * Like {@link addHex}, with the id given as UTF-8 bytes `idBuf[idStart, idEnd)` that the caller
   * already checked with {@link isValidEntryId} (or knows to be printable ASCII of 1 to 200 bytes).
   */
  addHexIdBytes(
    idBuf: Uint8Array,
    idStart: number,
    idEnd: number,
    typeName: string,
    hash: unknown,
    category?: unknown,
    labels?: unknown,
  ): boolean {
    const type = this.#typeOf(typeName);
    if (!type) return this.drop('unknown-type');
    const parsed = type.validate(hash);
    if (!parsed.ok) return this.drop(issueToReason(parsed.issue));
    let cat = DEFAULT_CATEGORY;
    if (category !== undefined && category !== null) {
      if (!isValidCategory(category)) return this.drop('invalid-category');
      cat = category;
    }
    const l = parseLabels(labels);
    if (l === null) return this.drop('invalid-labels');
    return this.#add(idBuf, idStart, idEnd, type, parsed.bytes, 0, cat, l);
  }

  /**
   * The fast path of canonical NDJSON lines: the id as printable ASCII bytes (1 to 200, checked by
   * the caller), the type name as bytes, and the hash as hex digits `hex[hexStart, hexEnd)` that
   * the caller checked are hex. For built-in types the hash is decoded and checked here without
   * a string; the result is the same as {@link addHex}.
   */
  addCanonical(
    buf: Uint8Array,
    idStart: number,
    idEnd: number,
    typeStart: number,
    typeEnd: number,
    hexStart: number,
    hexEnd: number,
  ): boolean {
    let last = this.#lastType;
    if (!last || !bytesEqual(last.bytes, buf, typeStart, typeEnd)) {
      const name = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength).toString(
        'latin1',
        typeStart,
        typeEnd,
      );
      const type = this.#typeOf(name);
      const builtIn = type !== null && getHashType(type.name) === type;
      last = { bytes: new Uint8Array(buf.subarray(typeStart, typeEnd)), type, builtIn };
      this.#lastType = last;
    }
    const type = last.type;
    if (!type) return this.drop('unknown-type');
    if (!last.builtIn) {
      const hex = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength).toString(
        'latin1',
        hexStart,
        hexEnd,
      );
      return this.addHexIdBytes(buf, idStart, idEnd, type.name, hex);
    }
    const width = type.bits / 8;
    if (hexEnd - hexStart !== width * 2) return this.drop('wrong-length');
    const bytes = this.#hashScratch;
    let weight = 0;
    for (let i = 0; i < width; i++) {
      const b = (HEX_VALUE[buf[hexStart + 2 * i]!]! << 4) | HEX_VALUE[buf[hexStart + 2 * i + 1]!]!;
      bytes[i] = b;
      weight += BIT_COUNT[b]!;
    }
    if (
      type.kind === 'perceptual' &&
      (weight < PERCEPTUAL_WEIGHT_RANGE[0] || weight > PERCEPTUAL_WEIGHT_RANGE[1])
    )
      return this.drop('degenerate');
    return this.#add(buf, idStart, idEnd, type, bytes, 0, DEFAULT_CATEGORY, undefined);
  }

  /**
   * Adds an entry whose fields are already valid (rows of an accepted snapshot). Still checks
   * for duplicate ids and hashes. `bytes[offset, offset + type.bits / 8)` is the hash.
   */
  addBytes(
    id: string,
    type: HashType,
    bytes: Uint8Array,
    offset: number,
    category: string,
    labels: readonly string[] | undefined,
  ): boolean {
    const { buf, end } = this.#encode(id);
    return this.#add(buf, 0, end, type, bytes, offset, category, labels);
  }

  /** Adds row `row` of accepted entries `t` (its id copied as bytes), like {@link addBytes}. */
  addRowOf(t: TypedEntries, row: number, type: HashType, category: string): boolean {
    const hashAt = row * t.hashBytes;
    const labels = t.labels.get(row);
    if (isColumnar(t)) {
      const o = t.idOffsets;
      return this.#add(t.idBytes, o[row]!, o[row + 1]!, type, t.hashes, hashAt, category, labels);
    }
    const { buf, end } = this.#encode(t.ids[row]!);
    return this.#add(buf, 0, end, type, t.hashes, hashAt, category, labels);
  }

  #add(
    idBuf: Uint8Array,
    idStart: number,
    idEnd: number,
    type: HashType,
    bytes: Uint8Array,
    offset: number,
    category: string,
    labels: readonly string[] | undefined,
  ): boolean {
    let catIndex = this.#categoryIndex.get(category);
    if (catIndex === undefined && this.#categories.length >= MAX_CATEGORIES)
      return this.drop('too-many-categories');
    if (this.#total >= this.#maxEntries) {
      throw listError(
        ListErrorCodes.TOO_LARGE,
        `The list has more than ${this.#maxEntries} entries (maxEntries)`,
      );
    }
    if (this.#ids.has(idBuf, idStart, idEnd)) return this.drop('duplicate-id');
    let col = this.#columns.get(type.name);
    if (!col) {
      col = new Column(type, this.#expected[type.name] ?? 0, this.#ids);
      this.#columns.set(type.name, col);
    }
    col.ensureRoom();
    const row = col.count;
    const w = col.width;
    const dst = col.hashes;
    const at = row * w;
    for (let i = 0; i < w; i++) dst[at + i] = bytes[offset + i]!;
    // Only a row that is committed below may stay in the index: addRow adds it only when new.
    if (col.index.addRow(row) !== -1) return this.drop('duplicate-hash');
    if (catIndex === undefined) {
      catIndex = this.#categories.length;
      this.#categories.push(category);
      this.#categoryIndex.set(category, catIndex);
    }
    col.categories[row] = catIndex;
    col.ids.appendBytes(idBuf, idStart, idEnd);
    this.#ids.add(col.idsNo, row);
    if (labels) col.labels.set(row, labels);
    col.count++;
    this.#total++;
    return true;
  }

  /**
   * Freezes what was collected into an immutable snapshot. The builder must not be used
   * afterwards. With `shared`, the columns are in shared memory (for a worker to hand over).
   */
  build(list: string, version: number, createdAt: string, options: { shared?: boolean } = {}): ListSnapshot {
    const shared = options.shared === true;
    const byType = new Map<string, TypedEntries>();
    for (const name of [...this.#columns.keys()].sort()) {
      const col = this.#columns.get(name)!;
      if (col.count === 0) continue;
      const hashes = allocBytes(col.count * col.width, shared);
      hashes.set(col.hashes.subarray(0, col.count * col.width));
      const categories = shared
        ? new Uint16Array(new SharedArrayBuffer(col.count * 2))
        : new Uint16Array(col.count);
      categories.set(col.categories.subarray(0, col.count));
      byType.set(
        name,
        columnarEntries({
          type: name,
          count: col.count,
          hashBytes: col.width,
          hashes,
          categories,
          labels: col.labels,
          ...col.ids.finish(shared),
        }),
      );
    }
    return Object.freeze({
      list,
      version,
      createdAt,
      categories: Object.freeze([...this.#categories]),
      byType,
    });
  }
}

/** Number of entries in a snapshot. */
export function snapshotSize(snapshot: ListSnapshot): number {
  let n = 0;
  for (const t of snapshot.byType.values()) n += t.count;
  return n;
}

/** Entry counts of a snapshot. */
export interface SnapshotCounts {
  /** All entries. */
  total: number;
  /** Entries per hash type. */
  byType: Record<string, number>;
  /** Entries per category. */
  byCategory: Record<string, number>;
}

/** Counts entries by type and by category (one pass over the category columns). */
export function countSnapshot(snapshot: ListSnapshot): SnapshotCounts {
  const byType: Record<string, number> = {};
  const perCat = new Float64Array(snapshot.categories.length);
  let total = 0;
  for (const [name, t] of snapshot.byType) {
    byType[name] = t.count;
    total += t.count;
    // the column is read once: entries objects are frozen with an accessor, so a property read
    // in the loop would cost a dictionary lookup per entry
    const categories = t.categories;
    for (let i = 0, n = t.count; i < n; i++) perCat[categories[i]!]!++;
  }
  const byCategory: Record<string, number> = {};
  snapshot.categories.forEach((c, i) => {
    if (perCat[i]! > 0) byCategory[c] = perCat[i]!;
  });
  return { total, byType, byCategory };
}

/** An empty snapshot of a list. */
export function emptySnapshot(list: string, version: number, createdAt: string): ListSnapshot {
  return Object.freeze({ list, version, createdAt, categories: Object.freeze([]), byType: new Map() });
}

/**
 * Keeps the rows for which `keepFor(entries)(row)` is true, as a new snapshot with the same list,
 * version and category table. Yields to the event loop between slices. `keepFor` is called once
 * per hash type, so the test it returns can hold the type's columns in locals (entries objects
 * are frozen with an accessor, and reading their properties per row is slow).
 */
export async function selectRows(
  snapshot: ListSnapshot,
  keepFor: (entries: TypedEntries) => (row: number) => boolean,
): Promise<ListSnapshot> {
  const byType = new Map<string, TypedEntries>();
  const yielder = new Yielder();
  for (const [name, t] of snapshot.byType) {
    const rows: number[] = [];
    const keep = keepFor(t);
    await forEachCooperative(
      t.count,
      (i) => {
        if (keep(i)) rows.push(i);
      },
      yielder,
    );
    if (rows.length === 0) continue;
    if (rows.length === t.count) {
      byType.set(name, t);
      continue;
    }
    const w = t.hashBytes;
    const hashes = new Uint8Array(rows.length * w);
    const categories = new Uint16Array(rows.length);
    const ids = new IdColumn(rows.length);
    const labels = new Map<number, readonly string[]>();
    await forEachCooperative(
      rows.length,
      (j) => {
        const i = rows[j]!;
        hashes.set(t.hashes.subarray(i * w, i * w + w), j * w);
        categories[j] = t.categories[i]!;
        if (isColumnar(t)) ids.appendBytes(t.idBytes, t.idOffsets[i]!, t.idOffsets[i + 1]!);
        else ids.appendString(t.ids[i]!);
        const l = t.labels.get(i);
        if (l) labels.set(j, l);
      },
      yielder,
    );
    byType.set(
      name,
      columnarEntries({
        type: name,
        count: rows.length,
        hashBytes: w,
        hashes,
        categories,
        labels,
        ...ids.finish(false),
      }),
    );
  }
  return Object.freeze({ ...snapshot, byType });
}

/**
 * The snapshot restricted to the enabled categories; the same object when every category of the
 * snapshot is enabled (no copy). `enabled === undefined` enables all.
 */
export async function filterCategories(
  snapshot: ListSnapshot,
  enabled: ReadonlySet<string> | undefined,
): Promise<ListSnapshot> {
  if (!enabled) return snapshot;
  const keepCat = snapshot.categories.map((c) => enabled.has(c));
  if (keepCat.every(Boolean)) return snapshot;
  return selectRows(snapshot, (t) => {
    const categories = t.categories;
    return (i) => keepCat[categories[i]!] === true;
  });
}

/**
 * Entries of `next` whose hash (of the same type) is not in `prev`, per type. Used to re-check
 * earlier uploads against what a new version added. Types with nothing added are absent.
 */
export async function diffAdded(
  prev: ListSnapshot,
  next: ListSnapshot,
): Promise<ReadonlyMap<string, TypedEntries>> {
  const indexes = new Map<string, { index: RowIndex }>();
  const yielder = new Yielder();
  for (const [name, t] of prev.byType) {
    const index = new RowIndex(t.hashes, t.hashBytes, t.count);
    await forEachCooperative(t.count, (i) => index.addRow(i), yielder);
    indexes.set(name, { index });
  }
  const added = await selectRows(next, (t) => {
    const index = indexes.get(t.type)?.index;
    if (!index) return () => true;
    const { hashes, hashBytes } = t;
    return (i) => index.find(hashes, i * hashBytes) === -1;
  });
  return added.byType;
}
