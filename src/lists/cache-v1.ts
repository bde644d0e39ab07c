/**
 * Owns reading the persisted copy in its first layout (a JSON header line, then the entries as
 * canonical NDJSON), so that a restart right after an upgrade still has its list while the list
 * server is down. Nothing writes this layout any more: the next accepted version replaces it with
 * layout 2 (see `cache.ts`).
 */

import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { Yielder } from '../cooperative';
import type { CachedVersion } from './cache';
import { type DropCounts, type HashTypeResolver, SnapshotBuilder } from './entries';
import { ListErrorCodes, listError } from './errors';
import type { TrustedKey } from './keys';
import { type VerifiedManifest, verifyManifest } from './load';
import { parseSnapshotLines } from './ndjson';

const CACHE_FORMAT = 'hashgate-list-cache';
const CACHE_VERSION = 1;
const MAX_HEADER_BYTES = 8 * 1024 * 1024;

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
export async function readLegacyListCache(
  path: string,
  options: {
    list: string;
    trusted: readonly TrustedKey[];
    resolveType: HashTypeResolver;
    maxEntries?: number;
  },
): Promise<CachedVersion | null> {
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
    // Never matches a check record: those name layout-2 files only.
    sha256: '',
  };
}
