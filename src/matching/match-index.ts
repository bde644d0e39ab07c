/**
 * Owns the match index over one or more list snapshots (an exact index per exact hash type, a
 * Hamming index per 256-bit perceptual type) and its construction off the event loop: in a worker
 * thread whose buffers are transferred back without copying, or in slices on the main thread.
 */

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import { copyToShared, Yielder } from '../cooperative';
import { invalidOption } from '../errors';
import { getHashType, type HashKind } from '../hashing/hash-types';
import { entryIdAt } from '../lists/entry-ids';
import type { ListSnapshot, TypedEntries } from '../snapshot';
import type { BuildPart, BuildPlan, TypePlan } from './build-input';
import { type EntryRef, entryRefList, entryRefOrdinal } from './entry-ref';
import { MatchingErrorCodes, matchingError } from './errors';
import { ExactIndex } from './exact-index';
import { HammingIndex, type HammingMatch, type HashVariant, type VariantMatch } from './hamming-index';
import { type BuildWorkerReply, buildIndexData, type IndexData, runToCompletion } from './index-build';

/**
 * Which categories of a list are enabled: a set or array of category names, or a predicate over a
 * category name. Entries in other categories are left out of the index (and counted as excluded).
 * It is evaluated once per category name, never per entry, on the calling thread.
 */
export type CategoryFilter = ReadonlySet<string> | readonly string[] | ((category: string) => boolean);

/** One list to index, with the categories enabled for it. */
export interface MatchIndexSource {
  /** The list's current snapshot. */
  readonly snapshot: ListSnapshot;
  /** Enabled categories. @default every category */
  readonly categories?: CategoryFilter;
}

/** How to build an index. */
export interface BuildMatchIndexOptions {
  /**
   * `worker`: build in a worker thread (needs the compiled `index-build-worker.js` next to this
   * module, as in `dist/`). `sliced`: build on the main thread in slices of at most `sliceMs`
   * that yield to the event loop. `auto`: `worker` when the compiled script is there, else
   * `sliced` (for example under ts-jest, which runs the TypeScript sources).
   * @default 'auto'
   */
  readonly mode?: 'auto' | 'worker' | 'sliced';
  /**
   * Longest stretch of main-thread work between two yields, in milliseconds: the build slices in
   * `sliced` mode, the copy of the hash columns into shared memory in `worker` mode.
   * @default 5
   */
  readonly sliceMs?: number;
  /**
   * Kinds of custom hash types (built-in types are known). Perceptual types must be 256 bits.
   * Entries of types that are neither built in nor listed here are not indexed; they are counted in
   * {@link MatchIndexStats.skipped}.
   * @default {}
   */
  readonly typeKinds?: Readonly<Record<string, HashKind>>;
}

/** A list as the index knows it; its position in {@link MatchIndex.lists} is the list part of an {@link EntryRef}. */
export interface IndexedList {
  /** List name. */
  readonly name: string;
  /** List version the index was built from. */
  readonly version: number;
  /** The snapshot itself, to resolve entry ids, categories and labels. */
  readonly snapshot: ListSnapshot;
}

/** Everything a match needs to say about the entry it hit. */
export interface ResolvedEntry {
  /** List name. */
  readonly list: string;
  /** List version. */
  readonly listVersion: number;
  /** Hash type that matched. */
  readonly type: string;
  /** Entry id as the list publishes it. */
  readonly id: string;
  /** Category name (`default` when the entry has none). */
  readonly category: string;
  /** Labels (empty when the entry has none). */
  readonly labels: readonly string[];
}

/** Size and content of the index for one hash type. */
export interface TypeIndexStats {
  /** Hash type name. */
  readonly type: string;
  /** `exact` or `perceptual`. */
  readonly kind: HashKind;
  /** Entries indexed. */
  readonly entries: number;
  /** Entries left out because their hash is degenerate (perceptual types only; never matched). */
  readonly degenerate: number;
  /** Entries left out because their category is disabled. */
  readonly excluded: number;
  /** Sum of the byte lengths of the typed arrays of this type's index. */
  readonly bytes: number;
  /** `bytes / entries` (0 when empty). */
  readonly bytesPerEntry: number;
}

/** Build statistics of a {@link MatchIndex}, for logs and metrics (no hashes in here). */
export interface MatchIndexStats {
  /** One element per indexed hash type. */
  readonly types: readonly TypeIndexStats[];
  /** Entries indexed, all types. */
  readonly entries: number;
  /** Degenerate entries left out, all types. */
  readonly degenerate: number;
  /** Entries in disabled categories left out, all types. */
  readonly excluded: number;
  /** Entries of hash types whose kind is unknown, per type, left out. */
  readonly skipped: readonly { readonly type: string; readonly entries: number }[];
  /** Sum of the byte lengths of every typed array of the index. */
  readonly bytes: number;
  /** `bytes / entries` (0 when empty). */
  readonly bytesPerEntry: number;
  /** Wall time of the build, from the call to the usable index, in milliseconds. */
  readonly buildMs: number;
  /** Where the build ran. */
  readonly mode: 'worker' | 'sliced' | 'sync';
}

/**
 * The match index over a set of list snapshots: exact lookups and Hamming queries per hash type,
 * and resolution of the entries they return. Immutable; build a new one and swap it in (see
 * `MatchIndexHolder`) when a list changes.
 */
export interface MatchIndex {
  /** The indexed lists, in the order given to the builder. */
  readonly lists: readonly IndexedList[];
  /** Build statistics. */
  readonly stats: MatchIndexStats;
  /** The exact index of a hash type, if the index has one. */
  exact(type: string): ExactIndex | undefined;
  /** The Hamming index of a perceptual hash type, if the index has one. */
  hamming(type: string): HammingIndex | undefined;
  /** Entries whose `type` hash equals `hash` (empty when the type is not indexed). */
  lookupExact(type: string, hash: Uint8Array): EntryRef[];
  /** Entries within `radius` bits of `hash` (empty when the type is not indexed). See {@link HammingIndex.match}. */
  matchHamming(type: string, hash: Uint8Array, radius: number): HammingMatch[];
  /** Batch query for the variants of one upload. See {@link HammingIndex.matchVariants}. */
  matchVariants(type: string, variants: readonly HashVariant[], radius: number): VariantMatch[];
  /** The list, id, category and labels of an entry a query of `type` returned, or undefined for a foreign ref. */
  resolve(type: string, ref: EntryRef): ResolvedEntry | undefined;
}

/** Most lists one index can hold (list positions are stored in 16 bits). */
export const MAX_LISTS = 65535;

class MatchIndexImpl implements MatchIndex {
  readonly lists: readonly IndexedList[];
  readonly stats: MatchIndexStats;
  readonly #exact: ReadonlyMap<string, ExactIndex>;
  readonly #hamming: ReadonlyMap<string, HammingIndex>;

  constructor(
    lists: readonly IndexedList[],
    exact: ReadonlyMap<string, ExactIndex>,
    hamming: ReadonlyMap<string, HammingIndex>,
    stats: MatchIndexStats,
  ) {
    this.lists = lists;
    this.#exact = exact;
    this.#hamming = hamming;
    this.stats = stats;
  }

  exact(type: string): ExactIndex | undefined {
    return this.#exact.get(type);
  }

  hamming(type: string): HammingIndex | undefined {
    return this.#hamming.get(type);
  }

  lookupExact(type: string, hash: Uint8Array): EntryRef[] {
    return this.#exact.get(type)?.lookup(hash) ?? [];
  }

  matchHamming(type: string, hash: Uint8Array, radius: number): HammingMatch[] {
    return this.#hamming.get(type)?.match(hash, radius) ?? [];
  }

  matchVariants(type: string, variants: readonly HashVariant[], radius: number): VariantMatch[] {
    return this.#hamming.get(type)?.matchVariants(variants, radius) ?? [];
  }

  resolve(type: string, ref: EntryRef): ResolvedEntry | undefined {
    const list = this.lists[entryRefList(ref)];
    const entries = list?.snapshot.byType.get(type);
    const ordinal = entryRefOrdinal(ref);
    if (!list || !entries || ordinal >= entries.count) return undefined;
    const category = list.snapshot.categories[entries.categories[ordinal]!] ?? 'default';
    return {
      list: list.name,
      listVersion: list.version,
      type,
      id: entryIdAt(entries, ordinal),
      category,
      labels: entries.labels.get(ordinal) ?? [],
    };
  }
}

// ---------------------------------------------------------------------------------------------
// Planning: snapshots -> plain-data build plan (main thread, O(lists x types x categories)).

interface ParsedOptions {
  mode: 'auto' | 'worker' | 'sliced';
  sliceMs: number;
  typeKinds: ReadonlyMap<string, HashKind>;
}

function parseOptions(options: BuildMatchIndexOptions | undefined): ParsedOptions {
  const o = options ?? {};
  const mode = o.mode ?? 'auto';
  if (mode !== 'auto' && mode !== 'worker' && mode !== 'sliced') {
    throw invalidOption('mode', "'auto', 'worker' or 'sliced'", mode);
  }
  const sliceMs = o.sliceMs ?? 5;
  if (typeof sliceMs !== 'number' || !Number.isFinite(sliceMs) || sliceMs <= 0) {
    throw invalidOption('sliceMs', 'a positive number of milliseconds', sliceMs);
  }
  const typeKinds = new Map<string, HashKind>();
  for (const [name, kind] of Object.entries(o.typeKinds ?? {})) {
    if (kind !== 'exact' && kind !== 'perceptual') {
      throw invalidOption(`typeKinds.${name}`, "'exact' or 'perceptual'", kind);
    }
    typeKinds.set(name, kind);
  }
  return { mode, sliceMs, typeKinds };
}

function categoryMask(
  categories: readonly string[],
  filter: CategoryFilter | undefined,
): Uint8Array | undefined {
  if (filter === undefined) return undefined;
  let enabled: (name: string) => boolean;
  if (typeof filter === 'function') enabled = filter;
  else if (filter instanceof Set) enabled = (name) => filter.has(name);
  else if (Array.isArray(filter)) enabled = (name) => filter.includes(name);
  else throw invalidOption('categories', 'a set or array of category names, or a function', filter);
  const mask = new Uint8Array(categories.length);
  let all = true;
  for (let c = 0; c < categories.length; c++) {
    if (enabled(categories[c]!)) mask[c] = 1;
    else all = false;
  }
  return all ? undefined : mask;
}

function invalidSnapshot(list: string, message: string) {
  return matchingError(MatchingErrorCodes.INVALID_SNAPSHOT, `List ${JSON.stringify(list)}: ${message}`);
}

function checkEntries(list: string, entries: TypedEntries): void {
  const { type, count, hashBytes } = entries;
  if (!Number.isInteger(count) || count < 0) {
    throw invalidSnapshot(list, `the ${type} entry count is not a count`);
  }
  if (!Number.isInteger(hashBytes) || hashBytes <= 0) {
    throw invalidSnapshot(list, `the ${type} hash size is not a positive integer`);
  }
  if (!(entries.hashes instanceof Uint8Array) || entries.hashes.length !== count * hashBytes) {
    throw invalidSnapshot(
      list,
      `the ${type} hashes column does not hold ${count} hashes of ${hashBytes} bytes`,
    );
  }
  if (!(entries.categories instanceof Uint16Array) || entries.categories.length !== count) {
    throw invalidSnapshot(list, `the ${type} categories column does not hold ${count} entries`);
  }
}

interface Plan {
  readonly plan: BuildPlan;
  readonly lists: readonly IndexedList[];
  readonly skipped: readonly { type: string; entries: number }[];
}

function normalizeSources(sources: readonly (ListSnapshot | MatchIndexSource)[]): MatchIndexSource[] {
  if (!Array.isArray(sources)) throw invalidOption('sources', 'an array of list snapshots', sources);
  if (sources.length > MAX_LISTS) {
    throw matchingError(MatchingErrorCodes.INDEX_TOO_LARGE, `An index holds at most ${MAX_LISTS} lists`);
  }
  return sources.map((s) => ('snapshot' in s ? s : { snapshot: s }));
}

function planBuild(sources: readonly MatchIndexSource[], typeKinds: ReadonlyMap<string, HashKind>): Plan {
  const lists: IndexedList[] = [];
  const types = new Map<string, { kind: HashKind; hashBytes: number; parts: BuildPart[] }>();
  const skipped = new Map<string, number>();
  const names = new Set<string>();
  sources.forEach(({ snapshot, categories }, position) => {
    const name = snapshot.list;
    if (names.has(name)) throw invalidSnapshot(name, 'the list appears twice in one index');
    names.add(name);
    lists.push(Object.freeze({ name, version: snapshot.version, snapshot }));
    const mask = categoryMask(snapshot.categories, categories);
    for (const entries of snapshot.byType.values()) {
      checkEntries(name, entries);
      const { type, hashBytes, count } = entries;
      const builtin = getHashType(type);
      const kind = typeKinds.get(type) ?? builtin?.kind;
      if (kind === undefined) {
        skipped.set(type, (skipped.get(type) ?? 0) + count);
        continue;
      }
      if (builtin && hashBytes * 8 !== builtin.bits) {
        throw invalidSnapshot(name, `${type} hashes are ${builtin.bits / 8} bytes, not ${hashBytes}`);
      }
      if (kind === 'perceptual' && hashBytes !== 32) {
        throw invalidSnapshot(name, `the perceptual type ${type} must have 32-byte hashes to be indexed`);
      }
      let t = types.get(type);
      if (!t) {
        t = { kind, hashBytes, parts: [] };
        types.set(type, t);
      } else if (t.hashBytes !== hashBytes) {
        throw invalidSnapshot(
          name,
          `${type} hashes are ${hashBytes} bytes here but ${t.hashBytes} in another list`,
        );
      }
      if (count === 0) continue;
      t.parts.push(
        mask
          ? { list: position, count, hashes: entries.hashes, categories: entries.categories, allowed: mask }
          : { list: position, count, hashes: entries.hashes },
      );
    }
  });
  const planTypes: TypePlan[] = [...types].map(([type, t]) => ({ type, ...t }));
  return {
    plan: { types: planTypes },
    lists,
    skipped: [...skipped].map(([type, entries]) => ({ type, entries })),
  };
}

// ---------------------------------------------------------------------------------------------
// Running the build.

/*
 * Where the worker comes from (a deliberate choice): the build worker runs the compiled
 * `index-build-worker.js` that sits next to this module, i.e. `dist/matching/` for the package
 * and `dist-bench/src/matching/` for the benchmark. Under ts-jest this module is TypeScript in
 * `src/` with no `.js` beside it, and a worker thread cannot load TypeScript without a loader
 * (ts-node is not a dependency), so `auto` falls back to the sliced main-thread build there. Both
 * paths run the same generator (`buildIndexData`), so there is no duplicated logic, and a worker
 * script is only ever taken from the same build as this module, so the two ends of the message
 * protocol always match. The tests cover the worker path by loading the compiled module from
 * `dist/` (which `npm test` builds first).
 */
const WORKER_SCRIPT = join(__dirname, 'index-build-worker.js');

/** Whether `mode: 'worker'` can run here (the compiled worker script sits next to this module). */
export function isBuildWorkerAvailable(): boolean {
  return existsSync(WORKER_SCRIPT);
}

/**
 * A view of `src` over shared memory, copied in slices that yield between them, so the worker
 * reads the hash columns without a structured-clone copy on the main thread. Columns already in
 * a SharedArrayBuffer are passed as they are.
 */
async function shareColumn<T extends Uint8Array | Uint16Array>(src: T, sliceMs: number): Promise<T> {
  if (src.buffer instanceof SharedArrayBuffer) return src;
  const bytes = new Uint8Array(src.buffer, src.byteOffset, src.byteLength);
  const copy = await copyToShared(bytes, new Yielder(sliceMs, 1));
  return (src instanceof Uint16Array ? new Uint16Array(copy.buffer) : copy) as T;
}

async function sharePlan(plan: BuildPlan, sliceMs: number): Promise<BuildPlan> {
  const types: TypePlan[] = [];
  for (const t of plan.types) {
    const parts: BuildPart[] = [];
    for (const p of t.parts) {
      const hashes = await shareColumn(p.hashes, sliceMs);
      parts.push(
        p.categories && p.allowed
          ? {
              list: p.list,
              count: p.count,
              hashes,
              categories: await shareColumn(p.categories, sliceMs),
              allowed: p.allowed,
            }
          : { list: p.list, count: p.count, hashes },
      );
    }
    types.push({ ...t, parts });
  }
  return { types };
}

function errorFromWorker(code: string | undefined, message: string) {
  const known = Object.values(MatchingErrorCodes) as string[];
  if (code !== undefined && known.includes(code)) {
    return matchingError(code as (typeof MatchingErrorCodes)[keyof typeof MatchingErrorCodes], message);
  }
  return matchingError(MatchingErrorCodes.INDEX_BUILD_FAILED, `The index build worker failed: ${message}`);
}

async function buildInWorker(plan: BuildPlan, sliceMs: number): Promise<IndexData> {
  if (!isBuildWorkerAvailable()) {
    throw matchingError(
      MatchingErrorCodes.INDEX_BUILD_FAILED,
      'The index build worker script (index-build-worker.js) is not next to the match index module; run the compiled build (dist/) or use mode "sliced"',
    );
  }
  const shared = await sharePlan(plan, sliceMs);
  return new Promise<IndexData>((resolve, reject) => {
    let settled = false;
    const worker = new Worker(WORKER_SCRIPT, { workerData: shared });
    worker.once('message', (reply: BuildWorkerReply) => {
      settled = true;
      if (reply.ok) resolve(reply.data);
      else reject(errorFromWorker(reply.code, reply.message));
      void worker.terminate();
    });
    worker.once('error', (err) => {
      if (settled) return;
      settled = true;
      reject(
        matchingError(MatchingErrorCodes.INDEX_BUILD_FAILED, 'The index build worker failed', { cause: err }),
      );
    });
    worker.once('exit', (code) => {
      if (settled) return;
      settled = true;
      reject(
        matchingError(
          MatchingErrorCodes.INDEX_BUILD_FAILED,
          `The index build worker exited with code ${code}`,
        ),
      );
    });
  });
}

async function runSliced<T>(steps: Generator<void, T>, sliceMs: number): Promise<T> {
  let deadline = performance.now() + sliceMs;
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
    if (performance.now() >= deadline) {
      await yieldToEventLoop();
      deadline = performance.now() + sliceMs;
    }
  }
}

function assemble(
  planned: Plan,
  data: IndexData,
  started: number,
  mode: MatchIndexStats['mode'],
): MatchIndex {
  const exact = new Map<string, ExactIndex>();
  const hamming = new Map<string, HammingIndex>();
  const types: TypeIndexStats[] = [];
  const perEntry = (bytes: number, entries: number) => (entries === 0 ? 0 : bytes / entries);
  for (const d of data.exact) {
    const ix = ExactIndex.fromData(d);
    exact.set(d.type, ix);
    const bytes = ix.byteLength;
    types.push({
      type: d.type,
      kind: 'exact',
      entries: ix.size,
      degenerate: 0,
      excluded: ix.excluded,
      bytes,
      bytesPerEntry: perEntry(bytes, ix.size),
    });
  }
  for (const d of data.hamming) {
    const ix = HammingIndex.fromData(d);
    hamming.set(d.type, ix);
    const bytes = ix.byteLength;
    types.push({
      type: d.type,
      kind: 'perceptual',
      entries: ix.size,
      degenerate: ix.degenerate,
      excluded: ix.excluded,
      bytes,
      bytesPerEntry: perEntry(bytes, ix.size),
    });
  }
  const sum = (f: (t: TypeIndexStats) => number) => types.reduce((n, t) => n + f(t), 0);
  const entries = sum((t) => t.entries);
  const bytes = sum((t) => t.bytes);
  const stats: MatchIndexStats = Object.freeze({
    types: Object.freeze(types.map((t) => Object.freeze(t))),
    entries,
    degenerate: sum((t) => t.degenerate),
    excluded: sum((t) => t.excluded),
    skipped: Object.freeze(planned.skipped.map((s) => Object.freeze(s))),
    bytes,
    bytesPerEntry: perEntry(bytes, entries),
    buildMs: performance.now() - started,
    mode,
  });
  return new MatchIndexImpl(Object.freeze([...planned.lists]), exact, hamming, stats);
}

/**
 * Builds a match index from list snapshots without blocking the event loop: in a worker thread
 * (the built buffers are transferred back, not copied) or in main-thread slices that yield (see
 * {@link BuildMatchIndexOptions.mode}). The snapshots are only read. Rejects with
 * `ERR_HASHGATE_INVALID_SNAPSHOT` for an inconsistent snapshot, `ERR_HASHGATE_INDEX_TOO_LARGE`
 * past the size limits, and `ERR_HASHGATE_INDEX_BUILD_FAILED` when the worker fails.
 *
 * @example
 * const index = await buildMatchIndex([
 *   { snapshot: ncmec, categories: ['csam'] },
 *   own,
 * ]);
 * index.matchVariants('pdq', variants, 31);
 */
export async function buildMatchIndex(
  sources: readonly (ListSnapshot | MatchIndexSource)[],
  options?: BuildMatchIndexOptions,
): Promise<MatchIndex> {
  const started = performance.now();
  const opts = parseOptions(options);
  const planned = planBuild(normalizeSources(sources), opts.typeKinds);
  const useWorker = opts.mode === 'worker' || (opts.mode === 'auto' && isBuildWorkerAvailable());
  if (useWorker) {
    const data = await buildInWorker(planned.plan, opts.sliceMs);
    return assemble(planned, data, started, 'worker');
  }
  await yieldToEventLoop();
  const data = await runSliced(buildIndexData(planned.plan), opts.sliceMs);
  return assemble(planned, data, started, 'sliced');
}

/**
 * Builds a match index synchronously on the calling thread. It blocks for the whole build (half a
 * second to a second per million PDQ entries on a small server), so use it for small lists, tests
 * and command-line tools; servers use {@link buildMatchIndex}. Only `typeKinds` of the options
 * applies.
 */
export function buildMatchIndexSync(
  sources: readonly (ListSnapshot | MatchIndexSource)[],
  options?: Pick<BuildMatchIndexOptions, 'typeKinds'>,
): MatchIndex {
  const started = performance.now();
  const opts = parseOptions(options);
  const planned = planBuild(normalizeSources(sources), opts.typeKinds);
  return assemble(planned, runToCompletion(buildIndexData(planned.plan)), started, 'sync');
}
