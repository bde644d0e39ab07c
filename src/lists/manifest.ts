/**
 * Owns the manifest of the hashgate list protocol v1: its types, strict parsing of untrusted
 * manifest bytes, serialisation, and choosing between the delta chain and the snapshot.
 */

import { ListErrorCodes, listError } from './errors';

/** Value of the manifest's `format` field. */
export const MANIFEST_FORMAT = 'hashgate-list';
/** The protocol version this code speaks. */
export const PROTOCOL_VERSION = 1;
/** Default file name of the manifest; the signature is the same name plus `.sig`. */
export const MANIFEST_FILE = 'manifest.json';
/** Suffix of the detached signature file. */
export const SIGNATURE_SUFFIX = '.sig';

/** A file the manifest pins by SHA-256 and size. */
export interface FileRef {
  /** Path relative to the manifest's URL (or directory): segments of `[A-Za-z0-9._-]`, none starting with a dot. */
  readonly path: string;
  /** SHA-256 of the file's bytes exactly as served, lower-case hex. */
  readonly sha256: string;
  /** Size of the file's bytes as served. */
  readonly size: number;
  /** `gzip` when the file is a gzip stream of NDJSON, `none` for plain NDJSON. */
  readonly compression: 'gzip' | 'none';
}

/** The full snapshot of a version. */
export interface SnapshotRef extends FileRef {
  /** Number of entry lines in the snapshot. */
  readonly entries: number;
}

/** A delta from version `from` to version `to`. */
export interface DeltaRef extends FileRef {
  /** Version the delta applies to (0 means the empty list). */
  readonly from: number;
  /** Version the delta produces. */
  readonly to: number;
  /** Number of add lines. */
  readonly adds: number;
  /** Number of remove (tombstone) lines. */
  readonly removes: number;
}

/** The manifest of one list version. */
export interface ListManifest {
  readonly format: typeof MANIFEST_FORMAT;
  readonly protocol: typeof PROTOCOL_VERSION;
  /** List name. */
  readonly name: string;
  /** Monotonically increasing integer, >= 1. */
  readonly version: number;
  /** When the publisher created this version, ISO 8601 UTC. */
  readonly createdAt: string;
  /** Entries by hash type (informative; each client validates every entry itself). */
  readonly counts: Readonly<Record<string, number>>;
  /** The snapshot of all entries of this version. */
  readonly snapshot: SnapshotRef;
  /** Deltas that lead to this version, newest first by convention. */
  readonly deltas: readonly DeltaRef[];
}

const LIST_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const SAFE_PATH = /^[A-Za-z0-9_][A-Za-z0-9._-]*(\/[A-Za-z0-9_][A-Za-z0-9._-]*)*$/;
const SHA256_HEX = /^[0-9a-f]{64}$/;
const TYPE_NAME = /^[a-z0-9][a-z0-9_-]{0,31}$/;
const MAX_DELTAS = 1000;
const MAX_CHAIN = 256;

/** True when `name` is a valid list name (also used as a file name in the cache folder). */
export function isValidListName(name: unknown): name is string {
  return typeof name === 'string' && LIST_NAME.test(name);
}

/** True when `path` is a safe relative file path for a manifest entry. */
export function isSafeFilePath(path: unknown): path is string {
  return typeof path === 'string' && path.length <= 200 && SAFE_PATH.test(path);
}

function bad(message: string): never {
  throw listError(ListErrorCodes.MANIFEST_INVALID, `Invalid list manifest: ${message}`);
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function readFileRef(v: unknown, where: string): FileRef {
  if (typeof v !== 'object' || v === null) bad(`${where} must be an object`);
  const o = v as Record<string, unknown>;
  if (!isSafeFilePath(o.path)) bad(`${where}.path must be a relative path of [A-Za-z0-9._-] segments`);
  if (typeof o.sha256 !== 'string' || !SHA256_HEX.test(o.sha256))
    bad(`${where}.sha256 must be 64 lower-case hex digits`);
  if (!isCount(o.size)) bad(`${where}.size must be a non-negative integer`);
  if (o.compression !== 'gzip' && o.compression !== 'none')
    bad(`${where}.compression must be "gzip" or "none"`);
  return { path: o.path, sha256: o.sha256, size: o.size, compression: o.compression };
}

/**
 * Parses untrusted manifest bytes. Throws `ERR_HASHGATE_LIST_MANIFEST_INVALID` when they are not
 * JSON or not a valid v1 manifest. Unknown extra fields are ignored (forward compatible).
 */
export function parseManifest(bytes: Uint8Array): ListManifest {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    bad('not JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) bad('not a JSON object');
  const o = value as Record<string, unknown>;
  if (o.format !== MANIFEST_FORMAT) bad(`format must be "${MANIFEST_FORMAT}"`);
  if (o.protocol !== PROTOCOL_VERSION)
    bad(`unsupported protocol ${JSON.stringify(o.protocol)} (this client speaks 1)`);
  if (!isValidListName(o.name))
    bad('name must be 1 to 64 characters of [A-Za-z0-9._-], starting with a letter or digit');
  if (typeof o.version !== 'number' || !Number.isSafeInteger(o.version) || o.version < 1) {
    bad('version must be an integer >= 1');
  }
  if (typeof o.createdAt !== 'string' || o.createdAt.length > 40 || Number.isNaN(Date.parse(o.createdAt))) {
    bad('createdAt must be an ISO 8601 time');
  }
  if (typeof o.counts !== 'object' || o.counts === null || Array.isArray(o.counts))
    bad('counts must be an object');
  const counts: Record<string, number> = {};
  let total = 0;
  for (const [k, n] of Object.entries(o.counts as Record<string, unknown>)) {
    if (!TYPE_NAME.test(k) || !isCount(n)) bad('counts must map hash type names to non-negative integers');
    counts[k] = n;
    total += n;
  }
  const snapRef = readFileRef(o.snapshot, 'snapshot');
  const entries = (o.snapshot as Record<string, unknown>).entries;
  if (!isCount(entries)) bad('snapshot.entries must be a non-negative integer');
  if (entries !== total) bad('snapshot.entries must equal the sum of counts');
  const rawDeltas = o.deltas ?? [];
  if (!Array.isArray(rawDeltas) || rawDeltas.length > MAX_DELTAS)
    bad(`deltas must be an array of at most ${MAX_DELTAS}`);
  const deltas = (rawDeltas as unknown[]).map((d, i): DeltaRef => {
    const ref = readFileRef(d, `deltas[${i}]`);
    const x = d as Record<string, unknown>;
    if (!isCount(x.from) || !isCount(x.to) || x.from >= x.to || x.to > (o.version as number)) {
      bad(`deltas[${i}] needs integers 0 <= from < to <= version`);
    }
    if (!isCount(x.adds) || !isCount(x.removes))
      bad(`deltas[${i}].adds and .removes must be non-negative integers`);
    return { ...ref, from: x.from, to: x.to, adds: x.adds, removes: x.removes };
  });
  return Object.freeze({
    format: MANIFEST_FORMAT,
    protocol: PROTOCOL_VERSION,
    name: o.name,
    version: o.version as number,
    createdAt: o.createdAt,
    counts: Object.freeze(counts),
    snapshot: Object.freeze({ ...snapRef, entries }),
    deltas: Object.freeze(deltas.map((d) => Object.freeze(d))),
  });
}

/** Serialises a manifest as the publisher writes it (pretty JSON plus a newline). The signature covers these exact bytes. */
export function serializeManifest(manifest: ListManifest): Buffer {
  return Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`, 'utf8');
}

/** How a client at some version reaches the manifest's version. */
export type UpdatePlan = { kind: 'snapshot' } | { kind: 'deltas'; deltas: readonly DeltaRef[] };

/**
 * Chooses the delta chain from `current` to the manifest's version when one exists and is
 * smaller in total than the snapshot; otherwise the snapshot. At each step the delta that goes
 * furthest (without passing the target) is taken.
 */
export function planUpdate(manifest: ListManifest, current: number | null): UpdatePlan {
  if (current === null || current >= manifest.version) return { kind: 'snapshot' };
  const chain: DeltaRef[] = [];
  let at = current;
  let bytes = 0;
  while (at < manifest.version) {
    let best: DeltaRef | undefined;
    for (const d of manifest.deltas) {
      if (d.from === at && d.to <= manifest.version && (!best || d.to > best.to)) best = d;
    }
    if (!best || chain.length >= MAX_CHAIN) return { kind: 'snapshot' };
    chain.push(best);
    bytes += best.size;
    at = best.to;
  }
  if (bytes >= manifest.snapshot.size) return { kind: 'snapshot' };
  return { kind: 'deltas', deltas: chain };
}
