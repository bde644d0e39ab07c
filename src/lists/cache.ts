/**
 * Owns the persisted copy of an accepted list version: one file per list in the cache folder,
 * holding the exact manifest and signature bytes and the entries in canonical NDJSON, replaced
 * atomically, and re-verified (signature, body SHA-256, every entry) when loaded.
 */

import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import type { ListSnapshot } from '../snapshot';
import { type AtomicWriteHooks, removeStaleTempFiles, writeFileAtomic } from './atomic-file';
import { Yielder } from './cooperative';
import { type DropCounts, type HashTypeResolver, SnapshotBuilder, snapshotSize } from './entries';
import { ListErrorCodes, listError } from './errors';
import type { TrustedKey } from './keys';
import { type VerifiedManifest, verifyManifest } from './load';
import type { ListManifest } from './manifest';
import { parseSnapshotLines, writeSnapshotLines } from './ndjson';

/** Value of the cache header's `format` field. */
export const CACHE_FORMAT = 'hashgate-list-cache';
const CACHE_VERSION = 1;
const MAX_HEADER_BYTES = 8 * 1024 * 1024;
const PLACEHOLDER = '0'.repeat(64);

/** Path of the cache file of `list` in `cacheDir`. */
export function cacheFilePath(cacheDir: string, list: string): string {
  return join(cacheDir, `${list}.hglist`);
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

/**
 * Writes the accepted version atomically (temporary file, fsync, rename, fsync of the folder).
 * A failure at any point, including one injected through `hooks`, leaves the previous file.
 */
export async function writeListCache(
  path: string,
  snapshot: ListSnapshot,
  record: CacheRecord,
  hooks?: AtomicWriteHooks,
): Promise<void> {
  const header = JSON.stringify({
    bodySha256: PLACEHOLDER,
    format: CACHE_FORMAT,
    cache: CACHE_VERSION,
    list: snapshot.list,
    version: snapshot.version,
    entries: snapshotSize(snapshot),
    savedAt: record.savedAt,
    etag: record.etag,
    dropped: record.dropped,
    manifest: record.manifestBytes.toString('base64'),
    signature: record.signatureBytes.toString('base64'),
  });
  const shaOffset = Buffer.byteLength(header.slice(0, header.indexOf(PLACEHOLDER)));
  await writeFileAtomic(
    path,
    async (w) => {
      await w.write(`${header}\n`);
      const hash = createHash('sha256');
      await writeSnapshotLines(snapshot, async (chunk) => {
        const buf = Buffer.from(chunk, 'utf8');
        hash.update(buf);
        await w.write(buf);
      });
      await w.writeAt(shaOffset, Buffer.from(hash.digest('hex'), 'ascii'));
    },
    { ...(hooks ? { hooks } : {}) },
  );
}

/** A verified cached version. */
export interface CachedVersion extends CacheRecord, VerifiedManifest {
  readonly snapshot: ListSnapshot;
  readonly manifest: ListManifest;
}

async function readHeader(
  path: string,
): Promise<{ header: Record<string, unknown>; bodyStart: number } | null> {
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    if ((err as { code?: string }).code === 'ENOENT') return null;
    throw listError(ListErrorCodes.CACHE_INVALID, 'The cached list could not be opened', err);
  }
  try {
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const buf = Buffer.alloc(64 * 1024);
      const { bytesRead } = await fh.read(buf, 0, buf.length, total);
      if (bytesRead === 0)
        throw listError(ListErrorCodes.CACHE_INVALID, 'The cached list has no header line');
      const part = buf.subarray(0, bytesRead);
      const nl = part.indexOf(10);
      if (nl !== -1) {
        chunks.push(part.subarray(0, nl));
        const line = Buffer.concat(chunks).toString('utf8');
        try {
          return { header: JSON.parse(line) as Record<string, unknown>, bodyStart: total + nl + 1 };
        } catch {
          throw listError(ListErrorCodes.CACHE_INVALID, 'The cached list header is not JSON');
        }
      }
      chunks.push(part);
      total += bytesRead;
      if (total > MAX_HEADER_BYTES)
        throw listError(ListErrorCodes.CACHE_INVALID, 'The cached list header is too long');
    }
  } finally {
    await fh.close();
  }
}

async function* hashing(
  source: AsyncIterable<Buffer>,
  hash: ReturnType<typeof createHash>,
): AsyncGenerator<Buffer> {
  for await (const chunk of source) {
    hash.update(chunk);
    yield chunk;
  }
}

/**
 * Loads and re-verifies the cached version of `list`: the header, the manifest signature against
 * today's trusted keys, the manifest's name and version, the body's SHA-256, and every entry.
 * Returns null when there is no cache file; throws `ERR_HASHGATE_LIST_CACHE_INVALID` when there
 * is one that does not verify. Leftover temporary files of a crashed write are removed first.
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
  const head = await readHeader(path);
  if (!head) return null;
  const h = head.header;
  if (h.format !== CACHE_FORMAT || h.cache !== CACHE_VERSION || h.list !== options.list) {
    throw listError(
      ListErrorCodes.CACHE_INVALID,
      'The cached list has an unknown format or belongs to another list',
    );
  }
  if (typeof h.manifest !== 'string' || typeof h.signature !== 'string' || typeof h.bodySha256 !== 'string') {
    throw listError(ListErrorCodes.CACHE_INVALID, 'The cached list header is incomplete');
  }
  const manifestBytes = Buffer.from(h.manifest, 'base64');
  const signatureBytes = Buffer.from(h.signature, 'base64');
  let verified: VerifiedManifest;
  try {
    verified = verifyManifest(manifestBytes, signatureBytes, options.trusted);
  } catch (err) {
    throw listError(
      ListErrorCodes.CACHE_INVALID,
      `The cached list does not verify: ${(err as Error).message}`,
      err,
    );
  }
  const { manifest } = verified;
  if (manifest.name !== options.list || manifest.version !== h.version) {
    throw listError(
      ListErrorCodes.CACHE_INVALID,
      'The cached list header does not agree with its signed manifest',
    );
  }
  const builder = new SnapshotBuilder({
    resolveType: options.resolveType,
    expectedCounts: manifest.counts,
    ...(options.maxEntries === undefined ? {} : { maxEntries: options.maxEntries }),
  });
  const hash = createHash('sha256');
  try {
    const body = createReadStream(path, {
      start: head.bodyStart,
      highWaterMark: 1 << 20,
    }) as AsyncIterable<Buffer>;
    await parseSnapshotLines(hashing(body, hash), builder, new Yielder());
  } catch (err) {
    throw listError(ListErrorCodes.CACHE_INVALID, 'The cached list body could not be read', err);
  }
  if (hash.digest('hex') !== h.bodySha256) {
    throw listError(
      ListErrorCodes.CACHE_INVALID,
      'The cached list body does not match its SHA-256 (corrupt or truncated)',
    );
  }
  const dropped = (typeof h.dropped === 'object' && h.dropped !== null ? h.dropped : {}) as DropCounts;
  return {
    ...verified,
    snapshot: builder.build(manifest.name, manifest.version, manifest.createdAt),
    manifestBytes,
    signatureBytes,
    etag: typeof h.etag === 'string' ? h.etag : null,
    savedAt: typeof h.savedAt === 'number' ? h.savedAt : 0,
    dropped,
  };
}
