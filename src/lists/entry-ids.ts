/**
 * Owns entry ids kept as bytes: one UTF-8 blob and an offsets column per hash type instead of a
 * JavaScript string per entry, so that a list of millions of entries costs no per-entry objects
 * (and no garbage collection) until an id is actually needed, for a match or a report.
 */

import type { TypedEntries } from '../snapshot';

/**
 * {@link TypedEntries} whose ids are held as bytes. `ids` still works (it decodes every id once,
 * on first use, and keeps the array), but code on a hot path reads one id with {@link entryIdAt}.
 */
export interface ColumnarEntries extends TypedEntries {
  /** The UTF-8 bytes of every id, back to back. */
  readonly idBytes: Uint8Array;
  /** `count + 1` offsets into {@link idBytes}: id `i` is `idBytes[idOffsets[i], idOffsets[i + 1])`. */
  readonly idOffsets: Uint32Array;
}

/** True when `t` keeps its ids as bytes. */
export function isColumnar(t: TypedEntries): t is ColumnarEntries {
  return (t as Partial<ColumnarEntries>).idOffsets instanceof Uint32Array;
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** The id of entry `i`, decoding only that one id when the ids are held as bytes. */
export function entryIdAt(t: TypedEntries, i: number): string {
  if (!isColumnar(t)) return t.ids[i]!;
  return asBuffer(t.idBytes).toString('utf8', t.idOffsets[i], t.idOffsets[i + 1]);
}

/** The fields of a {@link ColumnarEntries} (everything but the derived `ids`). */
export type ColumnarFields = Omit<ColumnarEntries, 'ids'>;

/**
 * Freezes columns into {@link ColumnarEntries}. `ids` is a lazy getter: the array of strings is
 * made only if some caller asks for it (the CLI, tests, older consumers), never by the sync.
 */
export function columnarEntries(fields: ColumnarFields): ColumnarEntries {
  let ids: readonly string[] | undefined;
  const { idBytes, idOffsets, count } = fields;
  return Object.freeze({
    type: fields.type,
    count,
    hashBytes: fields.hashBytes,
    hashes: fields.hashes,
    categories: fields.categories,
    labels: fields.labels,
    idBytes,
    idOffsets,
    get ids(): readonly string[] {
      if (!ids) {
        const buf = asBuffer(idBytes);
        const out: string[] = new Array(count);
        for (let i = 0; i < count; i++) out[i] = buf.toString('utf8', idOffsets[i], idOffsets[i + 1]);
        ids = Object.freeze(out);
      }
      return ids;
    },
  });
}

/** Allocates a typed array over shared memory (so a worker can hand it over, and an index build read it, without a copy) or ordinary memory. */
export function allocBytes(length: number, shared: boolean): Uint8Array {
  return shared ? new Uint8Array(new SharedArrayBuffer(length)) : new Uint8Array(length);
}

/**
 * A growing column of ids as bytes: append ids (bytes or strings), read one back, compare one
 * with a byte range, and finish into an exact-size blob and offsets.
 */
export class IdColumn {
  #bytes: Buffer;
  #offsets: Uint32Array;
  #count = 0;

  constructor(expected = 0) {
    const cap = Math.max(64, expected);
    this.#bytes = Buffer.allocUnsafe(cap * 16);
    this.#offsets = new Uint32Array(cap + 1);
  }

  get count(): number {
    return this.#count;
  }

  /** The blob (valid up to the end of the last id). */
  get bytes(): Buffer {
    return this.#bytes;
  }

  start(i: number): number {
    return this.#offsets[i]!;
  }

  end(i: number): number {
    return this.#offsets[i + 1]!;
  }

  #reserve(more: number): void {
    if (this.#count + 1 >= this.#offsets.length) {
      const o = new Uint32Array(this.#offsets.length * 2);
      o.set(this.#offsets);
      this.#offsets = o;
    }
    const used = this.#offsets[this.#count]!;
    if (used + more > this.#bytes.length) {
      let cap = this.#bytes.length * 2;
      while (cap < used + more) cap *= 2;
      if (cap > 0xffffffff) throw new RangeError('Entry ids of one hash type exceed 4 GiB');
      const b = Buffer.allocUnsafe(cap);
      this.#bytes.copy(b, 0, 0, used);
      this.#bytes = b;
    }
  }

  /** Appends the id `src[start, end)`. */
  appendBytes(src: Uint8Array, start: number, end: number): void {
    this.#reserve(end - start);
    const at = this.#offsets[this.#count]!;
    const b = this.#bytes;
    // A loop beats a subarray + set for ids of a few dozen bytes (no view object per id).
    for (let i = start, j = at; i < end; i++, j++) b[j] = src[i]!;
    this.#offsets[++this.#count] = at + (end - start);
  }

  /** Appends an id given as a string (UTF-8). */
  appendString(id: string): void {
    this.#reserve(Buffer.byteLength(id, 'utf8'));
    const at = this.#offsets[this.#count]!;
    const n = this.#bytes.write(id, at, 'utf8');
    this.#offsets[++this.#count] = at + n;
  }

  /** True when id `i` has exactly the bytes `src[start, end)`. */
  equals(i: number, src: Uint8Array, start: number, end: number): boolean {
    const a = this.#offsets[i]!;
    const len = this.#offsets[i + 1]! - a;
    if (len !== end - start) return false;
    const b = this.#bytes;
    for (let k = 0; k < len; k++) if (b[a + k] !== src[start + k]) return false;
    return true;
  }

  /** Exact-size copies of the blob and the offsets (`count + 1` of them). */
  finish(shared: boolean): { idBytes: Uint8Array; idOffsets: Uint32Array } {
    const used = this.#offsets[this.#count]!;
    const idBytes = allocBytes(used, shared);
    idBytes.set(this.#bytes.subarray(0, used));
    const idOffsets = shared
      ? new Uint32Array(new SharedArrayBuffer((this.#count + 1) * 4))
      : new Uint32Array(this.#count + 1);
    idOffsets.set(this.#offsets.subarray(0, this.#count + 1));
    return { idBytes, idOffsets };
  }
}

/** FNV-1a over a byte range, finished with a mix step. */
export function hashBytesRange(src: Uint8Array, start: number, end: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) h = Math.imul(h ^ src[i]!, 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  return h ^ (h >>> 13);
}

/**
 * A set of ids held in {@link IdColumn}s (one per hash type), for the list-wide duplicate-id
 * check: open addressing over `(column, row, hash code)` triples, no string per id.
 */
export class IdSet {
  readonly #columns: IdColumn[] = [];
  #table: Int32Array;
  #mask: number;
  #size = 0;
  /** The empty slot and hash code where the last {@link has} that returned false stopped, valid while `#missAt === #size`. */
  #missSlot = -1;
  #missCode = 0;
  #missAt = -1;

  constructor(expected = 0) {
    let cap = 1024;
    while (cap < expected * 2) cap *= 2;
    this.#table = new Int32Array(cap * 3);
    this.#mask = cap - 1;
  }

  /** Registers a column; returns its number for {@link add}. */
  addColumn(column: IdColumn): number {
    this.#columns.push(column);
    return this.#columns.length - 1;
  }

  /** True when an id with the bytes `src[start, end)` was added. */
  has(src: Uint8Array, start: number, end: number): boolean {
    const code = hashBytesRange(src, start, end);
    const t = this.#table;
    let s = code & this.#mask;
    for (;;) {
      const c = t[s * 3]!;
      if (c === 0) {
        this.#missSlot = s;
        this.#missCode = code;
        this.#missAt = this.#size;
        return false;
      }
      if (t[s * 3 + 2] === code && this.#columns[c - 1]!.equals(t[s * 3 + 1]!, src, start, end)) return true;
      s = (s + 1) & this.#mask;
    }
  }

  /**
   * Adds row `row` of column `column` (its id already appended there); the caller checked
   * {@link has}. Right after a `has` of the same id that returned false, no second probe is made.
   */
  add(column: number, row: number): void {
    if ((this.#size + 1) * 2 > this.#mask + 1) this.#grow();
    if (this.#missAt === this.#size) {
      const t = this.#table;
      const s = this.#missSlot;
      t[s * 3] = column + 1;
      t[s * 3 + 1] = row;
      t[s * 3 + 2] = this.#missCode;
    } else {
      const col = this.#columns[column]!;
      const code = hashBytesRange(col.bytes, col.start(row), col.end(row));
      this.#place(this.#table, this.#mask, column + 1, row, code);
    }
    this.#missAt = -1;
    this.#size++;
  }

  #place(t: Int32Array, mask: number, col: number, row: number, code: number): void {
    let s = code & mask;
    while (t[s * 3] !== 0) s = (s + 1) & mask;
    t[s * 3] = col;
    t[s * 3 + 1] = row;
    t[s * 3 + 2] = code;
  }

  #grow(): void {
    const old = this.#table;
    const cap = (this.#mask + 1) * 2;
    const t = new Int32Array(cap * 3);
    for (let i = 0; i < old.length; i += 3) {
      if (old[i] !== 0) this.#place(t, cap - 1, old[i]!, old[i + 1]!, old[i + 2]!);
    }
    this.#table = t;
    this.#mask = cap - 1;
    this.#missAt = -1;
  }
}
