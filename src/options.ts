/**
 * Owns `createHashgate()`'s options: their types, their defaults (in one place) and their
 * validation, producing the frozen configuration nothing downstream reads raw options around.
 * Every bad option fails here, at construction, with the one message shape.
 */

import { join, resolve } from 'node:path';
import type { Registry } from 'prom-client';
import { invalidOption } from './errors';
import type { EvidenceKeyRing } from './evidence/keys';
import type { HashingConfig, HashingOptions } from './hashing/hasher-options';
import { parseHashingOptions } from './hashing/hasher-options';
import type { TakedownRequest } from './incidents/ledger';
import type { IncidentStore } from './incidents/store';
import { LOCAL_LIST_FORMATS, type LocalListFormat } from './lists/formats';
import type { FetchLike } from './lists/http';
import { type Logger, stderrLogger } from './observability/logger';
import type { ListAction } from './policy/decide';
import { booleanOption, enumOption, integerOption, objectOption, rejectUnknownKeys } from './validate';

/** One hash list hashgate enforces. */
export interface ListOptions {
  /** List name: 1 to 64 of `[A-Za-z0-9._-]`, unique. */
  name: string;
  /** URL of a list published with the hashgate list protocol (give `publicKeys` too). */
  url?: string;
  /** Or a local file: NDJSON entries, plain text, python-threatexchange `local_file`, or its CSV export. */
  file?: string;
  /** Format of `file`. @default 'threatexchange' */
  format?: LocalListFormat;
  /** Hash type of a plain-text `file`. */
  hashType?: string;
  /** Trusted Ed25519 public keys of the publisher (several during a key rotation). */
  publicKeys?: string[];
  /** What a match does: `block` (refuse the upload), `review` (store it and flag it), `log` (record only). @default 'block' */
  action?: ListAction;
  /** Largest distance that counts as a match, per perceptual hash type. @default { pdq: 31, blockhash: 7 } */
  thresholds?: Record<string, number>;
  /** Categories of the list that are enforced; entries without one are in `default`. @default all */
  categories?: string[];
  /** Record matches but never act on them (for trying a list or a threshold). @default false */
  dryRun?: boolean;
  /** The publisher verifies every entry by a person: exact matches may be confirmed without viewing. @default false */
  verified?: boolean;
  /** How often the list is checked for a new version, in milliseconds. @default 300_000 */
  refreshIntervalMs?: number;
  /** The list is stale when not confirmed for this long, in milliseconds. @default the top-level `maxStalenessMs` */
  maxStalenessMs?: number;
  /** Allow plain http to a host that is not loopback. @default false */
  allowInsecureHttp?: boolean;
}

/** Options of `createHashgate()`. Only `lists` is required. */
export interface HashgateOptions {
  /** The lists to enforce. */
  lists: ListOptions[];
  /**
   * Folder for everything hashgate keeps on disk by default: list caches (`lists/`), the SQLite
   * incident store (`incidents.sqlite`), evidence (`evidence/`) and the spool of failed writes
   * waiting to be replayed (`spool/`).
   * @default './var/hashgate'
   */
  dataDir?: string;
  /** Incident store. @default SQLite in `dataDir` */
  store?: IncidentStore;
  /**
   * Evidence of blocked uploads: `keys` from `evidenceKeyRingFromEnv()` (the default reads
   * `HASHGATE_EVIDENCE_KEY`), `dir` defaults to `dataDir/evidence`. `false` keeps no evidence
   * (not recommended: reports need it).
   */
  evidence?: false | { dir?: string; keys?: EvidenceKeyRing };
  /** Hashing engine options (workers, limits, PDQ, blockhash). */
  hashing?: HashingOptions;
  /**
   * What happens to an upload that could not be checked (lists not loaded or stale, scan queue
   * full, scan timed out): `reject` answers 503 with Retry-After; `allow` lets it through and
   * records it as `unscanned`. @default 'reject'
   */
  whenUnavailable?: 'reject' | 'allow';
  /** Lists not confirmed by their source for this long are stale, in milliseconds. @default 86_400_000 (24 h) */
  maxStalenessMs?: number;
  /** Verdict cache (keyed by SHA-256 and list generation). @default { max: 10_000, ttlMs: 3_600_000 } */
  cache?: { max?: number; ttlMs?: number };
  /** Response to a blocked upload. */
  response?: {
    /** @default 451 */
    statusCode?: number;
    /** @default 'This upload cannot be accepted.' */
    message?: string;
    /** Seconds in Retry-After when an upload is refused because it could not be checked. @default 30 */
    retryAfterSeconds?: number;
  };
  /** Distance within which an upload's perceptual hash counts as allowlisted. @default { pdq: 8, blockhash: 4 } */
  allowlistRadius?: Record<string, number>;
  /** How often the allowlist is re-read from the store, in milliseconds. @default 10_000 */
  allowlistRefreshMs?: number;
  /** prom-client registry for hashgate's metrics, or `false` for none. @default a new registry (`gate.metrics`) */
  metrics?: false | { registry?: Registry };
  /** @default warnings and errors as JSON lines on standard error */
  logger?: Logger;
  /**
   * Called when a list update matches content accepted earlier (found in the ledger of accepted
   * uploads): an incident is already recorded; take the content at `reference` down. Awaited;
   * a failure is logged and counted, never retried.
   */
  onRetroactiveMatch?: (request: TakedownRequest) => void | Promise<void>;
  /** @default globalThis.fetch */
  fetch?: FetchLike;
  /** @default Date.now */
  now?: () => number;
}

/** A list's frozen configuration. */
export interface ListConfig {
  readonly name: string;
  readonly url?: string;
  readonly file?: string;
  readonly format?: LocalListFormat;
  readonly hashType?: string;
  readonly publicKeys: readonly string[];
  readonly action: ListAction;
  readonly thresholds: Readonly<Record<string, number>>;
  readonly categories?: readonly string[];
  readonly dryRun: boolean;
  readonly verified: boolean;
  readonly refreshIntervalMs: number;
  readonly maxStalenessMs: number;
  readonly allowInsecureHttp: boolean;
}

/** The frozen configuration of a hashgate instance. */
export interface Config {
  readonly lists: readonly ListConfig[];
  readonly dataDir: string;
  readonly store?: IncidentStore;
  readonly evidence: false | { readonly dir: string; readonly keys?: EvidenceKeyRing };
  readonly hashing: HashingConfig;
  readonly whenUnavailable: 'reject' | 'allow';
  readonly maxStalenessMs: number;
  readonly cache: { readonly max: number; readonly ttlMs: number };
  readonly response: {
    readonly statusCode: number;
    readonly message: string;
    readonly retryAfterSeconds: number;
  };
  readonly allowlistRadius: Readonly<Record<string, number>>;
  readonly allowlistRefreshMs: number;
  readonly metrics: false | { readonly registry?: Registry };
  readonly logger: Logger;
  readonly onRetroactiveMatch?: (request: TakedownRequest) => void | Promise<void>;
  readonly fetch?: FetchLike;
  readonly now: () => number;
}

/** Default per-type thresholds: Meta's PDQ recommendation; a conservative blockhash figure. */
export const DEFAULT_THRESHOLDS: Readonly<Record<string, number>> = Object.freeze({ pdq: 31, blockhash: 7 });

const LIST_NAME = /^[A-Za-z0-9._-]{1,64}$/;
const TOP_KEYS = [
  'lists',
  'dataDir',
  'store',
  'evidence',
  'hashing',
  'whenUnavailable',
  'maxStalenessMs',
  'cache',
  'response',
  'allowlistRadius',
  'allowlistRefreshMs',
  'metrics',
  'logger',
  'onRetroactiveMatch',
  'fetch',
  'now',
];
const LIST_KEYS = [
  'name',
  'url',
  'file',
  'format',
  'hashType',
  'publicKeys',
  'action',
  'thresholds',
  'categories',
  'dryRun',
  'verified',
  'refreshIntervalMs',
  'maxStalenessMs',
  'allowInsecureHttp',
];

function stringArray(name: string, value: unknown): string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string' || v.length === 0)) {
    throw invalidOption(name, 'an array of non-empty strings', value);
  }
  return [...value];
}

function thresholdMap(
  name: string,
  value: unknown,
  defaults: Readonly<Record<string, number>>,
): Record<string, number> {
  const o = objectOption(name, value);
  const out: Record<string, number> = { ...defaults };
  for (const [type, v] of Object.entries(o)) out[type] = integerOption(`${name}.${type}`, v, 0, 0, 63);
  return Object.freeze(out);
}

function parseList(value: unknown, index: number, maxStalenessMs: number): ListConfig {
  const at = `lists[${index}]`;
  const o = objectOption(at, value);
  rejectUnknownKeys(at, o, LIST_KEYS);
  if (typeof o.name !== 'string' || !LIST_NAME.test(o.name)) {
    throw invalidOption(
      `${at}.name`,
      'a list name of 1 to 64 letters, digits, dots, dashes or underscores',
      o.name,
    );
  }
  const hasUrl = o.url !== undefined;
  const hasFile = o.file !== undefined;
  if (hasUrl === hasFile) {
    throw invalidOption(
      `${at}`,
      'exactly one of `url` or `file`',
      hasUrl ? 'both' : 'neither',
      'Give the list a source',
    );
  }
  if (hasUrl && (typeof o.url !== 'string' || !URL.canParse(o.url)))
    throw invalidOption(`${at}.url`, 'an absolute URL', o.url);
  if (hasFile && (typeof o.file !== 'string' || o.file.length === 0))
    throw invalidOption(`${at}.file`, 'a file path', o.file);
  const publicKeys = stringArray(`${at}.publicKeys`, o.publicKeys) ?? [];
  if (hasUrl && publicKeys.length === 0) {
    throw invalidOption(
      `${at}.publicKeys`,
      'at least one trusted public key for a list fetched from a URL',
      o.publicKeys,
    );
  }
  const categories = stringArray(`${at}.categories`, o.categories);
  return Object.freeze({
    name: o.name,
    ...(hasUrl ? { url: o.url as string } : {}),
    ...(hasFile ? { file: resolve(o.file as string) } : {}),
    ...(o.format !== undefined
      ? { format: enumOption(`${at}.format`, o.format, LOCAL_LIST_FORMATS, 'threatexchange') }
      : {}),
    ...(typeof o.hashType === 'string' ? { hashType: o.hashType } : {}),
    publicKeys: Object.freeze(publicKeys),
    action: enumOption(`${at}.action`, o.action, ['block', 'review', 'log'] as const, 'block'),
    thresholds: thresholdMap(`${at}.thresholds`, o.thresholds, DEFAULT_THRESHOLDS),
    ...(categories ? { categories: Object.freeze(categories) } : {}),
    dryRun: booleanOption(`${at}.dryRun`, o.dryRun, false),
    verified: booleanOption(`${at}.verified`, o.verified, false),
    refreshIntervalMs: integerOption(`${at}.refreshIntervalMs`, o.refreshIntervalMs, 300_000, 1000),
    maxStalenessMs: integerOption(`${at}.maxStalenessMs`, o.maxStalenessMs, maxStalenessMs, 1000),
    allowInsecureHttp: booleanOption(`${at}.allowInsecureHttp`, o.allowInsecureHttp, false),
  });
}

function isFunction(name: string, value: unknown): void {
  if (value !== undefined && typeof value !== 'function') throw invalidOption(name, 'a function', value);
}

/** Applies defaults and validates; throws `ERR_HASHGATE_INVALID_OPTION` for anything wrong. */
export function parseOptions(options: unknown): Config {
  const o = objectOption('options', options);
  rejectUnknownKeys('options', o, TOP_KEYS);
  if (!Array.isArray(o.lists))
    throw invalidOption('lists', 'an array of lists', o.lists, 'Give at least one list');
  const maxStalenessMs = integerOption('maxStalenessMs', o.maxStalenessMs, 86_400_000, 1000);
  const lists = o.lists.map((l, i) => parseList(l, i, maxStalenessMs));
  const names = new Set<string>();
  for (const l of lists) {
    if (names.has(l.name)) throw invalidOption('lists', 'unique list names', l.name);
    names.add(l.name);
  }
  const dataDir = resolve(typeof o.dataDir === 'string' ? o.dataDir : './var/hashgate');
  if (o.dataDir !== undefined && typeof o.dataDir !== 'string')
    throw invalidOption('dataDir', 'a folder path', o.dataDir);

  let evidence: Config['evidence'];
  if (o.evidence === false) evidence = false;
  else {
    const e = objectOption('evidence', o.evidence);
    rejectUnknownKeys('evidence', e, ['dir', 'keys']);
    if (e.dir !== undefined && typeof e.dir !== 'string')
      throw invalidOption('evidence.dir', 'a folder path', e.dir);
    evidence = Object.freeze({
      dir: typeof e.dir === 'string' ? resolve(e.dir) : join(dataDir, 'evidence'),
      ...(e.keys !== undefined ? { keys: e.keys as EvidenceKeyRing } : {}),
    });
  }
  const store = o.store as IncidentStore | undefined;
  if (
    store !== undefined &&
    (typeof store !== 'object' || store === null || typeof store.createIncident !== 'function')
  ) {
    throw invalidOption(
      'store',
      'an IncidentStore (createSqliteStore(), createPostgresStore() or your own)',
      o.store,
    );
  }
  const cache = objectOption('cache', o.cache);
  rejectUnknownKeys('cache', cache, ['max', 'ttlMs']);
  const response = objectOption('response', o.response);
  rejectUnknownKeys('response', response, ['statusCode', 'message', 'retryAfterSeconds']);
  if (response.message !== undefined && typeof response.message !== 'string') {
    throw invalidOption('response.message', 'a string', response.message);
  }
  let metrics: Config['metrics'] = {};
  if (o.metrics === false) metrics = false;
  else {
    const m = objectOption('metrics', o.metrics);
    rejectUnknownKeys('metrics', m, ['registry']);
    if (m.registry !== undefined && typeof (m.registry as Registry).registerMetric !== 'function') {
      throw invalidOption('metrics.registry', 'a prom-client Registry', m.registry);
    }
    metrics = Object.freeze(m.registry ? { registry: m.registry as Registry } : {});
  }
  const logger = (o.logger as Logger | undefined) ?? stderrLogger;
  if (
    typeof logger.warn !== 'function' ||
    typeof logger.error !== 'function' ||
    typeof logger.info !== 'function'
  ) {
    throw invalidOption('logger', 'an object with info, warn and error methods', o.logger);
  }
  isFunction('fetch', o.fetch);
  isFunction('onRetroactiveMatch', o.onRetroactiveMatch);
  isFunction('now', o.now);

  return Object.freeze({
    lists: Object.freeze(lists),
    dataDir,
    ...(store ? { store } : {}),
    evidence,
    hashing: parseHashingOptions(o.hashing, 'hashing'),
    whenUnavailable: enumOption('whenUnavailable', o.whenUnavailable, ['reject', 'allow'] as const, 'reject'),
    maxStalenessMs,
    cache: Object.freeze({
      max: integerOption('cache.max', cache.max, 10_000, 0),
      ttlMs: integerOption('cache.ttlMs', cache.ttlMs, 3_600_000, 1),
    }),
    response: Object.freeze({
      statusCode: integerOption('response.statusCode', response.statusCode, 451, 400, 599),
      message: (response.message as string | undefined) ?? 'This upload cannot be accepted.',
      retryAfterSeconds: integerOption(
        'response.retryAfterSeconds',
        response.retryAfterSeconds,
        30,
        1,
        86_400,
      ),
    }),
    allowlistRadius: (() => {
      const r = objectOption('allowlistRadius', o.allowlistRadius);
      const out: Record<string, number> = { pdq: 8, blockhash: 4 };
      for (const [type, v] of Object.entries(r))
        out[type] = integerOption(`allowlistRadius.${type}`, v, 0, 0, 31);
      return Object.freeze(out);
    })(),
    allowlistRefreshMs: integerOption('allowlistRefreshMs', o.allowlistRefreshMs, 10_000, 100),
    metrics,
    logger,
    ...(o.onRetroactiveMatch
      ? { onRetroactiveMatch: o.onRetroactiveMatch as Config['onRetroactiveMatch'] }
      : {}),
    ...(o.fetch ? { fetch: o.fetch as FetchLike } : {}),
    now: (o.now as (() => number) | undefined) ?? Date.now,
  });
}
