/**
 * Owns the NDJSON entry files of the list protocol: reading snapshot and delta files (plain or
 * gzip) into a {@link SnapshotBuilder}, applying deltas to an accepted snapshot, and writing a
 * snapshot back as canonical NDJSON.
 */

import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import { Yielder } from '../cooperative';
import type { ListSnapshot } from '../snapshot';
import { DEFAULT_CATEGORY, type HashTypeResolver, isValidEntryId, type SnapshotBuilder } from './entries';
import { entryIdAt, IdColumn, IdSet, isColumnar } from './entry-ids';
import { ListErrorCodes, listError } from './errors';
import { readLines } from './lines';

/** Default limit on the decompressed size of one entry file. */
export const DEFAULT_MAX_DECOMPRESSED_BYTES = 4 * 1024 * 1024 * 1024;

/**
 * Streams the bytes of an entry file from disk, gunzipping when `compression` is `gzip`, and
 * refuses (`ERR_HASHGATE_LIST_TOO_LARGE`) beyond `maxBytes` decoded bytes. A corrupt gzip stream
 * fails with `ERR_HASHGATE_LIST_FILE_INVALID`.
 */
export async function* readEntryFile(
  path: string,
  compression: 'gzip' | 'none',
  maxBytes = DEFAULT_MAX_DECOMPRESSED_BYTES,
): AsyncGenerator<Buffer> {
  const file = createReadStream(path, { highWaterMark: 1 << 20 });
  const gunzip = compression === 'gzip' ? createGunzip({ chunkSize: 256 * 1024 }) : null;
  if (gunzip) {
    file.on('error', (err) => gunzip.destroy(err));
    file.pipe(gunzip);
  }
  const source: AsyncIterable<Buffer> = gunzip ?? file;
  let total = 0;
  try {
    for await (const chunk of source) {
      total += chunk.length;
      if (total > maxBytes) {
        throw listError(ListErrorCodes.TOO_LARGE, `An entry file decodes to more than ${maxBytes} bytes`);
      }
      yield chunk;
    }
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && code.startsWith('Z_')) {
      throw listError(ListErrorCodes.FILE_INVALID, 'An entry file is not a valid gzip stream', err);
    }
    throw err;
  } finally {
    file.destroy();
    gunzip?.destroy();
  }
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const PREFIX_ID = Buffer.from('{"id":"');
const SEP_TYPE = Buffer.from('","type":"');
const SEP_HASH = Buffer.from('","hash":"');

function bytesAt(buf: Buffer, at: number, expected: Buffer): boolean {
  if (at + expected.length > buf.length) return false;
  for (let i = 0; i < expected.length; i++) if (buf[at + i] !== expected[i]) return false;
  return true;
}

// Byte classes of the canonical fast path, as bit flags in one table (one monomorphic scan loop).
const ID_BYTE = 1;
const TYPE_BYTE = 2;
const HEX_BYTE = 4;
const BYTE_CLASS = new Uint8Array(256);
for (let b = 0x20; b < 256; b++) {
  // An id byte: anything but a quote, a backslash (escapes) or a control byte.
  if (b !== QUOTE && b !== BACKSLASH && b !== 0x7f) BYTE_CLASS[b]! |= ID_BYTE;
}
for (const c of 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-')
  BYTE_CLASS[c.charCodeAt(0)]! |= TYPE_BYTE;
for (const c of '0123456789abcdefABCDEF') BYTE_CLASS[c.charCodeAt(0)]! |= HEX_BYTE;

/** Index of the closing quote of a string starting at `from` whose bytes are all of `byteClass`, or -1. */
function scanString(buf: Buffer, from: number, end: number, byteClass: number): number {
  for (let i = from; i < end; i++) {
    const b = buf[i]!;
    if (b === QUOTE) return i;
    if ((BYTE_CLASS[b]! & byteClass) === 0) return -1;
  }
  return -1;
}

/**
 * Adds a line of exactly the canonical shape `{"id":"…","type":"…","hash":"…"}` (no escapes, no
 * other fields, no white space) without JSON.parse; false for any other line, which then takes
 * the general path. Both paths give the same result for the lines this one accepts.
 */
function addCanonicalLine(builder: SnapshotBuilder, buf: Buffer, start: number, end: number): boolean {
  if (!bytesAt(buf, start, PREFIX_ID) || buf[end - 1] !== 0x7d || buf[end - 2] !== QUOTE) return false;
  const idStart = start + PREFIX_ID.length;
  const idEnd = scanString(buf, idStart, end, ID_BYTE);
  if (idEnd < 0 || !bytesAt(buf, idEnd, SEP_TYPE)) return false;
  const typeStart = idEnd + SEP_TYPE.length;
  const typeEnd = scanString(buf, typeStart, end, TYPE_BYTE);
  if (typeEnd < 0 || !bytesAt(buf, typeEnd, SEP_HASH)) return false;
  const hashStart = typeEnd + SEP_HASH.length;
  const hashEnd = scanString(buf, hashStart, end, HEX_BYTE);
  if (hashEnd !== end - 2) return false;
  if (isShortAscii(buf, idStart, idEnd)) {
    // The id's bytes are its UTF-8 form and it passes isValidEntryId: no string is made for it.
    builder.addCanonical(buf, idStart, idEnd, typeStart, typeEnd, hashStart, hashEnd);
    return true;
  }
  const typeName = buf.toString('latin1', typeStart, typeEnd);
  const hash = buf.toString('latin1', hashStart, hashEnd);
  const id = buf.toString('utf8', idStart, idEnd);
  if (!isValidEntryId(id)) {
    builder.drop('invalid-id');
    return true;
  }
  builder.addHex(id, typeName, hash);
  return true;
}

/** True for 1 to 200 bytes of ASCII (the caller already refused control bytes, quotes and backslashes). */
function isShortAscii(buf: Buffer, start: number, end: number): boolean {
  if (end <= start || end - start > 200) return false;
  for (let i = start; i < end; i++) if (buf[i]! >= 0x80) return false;
  return true;
}

/** Reads snapshot NDJSON (one entry object a line) into `builder`. Returns the number of lines. */
export function parseSnapshotLines(
  source: AsyncIterable<Uint8Array>,
  builder: SnapshotBuilder,
  yielder = new Yielder(),
): Promise<number> {
  return readLines(
    source,
    (line) => {
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch {
        builder.drop('invalid-json');
        return;
      }
      builder.addUntrusted(value);
    },
    {
      yielder,
      onOverlong: () => builder.drop('line-too-long'),
      onLineBytes: (buf, start, end) => addCanonicalLine(builder, buf, start, end),
    },
  );
}

/**
 * The net effect of a chain of deltas on a base version: ids removed from the base, and entries
 * added (by id, in order). A remove of an id added earlier in the chain cancels that add.
 */
export class DeltaAccumulator {
  /** Ids of base entries to remove. */
  readonly removed = new Set<string>();
  /** Raw add objects by id, validated when applied. */
  readonly adds = new Map<string, unknown>();
}

/**
 * Reads one delta file (lines `{"op":"add",...entry}` or `{"op":"remove","id":...}`) into `acc`.
 * Within one delta, removes apply before adds, so a remove and an add of the same id replace the
 * entry. Bad lines are dropped and counted on `builder`.
 */
export async function parseDeltaLines(
  source: AsyncIterable<Uint8Array>,
  acc: DeltaAccumulator,
  builder: SnapshotBuilder,
  yielder = new Yielder(),
): Promise<number> {
  const adds: Array<[string, unknown]> = [];
  const lines = await readLines(
    source,
    (line) => {
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch {
        builder.drop('invalid-json');
        return;
      }
      if (typeof value !== 'object' || value === null) {
        builder.drop('invalid-entry');
        return;
      }
      const v = value as Record<string, unknown>;
      if (!isValidEntryId(v.id)) {
        builder.drop('invalid-id');
        return;
      }
      if (v.op === 'remove') {
        if (acc.adds.has(v.id)) acc.adds.delete(v.id);
        else acc.removed.add(v.id);
      } else if (v.op === 'add') {
        adds.push([v.id, v]);
      } else {
        builder.drop('invalid-entry');
      }
    },
    { yielder, onOverlong: () => builder.drop('line-too-long') },
  );
  for (const [id, v] of adds) {
    if (acc.adds.has(id)) builder.drop('duplicate-id');
    else acc.adds.set(id, v);
  }
  return lines;
}

/**
 * Builds the next version from `base` plus the accumulated deltas: every base entry that is not
 * removed, then every add (validated like any untrusted entry). Removes of unknown ids are
 * counted as `unknown-remove`.
 */
export async function applyDeltas(
  base: ListSnapshot,
  acc: DeltaAccumulator,
  builder: SnapshotBuilder,
  resolveType: HashTypeResolver,
  yielder = new Yielder(),
): Promise<void> {
  // The removed ids as bytes, so that base entries are checked without a string per entry.
  const removedIds = new IdColumn(acc.removed.size);
  const removed = new IdSet(acc.removed.size);
  const removedNo = removed.addColumn(removedIds);
  for (const id of acc.removed) {
    removedIds.appendString(id);
    removed.add(removedNo, removedIds.count - 1);
  }
  let matched = 0;
  for (const [name, t] of base.byType) {
    const type = resolveType(name);
    for (let i = 0; i < t.count; i++) {
      const gone = isColumnar(t)
        ? removed.has(t.idBytes, t.idOffsets[i]!, t.idOffsets[i + 1]!)
        : acc.removed.has(t.ids[i]!);
      if (gone) {
        matched++;
      } else if (!type) {
        builder.drop('unknown-type');
      } else {
        builder.addRowOf(t, i, type, base.categories[t.categories[i]!]!);
      }
      if (yielder.due()) await yielder.yield();
    }
  }
  for (let n = acc.removed.size - matched; n > 0; n--) builder.drop('unknown-remove');
  for (const v of acc.adds.values()) {
    builder.addUntrusted(v);
    if (yielder.due()) await yielder.yield();
  }
}

/**
 * Writes a snapshot as canonical NDJSON (types in name order, rows in order; `category` omitted
 * for `default`), passing batches of about 256 KiB to `write` and awaiting it (backpressure).
 */
export async function writeSnapshotLines(
  snapshot: ListSnapshot,
  write: (chunk: string) => Promise<void>,
  yielder = new Yielder(),
): Promise<void> {
  let batch: string[] = [];
  let batchLen = 0;
  for (const [name, t] of snapshot.byType) {
    const hex = Buffer.from(t.hashes.buffer, t.hashes.byteOffset, t.hashes.byteLength);
    const w = t.hashBytes;
    const typeField = JSON.stringify(name);
    const catFields = snapshot.categories.map((c) =>
      c === DEFAULT_CATEGORY ? '' : `,"category":${JSON.stringify(c)}`,
    );
    for (let i = 0; i < t.count; i++) {
      // Same bytes as JSON.stringify({id, type, hash, category?, labels?}), built by hand: twice as fast.
      const labels = t.labels.get(i);
      const line = `{"id":${JSON.stringify(entryIdAt(t, i))},"type":${typeField},"hash":"${hex.toString('hex', i * w, i * w + w)}"${
        catFields[t.categories[i]!] ?? ''
      }${labels ? `,"labels":${JSON.stringify(labels)}` : ''}}\n`;
      batch.push(line);
      batchLen += line.length;
      if (batchLen >= 256 * 1024) {
        await write(batch.join(''));
        batch = [];
        batchLen = 0;
      } else if (yielder.due()) {
        await yielder.yield();
      }
    }
  }
  if (batch.length > 0) await write(batch.join(''));
}
