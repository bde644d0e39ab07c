/** Owns verifying a published list end to end (signature, every file's size and SHA-256, every entry), for `list verify`. */

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  countSnapshot,
  createHashTypeResolver,
  type DropCounts,
  SnapshotBuilder,
  type SnapshotCounts,
} from './entries';
import { ListErrorCodes, listError } from './errors';
import { defaultFetch, type FetchLike, realTimers } from './http';
import type { TrustedKey } from './keys';
import {
  createDirectoryReader,
  createHttpReader,
  type ListReader,
  loadVersion,
  verifyManifest,
} from './load';
import type { ListManifest } from './manifest';
import { DeltaAccumulator, parseDeltaLines, readEntryFile } from './ndjson';

/** Options of {@link verifyPublishedList}. */
export interface VerifyListOptions {
  /** Keys to accept signatures from. */
  trusted: readonly TrustedKey[];
  /** @default false */
  allowInsecureHttp?: boolean;
  /** @default 536_870_912 */
  maxBytes?: number;
  /** @default 30_000 */
  requestTimeoutMs?: number;
  /** @default globalThis.fetch */
  fetch?: FetchLike;
}

/** What {@link verifyPublishedList} found. */
export interface VerifyListReport {
  readonly manifest: ListManifest;
  /** Key id whose signature verified. */
  readonly keyId: string;
  /** Valid entries of the snapshot. */
  readonly entries: SnapshotCounts;
  /** Entries of the snapshot a client would drop, by reason. */
  readonly dropped: DropCounts;
  /** Deltas whose files verified. */
  readonly deltasVerified: number;
}

/** True when `location` is an http(s) URL rather than a directory. */
export function isUrl(location: string): boolean {
  return /^https?:\/\//i.test(location);
}

/**
 * Verifies a published list in a directory or at a URL as a client would: the manifest
 * signature against the trusted keys, the snapshot and every delta file's size and SHA-256, and
 * every entry. Throws the first envelope error.
 */
export async function verifyPublishedList(location: string, o: VerifyListOptions): Promise<VerifyListReport> {
  if (o.trusted.length === 0)
    throw listError(ListErrorCodes.KEY_INVALID, 'Verifying a list needs at least one trusted key');
  const temp = isUrl(location) ? await mkdtemp(join(tmpdir(), 'hashgate-verify-')) : null;
  try {
    const reader: ListReader = temp
      ? createHttpReader(location, {
          http: {
            fetch: o.fetch ?? defaultFetch,
            timers: realTimers,
            requestTimeoutMs: o.requestTimeoutMs ?? 30_000,
            allowInsecureHttp: o.allowInsecureHttp === true,
          },
          maxBytes: o.maxBytes ?? 512 * 1024 * 1024,
          tempDir: temp,
        })
      : createDirectoryReader(location);
    const m = await reader.readManifest(null);
    if (m.notModified)
      throw listError(ListErrorCodes.HTTP_STATUS, 'Unexpected 304 for an unconditional request');
    const { manifest, keyId } = verifyManifest(m.manifestBytes, m.signatureBytes, o.trusted);
    const resolveType = createHashTypeResolver();
    const loaded = await loadVersion({ reader, manifest, base: null, resolveType });
    let deltasVerified = 0;
    for (const d of manifest.deltas) {
      const file = await reader.fetchFile(d, `delta ${d.from}-${d.to}`);
      try {
        await parseDeltaLines(
          readEntryFile(file.path, d.compression),
          new DeltaAccumulator(),
          new SnapshotBuilder(),
        );
      } finally {
        await file.release();
      }
      deltasVerified++;
    }
    return {
      manifest,
      keyId,
      entries: countSnapshot(loaded.snapshot),
      dropped: loaded.dropped,
      deltasVerified,
    };
  } finally {
    if (temp) await rm(temp, { recursive: true, force: true });
  }
}
