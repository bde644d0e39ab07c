/**
 * Owns the sync of one list: load the persisted copy at start-up, then refresh it from its source
 * on an interval with jitter (backoff on failure), accept only verified newer versions, persist
 * them atomically, report status, and deliver each accepted snapshot with what it added.
 */

import { mkdir, readdir, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { invalidOption } from '../errors';
import type { HashType } from '../hashing/hash-types';
import type { ListSnapshot, TypedEntries } from '../snapshot';
import type { AtomicWriteHooks } from './atomic-file';
import { cacheFilePath, readCheckState, readListCache, writeCheckState, writeListCache } from './cache';
import {
  countSnapshot,
  createHashTypeResolver,
  type DropCounts,
  diffAdded,
  filterCategories,
  type HashTypeResolver,
  isValidCategory,
  type SnapshotCounts,
  snapshotSize,
} from './entries';
import { errorCodeOf, ListErrorCodes, listError } from './errors';
import { LOCAL_LIST_FORMATS, type LocalListFormat, readLocalList } from './formats';
import {
  assertUrlAllowed,
  defaultFetch,
  type FetchLike,
  type HttpSettings,
  realTimers,
  type Timers,
} from './http';
import { parsePublicKey, type TrustedKey } from './keys';
import { createHttpReader, type ListReader, loadVersion, manifestUrlOf, verifyManifest } from './load';
import { isValidListName } from './manifest';
import { DEFAULT_MAX_DECOMPRESSED_BYTES } from './ndjson';
import { isParseWorkerAvailable } from './parse-job';

/** Where a list comes from: a protocol v1 URL, or a local file in one of the local formats. */
export type ListSource =
  | {
      /** URL of the manifest (or of its folder, ending in `/`). https unless loopback or `allowInsecureHttp`. */
      url: string;
    }
  | {
      /** Path of a local list file (re-read when its modification time or size changes). */
      file: string;
      /** Format of the file. */
      format: LocalListFormat;
      /** Hash type of every line: required for `text`, optional for `threatexchange`. */
      hashType?: string;
      /** Category of entries that have none. @default 'default' */
      category?: string;
    };

/** Structured logger; messages and fields never contain hashes or list contents. */
export interface ListSyncLogger {
  debug?(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/** A newly accepted version, as delivered to update listeners. */
export interface ListUpdate {
  /** List name. */
  readonly list: string;
  /** The new snapshot, restricted to the enabled categories: what the match index is built from. */
  readonly snapshot: ListSnapshot;
  /** Version before this one in this process, or null for the first version loaded. */
  readonly previousVersion: number | null;
  /**
   * Entries (enabled categories) whose hash was not in the previous snapshot, per hash type:
   * re-check earlier uploads against these. Null when there was no previous snapshot in this
   * process (start-up); then the caller decides whether to re-check against everything.
   */
  readonly added: ReadonlyMap<string, TypedEntries> | null;
  /** Where the version came from. */
  readonly origin: 'cache' | 'network' | 'file';
}

/** Called with every accepted version; awaited (errors are logged, never fail the sync). */
export type ListUpdateListener = (update: ListUpdate) => void | Promise<void>;

/** The last error of a list, without hashes. */
export interface ListErrorInfo {
  /** Stable `ERR_HASHGATE_...` code. */
  readonly code: string;
  readonly message: string;
  /** When it happened (ms since the epoch). */
  readonly at: number;
}

/** Status of one list, for readiness, metrics and the console. */
export interface ListStatus {
  readonly list: string;
  readonly source: 'url' | 'file';
  /** Accepted version, or null when no version was ever loaded. */
  readonly version: number | null;
  /** The publisher's creation time of that version. */
  readonly createdAt: string | null;
  /** Where the current version came from. */
  readonly loadedFrom: 'cache' | 'network' | 'file' | null;
  /** Key id that verified the current version (url sources). */
  readonly keyId: string | null;
  /** All valid entries of the current version, by type and category (before the category filter). */
  readonly entries: SnapshotCounts;
  /** Entries in enabled categories (what the index gets). */
  readonly enabledEntries: number;
  /** The enabled categories, or `all`. */
  readonly enabledCategories: readonly string[] | 'all';
  /** Entries dropped while reading the files of the current version, by reason. */
  readonly dropped: DropCounts;
  /** Last time a check was attempted. */
  readonly lastCheckAt: number | null;
  /** Last time the source was confirmed (new version accepted, not modified, or same version). */
  readonly lastSuccessAt: number | null;
  /** The error of the last failed check; null after a success. */
  readonly lastError: ListErrorInfo | null;
  /** Failed checks in a row. */
  readonly consecutiveFailures: number;
  /** Last error writing the persisted copy; null after a successful write. */
  readonly cacheError: ListErrorInfo | null;
  /** Milliseconds since the last success, or null. */
  readonly ageMs: number | null;
  /** True when no version is loaded or the last success is older than `maxStalenessMs`. */
  readonly stale: boolean;
  /** When the next check is scheduled (ms since the epoch), or null. */
  readonly nextRefreshAt: number | null;
}

/** Options of {@link createListSync}. Durations are in milliseconds, sizes in bytes. */
export interface ListSyncOptions {
  /** List name: 1 to 64 of `[A-Za-z0-9._-]`. Must equal the manifest's name. */
  name: string;
  /** Where the list comes from. */
  source: ListSource;
  /** Trusted Ed25519 public keys (PEM or raw base64); required for url sources. Several allow rotation. */
  publicKeys?: readonly string[];
  /** Folder for the persisted copy; required for url sources. */
  cacheDir?: string;
  /** Categories whose entries reach the snapshot. Entries without a category are in `default`. @default all */
  enabledCategories?: readonly string[];
  /** @default 300_000 (5 minutes) */
  refreshIntervalMs?: number;
  /** Random spread of each delay, as a fraction of it (0.1 = plus or minus 10%). @default 0.1 */
  jitter?: number;
  /** First delay after a failure; doubles with each failure in a row. @default 5_000 */
  initialBackoffMs?: number;
  /** Cap of the backoff delay. @default 300_000 */
  maxBackoffMs?: number;
  /** Longest wait for response headers and between body chunks. @default 30_000 */
  requestTimeoutMs?: number;
  /** Largest file download. @default 536_870_912 (512 MiB) */
  maxBytes?: number;
  /** Largest decompressed entry file. @default 4 GiB */
  maxDecompressedBytes?: number;
  /** Most entries a version may have. @default 50_000_000 */
  maxEntries?: number;
  /** A list is stale when its last success is older than this. @default 86_400_000 (24 hours) */
  maxStalenessMs?: number;
  /** Allow plain http to hosts that are not loopback. @default false */
  allowInsecureHttp?: boolean;
  /** How often a local file is checked for changes. @default 10_000 */
  pollIntervalMs?: number;
  /** Custom hash types (besides md5, sha1, sha256, pdq, blockhash). */
  hashTypes?: readonly HashType[];
  /** Called with every accepted version. More listeners via {@link ListSync.onUpdate}. */
  onUpdate?: ListUpdateListener;
  /** @default globalThis.fetch */
  fetch?: FetchLike;
  /** @default Date.now */
  now?: () => number;
  /** @default real timers (unref'd) */
  timers?: Timers;
  /** @default Math.random */
  random?: () => number;
  /** @default no logging */
  logger?: ListSyncLogger;
  /** Fault injection for the cache write (tests only). */
  atomicWriteHooks?: AtomicWriteHooks;
}

/** The sync of one list. */
export interface ListSync {
  /** List name. */
  readonly name: string;
  /**
   * Loads the persisted copy (url sources; no network call) or reads the file (file sources),
   * then schedules refreshes, the first one immediately. Resolves with the status after the
   * local load; it never waits for the network.
   */
  start(): Promise<ListStatus>;
  /** Cancels the schedule and aborts a sync in flight. The sync cannot be started again. */
  stop(): Promise<void>;
  /** Checks the source now (joins a check in flight) and resolves with the status afterwards. */
  refresh(): Promise<ListStatus>;
  /** The current snapshot (enabled categories only), or null. */
  snapshot(): ListSnapshot | null;
  /** The current status. */
  status(): ListStatus;
  /** Adds an update listener; returns a function that removes it. */
  onUpdate(listener: ListUpdateListener): () => void;
}

const noopLogger: ListSyncLogger = { info() {}, warn() {}, error() {} };

function positiveInt(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value <= 0) throw invalidOption(name, 'a positive integer', value);
  return value;
}

interface Config {
  readonly name: string;
  readonly source: ListSource;
  readonly trusted: readonly TrustedKey[];
  readonly cacheDir: string | null;
  readonly enabled: ReadonlySet<string> | undefined;
  readonly enabledList: readonly string[] | 'all';
  readonly refreshIntervalMs: number;
  readonly jitter: number;
  readonly initialBackoffMs: number;
  readonly maxBackoffMs: number;
  readonly requestTimeoutMs: number;
  readonly maxBytes: number;
  readonly maxDecompressedBytes: number;
  readonly maxEntries: number;
  readonly maxStalenessMs: number;
  readonly allowInsecureHttp: boolean;
  readonly pollIntervalMs: number;
  readonly resolveType: HashTypeResolver;
  /** Parse downloaded files in a worker thread (built-in hash types only, compiled build only). */
  readonly parseInWorker: boolean;
  readonly fetch: FetchLike;
  readonly now: () => number;
  readonly timers: Timers;
  readonly random: () => number;
  readonly logger: ListSyncLogger;
  readonly hooks: AtomicWriteHooks | undefined;
}

function parseSyncOptions(o: ListSyncOptions): Config {
  if (!isValidListName(o.name)) {
    throw invalidOption('name', 'a list name of 1 to 64 characters [A-Za-z0-9._-]', o.name);
  }
  const source = o.source;
  let trusted: TrustedKey[] = [];
  let cacheDir: string | null = null;
  const allowInsecureHttp = o.allowInsecureHttp === true;
  if (source && 'url' in source) {
    let url: URL;
    try {
      url = manifestUrlOf(source.url);
    } catch {
      throw invalidOption('source.url', 'an absolute URL', source.url);
    }
    try {
      assertUrlAllowed(url, allowInsecureHttp);
    } catch {
      throw invalidOption(
        'source.url',
        'an https URL (http only for loopback hosts)',
        `${url.protocol}//${url.host}`,
        'Use https, or set allowInsecureHttp: true for a trusted network',
      );
    }
    if (!o.publicKeys || o.publicKeys.length === 0) {
      throw invalidOption('publicKeys', 'at least one trusted Ed25519 public key', o.publicKeys);
    }
    trusted = o.publicKeys.map((k) => parsePublicKey(k));
    if (typeof o.cacheDir !== 'string' || o.cacheDir === '') {
      throw invalidOption('cacheDir', 'a folder for the persisted copy of the list', o.cacheDir);
    }
    cacheDir = o.cacheDir;
  } else if (source && 'file' in source) {
    if (typeof source.file !== 'string' || source.file === '')
      throw invalidOption('source.file', 'a file path', source.file);
    if (!LOCAL_LIST_FORMATS.includes(source.format)) {
      throw invalidOption('source.format', `one of ${LOCAL_LIST_FORMATS.join(', ')}`, source.format);
    }
    if (source.format === 'text' && !source.hashType) {
      throw invalidOption('source.hashType', 'the hash type of a plain-text list', source.hashType);
    }
  } else {
    throw invalidOption('source', 'an object with `url` or `file`', source);
  }
  if (o.enabledCategories !== undefined) {
    if (!Array.isArray(o.enabledCategories) || !o.enabledCategories.every(isValidCategory)) {
      throw invalidOption('enabledCategories', 'an array of category names', o.enabledCategories);
    }
  }
  const jitter = o.jitter ?? 0.1;
  if (typeof jitter !== 'number' || !(jitter >= 0 && jitter <= 1))
    throw invalidOption('jitter', 'a number from 0 to 1', jitter);
  const resolveType = createHashTypeResolver(o.hashTypes);
  if (source && 'file' in source && source.hashType && !resolveType(source.hashType)) {
    throw invalidOption('source.hashType', 'a known hash type', source.hashType);
  }
  return Object.freeze({
    name: o.name,
    source,
    trusted,
    cacheDir,
    enabled: o.enabledCategories ? new Set(o.enabledCategories) : undefined,
    enabledList: o.enabledCategories ? Object.freeze([...o.enabledCategories]) : 'all',
    refreshIntervalMs: positiveInt('refreshIntervalMs', o.refreshIntervalMs, 300_000),
    jitter,
    initialBackoffMs: positiveInt('initialBackoffMs', o.initialBackoffMs, 5_000),
    maxBackoffMs: positiveInt('maxBackoffMs', o.maxBackoffMs, 300_000),
    requestTimeoutMs: positiveInt('requestTimeoutMs', o.requestTimeoutMs, 30_000),
    maxBytes: positiveInt('maxBytes', o.maxBytes, 512 * 1024 * 1024),
    maxDecompressedBytes: positiveInt(
      'maxDecompressedBytes',
      o.maxDecompressedBytes,
      DEFAULT_MAX_DECOMPRESSED_BYTES,
    ),
    maxEntries: positiveInt('maxEntries', o.maxEntries, 50_000_000),
    maxStalenessMs: positiveInt('maxStalenessMs', o.maxStalenessMs, 86_400_000),
    allowInsecureHttp,
    pollIntervalMs: positiveInt('pollIntervalMs', o.pollIntervalMs, 10_000),
    resolveType,
    parseInWorker: (o.hashTypes?.length ?? 0) === 0 && isParseWorkerAvailable(),
    fetch: o.fetch ?? defaultFetch,
    now: o.now ?? Date.now,
    timers: o.timers ?? realTimers,
    random: o.random ?? Math.random,
    logger: o.logger ?? noopLogger,
    hooks: o.atomicWriteHooks,
  });
}

/** Prefix of this list's temporary download files in the cache folder. */
function downloadPrefix(list: string): string {
  return `.${list}.download-`;
}

async function ensureDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
  } catch (err) {
    throw listError(ListErrorCodes.CACHE_WRITE_FAILED, 'Could not create the cache folder', err);
  }
}

/** An error as shown in the status: code and message only (messages never hold hashes). */
function describeError(err: unknown, at: number): ListErrorInfo {
  const code = errorCodeOf(err);
  const message =
    code === ListErrorCodes.INTERNAL
      ? `Unexpected ${(err as Error)?.name ?? 'error'} in the list sync`
      : (err as Error).message;
  return Object.freeze({ code, message, at });
}

class ListSyncImpl implements ListSync {
  readonly name: string;
  readonly #c: Config;
  readonly #abort = new AbortController();
  readonly #listeners = new Set<ListUpdateListener>();
  readonly #reader: ListReader | null;
  #full: ListSnapshot | null = null;
  #produced: ListSnapshot | null = null;
  #counts: SnapshotCounts = { total: 0, byType: {}, byCategory: {} };
  #dropped: DropCounts = {};
  #loadedFrom: ListStatus['loadedFrom'] = null;
  #keyId: string | null = null;
  #etag: string | null = null;
  /** The version and SHA-256 of the persisted copy on disk, once known. */
  #persisted: { version: number; sha256: string } | null = null;
  #fileStamp: string | null = null;
  #lastCheckAt: number | null = null;
  #lastSuccessAt: number | null = null;
  #lastError: ListErrorInfo | null = null;
  #cacheError: ListErrorInfo | null = null;
  #failures = 0;
  #inflight: Promise<void> | null = null;
  #timer: unknown;
  #nextRefreshAt: number | null = null;
  #started = false;
  #stopped = false;

  constructor(options: ListSyncOptions) {
    this.#c = parseSyncOptions(options);
    this.name = this.#c.name;
    if (options.onUpdate) this.#listeners.add(options.onUpdate);
    const src = this.#c.source;
    if ('url' in src) {
      const http: HttpSettings = {
        fetch: this.#c.fetch,
        timers: this.#c.timers,
        requestTimeoutMs: this.#c.requestTimeoutMs,
        allowInsecureHttp: this.#c.allowInsecureHttp,
        signal: this.#abort.signal,
      };
      this.#reader = createHttpReader(src.url, {
        http,
        maxBytes: this.#c.maxBytes,
        tempDir: this.#c.cacheDir!,
        tempPrefix: downloadPrefix(this.name),
      });
    } else {
      this.#reader = null;
    }
  }

  async start(): Promise<ListStatus> {
    if (this.#started) return this.status();
    this.#started = true;
    if (this.#reader) {
      await this.#loadCache();
      if (!this.#stopped) this.#schedule(0);
      return this.status();
    }
    return this.refresh();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#clearTimer();
    this.#abort.abort();
    await this.#inflight?.catch(() => undefined);
  }

  refresh(): Promise<ListStatus> {
    if (this.#stopped) return Promise.resolve(this.status());
    if (!this.#inflight) {
      this.#inflight = this.#check().finally(() => {
        this.#inflight = null;
        if (this.#started && !this.#stopped) this.#schedule(this.#nextDelay());
      });
    }
    return this.#inflight.then(() => this.status());
  }

  snapshot(): ListSnapshot | null {
    return this.#produced;
  }

  onUpdate(listener: ListUpdateListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  status(): ListStatus {
    const now = this.#c.now();
    const ageMs = this.#lastSuccessAt === null ? null : Math.max(0, now - this.#lastSuccessAt);
    return Object.freeze({
      list: this.name,
      source: this.#reader ? 'url' : 'file',
      version: this.#full?.version ?? null,
      createdAt: this.#full?.createdAt ?? null,
      loadedFrom: this.#loadedFrom,
      keyId: this.#keyId,
      entries: this.#counts,
      enabledEntries: this.#produced ? snapshotSize(this.#produced) : 0,
      enabledCategories: this.#c.enabledList,
      dropped: this.#dropped,
      lastCheckAt: this.#lastCheckAt,
      lastSuccessAt: this.#lastSuccessAt,
      lastError: this.#lastError,
      consecutiveFailures: this.#failures,
      cacheError: this.#cacheError,
      ageMs,
      stale: this.#full === null || ageMs === null || ageMs > this.#c.maxStalenessMs,
      nextRefreshAt: this.#nextRefreshAt,
    } satisfies ListStatus);
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) this.#c.timers.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#nextRefreshAt = null;
  }

  #schedule(delayMs: number): void {
    this.#clearTimer();
    this.#nextRefreshAt = this.#c.now() + delayMs;
    this.#timer = this.#c.timers.setTimeout(() => {
      this.#timer = undefined;
      this.#nextRefreshAt = null;
      void this.refresh();
    }, delayMs);
  }

  /** Next delay: the interval after a success, exponential backoff with a cap after failures; both jittered. */
  #nextDelay(): number {
    const base =
      this.#failures > 0
        ? Math.min(this.#c.maxBackoffMs, this.#c.initialBackoffMs * 2 ** Math.min(this.#failures - 1, 40))
        : this.#reader
          ? this.#c.refreshIntervalMs
          : this.#c.pollIntervalMs;
    const spread = base * this.#c.jitter * (2 * this.#c.random() - 1);
    return Math.max(0, Math.round(base + spread));
  }

  async #loadCache(): Promise<void> {
    const dir = this.#c.cacheDir!;
    const path = cacheFilePath(dir, this.name);
    try {
      await ensureDir(dir);
      // Downloads left behind by a crash; only this list's (several lists share the folder).
      for (const f of await readdir(dir)) {
        if (f.startsWith(downloadPrefix(this.name))) await unlink(join(dir, f)).catch(() => undefined);
      }
      const cached = await readListCache(path, {
        list: this.name,
        trusted: this.#c.trusted,
        resolveType: this.#c.resolveType,
        maxEntries: this.#c.maxEntries,
      });
      if (!cached) {
        this.#c.logger.info('no persisted copy of the list; waiting for the list server', {
          list: this.name,
        });
        return;
      }
      // A later 304 (or the same version again) confirmed this copy after it was saved.
      const checked = await readCheckState(path, cached.snapshot.version, cached.sha256);
      this.#persisted = { version: cached.snapshot.version, sha256: cached.sha256 };
      this.#etag = checked?.etag ?? cached.etag;
      this.#keyId = cached.keyId;
      this.#dropped = cached.dropped;
      this.#lastSuccessAt = Math.max(cached.savedAt, checked?.checkedAt ?? 0);
      await this.#accept(cached.snapshot, 'cache');
    } catch (err) {
      this.#lastError = describeError(err, this.#c.now());
      this.#c.logger.warn('the persisted copy of the list was not used', {
        list: this.name,
        code: this.#lastError.code,
        message: this.#lastError.message,
      });
    }
  }

  async #check(): Promise<void> {
    const started = this.#c.now();
    this.#lastCheckAt = started;
    try {
      const outcome = this.#reader ? await this.#checkUrl(this.#reader) : await this.#checkFile();
      this.#lastSuccessAt = this.#c.now();
      this.#lastError = null;
      this.#failures = 0;
      if (outcome === 'confirmed') await this.#persistCheck(this.#lastSuccessAt);
    } catch (err) {
      this.#failures++;
      this.#lastError = describeError(err, this.#c.now());
      this.#c.logger.warn('list sync failed; keeping the last good version', {
        list: this.name,
        version: this.#full?.version ?? null,
        code: this.#lastError.code,
        message: this.#lastError.message,
        consecutiveFailures: this.#failures,
      });
    }
  }

  /**
   * Records a check that confirmed the current version (304, or the same version again) next to
   * the persisted copy, so that its age survives a restart. A failure only costs freshness after a
   * restart: it is reported as a cache error, never as a failed check.
   */
  async #persistCheck(checkedAt: number): Promise<void> {
    const p = this.#persisted;
    if (!p || p.version !== this.#full?.version) return;
    try {
      await writeCheckState(cacheFilePath(this.#c.cacheDir!, this.name), {
        version: p.version,
        cacheSha256: p.sha256,
        checkedAt,
        etag: this.#etag,
      });
    } catch (err) {
      this.#cacheError = describeError(
        listError(ListErrorCodes.CACHE_WRITE_FAILED, 'Could not record the check of the list', err),
        checkedAt,
      );
      this.#c.logger.warn('could not record the check of the list', {
        list: this.name,
        code: this.#cacheError.code,
      });
    }
  }

  /** Checks the list server: `confirmed` when the current version is still current, `updated` when a new one was accepted. */
  async #checkUrl(reader: ListReader): Promise<'confirmed' | 'updated'> {
    await ensureDir(this.#c.cacheDir!);
    const m = await reader.readManifest(this.#full ? this.#etag : null);
    if (m.notModified) {
      this.#c.logger.debug?.('list not modified', { list: this.name, version: this.#full?.version });
      return 'confirmed';
    }
    const { manifest, keyId } = verifyManifest(m.manifestBytes, m.signatureBytes, this.#c.trusted);
    if (manifest.name !== this.name) {
      throw listError(
        ListErrorCodes.NAME_MISMATCH,
        `The manifest is for list "${manifest.name}", not "${this.name}"`,
      );
    }
    const current = this.#full?.version ?? null;
    if (current !== null && manifest.version < current) {
      throw listError(
        ListErrorCodes.ROLLBACK,
        `The list server offers version ${manifest.version}, lower than the accepted version ${current}; refused`,
      );
    }
    if (current !== null && manifest.version === current) {
      this.#etag = m.etag;
      return 'confirmed';
    }
    const loaded = await loadVersion({
      reader,
      manifest,
      base: this.#full,
      resolveType: this.#c.resolveType,
      maxEntries: this.#c.maxEntries,
      maxDecompressedBytes: this.#c.maxDecompressedBytes,
      worker: this.#c.parseInWorker,
      signal: this.#abort.signal,
    });
    if (this.#stopped) throw listError(ListErrorCodes.ABORTED, 'The list sync was stopped');
    // Swap first, persist second: the new entries protect uploads as early as possible; a crash
    // before the write only means the next start loads the previous persisted version.
    this.#etag = m.etag;
    this.#keyId = keyId;
    this.#dropped = loaded.dropped;
    const tAccept = performance.now();
    await this.#accept(loaded.snapshot, 'network');
    const acceptMs = performance.now() - tAccept;
    const savedAt = this.#c.now();
    const tPersist = performance.now();
    try {
      const sha256 = await writeListCache(
        cacheFilePath(this.#c.cacheDir!, this.name),
        loaded.snapshot,
        {
          manifestBytes: m.manifestBytes,
          signatureBytes: m.signatureBytes,
          etag: m.etag,
          savedAt,
          dropped: loaded.dropped,
        },
        this.#c.hooks,
      );
      this.#persisted = { version: manifest.version, sha256 };
      this.#cacheError = null;
    } catch (err) {
      // The new version stays in use: a list that cannot be persisted beats a stale one.
      this.#cacheError = describeError(
        listError(ListErrorCodes.CACHE_WRITE_FAILED, 'Could not persist the list', err),
        savedAt,
      );
      this.#c.logger.error('could not persist the list; the previous persisted copy is kept', {
        list: this.name,
        code: this.#cacheError.code,
      });
    }
    const persistMs = performance.now() - tPersist;
    this.#c.logger.info('list updated', {
      list: this.name,
      from: current,
      version: manifest.version,
      via: loaded.via,
      entries: this.#counts.total,
      dropped: loaded.dropped,
      fetchMs: Math.round(loaded.timings.fetchMs),
      parseMs: Math.round(loaded.timings.parseMs),
      persistMs: Math.round(persistMs),
      acceptMs: Math.round(acceptMs),
    });
    return 'updated';
  }

  async #checkFile(): Promise<'updated' | 'unchanged'> {
    const src = this.#c.source as Extract<ListSource, { file: string }>;
    let s: Awaited<ReturnType<typeof stat>>;
    try {
      s = await stat(src.file);
    } catch (err) {
      throw listError(ListErrorCodes.SOURCE_READ_FAILED, 'The local list file could not be read', err);
    }
    const stamp = `${s.mtimeMs}:${s.size}:${s.ino}`;
    if (stamp === this.#fileStamp && this.#full) return 'unchanged';
    const version = Math.max((this.#full?.version ?? 0) + 1, Math.floor(s.mtimeMs));
    const { snapshot, dropped } = await readLocalList(
      src.file,
      {
        list: this.name,
        version,
        createdAt: new Date(s.mtimeMs).toISOString(),
        maxEntries: this.#c.maxEntries,
      },
      {
        format: src.format,
        resolveType: this.#c.resolveType,
        maxBytes: this.#c.maxDecompressedBytes,
        ...(src.hashType ? { hashType: src.hashType } : {}),
        ...(src.category ? { category: src.category } : {}),
      },
    );
    const after = await stat(src.file).catch(() => null);
    if (!after || `${after.mtimeMs}:${after.size}:${after.ino}` !== stamp) {
      throw listError(
        ListErrorCodes.SOURCE_READ_FAILED,
        'The local list file changed while it was read; will retry',
      );
    }
    if (this.#stopped) return 'unchanged';
    this.#fileStamp = stamp;
    this.#dropped = dropped;
    await this.#accept(snapshot, 'file');
    this.#c.logger.info('local list loaded', {
      list: this.name,
      version,
      entries: this.#counts.total,
      dropped,
    });
    return 'updated';
  }

  /** Swaps in a new full snapshot: filters categories, computes what was added, notifies listeners. */
  async #accept(full: ListSnapshot, origin: ListUpdate['origin']): Promise<void> {
    const produced = await filterCategories(full, this.#c.enabled);
    const prev = this.#produced;
    const added = prev ? await diffAdded(prev, produced) : null;
    this.#full = full;
    this.#produced = produced;
    this.#counts = countSnapshot(full);
    this.#loadedFrom = origin;
    const update: ListUpdate = Object.freeze({
      list: this.name,
      snapshot: produced,
      previousVersion: prev?.version ?? null,
      added,
      origin,
    });
    for (const listener of [...this.#listeners]) {
      try {
        await listener(update);
      } catch (err) {
        this.#c.logger.error('a list update listener failed', { list: this.name, code: errorCodeOf(err) });
      }
    }
  }
}

/**
 * Creates the sync of one list. Options are validated here (throws `ERR_HASHGATE_INVALID_OPTION`
 * or `ERR_HASHGATE_LIST_KEY_INVALID`); nothing is read or fetched until {@link ListSync.start}.
 *
 * Category filtering happens here, not in the consumer: every valid entry is kept and persisted
 * (so enabling a category later needs no download), and the snapshot handed to listeners and
 * returned by `snapshot()` holds only the enabled categories.
 *
 * @example
 * const sync = createListSync({
 *   name: 'ncmec-pdq',
 *   source: { url: 'https://lists.example.org/ncmec-pdq/manifest.json' },
 *   publicKeys: ['ed25519:Jt9m...='],
 *   cacheDir: '/var/lib/hashgate/lists',
 *   enabledCategories: ['csam'],
 *   onUpdate: ({ snapshot, added }) => index.swap(snapshot),
 * });
 * await sync.start();
 */
export function createListSync(options: ListSyncOptions): ListSync {
  return new ListSyncImpl(options);
}
