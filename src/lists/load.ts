/**
 * Owns turning a published list version into a verified snapshot: reading the manifest and its
 * signature (over HTTP or from a directory), verifying them, fetching and verifying the snapshot
 * or the delta chain, and parsing every entry.
 */

import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Yielder } from '../cooperative';
import type { ListSnapshot } from '../snapshot';
import type { DropCounts, HashTypeResolver } from './entries';
import { ListErrorCodes, listError } from './errors';
import { downloadVerified, fetchSmall, type HttpSettings } from './http';
import { type TrustedKey, verifyManifestSignature } from './keys';
import {
  type FileRef,
  type ListManifest,
  MANIFEST_FILE,
  parseManifest,
  planUpdate,
  SIGNATURE_SUFFIX,
} from './manifest';
import { type EntryFile, type ParseJob, runParseJob, runParseJobInWorker, toPortable } from './parse-job';

/** A manifest read from a source, or the news that it did not change. */
export type ManifestFetch =
  | { notModified: true }
  | { notModified: false; manifestBytes: Buffer; signatureBytes: Buffer; etag: string | null };

/** A verified local copy of a list file; `release()` deletes it when it was a download. */
export interface LocalFile {
  readonly path: string;
  release(): Promise<void>;
}

/** Where a published list is read from: a URL or a directory. */
export interface ListReader {
  /** Reads the manifest (conditionally, when `etag` is given) and, when it changed, its signature. */
  readManifest(etag: string | null): Promise<ManifestFetch>;
  /** Provides a local copy of `ref` whose size and SHA-256 were checked against the manifest. */
  fetchFile(ref: FileRef, what: string): Promise<LocalFile>;
}

/** Default limit for the manifest and the signature file. */
export const DEFAULT_MAX_MANIFEST_BYTES = 1024 * 1024;

/** The manifest URL for a configured list URL (`.../` gets `manifest.json` appended). */
export function manifestUrlOf(url: string): URL {
  const u = new URL(url);
  if (u.pathname.endsWith('/')) u.pathname += MANIFEST_FILE;
  return u;
}

/** Reads a list published over HTTP(S). Downloads go to temporary files in `tempDir`. */
export function createHttpReader(
  url: string,
  options: {
    http: HttpSettings;
    maxBytes: number;
    maxManifestBytes?: number;
    tempDir: string;
    tempPrefix?: string;
  },
): ListReader {
  const manifestUrl = manifestUrlOf(url);
  const sigUrl = new URL(manifestUrl.href);
  sigUrl.pathname += SIGNATURE_SUFFIX;
  const maxManifest = options.maxManifestBytes ?? DEFAULT_MAX_MANIFEST_BYTES;
  return {
    async readManifest(etag) {
      const m = await fetchSmall(
        manifestUrl.href,
        { etag, maxBytes: maxManifest, what: 'manifest' },
        options.http,
      );
      if (m.notModified) return m;
      const sig = await fetchSmall(
        sigUrl.href,
        { maxBytes: maxManifest, what: 'manifest signature' },
        options.http,
      );
      if (sig.notModified)
        throw listError(ListErrorCodes.HTTP_STATUS, 'The list server answered 304 for the signature');
      return { notModified: false, manifestBytes: m.body, signatureBytes: sig.body, etag: m.etag };
    },
    async fetchFile(ref, what) {
      const path = await downloadVerified(
        new URL(ref.path, manifestUrl).href,
        ref,
        {
          dir: options.tempDir,
          maxBytes: options.maxBytes,
          what,
          ...(options.tempPrefix ? { prefix: options.tempPrefix } : {}),
        },
        options.http,
      );
      return { path, release: () => unlink(path).catch(() => undefined) };
    },
  };
}

async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Reads a list published as files in a local directory (for `list verify <dir>` and publishers). */
export function createDirectoryReader(dir: string, options: { maxBytes?: number } = {}): ListReader {
  const read = async (name: string, what: string): Promise<Buffer> => {
    try {
      const s = await stat(join(dir, name));
      if (s.size > (options.maxBytes ?? DEFAULT_MAX_MANIFEST_BYTES)) {
        throw listError(ListErrorCodes.TOO_LARGE, `The ${what} is larger than the limit`);
      }
      return await readFile(join(dir, name));
    } catch (err) {
      if ((err as { code?: string }).code?.startsWith('ERR_HASHGATE_')) throw err;
      throw listError(
        ListErrorCodes.SOURCE_READ_FAILED,
        `Could not read the ${what} from the list directory`,
        err,
      );
    }
  };
  return {
    async readManifest() {
      const manifestBytes = await read(MANIFEST_FILE, 'manifest');
      const signatureBytes = await read(MANIFEST_FILE + SIGNATURE_SUFFIX, 'manifest signature');
      return { notModified: false, manifestBytes, signatureBytes, etag: null };
    },
    async fetchFile(ref, what) {
      const path = join(dir, ...ref.path.split('/'));
      let size: number;
      try {
        size = (await stat(path)).size;
      } catch (err) {
        throw listError(
          ListErrorCodes.SOURCE_READ_FAILED,
          `Could not read the ${what} from the list directory`,
          err,
        );
      }
      if (size < ref.size)
        throw listError(ListErrorCodes.TRUNCATED, `The ${what} has ${size} of ${ref.size} bytes`);
      if (size > ref.size) {
        throw listError(
          ListErrorCodes.FILE_SIZE_MISMATCH,
          `The ${what} is larger than the manifest declares`,
        );
      }
      if ((await sha256OfFile(path)) !== ref.sha256) {
        throw listError(
          ListErrorCodes.FILE_HASH_MISMATCH,
          `The ${what} does not have the SHA-256 the manifest pins`,
        );
      }
      return { path, release: async () => undefined };
    },
  };
}

/** A manifest whose signature verified. */
export interface VerifiedManifest {
  readonly manifest: ListManifest;
  /** Key id of the trusted key whose signature verified. */
  readonly keyId: string;
}

/**
 * Checks that the manifest bytes are JSON, that a trusted key signed exactly these bytes, and
 * that they form a valid v1 manifest, in that order.
 */
export function verifyManifest(
  manifestBytes: Uint8Array,
  signatureBytes: Uint8Array,
  trusted: readonly TrustedKey[],
): VerifiedManifest {
  try {
    JSON.parse(Buffer.from(manifestBytes).toString('utf8'));
  } catch {
    throw listError(ListErrorCodes.MANIFEST_INVALID, 'Invalid list manifest: not JSON');
  }
  const keyId = verifyManifestSignature(manifestBytes, signatureBytes, trusted);
  return { manifest: parseManifest(manifestBytes), keyId };
}

/** Options of {@link loadVersion}. */
export interface LoadVersionOptions {
  reader: ListReader;
  manifest: ListManifest;
  /** The accepted version (all categories) to apply deltas to; null to take the snapshot. */
  base: ListSnapshot | null;
  resolveType: HashTypeResolver;
  maxEntries?: number;
  maxDecompressedBytes?: number;
  /**
   * Parse in a worker thread (see {@link isParseWorkerAvailable}); only for the built-in hash
   * types, since a worker cannot receive custom type objects. @default false (slices on this thread)
   */
  worker?: boolean;
  /** Stops a worker parse. */
  signal?: AbortSignal;
}

/** A version built from verified files. */
export interface LoadedVersion {
  /** Every valid entry of the version (no category filter). */
  readonly snapshot: ListSnapshot;
  /** Entries dropped while reading the files of this version. */
  readonly dropped: DropCounts;
  /** Whether the delta chain or the snapshot was used. */
  readonly via: 'snapshot' | 'deltas';
  /** Number of entry files fetched. */
  readonly files: number;
  /** Milliseconds spent fetching and verifying files, and parsing and validating entries. */
  readonly timings: { readonly fetchMs: number; readonly parseMs: number };
}

/**
 * Fetches and verifies the files of the manifest's version (the delta chain when possible, else
 * the snapshot), then parses and validates every entry, in a worker thread when asked.
 */
export async function loadVersion(o: LoadVersionOptions): Promise<LoadedVersion> {
  const { manifest } = o;
  const plan = planUpdate(manifest, o.base ? o.base.version : null);
  const t0 = performance.now();
  const files: LocalFile[] = [];
  const entryFiles: EntryFile[] = [];
  const viaDeltas = plan.kind === 'deltas' && o.base !== null;
  try {
    if (viaDeltas) {
      for (const d of plan.deltas) {
        const file = await o.reader.fetchFile(d, `delta ${d.from}-${d.to}`);
        files.push(file);
        entryFiles.push({ path: file.path, compression: d.compression });
      }
    } else {
      const file = await o.reader.fetchFile(manifest.snapshot, 'snapshot file');
      files.push(file);
      entryFiles.push({ path: file.path, compression: manifest.snapshot.compression });
    }
    const t1 = performance.now();
    const job: ParseJob = {
      list: manifest.name,
      version: manifest.version,
      createdAt: manifest.createdAt,
      kind: viaDeltas ? 'deltas' : 'snapshot',
      files: entryFiles,
      base: viaDeltas && o.base ? toPortable(o.base) : null,
      expectedCounts: manifest.counts,
      ...(o.maxEntries === undefined ? {} : { maxEntries: o.maxEntries }),
      ...(o.maxDecompressedBytes === undefined ? {} : { maxDecompressedBytes: o.maxDecompressedBytes }),
    };
    const parsed = o.worker
      ? await runParseJobInWorker(job, o.signal)
      : await runParseJob(job, o.resolveType, new Yielder(), false);
    return {
      ...parsed,
      via: viaDeltas ? 'deltas' : 'snapshot',
      files: files.length,
      timings: { fetchMs: t1 - t0, parseMs: performance.now() - t1 },
    };
  } finally {
    for (const f of files) await f.release();
  }
}
