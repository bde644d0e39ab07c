/**
 * Owns `createHashgate()`, the core: it syncs the lists, keeps the match index current, scans
 * files (exact hashes, the verdict cache, perceptual hashes in workers, matching, the decision),
 * records incidents with encrypted evidence, writes the ledger of accepted uploads and re-checks
 * it when lists gain entries. It knows nothing of req/res; `express/` adapts it.
 */

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { RequestHandler, Router } from 'express';
import { LRUCache } from 'lru-cache';
import type { Registry } from 'prom-client';
import { type ConsoleOptions, createConsole } from './console';
import { ErrorCodes, HashgateError } from './errors';
import { evidenceKeyRingFromEnv } from './evidence/keys';
import { createEvidenceVault, type EvidenceVault } from './evidence/vault';
import {
  createMiddleware,
  createReadinessHandler,
  createStorage,
  type RouteOptions,
} from './express/middleware';
import type { StorageEngineLike } from './express/storage';
import type { ExactHashes } from './hashing/exact';
import { hammingBytes } from './hashing/hamming';
import { getHashType } from './hashing/hash-types';
import { createHasher, type Hasher } from './hashing/hasher';
import type { ComputedHash, HashOutcome, UnavailableHash } from './hashing/outcome';
import type { HashSource } from './hashing/perceptual';
import {
  type BacklogItem,
  createIncidentRecorder,
  createLedgerBacklog,
  type PendingIncidentWrites,
  type PendingLedgerWrites,
} from './incidents/durable-writes';
import { newIncidentId } from './incidents/ids';
import { createLedger, type Ledger, type LedgerRange, type RecheckReport } from './incidents/ledger';
import { createSpool } from './incidents/spool';
import { createSqliteStore } from './incidents/sqlite-store';
import type { IncidentStore } from './incidents/store';
import type { AllowlistEntry, IncidentAction, NewLedgerRecord } from './incidents/types';
import { createListSync, type ListStatus, type ListSync, type ListUpdate } from './lists/list-sync';
import { createMatchIndexHolder, type MatchIndexHolder } from './matching/match-index-holder';
import { errorFields } from './observability/logger';
import { createMetrics, type HashgateMetrics } from './observability/metrics';
import { type Config, type HashgateOptions, parseOptions } from './options';
import {
  type AllowlistHit,
  type Decision,
  decide,
  type FileOutcome,
  type ListAction,
  type ListPolicy,
  type MatchRecord,
  NO_ALLOWLIST_HIT,
  OPERATIONAL_FAILURES,
  type UnscannedReason,
} from './policy/decide';
import { summarizeScan } from './policy/summarize';
import { VerdictCache } from './verdict-cache';

/** One file to scan: its bytes or its path, and what the client said about it. */
export interface ScanFile {
  /** The bytes, for memory uploads. */
  readonly bytes?: Uint8Array;
  /** Or a path the scanner reads. */
  readonly path?: string;
  /** File name the client gave (recorded in incidents only). */
  readonly originalName?: string;
  /** Type the client declared (never trusted; recorded). */
  readonly declaredType?: string;
  /** Form field name. */
  readonly fieldname?: string;
  /** Exact hashes already computed while the upload streamed in. */
  readonly exact?: ExactHashes;
  /** Where the host stored (or will store) the file, for the ledger and takedown requests. */
  readonly contentRef?: string;
}

/** Who uploaded, as far as the host knows. Recorded in incidents only. */
export interface UploaderInfo {
  readonly userId?: string | null;
  readonly ip?: string | null;
  readonly port?: number | null;
  readonly userAgent?: string | null;
}

/** Per-route narrowing of what is enforced. */
export interface RoutePolicy {
  /** Only these lists apply on the route. @default every list */
  readonly lists?: readonly string[];
  /** Override the action of a list on the route. */
  readonly actions?: Readonly<Record<string, ListAction>>;
  /** Override `whenUnavailable` on the route. */
  readonly whenUnavailable?: 'reject' | 'allow';
}

/** The context of one scan call. */
export interface ScanContext {
  /** Route label, e.g. `POST /avatars`. */
  readonly route?: string;
  readonly requestId?: string;
  readonly uploader?: UploaderInfo;
  readonly policy?: RoutePolicy;
}

/** The result for one file. Nothing in it says which list or entry matched. */
export interface FileScanResult {
  readonly fieldname?: string;
  readonly outcome: FileOutcome;
  /** Why the file is `unscanned`. */
  readonly unscannedReason?: UnscannedReason;
  /** The incident recorded for the file (blocked, flagged, logged or dry-run matches). */
  readonly incidentId?: string;
  /** Size in bytes. */
  readonly size: number;
  /** Format sniffed from the bytes. */
  readonly format: string;
  /** Every hash computed, with provenance, for the host's own use. */
  readonly hashes: readonly ComputedHash[];
  /** Hashes that could not be computed, with reasons. */
  readonly unavailable: readonly UnavailableHash[];
  /** Answered from the verdict cache. */
  readonly cached: boolean;
  readonly durationMs: number;
}

/** The result of a scan call. */
export interface ScanResult {
  /**
   * `block` when any file is blocked; `unscanned` when a file could not be checked (and
   * `rejected` says whether the policy refuses the request); `review` when any file is flagged;
   * else `allow`.
   */
  readonly outcome: FileOutcome;
  /** The request must be refused because a file could not be checked and the policy is `reject`. */
  readonly rejected: boolean;
  readonly files: readonly FileScanResult[];
  /** Incidents recorded by this scan. */
  readonly incidentIds: readonly string[];
}

/** The state hashgate is in, for readiness probes and the console. */
export interface HashgateStatus {
  /** Every list loaded, the index built and the store open. */
  readonly ready: boolean;
  /** No list is stale. */
  readonly fresh: boolean;
  readonly lists: readonly ListStatus[];
  readonly index: { readonly generation: number; readonly entries: number; readonly bytes: number };
  readonly workers: {
    readonly size: number;
    readonly queued: number;
    readonly running: number;
    readonly replaced: number;
  };
  readonly cache: { readonly hits: number; readonly misses: number; readonly size: number };
  /**
   * Writes that wait for the store or the evidence folder (in the spool in `dataDir/spool/`, or
   * for ledger records also in memory), with the code of the last failure of each.
   */
  readonly pending: {
    readonly incidents: PendingIncidentWrites;
    readonly ledger: PendingLedgerWrites;
  };
}

/** A hashgate instance. */
export interface Hashgate {
  /** The validated configuration. */
  readonly config: Config;
  /** Resolves when the store is open, every list has a version and the index is built. */
  ready(): Promise<void>;
  /** Scans files; one result per file, in order. */
  scan(files: readonly ScanFile[], context?: ScanContext): Promise<ScanResult>;
  /** The current state. */
  status(): HashgateStatus;
  /** The incident store in use (after `ready()`). */
  store(): Promise<IncidentStore>;
  /** The metrics registry, or undefined with `metrics: false`. */
  readonly metrics: Registry | undefined;
  /** Checks every list now. */
  refreshLists(): Promise<void>;
  /**
   * Express middleware for an upload route; mount it after multer.
   * @example app.post('/upload', multer().single('file'), gate.middleware(), handler)
   */
  middleware(options?: RouteOptions): RequestHandler;
  /**
   * Wraps a multer storage engine so that a blocked upload never reaches it; use it with
   * `gate.middleware()` after multer.
   * @example multer({ storage: gate.storage(multer.diskStorage({ destination: 'uploads/' })) })
   */
  storage(inner: StorageEngineLike, options?: RouteOptions): StorageEngineLike;
  /**
   * Express handler for a readiness probe: 200 when every list is loaded and fresh, else 503;
   * the body lists each list's version, age and last error code (no hashes).
   * @example app.get('/ready', gate.readiness())
   */
  readiness(): RequestHandler;
  /**
   * The trust-and-safety review console: an Express router to mount on its own path.
   * @example app.use('/console', gate.console({ users: [{ name: 'alice', role: 'admin', passwordHash }] }))
   */
  console(options?: ConsoleOptions): Router;
  /** Re-reads the allowlist from the store now (the console calls it after a change). */
  refreshAllowlist(): Promise<void>;
  /**
   * Stops timers, workers and list syncs, flushes the ledger, makes a last attempt at the writes
   * that wait for the store or the evidence folder (what is still refused stays in the spool for
   * the next start) and closes a store hashgate opened.
   */
  close(): Promise<void>;
}

/** Ledger writes are batched: at most this long, or this many records, before a flush. */
const LEDGER_FLUSH_MS = 100;
const LEDGER_BATCH = 128;
/**
 * For this long after the ledger committed every hash of some bytes, another accepted upload of
 * the same bytes is recorded with its SHA-256 only (its own reference, time, route and uploader):
 * the re-check reaches such a copy through the record that holds every hash. The window bounds
 * how long hashgate trusts its memory of what the store holds.
 */
const LEDGER_CONTENT_TTL_MS = 60 * 60 * 1000;
const LEDGER_CONTENT_MAX = 50_000;

/** In-memory copy of the active allowlist, checked on every scan without a database round trip. */
class AllowlistView {
  #exact = new Set<string>();
  #perceptual = new Map<string, Uint8Array[]>();

  load(entries: readonly AllowlistEntry[]): void {
    const exact = new Set<string>();
    const perceptual = new Map<string, Uint8Array[]>();
    for (const e of entries) {
      const type = getHashType(e.type);
      if (!type) continue;
      if (type.kind === 'exact') exact.add(`${e.type}:${e.hex}`);
      else {
        const r = type.validate(e.hex);
        if (!r.ok) continue;
        const list = perceptual.get(e.type) ?? [];
        list.push(r.bytes);
        perceptual.set(e.type, list);
      }
    }
    this.#exact = exact;
    this.#perceptual = perceptual;
  }

  check(hashes: readonly ComputedHash[], radius: Readonly<Record<string, number>>): AllowlistHit {
    if (this.#exact.size === 0 && this.#perceptual.size === 0) return NO_ALLOWLIST_HIT;
    let exact = false;
    const perceptualTypes = new Set<string>();
    for (const h of hashes) {
      if (this.#exact.has(`${h.type}:${h.hex}`)) exact = true;
      const candidates = this.#perceptual.get(h.type);
      if (!candidates) continue;
      const limit = radius[h.type] ?? 0;
      const values = h.variants ? Object.values(h.variants) : [h.hex];
      for (const hex of values) {
        const bytes = Buffer.from(hex, 'hex');
        if (candidates.some((c) => hammingBytes(c, bytes) <= limit)) perceptualTypes.add(h.type);
      }
    }
    return exact || perceptualTypes.size > 0 ? { exact, perceptualTypes } : NO_ALLOWLIST_HIT;
  }
}

/**
 * One match per list entry and hash type: an upload in a frame has hashes of the whole image and
 * of its trimmed content, and both may reach the same entry; the closer one is kept (the whole
 * image on a tie).
 */
function closestPerEntry(matches: MatchRecord[]): MatchRecord[] {
  if (matches.length < 2) return matches;
  const best = new Map<string, MatchRecord>();
  for (const m of matches) {
    const key = `${m.list}\0${m.type}\0${m.entryId}`;
    const prev = best.get(key);
    if (!prev || m.distance < prev.distance) best.set(key, m);
  }
  return best.size === matches.length ? matches : [...best.values()];
}

/** What an incident and a ledger record say about an uploaded file. */
function fileFacts(
  file: ScanFile,
  outcome: HashOutcome,
): { originalName: string | null; declaredType: string | null; sniffedType: string; size: number } {
  return {
    originalName: file.originalName ?? null,
    declaredType: file.declaredType ?? null,
    sniffedType: outcome.format,
    size: outcome.size,
  };
}

function bytesOf(hex: string): Uint8Array {
  return new Uint8Array(Buffer.from(hex, 'hex'));
}

/**
 * Creates a hashgate instance. Options are validated at once (a bad option throws
 * `ERR_HASHGATE_INVALID_OPTION`); lists load, the store opens and workers start in the
 * background — `await gate.ready()` before serving, or let the failure policy answer meanwhile.
 *
 * @example
 * const gate = createHashgate({ lists: [{ name: 'hotline', url: 'https://lists.example/hotline/', publicKeys: [key] }] });
 * app.post('/upload', upload.single('file'), gate.middleware(), handler);
 */
export function createHashgate(options: HashgateOptions): Hashgate {
  const config = parseOptions(options);
  const log = config.logger;
  const hasher: Hasher = createHasher(config.hashing);
  const holder: MatchIndexHolder = createMatchIndexHolder();
  const cache = new VerdictCache(config.cache);
  const allowlist = new AllowlistView();
  const policies = new Map<string, ListPolicy>(
    config.lists.map((l) => [
      l.name,
      { name: l.name, action: l.action, thresholds: l.thresholds, dryRun: l.dryRun },
    ]),
  );
  // The widest radius any list asks for, per perceptual type: one index query serves every list.
  const queryRadius: Record<string, number> = {};
  for (const l of config.lists) {
    for (const [type, t] of Object.entries(l.thresholds))
      queryRadius[type] = Math.max(queryRadius[type] ?? 0, t);
  }
  let closed = false;
  const timers: NodeJS.Timeout[] = [];

  let metrics: HashgateMetrics | undefined;
  const syncs: ListSync[] = [];
  if (config.metrics !== false) {
    metrics = createMetrics(
      {
        listStatuses: () => syncs.map((s) => s.status()),
        queueDepth: () => hasher.stats().queued,
        indexEntries: () => holder.current?.stats.entries ?? 0,
        indexBytes: () => holder.current?.stats.bytes ?? 0,
        pendingWrites: () => {
          const incidents = recorder.status();
          const ledgerPending = ledgerBacklog.status();
          return {
            incident: incidents.incidents,
            evidence: incidents.evidence,
            ledger_record: ledgerPending.records,
            ledger_batch: ledgerPending.spooledBatches,
          };
        },
      },
      config.metrics.registry,
    );
  }

  // Evidence needs a current key; without one, incidents are recorded without evidence (warned
  // once here and checked by `hashgate doctor`).
  let vault: EvidenceVault | undefined;
  if (config.evidence !== false) {
    const keys = config.evidence.keys ?? evidenceKeyRingFromEnv();
    if (keys.current) vault = createEvidenceVault({ dir: config.evidence.dir, keys, now: config.now });
    else
      log.warn(
        'no evidence key is set (HASHGATE_EVIDENCE_KEY): blocked uploads are recorded but not preserved',
      );
  }

  // The data folder holds hashes, IP addresses and encrypted evidence: only this user may read it.
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const storePromise: Promise<IncidentStore> = config.store
    ? Promise.resolve(config.store)
    : createSqliteStore({ path: join(config.dataDir, 'incidents.sqlite'), now: config.now });
  const ownsStore = !config.store;
  // What the store or the evidence folder could not take waits here (docs/operations.md).
  const spool = createSpool(join(config.dataDir, 'spool'));
  const recorder = createIncidentRecorder({
    store: storePromise,
    spool,
    vault,
    logger: log,
    onFailure: (operation) => metrics?.failures.inc({ operation }),
    onRecorded: (incident) =>
      metrics?.incidents.inc({ action: incident.dryRun ? 'dry-run' : incident.action }),
  });
  storePromise.catch((err: unknown) => log.error('the incident store could not be opened', errorFields(err)));
  let ledger: Ledger | undefined;
  // `content`: the SHA-256 of a record that carries every hash, remembered once it is committed;
  // `unchecked`: lists that were not in the match index when the upload was decided
  const ledgerQueue: { record: NewLedgerRecord; content?: string; unchecked?: readonly string[] }[] = [];
  // Lists not in the match index yet (none loaded so far), and per list the ledger records of
  // uploads accepted meanwhile: re-checked against the list's whole snapshot once it is indexed.
  let unindexedLists: readonly string[] = config.lists.map((l) => l.name);
  const uncheckedRanges = new Map<string, LedgerRange>();
  let recheckingUnchecked: Promise<void> = Promise.resolve();
  const ledgered = new LRUCache<string, true>({ max: LEDGER_CONTENT_MAX, ttl: LEDGER_CONTENT_TTL_MS });
  let ledgerFlush: Promise<void> = Promise.resolve();
  let ledgerTimer: NodeJS.Timeout | undefined;

  const flushLedger = (): Promise<void> => {
    if (ledgerTimer) clearTimeout(ledgerTimer);
    ledgerTimer = undefined;
    // Before the store is open the queue waits for the next flush.
    if (ledgerQueue.length === 0 || !ledger) return ledgerFlush;
    const batch = ledgerQueue.splice(0);
    const l = ledger;
    ledgerFlush = ledgerFlush
      .then(() => l.record(batch.map((q) => q.record)))
      .then(
        (records) => {
          let unchecked = false;
          batch.forEach((q, i) => {
            if (q.content !== undefined) ledgered.set(q.content, true);
            const seq = records[i]?.seq;
            if (!q.unchecked || seq === undefined) return;
            for (const list of q.unchecked) {
              const r = uncheckedRanges.get(list);
              uncheckedRanges.set(list, {
                fromSeq: Math.min(r?.fromSeq ?? seq, seq),
                toSeq: Math.max(r?.toSeq ?? seq, seq),
              });
              unchecked = true;
            }
          });
          if (unchecked) void recheckUnchecked();
        },
        (err: unknown) => {
          metrics?.failures.inc({ operation: 'ledger' }, batch.length);
          log.error('accepted uploads could not be added to the ledger; they are kept and retried', {
            ...errorFields(err),
            records: batch.length,
          });
          const versions = missedVersions(batch);
          ledgerBacklog.add(
            batch.map((q) => ({
              record: q.record,
              ...(q.unchecked ? { unchecked: q.unchecked } : {}),
              versions,
            })),
            err,
          );
        },
      );
    return ledgerFlush;
  };
  // When each list last changed (its re-check of the ledger then ran), for late ledger commits.
  const listUpdatedAt = new Map<string, number>();
  /**
   * Per list, the version whose re-check the batch may not have reached: the version in use, or
   * -1 when the list changed since the oldest upload of the batch was accepted (its re-check may
   * have run while the batch was failing).
   */
  const missedVersions = (batch: readonly { record: NewLedgerRecord }[]): Record<string, number> => {
    const oldest = batch.reduce(
      (m, q) => Math.min(m, Number(q.record.acceptedAt ?? 0)),
      Number.POSITIVE_INFINITY,
    );
    const versions: Record<string, number> = {};
    for (const s of syncs) {
      const changed = (listUpdatedAt.get(s.name) ?? Number.NEGATIVE_INFINITY) >= oldest;
      versions[s.name] = changed ? -1 : (s.snapshot()?.version ?? -1);
    }
    return versions;
  };
  /**
   * Ledger records that landed late (retried or replayed from the spool): each list that changed
   * meanwhile, or that was not loaded, re-checks them against its whole snapshot.
   */
  const ledgerBacklog = createLedgerBacklog({
    spool,
    logger: log,
    now: config.now,
    commit: async (items: readonly BacklogItem[]) => {
      if (!ledger) throw new HashgateError(ErrorCodes.NOT_READY, 'The incident store is not open yet');
      const records = await ledger.record(items.map((i) => i.record));
      let late = false;
      items.forEach((item, i) => {
        const seq = records[i]?.seq;
        if (seq === undefined) return;
        for (const s of syncs) {
          const version = s.snapshot()?.version;
          if (version !== undefined && version === item.versions[s.name] && !item.unchecked?.includes(s.name))
            continue;
          const r = uncheckedRanges.get(s.name);
          uncheckedRanges.set(s.name, {
            fromSeq: Math.min(r?.fromSeq ?? seq, seq),
            toSeq: Math.max(r?.toSeq ?? seq, seq),
          });
          late = true;
        }
      });
      if (late) void recheckUnchecked();
    },
  });
  /**
   * `complete`: every hash was computed (a scan cut short by overload leaves perceptual ones out);
   * `unchecked`: lists the upload could not be matched against because they were not loaded.
   */
  const queueLedger = (record: NewLedgerRecord, complete: boolean, unchecked: readonly string[]): void => {
    const sha256 = record.hashes.find((h) => h.type === 'sha256');
    const pending = unchecked.length > 0 ? { unchecked } : {};
    if (sha256 && ledgered.has(sha256.hex))
      ledgerQueue.push({ record: { ...record, hashes: [sha256] }, ...pending });
    else ledgerQueue.push({ record, ...(sha256 && complete ? { content: sha256.hex } : {}), ...pending });
    if (ledgerQueue.length >= LEDGER_BATCH) void flushLedger();
    else if (!ledgerTimer) {
      ledgerTimer = setTimeout(() => void flushLedger(), LEDGER_FLUSH_MS);
      ledgerTimer.unref();
    }
  };

  const refreshAllowlist = async (): Promise<void> => {
    const store = await storePromise;
    try {
      allowlist.load(await store.listAllowlist({ status: ['active'] }));
    } catch (err) {
      metrics?.failures.inc({ operation: 'allowlist' });
      log.error('the allowlist could not be read; the previous copy stays in use', errorFields(err));
    }
  };

  // Index rebuilds are serialised: a burst of list updates gives one more build, not one each.
  let rebuilding: Promise<void> | undefined;
  let rebuildAgain = false;
  const rebuildIndex = (): Promise<void> => {
    if (rebuilding) {
      rebuildAgain = true;
      return rebuilding;
    }
    rebuilding = (async () => {
      do {
        rebuildAgain = false;
        const sources = syncs.flatMap((s) => {
          const snapshot = s.snapshot();
          return snapshot ? [snapshot] : [];
        });
        try {
          await holder.rebuild(sources);
          cache.clear();
          const indexed = new Set(sources.map((snapshot) => snapshot.list));
          unindexedLists = config.lists.map((l) => l.name).filter((name) => !indexed.has(name));
          // uploads accepted while a list was missing: their records may still wait in the queue
          if (uncheckedRanges.size > 0 || ledgerQueue.some((q) => q.unchecked))
            void flushLedger().then(recheckUnchecked);
        } catch (err) {
          metrics?.failures.inc({ operation: 'index' });
          log.error('the match index could not be rebuilt; the previous one stays in use', errorFields(err));
        }
      } while (rebuildAgain && !closed);
    })().finally(() => {
      rebuilding = undefined;
    });
    return rebuilding;
  };

  const reportRecheck = (list: string, report: RecheckReport): void => {
    if (report.incidents.length === 0) return;
    metrics?.incidents.inc({ action: 'takedown' }, report.incidents.length);
    log.warn('a list update matched uploads accepted earlier', { list, incidents: report.incidents.length });
  };
  const recheckFailed = (err: unknown): void => {
    metrics?.failures.inc({ operation: 'recheck' });
    log.error('re-checking accepted uploads against a list update failed', errorFields(err));
  };

  /**
   * Re-checks the uploads accepted while a list was not loaded (`whenUnavailable: 'allow'`)
   * against the whole list, once it is in the match index. One run at a time; a failed run
   * leaves its range for the next one.
   */
  function recheckUnchecked(): Promise<void> {
    recheckingUnchecked = recheckingUnchecked
      .then(async () => {
        for (const sync of syncs) {
          const range = uncheckedRanges.get(sync.name);
          const snapshot = sync.snapshot();
          if (!range || !snapshot || !ledger || closed || unindexedLists.includes(sync.name)) continue;
          uncheckedRanges.delete(sync.name);
          try {
            reportRecheck(sync.name, await ledger.recheck(snapshot, range));
          } catch (err) {
            const r = uncheckedRanges.get(sync.name);
            uncheckedRanges.set(sync.name, {
              fromSeq: Math.min(r?.fromSeq ?? range.fromSeq, range.fromSeq),
              toSeq: Math.max(r?.toSeq ?? range.toSeq, range.toSeq),
            });
            recheckFailed(err);
          }
        }
      })
      .catch(recheckFailed);
    return recheckingUnchecked;
  }

  const onListUpdate = async (update: ListUpdate): Promise<void> => {
    listUpdatedAt.set(update.list, config.now());
    await rebuildIndex();
    const store = await storePromise;
    try {
      await store.appendAudit({
        type: 'list.version_changed',
        actor: 'hashgate',
        details: {
          list: update.list,
          version: update.snapshot.version,
          previous: update.previousVersion ?? 0,
          origin: update.origin,
        },
      });
    } catch (err) {
      metrics?.failures.inc({ operation: 'audit' });
      log.error('a list version change could not be written to the audit log', errorFields(err));
    }
    if (update.added && ledger) {
      const added = update.added;
      // Uploads accepted a moment ago may still wait in the ledger queue: write them first.
      void flushLedger()
        .then(() => ledger!.recheck({ ...update.snapshot, byType: added }))
        .then((report) => reportRecheck(update.list, report), recheckFailed);
    }
  };

  for (const l of config.lists) {
    syncs.push(
      createListSync({
        name: l.name,
        source: l.url
          ? { url: l.url }
          : {
              file: l.file!,
              format: l.format ?? 'threatexchange',
              ...(l.hashType ? { hashType: l.hashType } : {}),
            },
        publicKeys: l.publicKeys,
        cacheDir: join(config.dataDir, 'lists'),
        ...(l.categories ? { enabledCategories: l.categories } : {}),
        refreshIntervalMs: l.refreshIntervalMs,
        maxStalenessMs: l.maxStalenessMs,
        allowInsecureHttp: l.allowInsecureHttp,
        onUpdate: onListUpdate,
        ...(config.fetch ? { fetch: config.fetch } : {}),
        now: config.now,
        logger: config.logger,
      }),
    );
  }

  const started = (async () => {
    const store = await storePromise;
    ledger = createLedger({
      store,
      thresholds: queryRadius,
      ...(config.onRetroactiveMatch ? { onTakedown: config.onRetroactiveMatch } : {}),
    });
    // Incidents and ledger batches spooled by an earlier run (or this one) land now if they can.
    await Promise.all([recorder.replay(), ledgerBacklog.retry()]);
    await refreshAllowlist();
    const t = setInterval(() => void refreshAllowlist(), config.allowlistRefreshMs);
    t.unref();
    timers.push(t);
    await Promise.all(syncs.map((s) => s.start()));
  })();
  started.catch((err: unknown) => log.error('hashgate could not start', errorFields(err)));

  const listState = (names?: readonly string[]): { ready: boolean; fresh: boolean } => {
    const relevant = names ? syncs.filter((s) => names.includes(s.name)) : syncs;
    const statuses = relevant.map((s) => s.status());
    const ready =
      holder.current !== undefined && statuses.every((s) => s.version !== null) && relevant.length > 0;
    return { ready, fresh: ready && statuses.every((s) => !s.stale) };
  };

  const findMatches = (hashes: readonly ComputedHash[]): MatchRecord[] => {
    const index = holder.current;
    if (!index) return [];
    const out: MatchRecord[] = [];
    for (const h of hashes) {
      const type = getHashType(h.type);
      if (!type) continue;
      if (type.kind === 'exact') {
        for (const ref of index.lookupExact(h.type, bytesOf(h.hex))) {
          const e = index.resolve(h.type, ref);
          if (e)
            out.push({
              list: e.list,
              listVersion: e.listVersion,
              entryId: e.id,
              category: e.category,
              labels: e.labels,
              type: h.type,
              distance: 0,
            });
        }
        continue;
      }
      const radius = Math.min(63, queryRadius[h.type] ?? 0);
      const quality = h.provenance.quality;
      // One query per hash: all 8 dihedral variants in a batch when PDQ computed them.
      const found: { ref: number; distance: number; variant?: string }[] = h.variants
        ? index.matchVariants(
            h.type,
            Object.entries(h.variants).map(([variant, hex]) => ({ variant, hash: bytesOf(hex) })),
            radius,
          )
        : index.matchHamming(h.type, bytesOf(h.hex), radius);
      for (const m of found) {
        const e = index.resolve(h.type, m.ref);
        if (!e) continue;
        out.push({
          list: e.list,
          listVersion: e.listVersion,
          entryId: e.id,
          category: e.category,
          labels: e.labels,
          type: h.type,
          distance: m.distance,
          ...(m.variant !== undefined ? { variant: m.variant as NonNullable<MatchRecord['variant']> } : {}),
          ...(quality !== undefined ? { quality } : {}),
          ...(h.provenance.region?.kind === 'trimmed' ? { trimmed: true as const } : {}),
        });
      }
    }
    return closestPerEntry(out);
  };

  const routePolicies = (route?: RoutePolicy): ReadonlyMap<string, ListPolicy> => {
    if (!route?.lists && !route?.actions) return policies;
    const out = new Map<string, ListPolicy>();
    for (const [name, p] of policies) {
      if (route.lists && !route.lists.includes(name)) continue;
      const action = route.actions?.[name];
      out.set(name, action ? { ...p, action } : p);
    }
    return out;
  };

  const recordIncident = async (
    decision: Decision,
    file: ScanFile,
    source: HashSource | undefined,
    outcome: HashOutcome,
    context: ScanContext,
    occurredAt: number,
  ): Promise<string | undefined> => {
    const dryRun = decision.matches.length === 0;
    const matches = dryRun ? decision.dryRunMatches : decision.matches;
    if (matches.length === 0) return undefined;
    const action: IncidentAction = dryRun
      ? policies.get(matches[0]!.list)!.action
      : (decision.action ?? 'log');
    const id = newIncidentId();
    // Evidence is kept for what is refused or flagged for a person; logged and dry-run matches
    // stay where the host stored them. The recorder falls back to the spool for the evidence
    // and the incident, so a failing store or evidence folder loses neither; the upload is
    // refused all the same.
    const landing = await recorder.record(
      {
        id,
        occurredAt,
        route: context.route ?? null,
        requestId: context.requestId ?? null,
        uploader: {
          userId: context.uploader?.userId ?? null,
          ip: context.uploader?.ip ?? null,
          port: context.uploader?.port ?? null,
          userAgent: context.uploader?.userAgent ?? null,
        },
        file: fileFacts(file, outcome),
        hashes: outcome.hashes,
        matches: matches.map((m) => ({
          list: m.list,
          listVersion: m.listVersion,
          entryId: m.entryId,
          category: m.category,
          hashType: m.type,
          distance: m.distance,
          variant: m.variant ?? null,
          quality: m.quality ?? null,
        })),
        action,
        dryRun,
      },
      source && !dryRun && (action === 'block' || action === 'review')
        ? {
            source,
            metadata: {
              originalName: file.originalName ?? null,
              declaredType: file.declaredType ?? null,
              sniffedType: outcome.format,
            },
          }
        : undefined,
    );
    return landing === 'lost' ? undefined : id;
  };

  const scanOne = async (
    file: ScanFile,
    context: ScanContext,
    generation: number,
  ): Promise<FileScanResult> => {
    const t0 = performance.now();
    const occurredAt = config.now();
    const source: HashSource | undefined = file.bytes
      ? { bytes: file.bytes }
      : file.path
        ? { path: file.path }
        : undefined;
    if (!source) throw new HashgateError(ErrorCodes.INVALID_OPTION, 'A file to scan needs `bytes` or `path`');

    // A large upload is copied once into shared memory, in pieces, for the digest thread and the
    // worker; the evidence keeps the original bytes.
    const hashed = file.exact ? source : await hasher.share(source);
    // The cache needs only SHA-256; on a hit the MD5 and SHA-1 of the same bytes come with it.
    const sha256 = file.exact?.sha256 ?? (await hasher.sha256(hashed));
    const tExact = performance.now();
    let outcome: HashOutcome;
    let matches: MatchRecord[];
    let cached = false;
    const hit = cache.get(sha256, generation);
    metrics?.cache.inc({ result: hit ? 'hit' : 'miss' });
    let tPerceptual = tExact;
    if (hit) {
      outcome = hit.outcome;
      matches = [...hit.matches];
      cached = true;
    } else {
      // The digests the storage engine computed as the upload streamed in are taken as they are;
      // otherwise the worker that decodes the file digests MD5 and SHA-1 meanwhile.
      outcome = await hasher.hash(hashed, file.exact ?? { sha256 });
      tPerceptual = performance.now();
      matches = findMatches(outcome.hashes);
      const finished = !outcome.unavailable.some((u) => OPERATIONAL_FAILURES.has(u.reason));
      if (finished && holder.generation === generation && generation > 0)
        cache.set(sha256, generation, { outcome, matches });
    }
    // Lists missing from the index the file was matched against (read in the same tick as the matching).
    const unchecked = unindexedLists;
    const tMatch = performance.now();
    const routeMap = routePolicies(context.policy);
    const decision = decide({
      matches,
      policies: routeMap,
      allowlist: allowlist.check(outcome.hashes, config.allowlistRadius),
      lists: listState(context.policy?.lists),
      unavailable: outcome.unavailable,
    });
    for (const m of decision.matches) {
      metrics?.matches.inc({ list: m.list, hash_type: m.type, action: routeMap.get(m.list)!.action });
    }
    for (const m of decision.dryRunMatches)
      metrics?.matches.inc({ list: m.list, hash_type: m.type, action: 'dry-run' });
    const incidentId = await recordIncident(decision, file, source, outcome, context, occurredAt);
    if (
      decision.outcome === 'allow' ||
      (decision.outcome === 'unscanned' &&
        (context.policy?.whenUnavailable ?? config.whenUnavailable) === 'allow')
    ) {
      queueLedger(
        {
          reference:
            file.contentRef ??
            `unreferenced:${context.requestId ?? 'no-request-id'}:${file.fieldname ?? 'file'}`,
          acceptedAt: occurredAt,
          route: context.route ?? null,
          requestId: context.requestId ?? null,
          uploader: { userId: context.uploader?.userId ?? null, ip: context.uploader?.ip ?? null },
          file: fileFacts(file, outcome),
          hashes: outcome.hashes,
        },
        !outcome.unavailable.some((u) => OPERATIONAL_FAILURES.has(u.reason)),
        unchecked,
      );
    }
    const tEnd = performance.now();
    if (metrics) {
      metrics.filesScanned.inc({ outcome: decision.outcome });
      if (decision.unscannedReason) metrics.unscanned.inc({ reason: decision.unscannedReason });
      metrics.scanDuration.observe({ stage: 'exact' }, (tExact - t0) / 1000);
      if (!cached) metrics.scanDuration.observe({ stage: 'perceptual' }, (tPerceptual - tExact) / 1000);
      metrics.scanDuration.observe({ stage: 'match' }, (tMatch - tPerceptual) / 1000);
      metrics.scanDuration.observe({ stage: 'record' }, (tEnd - tMatch) / 1000);
      metrics.scanDuration.observe({ stage: 'total' }, (tEnd - t0) / 1000);
    }
    if (decision.outcome === 'unscanned') {
      log.warn('an upload could not be checked', { reason: decision.unscannedReason, route: context.route });
    }
    return {
      ...(file.fieldname !== undefined ? { fieldname: file.fieldname } : {}),
      outcome: decision.outcome,
      ...(decision.unscannedReason ? { unscannedReason: decision.unscannedReason } : {}),
      ...(incidentId ? { incidentId } : {}),
      size: outcome.size,
      format: outcome.format,
      hashes: outcome.hashes,
      unavailable: outcome.unavailable,
      cached,
      durationMs: tEnd - t0,
    };
  };

  const gate: Hashgate = {
    config,
    metrics: metrics?.registry,
    async ready() {
      await started;
      await Promise.all(syncs.map((s) => (s.status().version === null ? s.refresh() : undefined)));
      await rebuilding;
      if (!listState().ready) {
        throw new HashgateError(
          ErrorCodes.NOT_READY,
          "Not every list could be loaded; see gate.status() for each list's error",
        );
      }
    },
    async scan(files, context = {}) {
      if (closed) throw new HashgateError(ErrorCodes.CLOSED, 'This hashgate instance is closed');
      await storePromise;
      const generation = holder.generation;
      const results = await Promise.all(files.map((f) => scanOne(f, context, generation)));
      return summarizeScan(results, context.policy?.whenUnavailable ?? config.whenUnavailable);
    },
    status() {
      const state = listState();
      const stats = hasher.stats();
      return {
        ready: state.ready,
        fresh: state.fresh,
        lists: syncs.map((s) => s.status()),
        index: {
          generation: holder.generation,
          entries: holder.current?.stats.entries ?? 0,
          bytes: holder.current?.stats.bytes ?? 0,
        },
        workers: {
          size: stats.workers,
          queued: stats.queued,
          running: stats.running,
          replaced: stats.replacedWorkers,
        },
        cache: cache.stats,
        pending: { incidents: recorder.status(), ledger: ledgerBacklog.status() },
      };
    },
    store: () => storePromise,
    async refreshLists() {
      await Promise.all(syncs.map((s) => s.refresh()));
    },
    refreshAllowlist,
    middleware: (options) => createMiddleware(gate, options),
    storage: (inner, options) => createStorage(gate, inner, options),
    readiness: () => createReadinessHandler(gate),
    console: (options) => createConsole(gate, options),
    async close() {
      if (closed) return;
      closed = true;
      for (const t of timers) clearInterval(t);
      await Promise.all(syncs.map((s) => s.stop()));
      await started.catch(() => undefined);
      await rebuilding;
      await flushLedger();
      // a last attempt for what failed; the rest waits in the spool for the next start
      await ledgerBacklog.close();
      await recorder.close();
      await recheckingUnchecked;
      await hasher.close();
      if (ownsStore) await (await storePromise.catch(() => undefined))?.close();
    },
  };
  return gate;
}
