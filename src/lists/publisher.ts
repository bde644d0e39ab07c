/**
 * Owns the publisher side of the list protocol: writing a new list version (snapshot, delta from
 * the previous version, manifest, signature) into a directory that any static web server can
 * serve, each file replaced atomically; and reading back the version a directory holds.
 */

import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdir, readdir, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { createGzip } from 'node:zlib';
import { getHashType } from '../hashing/hash-types';
import type { ListSnapshot, TypedEntries } from '../snapshot';
import { writeFileAtomic } from './atomic-file';
import { DEFAULT_CATEGORY, type HashTypeResolver, SnapshotBuilder, snapshotSize } from './entries';
import { ListErrorCodes, listError } from './errors';
import { type SigningKey, signManifest } from './keys';
import { createDirectoryReader } from './load';
import {
  type DeltaRef,
  isValidListName,
  type ListManifest,
  MANIFEST_FILE,
  MANIFEST_FORMAT,
  PROTOCOL_VERSION,
  parseManifest,
  SIGNATURE_SUFFIX,
  serializeManifest,
} from './manifest';
import { parseSnapshotLines, readEntryFile, writeSnapshotLines } from './ndjson';

/** Options of {@link publishListVersion}. */
export interface PublishOptions {
  /** Directory of the published list (created when missing). */
  dir: string;
  /** List name; must match the name of a list already in `dir`. */
  name: string;
  /** All entries of the new version (its list, version and createdAt fields are ignored). */
  entries: ListSnapshot;
  /** Keys to sign with: one, or two during a key rotation. */
  keys: readonly SigningKey[];
  /** Version number. @default previous version + 1, or 1 */
  version?: number;
  /** @default now, ISO 8601 */
  createdAt?: string;
  /** Write `.ndjson.gz` files (else plain `.ndjson`). @default true */
  gzip?: boolean;
  /** How many deltas the manifest keeps (older clients take the snapshot). @default 30 */
  keepDeltas?: number;
  /** Resolves hash types when reading the previous version. @default built-in types */
  resolveType?: HashTypeResolver;
}

/** What {@link publishListVersion} wrote. */
export interface PublishResult {
  readonly manifest: ListManifest;
  readonly previousVersion: number | null;
  /** Adds and removes of the new delta, or null for a first version. */
  readonly delta: { readonly adds: number; readonly removes: number } | null;
}

/** The version currently published in a directory. */
export interface PublishedList {
  readonly manifest: ListManifest;
  /** Every entry of the published snapshot. */
  readonly snapshot: ListSnapshot;
}

const DATA_FILE = /^(snapshot-\d+|delta-\d+-\d+)\.ndjson(\.gz)?$/;

async function writeEntryFile(
  path: string,
  gzip: boolean,
  produce: (write: (s: string) => Promise<void>) => Promise<void>,
): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  await writeFileAtomic(path, async (w) => {
    const sink = async (buf: Buffer): Promise<void> => {
      hash.update(buf);
      size += buf.length;
      await w.write(buf);
    };
    if (!gzip) {
      await produce((s) => sink(Buffer.from(s, 'utf8')));
      return;
    }
    const gz = createGzip({ level: 6 });
    const consumer = (async () => {
      for await (const chunk of gz) await sink(chunk as Buffer);
    })();
    consumer.catch((err) => gz.destroy(err as Error));
    await produce(async (s) => {
      if (!gz.write(s)) await once(gz, 'drain');
    });
    gz.end();
    await consumer;
  });
  return { sha256: hash.digest('hex'), size };
}

function entryKey(t: TypedEntries, i: number, categories: readonly string[]): string {
  const w = t.hashBytes;
  const hex = Buffer.from(t.hashes.buffer, t.hashes.byteOffset + i * w, w).toString('hex');
  return `${t.type}\u0000${hex}\u0000${categories[t.categories[i]!]}\u0000${(t.labels.get(i) ?? []).join('\u0001')}`;
}

function entryLine(t: TypedEntries, i: number, categories: readonly string[], op?: 'add'): string {
  const w = t.hashBytes;
  const entry: Record<string, unknown> = op ? { op } : {};
  entry.id = t.ids[i];
  entry.type = t.type;
  entry.hash = Buffer.from(t.hashes.buffer, t.hashes.byteOffset + i * w, w).toString('hex');
  const c = categories[t.categories[i]!];
  if (c !== undefined && c !== DEFAULT_CATEGORY) entry.category = c;
  const labels = t.labels.get(i);
  if (labels) entry.labels = labels;
  return `${JSON.stringify(entry)}\n`;
}

/** Adds and removes (by id) that turn `prev` into `next`; an entry whose content changed is a remove plus an add. */
function diffById(
  prev: ListSnapshot,
  next: ListSnapshot,
): { removes: string[]; adds: Array<[TypedEntries, number]> } {
  const before = new Map<string, string>();
  for (const t of prev.byType.values())
    for (let i = 0; i < t.count; i++) before.set(t.ids[i]!, entryKey(t, i, prev.categories));
  const removes: string[] = [];
  const adds: Array<[TypedEntries, number]> = [];
  const seen = new Set<string>();
  for (const t of next.byType.values()) {
    for (let i = 0; i < t.count; i++) {
      const id = t.ids[i]!;
      seen.add(id);
      const old = before.get(id);
      if (old === undefined) {
        adds.push([t, i]);
      } else if (old !== entryKey(t, i, next.categories)) {
        removes.push(id);
        adds.push([t, i]);
      }
    }
  }
  for (const id of before.keys()) if (!seen.has(id)) removes.push(id);
  return { removes, adds };
}

/**
 * Reads the version published in `dir` (manifest plus verified snapshot; the signature is not
 * checked: this is the publisher's own directory). Null when `dir` has no manifest.
 */
export async function readPublishedList(
  dir: string,
  options: { resolveType?: HashTypeResolver } = {},
): Promise<PublishedList | null> {
  let m: ListManifest;
  try {
    m = parseManifest(await readFile(join(dir, MANIFEST_FILE)));
  } catch (err) {
    if ((err as { code?: string }).code === 'ENOENT') return null;
    throw err;
  }
  const reader = createDirectoryReader(dir);
  const file = await reader.fetchFile(m.snapshot, 'snapshot file');
  const builder = new SnapshotBuilder({
    resolveType: options.resolveType ?? getHashType,
    expectedCounts: m.counts,
  });
  await parseSnapshotLines(readEntryFile(file.path, m.snapshot.compression), builder);
  return { manifest: m, snapshot: builder.build(m.name, m.version, m.createdAt) };
}

/**
 * Publishes a new version of a list into `dir`: the snapshot, a delta from the previous version
 * (when there is one), then the manifest and its signature. Every file is written atomically;
 * data files first, so a client never sees a manifest that names a missing file. Files of
 * versions that are neither current, previous nor referenced by a kept delta are removed.
 *
 * @example
 * await publishListVersion({ dir: 'public/my-list', name: 'my-list', entries, keys: [parsePrivateKey(pem)] })
 */
export async function publishListVersion(o: PublishOptions): Promise<PublishResult> {
  if (!isValidListName(o.name))
    throw listError(ListErrorCodes.PUBLISH_FAILED, 'The list name must be 1 to 64 of [A-Za-z0-9._-]');
  if (o.keys.length === 0)
    throw listError(ListErrorCodes.PUBLISH_FAILED, 'Publishing needs at least one signing key');
  await mkdir(o.dir, { recursive: true });
  const prev = await readPublishedList(o.dir, o.resolveType ? { resolveType: o.resolveType } : {});
  if (prev && prev.manifest.name !== o.name) {
    throw listError(
      ListErrorCodes.PUBLISH_FAILED,
      `The directory holds list "${prev.manifest.name}", not "${o.name}"`,
    );
  }
  const version = o.version ?? (prev ? prev.manifest.version + 1 : 1);
  if (!Number.isSafeInteger(version) || version < 1 || (prev && version <= prev.manifest.version)) {
    throw listError(
      ListErrorCodes.PUBLISH_FAILED,
      `The new version must be an integer above ${prev?.manifest.version ?? 0}`,
    );
  }
  const gzip = o.gzip ?? true;
  const ext = gzip ? '.ndjson.gz' : '.ndjson';
  const compression = gzip ? 'gzip' : 'none';
  const entries = o.entries;

  const snapName = `snapshot-${version}${ext}`;
  const snap = await writeEntryFile(join(o.dir, snapName), gzip, (write) =>
    writeSnapshotLines(entries, write),
  );

  let delta: PublishResult['delta'] = null;
  const deltas: DeltaRef[] = [];
  if (prev) {
    const d = diffById(prev.snapshot, entries);
    const deltaName = `delta-${prev.manifest.version}-${version}${ext}`;
    const written = await writeEntryFile(join(o.dir, deltaName), gzip, async (write) => {
      for (const id of d.removes) await write(`${JSON.stringify({ op: 'remove', id })}\n`);
      for (const [t, i] of d.adds) await write(entryLine(t, i, entries.categories, 'add'));
    });
    deltas.push({
      path: deltaName,
      sha256: written.sha256,
      size: written.size,
      compression,
      from: prev.manifest.version,
      to: version,
      adds: d.adds.length,
      removes: d.removes.length,
    });
    deltas.push(...prev.manifest.deltas.slice(0, Math.max(0, (o.keepDeltas ?? 30) - 1)));
    delta = { adds: d.adds.length, removes: d.removes.length };
  }

  const counts: Record<string, number> = {};
  for (const [name, t] of entries.byType) counts[name] = t.count;
  const manifest: ListManifest = {
    format: MANIFEST_FORMAT,
    protocol: PROTOCOL_VERSION,
    name: o.name,
    version,
    createdAt: o.createdAt ?? new Date().toISOString(),
    counts,
    snapshot: {
      path: snapName,
      sha256: snap.sha256,
      size: snap.size,
      compression,
      entries: snapshotSize(entries),
    },
    deltas,
  };
  const manifestBytes = serializeManifest(manifest);
  const signature = signManifest(manifestBytes, o.keys);
  await writeFileAtomic(join(o.dir, MANIFEST_FILE), (w) => w.write(manifestBytes));
  await writeFileAtomic(join(o.dir, MANIFEST_FILE + SIGNATURE_SUFFIX), (w) => w.write(signature));

  const keep = new Set<string>([snapName, ...deltas.map((d) => d.path)]);
  if (prev) keep.add(prev.manifest.snapshot.path);
  for (const name of await readdir(o.dir)) {
    if (DATA_FILE.test(name) && !keep.has(name)) await unlink(join(o.dir, name)).catch(() => undefined);
  }
  return { manifest: parseManifest(manifestBytes), previousVersion: prev?.manifest.version ?? null, delta };
}
