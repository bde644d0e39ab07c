/**
 * Owns the persisted copy of an accepted list version: one binary columnar file per list in the
 * cache folder (the exact manifest and signature bytes, then each hash type's columns as they are
 * in memory), protected by a SHA-256, replaced atomically, and loaded back without parsing text;
 * and the small state file that records the last successful check of that copy.
 */

import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { endianness } from 'node:os';
import { join } from 'node:path';
import { copyToShared, SLICE_BYTES, Yielder } from '../cooperative';
import type { ListSnapshot, TypedEntries } from '../snapshot';
import { type AtomicWriteHooks, removeStaleTempFiles, writeFileAtomic } from './atomic-file';
import { readLegacyListCache } from './cache-v1';
import { type DropCounts, type HashTypeResolver, isValidCategory, snapshotSize } from './entries';
import { columnarEntries, IdColumn, isColumnar } from './entry-ids';
import { ListErrorCodes, listError } from './errors';
import type { TrustedKey } from './keys';
import { type VerifiedManifest, verifyManifest } from './load';
import type { ListManifest } from './manifest';

/** Value of the cache header's `format` field. */
export const CACHE_FORMAT = 'hashgate-list-cache';
/** Version of the binary layout; a file of another version is ignored (the list is fetched again). */
const CACHE_VERSION = 2;
const MAGIC = Buffer.from('HGLCACHE', 'latin1');
/** Magic (8), layout version (4), header length (4), SHA-256 of everything after the prefix (32). */
const PREFIX_BYTES = 48;
const SHA_OFFSET = 16;
const MAX_HEADER_BYTES = 8 * 1024 * 1024;
/** Longest id in UTF-8 bytes (200 UTF-16 code units, 3 bytes each at most). */
const MAX_ID_BYTES = 600;
const LITTLE_ENDIAN = endianness() === 'LE';

/** Path of the cache file of `list` in `cacheDir`. */
export function cacheFilePath(cacheDir: string, list: string): string {
  return join(cacheDir, `${list}.hglist`);
}

/** Path of the check-state file that goes with a cache file. */
export function cacheStatePath(cachePath: string): string {
  return `${cachePath}-state`;
}

/** What is persisted besides the entries. */
export interface CacheRecord {
  /** The exact manifest bytes the signature covers. */
  readonly manifestBytes: Buffer;
  /** The exact signature file bytes. */
  readonly signatureBytes: Buffer;
  /** ETag of the manifest response, for a conditional request after a restart. */
  readonly etag: string | null;
  /** When this version was accepted (ms since the epoch). */
  readonly savedAt: number;
  /** Entries dropped while this version was read from the list server. */
  readonly dropped: DropCounts;
}

interface TypeHeader {
  type: string;
  count: number;
  hashBytes: number;
  idBytes: number;
  labelBytes: number;
}

const pad8 = (n: number): number => (8 - (n % 8)) % 8;
const ZEROS = new Uint8Array(8);

function bytesOf(a: Uint8Array | Uint16Array | Uint32Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** The id columns of `t`, made from its strings when it holds no bytes (snapshots built by hand). */
function idColumnsOf(t: TypedEntries): { idBytes: Uint8Array; idOffsets: Uint32Array } {
  if (isColumnar(t)) return { idBytes: t.idBytes, idOffsets: t.idOffsets };
  const ids = new IdColumn(t.count);
  for (let i = 0; i < t.count; i++) ids.appendString(t.ids[i]!);
  return ids.finish(false);
}

/**
 * Writes the accepted version atomically (temporary file, fsync, rename, fsync of the folder).
 * A failure at any point, including one injected through `hooks`, leaves the previous file.
 * Returns the file's SHA-256 (hex), which names this copy in the check-state file.
 */
export async function writeListCache(
  path: string,
  snapshot: ListSnapshot,
  record: CacheRecord,
  hooks?: AtomicWriteHooks,
): Promise<string> {
  const types = [...snapshot.byType.values()].map((t) => {
    const ids = idColumnsOf(t);
    const labels = t.labels.size === 0 ? null : Buffer.from(JSON.stringify([...t.labels]), 'utf8');
    return { t, ...ids, labels };
  });
  const header = Buffer.from(
    JSON.stringify({
      format: CACHE_FORMAT,
      list: snapshot.list,
      version: snapshot.version,
      createdAt: snapshot.createdAt,
      entries: snapshotSize(snapshot),
      savedAt: record.savedAt,
      etag: record.etag,
      dropped: record.dropped,
      manifest: record.manifestBytes.toString('base64'),
      signature: record.signatureBytes.toString('base64'),
      littleEndian: LITTLE_ENDIAN,
      categories: snapshot.categories,
      types: types.map(
        ({ t, idBytes, labels }): TypeHeader => ({
          type: t.type,
          count: t.count,
          hashBytes: t.hashBytes,
          idBytes: idBytes.byteLength,
          labelBytes: labels?.byteLength ?? 0,
        }),
      ),
    }),
    'utf8',
  );
  const prefix = Buffer.alloc(PREFIX_BYTES);
  MAGIC.copy(prefix, 0);
  prefix.writeUInt32LE(CACHE_VERSION, 8);
  prefix.writeUInt32LE(header.byteLength, 12);
  const hash = createHash('sha256');
  let digest = '';
  await writeFileAtomic(
    path,
    async (w) => {
      await w.write(prefix);
      const put = async (bytes: Uint8Array): Promise<void> => {
        for (let off = 0; off < bytes.byteLength; off += SLICE_BYTES) {
          const part = bytes.subarray(off, Math.min(bytes.byteLength, off + SLICE_BYTES));
          hash.update(part);
          await w.write(part);
        }
        const pad = pad8(bytes.byteLength);
        if (pad > 0) {
          hash.update(ZEROS.subarray(0, pad));
          await w.write(ZEROS.subarray(0, pad));
        }
      };
      await put(header);
      for (const { t, idBytes, idOffsets, labels } of types) {
        await put(bytesOf(t.hashes));
        await put(bytesOf(t.categories));
        await put(bytesOf(idOffsets));
        await put(idBytes);
        if (labels) await put(labels);
      }
      const sha = hash.digest();
      digest = sha.toString('hex');
      await w.writeAt(SHA_OFFSET, sha);
    },
    { ...(hooks ? { hooks } : {}) },
  );
  return digest;
}

/** A verified cached version. */
export interface CachedVersion extends CacheRecord, VerifiedManifest {
  readonly snapshot: ListSnapshot;
  readonly manifest: ListManifest;
  /** SHA-256 of the cache file (hex), as {@link writeListCache} returned it. */
  readonly sha256: string;
}

function invalid(message: string, cause?: unknown): Error {
  return listError(ListErrorCodes.CACHE_INVALID, message, cause);
}

/** SHA-256 of `buf[from, end)`, a slice at a time with yields in between. */
async function sha256Sliced(buf: Uint8Array, from: number, yielder: Yielder): Promise<Buffer> {
  const hash = createHash('sha256');
  for (let off = from; off < buf.byteLength; off += SLICE_BYTES) {
    hash.update(buf.subarray(off, Math.min(buf.byteLength, off + SLICE_BYTES)));
    await yielder.yield();
  }
  return hash.digest();
}

/** A copy of `length` bytes at `at` in shared memory, copied in slices. */
function copySection(file: Buffer, at: number, length: number, yielder: Yielder): Promise<Uint8Array> {
  return copyToShared(file.subarray(at, at + length), yielder);
}

function isTypeHeader(v: unknown): v is TypeHeader {
  const t = v as TypeHeader;
  return (
    typeof t === 'object' &&
    t !== null &&
    typeof t.type === 'string' &&
    [t.count, t.hashBytes, t.idBytes, t.labelBytes].every((n) => Number.isSafeInteger(n) && n >= 0)
  );
}

/** Checks the id offsets and category indexes of one type: the structure the index and the lookups rely on. */
async function checkColumns(
  count: number,
  idOffsets: Uint32Array,
  idBytes: number,
  categories: Uint16Array,
  categoryCount: number,
  yielder: Yielder,
): Promise<void> {
  if (idOffsets[0] !== 0 || idOffsets[count] !== idBytes)
    throw invalid('The cached list has inconsistent id offsets');
  for (let i = 0; i < count; i++) {
    const len = idOffsets[i + 1]! - idOffsets[i]!;
    if (len <= 0 || len > MAX_ID_BYTES) throw invalid('The cached list has inconsistent id offsets');
    if (categories[i]! >= categoryCount) throw invalid('The cached list has a category index out of range');
    if (yielder.due()) await yielder.yield();
  }
}

function parseLabels(bytes: Buffer, count: number): Map<number, readonly string[]> {
  const labels = new Map<number, readonly string[]>();
  if (bytes.byteLength === 0) return labels;
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw invalid('The cached list labels are not JSON', err);
  }
  if (!Array.isArray(value)) throw invalid('The cached list labels are invalid');
  for (const pair of value) {
    if (
      !Array.isArray(pair) ||
      !Number.isSafeInteger(pair[0]) ||
      pair[0] < 0 ||
      pair[0] >= count ||
      !Array.isArray(pair[1]) ||
      !pair[1].every((l: unknown) => typeof l === 'string')
    ) {
      throw invalid('The cached list labels are invalid');
    }
    labels.set(pair[0] as number, Object.freeze([...(pair[1] as string[])]));
  }
  return labels;
}

/**
 * Loads and re-verifies the cached version of `list`: the file's SHA-256, the manifest signature
 * against today's trusted keys, the manifest's name and version, and the structure of every
 * column (sizes, id offsets, category indexes, known hash types). The entries themselves were
 * validated before they were written, and the SHA-256 shows they are unchanged, so they are not
 * validated again. The columns land in shared memory, ready for an index build without a copy.
 * Returns null when there is no cache file; throws `ERR_HASHGATE_LIST_CACHE_INVALID` when there is
 * one that does not verify. Leftover temporary files of a crashed write are removed first.
 */
export async function readListCache(
  path: string,
  options: {
    list: string;
    trusted: readonly TrustedKey[];
    resolveType: HashTypeResolver;
    maxEntries?: number;
  },
): Promise<CachedVersion | null> {
  await removeStaleTempFiles(path);
  let file: Buffer;
  try {
    file = await readFile(path);
  } catch (err) {
    if ((err as { code?: string }).code === 'ENOENT') return null;
    throw invalid('The cached list could not be read', err);
  }
  // Layout 1 (a JSON header line and NDJSON), written before layout 2 existed.
  if (file[0] === 0x7b) return readLegacyListCache(path, options);
  const yielder = new Yielder();
  if (file.byteLength < PREFIX_BYTES || !file.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw invalid('The cached list has an unknown format');
  }
  if (file.readUInt32LE(8) !== CACHE_VERSION) throw invalid('The cached list has an unknown format version');
  const headerLength = file.readUInt32LE(12);
  if (headerLength > MAX_HEADER_BYTES || PREFIX_BYTES + headerLength > file.byteLength) {
    throw invalid('The cached list header is too long or truncated');
  }
  const sha = await sha256Sliced(file, PREFIX_BYTES, yielder);
  if (!sha.equals(file.subarray(SHA_OFFSET, SHA_OFFSET + 32))) {
    throw invalid('The cached list does not match its SHA-256 (corrupt or truncated)');
  }
  let h: Record<string, unknown>;
  try {
    h = JSON.parse(file.toString('utf8', PREFIX_BYTES, PREFIX_BYTES + headerLength)) as Record<
      string,
      unknown
    >;
  } catch (err) {
    throw invalid('The cached list header is not JSON', err);
  }
  if (h.format !== CACHE_FORMAT || h.list !== options.list) {
    throw invalid('The cached list has an unknown format or belongs to another list');
  }
  if (h.littleEndian !== LITTLE_ENDIAN)
    throw invalid('The cached list was written on a machine of another byte order');
  if (
    typeof h.manifest !== 'string' ||
    typeof h.signature !== 'string' ||
    !Array.isArray(h.categories) ||
    !h.categories.every(isValidCategory) ||
    h.categories.length > 65536 ||
    !Array.isArray(h.types) ||
    !h.types.every(isTypeHeader)
  ) {
    throw invalid('The cached list header is incomplete');
  }
  const manifestBytes = Buffer.from(h.manifest, 'base64');
  const signatureBytes = Buffer.from(h.signature, 'base64');
  let verified: VerifiedManifest;
  try {
    verified = verifyManifest(manifestBytes, signatureBytes, options.trusted);
  } catch (err) {
    throw invalid(`The cached list does not verify: ${(err as Error).message}`, err);
  }
  const { manifest } = verified;
  if (manifest.name !== options.list || manifest.version !== h.version) {
    throw invalid('The cached list header does not agree with its signed manifest');
  }
  const categories = h.categories as string[];
  const typeHeaders = h.types as TypeHeader[];
  let total = 0;
  for (const t of typeHeaders) total += t.count;
  if (total > (options.maxEntries ?? 50_000_000)) {
    throw listError(ListErrorCodes.TOO_LARGE, `The cached list has more than ${options.maxEntries} entries`);
  }
  let at = PREFIX_BYTES + headerLength + pad8(headerLength);
  const take = (length: number): number => {
    const start = at;
    at += length + pad8(length);
    if (at > file.byteLength) throw invalid('The cached list is shorter than its header says');
    return start;
  };
  const byType = new Map<string, TypedEntries>();
  for (const t of typeHeaders) {
    const type = options.resolveType(t.type);
    if (!type || type.bits / 8 !== t.hashBytes || byType.has(t.type)) {
      throw invalid('The cached list has an unknown or repeated hash type');
    }
    const hashesAt = take(t.count * t.hashBytes);
    const categoriesAt = take(t.count * 2);
    const offsetsAt = take((t.count + 1) * 4);
    const idsAt = take(t.idBytes);
    const labelsAt = take(t.labelBytes);
    const hashes = await copySection(file, hashesAt, t.count * t.hashBytes, yielder);
    const cats = new Uint16Array((await copySection(file, categoriesAt, t.count * 2, yielder)).buffer);
    const idOffsets = new Uint32Array(
      (await copySection(file, offsetsAt, (t.count + 1) * 4, yielder)).buffer,
    );
    const idBytes = await copySection(file, idsAt, t.idBytes, yielder);
    await checkColumns(t.count, idOffsets, t.idBytes, cats, categories.length, yielder);
    const labels = parseLabels(file.subarray(labelsAt, labelsAt + t.labelBytes), t.count);
    byType.set(
      t.type,
      columnarEntries({
        type: t.type,
        count: t.count,
        hashBytes: t.hashBytes,
        hashes,
        categories: cats,
        labels,
        idBytes,
        idOffsets,
      }),
    );
  }
  if (at !== file.byteLength) throw invalid('The cached list is longer than its header says');
  const dropped = (typeof h.dropped === 'object' && h.dropped !== null ? h.dropped : {}) as DropCounts;
  const snapshot: ListSnapshot = Object.freeze({
    list: manifest.name,
    version: manifest.version,
    createdAt: manifest.createdAt,
    categories: Object.freeze([...categories]),
    byType,
  });
  return {
    ...verified,
    snapshot,
    manifestBytes,
    signatureBytes,
    etag: typeof h.etag === 'string' ? h.etag : null,
    savedAt: typeof h.savedAt === 'number' ? h.savedAt : 0,
    dropped,
    sha256: sha.toString('hex'),
  };
}

/** The last successful check of a persisted copy (a 304, or the same version again). */
export interface CheckState {
  /** Version of the persisted copy. */
  readonly version: number;
  /** SHA-256 of the persisted copy (hex): the state applies to that file only. */
  readonly cacheSha256: string;
  /** When the list server last confirmed the version (ms since the epoch). */
  readonly checkedAt: number;
  /** ETag of that confirmation. */
  readonly etag: string | null;
}

const STATE_FORMAT = 'hashgate-list-check';

/**
 * Records a successful check in a small file next to the cache file (temporary file, fsync,
 * rename), so that a restart knows how fresh the list is without rewriting the whole copy.
 */
export async function writeCheckState(
  cachePath: string,
  state: CheckState,
  hooks?: AtomicWriteHooks,
): Promise<void> {
  const body = JSON.stringify({ format: STATE_FORMAT, ...state });
  await writeFileAtomic(cacheStatePath(cachePath), (w) => w.write(body), { ...(hooks ? { hooks } : {}) });
}

/**
 * The recorded check of the copy with SHA-256 `cacheSha256` and `version`, or null when there is
 * none or it belongs to another copy (it is only a freshness hint: anything odd is ignored).
 */
export async function readCheckState(
  cachePath: string,
  version: number,
  cacheSha256: string,
): Promise<CheckState | null> {
  const statePath = cacheStatePath(cachePath);
  await removeStaleTempFiles(statePath);
  let v: Record<string, unknown>;
  try {
    const text = await readFile(statePath, 'utf8');
    if (text.length > 64 * 1024) return null;
    v = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return null;
  }
  if (
    v?.format !== STATE_FORMAT ||
    v.version !== version ||
    v.cacheSha256 !== cacheSha256 ||
    typeof v.checkedAt !== 'number' ||
    !Number.isFinite(v.checkedAt)
  ) {
    return null;
  }
  return { version, cacheSha256, checkedAt: v.checkedAt, etag: typeof v.etag === 'string' ? v.etag : null };
}
