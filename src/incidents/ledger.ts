/**
 * Owns the ledger of accepted uploads and its re-check: when a list gains entries, find uploads
 * that were allowed earlier and match the new entries (exact hashes by lookup, perceptual hashes
 * by a Hamming index built over the new entries), raise an incident for each and ask the host to
 * take the content down.
 */

import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { invalidOption } from '../errors';
import { getHashType, toHex } from '../hashing/hash-types';
import { type ComputedHash, DIHEDRAL_VARIANTS } from '../hashing/outcome';
import { entryIdAt } from '../lists/entry-ids';
import { buildMatchIndexSync } from '../matching/match-index';
import type { ListSnapshot, TypedEntries } from '../snapshot';
import { integerOption, objectOption, rejectUnknownKeys } from '../validate';
import { IncidentErrorCodes } from './errors';
import { MAX_RECHECK_ENTRIES, MAX_RECHECK_RADIUS, RecheckIndex } from './recheck-index';
import { LEDGER_MAX_PERCEPTUAL_HASHES, ledgerHashPosition, listNames } from './records';
import type { IncidentStore } from './store';
import type { IncidentMatch, LedgerExactHit, LedgerRecord, NewLedgerRecord } from './types';

/** Default Hamming thresholds of the re-check, per perceptual type. */
export const DEFAULT_RECHECK_THRESHOLDS: Readonly<Record<string, number>> = Object.freeze({
  pdq: 31,
  blockhash: 7,
});

/** What the host's takedown callback receives (no hashes). */
export interface TakedownRequest {
  /** The incident raised for the content. */
  readonly incidentId: string;
  /** The host's reference to where the content is stored. */
  readonly reference: string;
  /** The ledger record. */
  readonly ledgerId: string;
  /** Names of the lists that matched. */
  readonly lists: readonly string[];
}

/** Options of {@link createLedger}. */
export interface LedgerOptions {
  store: IncidentStore;
  /**
   * Largest Hamming distance that counts as a match, per perceptual type (use each list's
   * thresholds). @default { pdq: 31, blockhash: 7 }
   */
  thresholds?: Readonly<Record<string, number>>;
  /**
   * Called once for each incident a re-check raises, so the host can take the content down. It
   * is awaited; a failure is counted in the report and does not stop the re-check (the incident
   * and its webhook event are recorded before the call).
   */
  onTakedown?: (request: TakedownRequest) => void | Promise<void>;
  /** Ledger records read (and queried as one batch) per page while scanning perceptual hashes. @default 20_000 */
  pageSize?: number;
}

/** What one re-check found and did. */
export interface RecheckReport {
  readonly list: string;
  readonly version: number;
  /** New entries checked, all types. */
  readonly entries: number;
  /** Ledger records whose perceptual hashes were compared. */
  readonly scanned: number;
  /** Ledger records that matched a new entry. */
  readonly matched: number;
  /** Ids of the incidents raised. */
  readonly incidents: readonly string[];
  /** Matched records skipped because an incident exists for them already. */
  readonly alreadyRaised: number;
  /** Matched records skipped because one of their hashes is allowlisted. */
  readonly allowlisted: number;
  /** Takedown callbacks that threw. */
  readonly takedownFailures: number;
  /** Hash types of the update that the re-check does not know how to compare. */
  readonly skippedTypes: readonly string[];
  /** Wall time in ms. */
  readonly durationMs: number;
}

/** The ledger of accepted uploads. */
export interface Ledger {
  /** Records allowed uploads (one transaction per call). */
  record(records: NewLedgerRecord | readonly NewLedgerRecord[]): Promise<LedgerRecord[]>;
  /**
   * Re-checks the ledger against the entries a list version added: pass a snapshot whose
   * `byType` holds only the new entries, e.g. `{ ...update.snapshot, byType: update.added }` from
   * list sync. Raises one `takedown` incident per matching record (with every match) unless the
   * record already has one or one of its hashes is allowlisted.
   *
   * With `range`, only records whose seq lies in it are checked, for example the uploads
   * accepted before a list's first version was loaded, checked against that whole version.
   */
  recheck(newEntries: ListSnapshot, range?: LedgerRange): Promise<RecheckReport>;
}

/** Ledger records by seq, both ends included. */
export interface LedgerRange {
  readonly fromSeq: number;
  readonly toSeq: number;
}

interface Hit {
  readonly seq: number;
  readonly match: Omit<IncidentMatch, 'quality'>;
}

/**
 * Which of a record's hashes of the match's type matched, when it was not the first: 1 for the
 * hash of the image's trimmed content. Read back to report that hash's quality.
 */
const matchedGroup = new WeakMap<object, number>();

function groupMatch<T extends object>(match: T, group: number): T {
  if (group > 0) matchedGroup.set(match, group);
  return match;
}

/** The 256-bit hashes a ledger row holds (see LEDGER_MAX_PERCEPTUAL_HASHES). */
function hashCount(row: Uint8Array): number {
  return Math.min(LEDGER_MAX_PERCEPTUAL_HASHES, row.length >>> 5);
}

function entryHex(t: TypedEntries, i: number): string {
  return toHex(t.hashes.subarray(i * t.hashBytes, (i + 1) * t.hashBytes));
}

/** The SHA-256 of a record's bytes: what identifies the same content across uploads. */
function contentOf(record: LedgerRecord): string | undefined {
  return record.hashes.find((h) => h.type === 'sha256')?.hex;
}

/** Adds matches to those kept under `key`, each (list, entry, hash type) once. */
function addMatches<K>(
  into: Map<K, Omit<IncidentMatch, 'quality'>[]>,
  key: K,
  matches: readonly Omit<IncidentMatch, 'quality'>[],
): void {
  const list = into.get(key) ?? [];
  for (const m of matches) {
    if (!list.some((x) => x.list === m.list && x.entryId === m.entryId && x.hashType === m.hashType))
      list.push(m);
  }
  into.set(key, list);
}

/**
 * Creates the ledger over a store.
 *
 * @example
 * const ledger = createLedger({ store, onTakedown: ({ reference }) => storage.quarantine(reference) });
 * sync.onUpdate((u) => u.added && ledger.recheck({ ...u.snapshot, byType: u.added }));
 */
export function createLedger(options: LedgerOptions): Ledger {
  const o = objectOption('ledger', options);
  rejectUnknownKeys('ledger', o, ['store', 'thresholds', 'onTakedown', 'pageSize']);
  const store = o.store as IncidentStore;
  if (typeof store !== 'object' || store === null || typeof store.scanLedgerPerceptual !== 'function') {
    throw invalidOption('ledger.store', 'an IncidentStore', o.store);
  }
  const thresholdsIn = objectOption('ledger.thresholds', o.thresholds);
  const thresholds: Record<string, number> = { ...DEFAULT_RECHECK_THRESHOLDS };
  for (const [type, value] of Object.entries(thresholdsIn)) {
    thresholds[type] = integerOption(`ledger.thresholds.${type}`, value, 0, 0, 256);
  }
  if (o.onTakedown !== undefined && typeof o.onTakedown !== 'function') {
    throw invalidOption('ledger.onTakedown', 'a function', o.onTakedown);
  }
  const onTakedown = o.onTakedown as LedgerOptions['onTakedown'];
  const pageSize = integerOption('ledger.pageSize', o.pageSize, 20_000, 1, 1_000_000);

  async function exactHits(type: string, t: TypedEntries, list: ListSnapshot, hits: Hit[]): Promise<void> {
    const byHex = new Map<string, number[]>();
    for (let i = 0; i < t.count; i++) {
      const hex = entryHex(t, i);
      const rows = byHex.get(hex);
      if (rows) rows.push(i);
      else byHex.set(hex, [i]);
    }
    const hexes = [...byHex.keys()];
    for (let i = 0; i < hexes.length; i += 5000) {
      for (const h of await store.findLedgerExact(type, hexes.slice(i, i + 5000))) {
        for (const row of byHex.get(h.hex) ?? []) {
          hits.push({
            seq: h.seq,
            match: {
              list: list.list,
              listVersion: list.version,
              entryId: entryIdAt(t, row),
              category: list.categories[t.categories[row] ?? 0] ?? 'default',
              hashType: type,
              distance: 0,
              variant: null,
            },
          });
        }
      }
    }
  }

  async function perceptualHits(
    type: string,
    list: ListSnapshot,
    hits: Hit[],
    range: LedgerRange | undefined,
  ): Promise<number> {
    const radius = thresholds[type] ?? 0;
    const t = list.byType.get(type)!;
    if (radius > MAX_RECHECK_RADIUS) return perceptualHitsWide(type, list, radius, hits, range);
    const entryHit = (row: number, seq: number, distance: number, variant: number, group: number): void => {
      hits.push({
        seq,
        match: groupMatch(
          {
            list: list.list,
            listVersion: list.version,
            entryId: entryIdAt(t, row),
            category: list.categories[t.categories[row] ?? 0] ?? 'default',
            hashType: type,
            distance,
            variant: type === 'pdq' ? DIHEDRAL_VARIANTS[variant]! : null,
          },
          group,
        ),
      });
    };
    let scanned = 0;
    // an update larger than a chunk (a first load) is checked in several passes over the ledger
    for (let first = 0; first < t.count; first += MAX_RECHECK_ENTRIES) {
      const count = Math.min(MAX_RECHECK_ENTRIES, t.count - first);
      const index = new RecheckIndex(t.hashes.subarray(first * 32, (first + count) * 32), count, radius);
      let after = range ? range.fromSeq - 1 : 0;
      scanned = 0;
      for (;;) {
        const page = await store.scanLedgerPerceptual(type, after, pageSize);
        const n = page.seqs.length;
        // every usable variant of the page as one batch of queries
        let total = 0;
        for (let r = 0; r < n; r++) total += hashCount(page.hashes[r]!);
        const q = new Uint32Array(total * 8);
        const queryRecord = new Uint32Array(total);
        const queryIndex = new Uint8Array(total);
        let nq = 0;
        for (let r = 0; r < n; r++) {
          const all = page.hashes[r]!;
          const count = hashCount(all);
          for (let v = 0; v < count; v++) {
            if (!RecheckIndex.pack(all, v * 32, q, nq * 8)) continue;
            queryRecord[nq] = r;
            queryIndex[nq] = v;
            nq++;
          }
        }
        // per (record, entry): the smallest distance, then the earliest hash (whole image first)
        const best = new Map<number, { record: number; row: number; distance: number; index: number }>();
        index.searchBatch(q, nq, (query, row, distance) => {
          const record = queryRecord[query]!;
          const at = queryIndex[query]!;
          const key = record * MAX_RECHECK_ENTRIES + row;
          const prev = best.get(key);
          if (!prev || distance < prev.distance || (distance === prev.distance && at < prev.index)) {
            best.set(key, { record, row, distance, index: at });
          }
        });
        for (const b of [...best.values()].sort((x, y) => x.record - y.record || x.row - y.row)) {
          const { variant, group } = ledgerHashPosition(b.index, hashCount(page.hashes[b.record]!));
          entryHit(first + b.row, page.seqs[b.record]!, b.distance, variant, group);
        }
        scanned += n;
        if (n < pageSize || (range && page.seqs[n - 1]! >= range.toSeq)) break;
        after = page.seqs[n - 1]!;
        await yieldToEventLoop();
      }
    }
    return scanned;
  }

  /** Radii beyond {@link MAX_RECHECK_RADIUS}: the general match index, one multi-probe query per ledger record. */
  async function perceptualHitsWide(
    type: string,
    list: ListSnapshot,
    radius: number,
    hits: Hit[],
    range: LedgerRange | undefined,
  ): Promise<number> {
    const index = buildMatchIndexSync([{ ...list, byType: new Map([[type, list.byType.get(type)!]]) }]);
    let scanned = 0;
    let after = range ? range.fromSeq - 1 : 0;
    for (;;) {
      const page = await store.scanLedgerPerceptual(type, after, pageSize);
      const n = page.seqs.length;
      for (let r = 0; r < n; r++) {
        const all = page.hashes[r]!;
        const count = hashCount(all);
        // each hash is named by its position, so the variant and the group can be read back
        const variants = new Array<{ variant: string; hash: Uint8Array }>(count);
        for (let v = 0; v < count; v++)
          variants[v] = { variant: String(v), hash: all.subarray(v * 32, v * 32 + 32) };
        // one match per entry: the smallest distance over every hash of the record
        for (const m of index.matchVariants(type, variants, radius)) {
          const entry = index.resolve(type, m.ref);
          if (!entry) continue;
          const { variant, group } = ledgerHashPosition(Number(m.variant), count);
          hits.push({
            seq: page.seqs[r]!,
            match: groupMatch(
              {
                list: entry.list,
                listVersion: entry.listVersion,
                entryId: entry.id,
                category: entry.category,
                hashType: type,
                distance: m.distance,
                variant: type === 'pdq' ? DIHEDRAL_VARIANTS[variant]! : null,
              },
              group,
            ),
          });
        }
      }
      scanned += n;
      if (n < pageSize || (range && page.seqs[n - 1]! >= range.toSeq)) break;
      after = page.seqs[n - 1]!;
      await yieldToEventLoop();
    }
    return scanned;
  }

  async function raise(
    record: LedgerRecord,
    hashes: readonly ComputedHash[],
    matches: readonly Omit<IncidentMatch, 'quality'>[],
    report: { incidents: string[]; alreadyRaised: number; allowlisted: number; takedownFailures: number },
  ): Promise<void> {
    if (record.incidentId) {
      report.alreadyRaised++;
      return;
    }
    const allowed = await store.findAllowlisted(hashes.map((h) => ({ type: h.type, hex: h.hex })));
    if (allowed.length > 0) {
      report.allowlisted++;
      return;
    }
    const withQuality: IncidentMatch[] = matches.map((m) => ({
      ...m,
      quality:
        hashes.filter((h) => h.type === m.hashType)[matchedGroup.get(m) ?? 0]?.provenance.quality ?? null,
    }));
    let incidentId: string;
    try {
      const incident = await store.createIncident({
        source: 'recheck',
        action: 'takedown',
        route: record.route,
        requestId: record.requestId,
        uploader: record.uploader,
        file: record.file,
        hashes,
        matches: withQuality,
        ledger: { id: record.id, reference: record.reference, acceptedAt: record.acceptedAt },
      });
      incidentId = incident.id;
    } catch (err) {
      // another instance raised it first
      if ((err as { code?: string }).code === IncidentErrorCodes.DUPLICATE) {
        report.alreadyRaised++;
        return;
      }
      throw err;
    }
    report.incidents.push(incidentId);
    if (onTakedown) {
      try {
        await onTakedown({
          incidentId,
          reference: record.reference,
          ledgerId: record.id,
          lists: listNames(withQuality),
        });
      } catch {
        report.takedownFailures++;
      }
    }
  }

  async function readRecords(seqs: readonly number[], into: Map<number, LedgerRecord>): Promise<void> {
    for (let i = 0; i < seqs.length; i += 500) {
      for (const r of await store.getLedgerRecords(seqs.slice(i, i + 500))) into.set(r.seq, r);
    }
  }

  /**
   * Every other upload of the same bytes (the same SHA-256) matches too. The ledger keeps a
   * repeated upload as a reference to content it holds already, with only its SHA-256 (see
   * `Ledger.record`), so a match found through another hash type reaches every copy through this
   * step. Each copy gets the matches of all copies; returns, per content, the fullest set of
   * hashes recorded for it, which the incidents of its copies carry.
   */
  async function addCopies(
    bySeq: Map<number, Omit<IncidentMatch, 'quality'>[]>,
    records: Map<number, LedgerRecord>,
  ): Promise<Map<string, readonly ComputedHash[]>> {
    const matchesOf = new Map<string, Omit<IncidentMatch, 'quality'>[]>();
    for (const [seq, matches] of bySeq) {
      const record = records.get(seq);
      const content = record && contentOf(record);
      if (content !== undefined) addMatches(matchesOf, content, matches);
    }
    const contents = [...matchesOf.keys()];
    const copies: LedgerExactHit[] = [];
    for (let i = 0; i < contents.length; i += 5000)
      copies.push(...(await store.findLedgerExact('sha256', contents.slice(i, i + 5000))));
    for (const c of copies) addMatches(bySeq, c.seq, matchesOf.get(c.hex) ?? []);
    await readRecords(
      copies.filter((c) => !records.has(c.seq)).map((c) => c.seq),
      records,
    );
    const fullest = new Map<string, readonly ComputedHash[]>();
    for (const r of records.values()) {
      const content = contentOf(r);
      if (content === undefined) continue;
      const prev = fullest.get(content);
      if (!prev || r.hashes.length > prev.length) fullest.set(content, r.hashes);
    }
    return fullest;
  }

  return Object.freeze({
    async record(records: NewLedgerRecord | readonly NewLedgerRecord[]) {
      return store.addToLedger(
        Array.isArray(records) ? (records as NewLedgerRecord[]) : [records as NewLedgerRecord],
      );
    },

    async recheck(newEntries: ListSnapshot, range?: LedgerRange): Promise<RecheckReport> {
      const started = performance.now();
      if (typeof newEntries !== 'object' || newEntries === null || !(newEntries.byType instanceof Map)) {
        throw invalidOption('recheck(newEntries)', 'a list snapshot of the added entries', newEntries);
      }
      if (
        range !== undefined &&
        !(
          Number.isSafeInteger(range?.fromSeq) &&
          Number.isSafeInteger(range?.toSeq) &&
          range.fromSeq <= range.toSeq
        )
      ) {
        throw invalidOption('recheck(range)', 'whole numbers `fromSeq` <= `toSeq`', range);
      }
      const hits: Hit[] = [];
      const skippedTypes: string[] = [];
      let entries = 0;
      let scanned = 0;
      for (const [type, t] of newEntries.byType) {
        if (t.count === 0) continue;
        entries += t.count;
        const kind = getHashType(type)?.kind;
        if (kind === 'exact') await exactHits(type, t, newEntries, hits);
        else if (kind === 'perceptual' && t.hashBytes === 32)
          scanned = Math.max(scanned, await perceptualHits(type, newEntries, hits, range));
        else skippedTypes.push(type);
      }
      const bySeq = new Map<number, Omit<IncidentMatch, 'quality'>[]>();
      for (const h of hits) {
        if (!range || (h.seq >= range.fromSeq && h.seq <= range.toSeq)) addMatches(bySeq, h.seq, [h.match]);
      }
      const records = new Map<number, LedgerRecord>();
      await readRecords([...bySeq.keys()], records);
      const hashesOfContent = await addCopies(bySeq, records);
      const report = { incidents: [] as string[], alreadyRaised: 0, allowlisted: 0, takedownFailures: 0 };
      const seqs = [...bySeq.keys()].sort((a, b) => a - b);
      for (const seq of seqs) {
        const record = records.get(seq);
        if (!record) continue;
        const content = contentOf(record);
        const hashes = (content !== undefined && hashesOfContent.get(content)) || record.hashes;
        await raise(record, hashes, bySeq.get(seq)!, report);
      }
      await store.appendAudit({
        type: 'ledger.rechecked',
        actor: 'hashgate',
        details: {
          list: newEntries.list,
          version: newEntries.version,
          entries,
          scanned,
          matched: seqs.length,
          incidents: report.incidents.length,
        },
      });
      return {
        list: newEntries.list,
        version: newEntries.version,
        entries,
        scanned,
        matched: seqs.length,
        ...report,
        skippedTypes,
        durationMs: performance.now() - started,
      };
    },
  });
}
