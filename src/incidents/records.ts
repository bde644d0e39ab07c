/**
 * Owns the translation between what callers hand a store and what it persists: validation and
 * normalisation of new incidents and ledger records, the mapping of stored rows back to
 * {@link Incident}, and the webhook payload of each outbox event. Shared by every store.
 */

import type { ComputedHash } from '../hashing/outcome';
import { IncidentErrorCodes, incidentError } from './errors';
import { isIncidentId, newId, newIncidentId, newLedgerId } from './ids';
import { iso, isValidTimeZone, localIsoTime, toMs, utcOffsetMinutes } from './time';
import type {
  EvidenceRef,
  Incident,
  IncidentAction,
  IncidentEvidence,
  IncidentFile,
  IncidentLedgerLink,
  IncidentMatch,
  IncidentSource,
  IncidentUploader,
  LedgerRecord,
  NewIncident,
  NewLedgerRecord,
  OutboxEventType,
  ReviewEvent,
  ReviewState,
  WebhookPayload,
} from './types';

/** The part of an incident that never changes after creation, persisted as one JSON document. */
export interface IncidentBody {
  readonly route: string | null;
  readonly requestId: string | null;
  readonly uploader: IncidentUploader;
  readonly file: IncidentFile;
  readonly hashes: readonly ComputedHash[];
  readonly matches: readonly IncidentMatch[];
  readonly dryRun: boolean;
  readonly source: IncidentSource;
  readonly ledger: IncidentLedgerLink | null;
}

/** A validated new incident, ready to insert. */
export interface PreparedIncident {
  readonly id: string;
  readonly occurredAtMs: number;
  readonly timeZone: string;
  readonly utcOffsetMinutes: number;
  readonly action: IncidentAction;
  readonly evidence: EvidenceRef | null;
  readonly body: IncidentBody;
}

/** The columns of a stored incident as both stores read them (times in ms). */
export interface IncidentRowData {
  readonly id: string;
  readonly occurredAtMs: number;
  readonly timeZone: string;
  readonly utcOffsetMinutes: number;
  readonly action: IncidentAction;
  readonly state: ReviewState;
  readonly stateChangedAtMs: number;
  readonly reportReference: string | null;
  readonly legalHoldUntilMs: number | null;
  readonly evidenceViewed: boolean;
  readonly evidence: IncidentEvidence | null;
  readonly body: IncidentBody;
}

const ACTIONS = new Set<string>(['block', 'review', 'log', 'takedown']);
const HEX = /^[0-9a-f]+$/;
const VARIANTS = new Set(['orig', 'rot90', 'rot180', 'rot270', 'flipx', 'flipy', 'flipplus1', 'flipminus1']);

function bad(message: string): Error {
  return incidentError(IncidentErrorCodes.INVALID_INPUT, message);
}

/** Attacker-controlled text (names, user agents) is cut to a length rather than refused: an incident is never lost to a long header. */
function clip(value: unknown, max: number): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string') return null;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are stripped on purpose
  const clean = value.replace(/[\u0000-\u001f\u007f]/g, ' ');
  return clean.length > max ? clean.slice(0, max) : clean;
}

function normalizeUploader(u: Partial<IncidentUploader> | undefined): IncidentUploader {
  const port = u?.port;
  return {
    userId: clip(u?.userId, 500),
    ip: clip(u?.ip, 64),
    port: typeof port === 'number' && Number.isInteger(port) && port >= 0 && port <= 65535 ? port : null,
    userAgent: clip(u?.userAgent, 1000),
  };
}

function normalizeFile(f: Partial<IncidentFile> | undefined, requireSize: boolean): IncidentFile {
  const size = f?.size;
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
    if (requireSize) throw bad('`file.size` is the size of the upload in bytes (a whole number)');
  }
  return {
    originalName: clip(f?.originalName, 1000),
    declaredType: clip(f?.declaredType, 200),
    sniffedType: clip(f?.sniffedType, 50),
    size: typeof size === 'number' && Number.isSafeInteger(size) && size >= 0 ? size : 0,
  };
}

/** Validates computed hashes (a programming error is refused, never stored half-right). */
export function normalizeHashes(hashes: unknown, what: string): ComputedHash[] {
  if (!Array.isArray(hashes)) throw bad(`\`${what}\` is an array of computed hashes`);
  return hashes.map((h: unknown, i) => {
    const c = h as ComputedHash;
    if (
      typeof c !== 'object' ||
      c === null ||
      typeof c.type !== 'string' ||
      !/^[a-z0-9_-]{1,32}$/.test(c.type)
    ) {
      throw bad(`\`${what}[${i}].type\` is a hash type name`);
    }
    if (typeof c.hex !== 'string' || c.hex.length === 0 || c.hex.length > 512 || !HEX.test(c.hex)) {
      throw bad(`\`${what}[${i}].hex\` is lower-case hex`);
    }
    if (
      typeof c.provenance !== 'object' ||
      c.provenance === null ||
      typeof c.provenance.algorithm !== 'string'
    ) {
      throw bad(`\`${what}[${i}].provenance\` says how the hash was made`);
    }
    const out: { -readonly [K in keyof ComputedHash]: ComputedHash[K] } = {
      type: c.type,
      hex: c.hex,
      provenance: { ...c.provenance },
    };
    if (c.variants !== undefined) {
      const v = c.variants as Record<string, unknown>;
      for (const [name, hex] of Object.entries(v)) {
        if (!VARIANTS.has(name) || typeof hex !== 'string' || hex.length !== c.hex.length || !HEX.test(hex)) {
          throw bad(`\`${what}[${i}].variants\` holds the eight dihedral variants as hex`);
        }
      }
      out.variants = { ...c.variants };
    }
    return out;
  });
}

function normalizeMatches(matches: unknown): IncidentMatch[] {
  if (!Array.isArray(matches)) throw bad('`matches` is an array');
  return matches.map((m: unknown, i) => {
    const x = m as IncidentMatch;
    const ok =
      typeof x === 'object' &&
      x !== null &&
      typeof x.list === 'string' &&
      x.list.length > 0 &&
      x.list.length <= 200 &&
      Number.isSafeInteger(x.listVersion) &&
      typeof x.entryId === 'string' &&
      x.entryId.length <= 500 &&
      typeof x.hashType === 'string' &&
      typeof x.distance === 'number' &&
      Number.isInteger(x.distance) &&
      x.distance >= 0;
    if (!ok) throw bad(`\`matches[${i}]\` needs list, listVersion, entryId, hashType and a whole distance`);
    if (x.variant != null && !VARIANTS.has(x.variant))
      throw bad(`\`matches[${i}].variant\` is a dihedral variant`);
    return {
      list: x.list,
      listVersion: x.listVersion,
      entryId: x.entryId,
      category: typeof x.category === 'string' && x.category.length > 0 ? x.category : 'default',
      hashType: x.hashType,
      distance: x.distance,
      variant: x.variant ?? null,
      quality: typeof x.quality === 'number' && Number.isFinite(x.quality) ? x.quality : null,
    };
  });
}

/** Validates an evidence reference. */
export function normalizeEvidenceRef(e: unknown): EvidenceRef {
  const r = e as EvidenceRef;
  if (
    typeof r !== 'object' ||
    r === null ||
    typeof r.id !== 'string' ||
    typeof r.keyId !== 'string' ||
    !Number.isSafeInteger(r.size) ||
    typeof r.storedAt !== 'string' ||
    Number.isNaN(Date.parse(r.storedAt))
  ) {
    throw bad('`evidence` is the reference the evidence vault returned');
  }
  return { id: r.id, keyId: r.keyId, size: r.size, storedAt: new Date(r.storedAt).toISOString() };
}

/** Validates a new incident and fills in its defaults. */
export function prepareIncident(input: NewIncident, nowMs: number, defaultZone: string): PreparedIncident {
  if (typeof input !== 'object' || input === null) throw bad('createIncident() needs an incident object');
  const id = input.id ?? newIncidentId();
  if (!isIncidentId(id)) throw bad('`id` is an id from newIncidentId()');
  const occurredAtMs = input.occurredAt === undefined ? nowMs : toMs(input.occurredAt);
  if (!Number.isFinite(occurredAtMs)) throw bad('`occurredAt` is a Date or milliseconds since the epoch');
  const timeZone = input.timeZone ?? defaultZone;
  if (!isValidTimeZone(timeZone)) throw bad('`timeZone` is an IANA time zone name');
  if (typeof input.action !== 'string' || !ACTIONS.has(input.action)) {
    throw bad("`action` is one of 'block', 'review', 'log' or 'takedown'");
  }
  const source = input.source ?? 'upload';
  if (source !== 'upload' && source !== 'recheck') throw bad("`source` is 'upload' or 'recheck'");
  let ledger: IncidentLedgerLink | null = null;
  if (input.ledger) {
    const l = input.ledger;
    if (typeof l.id !== 'string' || typeof l.reference !== 'string' || typeof l.acceptedAt !== 'string') {
      throw bad('`ledger` is the ledger record the incident came from');
    }
    ledger = { id: l.id, reference: l.reference, acceptedAt: l.acceptedAt };
  }
  return {
    id,
    occurredAtMs,
    timeZone,
    utcOffsetMinutes: utcOffsetMinutes(timeZone, occurredAtMs),
    action: input.action,
    evidence: input.evidence ? normalizeEvidenceRef(input.evidence) : null,
    body: {
      route: clip(input.route, 2000),
      requestId: clip(input.requestId, 200),
      uploader: normalizeUploader(input.uploader),
      file: normalizeFile(input.file, true),
      hashes: normalizeHashes(input.hashes, 'hashes'),
      matches: normalizeMatches(input.matches),
      dryRun: input.dryRun === true,
      source,
      ledger,
    },
  };
}

/** The review event every incident starts its history with. */
export function creationEvent(p: PreparedIncident, atMs: number): ReviewEvent {
  return {
    from: null,
    to: 'new',
    actor: 'hashgate',
    at: iso(atMs),
    reason: p.body.source === 'recheck' ? 'matched on ledger re-check' : 'matched on upload',
    reportReference: null,
  };
}

/** Builds the public {@link Incident} from stored columns and history. */
export function incidentFromRow(row: IncidentRowData, history: readonly ReviewEvent[]): Incident {
  const b = row.body;
  return {
    id: row.id,
    source: b.source,
    occurredAt: iso(row.occurredAtMs),
    timeZone: row.timeZone,
    utcOffsetMinutes: row.utcOffsetMinutes,
    localTime: localIsoTime(row.occurredAtMs, row.utcOffsetMinutes),
    route: b.route,
    requestId: b.requestId,
    uploader: b.uploader,
    file: b.file,
    hashes: b.hashes,
    matches: b.matches,
    action: row.action,
    dryRun: b.dryRun,
    evidence: row.evidence,
    ledger: b.ledger,
    state: row.state,
    stateChangedAt: iso(row.stateChangedAtMs),
    reportReference: row.reportReference,
    legalHoldUntil: row.legalHoldUntilMs === null ? null : iso(row.legalHoldUntilMs),
    evidenceViewed: row.evidenceViewed,
    history,
  };
}

/** Distinct names of the lists an incident matched, sorted. */
export function listNames(matches: readonly IncidentMatch[]): string[] {
  return [...new Set(matches.map((m) => m.list))].sort();
}

/** The webhook payload of an outbox event: ids, states and list names only, never hashes. */
export function webhookPayload(
  type: OutboxEventType,
  atMs: number,
  incident: { id: string; action: IncidentAction; body: IncidentBody },
  state: ReviewState,
  previousState: ReviewState | null,
): WebhookPayload {
  return {
    id: newId('evt'),
    type,
    occurredAt: iso(atMs),
    incident: {
      id: incident.id,
      state,
      previousState,
      action: incident.action,
      source: incident.body.source,
      dryRun: incident.body.dryRun,
      lists: listNames(incident.body.matches),
    },
  };
}

/** A validated ledger record, ready to insert. */
export interface PreparedLedgerRecord {
  readonly id: string;
  readonly acceptedAtMs: number;
  readonly reference: string;
  readonly body: Omit<LedgerRecord, 'id' | 'seq' | 'acceptedAt' | 'reference' | 'incidentId'>;
  /** Exact hashes to index: type and raw bytes. */
  readonly exact: readonly { type: string; hash: Buffer }[];
  /** 256-bit perceptual hashes: type and the variants concatenated (`orig` first). */
  readonly perceptual: readonly { type: string; hashes: Buffer }[];
}

const EXACT_TYPES = new Set(['md5', 'sha1', 'sha256']);
const PERCEPTUAL_TYPES = new Set(['pdq', 'blockhash']);
const DIHEDRAL_ORDER = [
  'orig',
  'rot90',
  'rot180',
  'rot270',
  'flipx',
  'flipy',
  'flipplus1',
  'flipminus1',
] as const;

/**
 * A ledger row holds every perceptual hash of one type: groups of 8 (a hash and its 7 dihedral
 * variants, `orig` first) when the upload's hashes have variants, else groups of 1. A row of 8 or
 * more hashes is read in groups of 8. At most this many hashes per type are kept.
 */
export const LEDGER_MAX_PERCEPTUAL_HASHES = 16;

/** The dihedral variant (index into the 8) and the group of the `index`-th hash of a ledger row of `count` hashes. */
export function ledgerHashPosition(index: number, count: number): { variant: number; group: number } {
  return count >= 8 ? { variant: index % 8, group: Math.floor(index / 8) } : { variant: 0, group: index };
}

/** Validates a ledger record and splits its hashes into the exact and perceptual lookup tables. */
export function prepareLedgerRecord(input: NewLedgerRecord, nowMs: number): PreparedLedgerRecord {
  if (typeof input !== 'object' || input === null) throw bad('A ledger record is an object');
  if (typeof input.reference !== 'string' || input.reference.length === 0 || input.reference.length > 2000) {
    throw bad("A ledger record needs the host's storage `reference` (at most 2000 characters)");
  }
  const acceptedAtMs = input.acceptedAt === undefined ? nowMs : toMs(input.acceptedAt);
  if (!Number.isFinite(acceptedAtMs)) throw bad('`acceptedAt` is a Date or milliseconds since the epoch');
  const hashes = normalizeHashes(input.hashes, 'hashes');
  const exact: { type: string; hash: Buffer }[] = [];
  // One row per perceptual type: the hashes of the whole image, then those of its trimmed
  // content, each with its variants when it has them (see LEDGER_GROUP_WITH_VARIANTS).
  const perceptualParts = new Map<string, Buffer[]>();
  for (const h of hashes) {
    if (EXACT_TYPES.has(h.type)) exact.push({ type: h.type, hash: Buffer.from(h.hex, 'hex') });
    else if (PERCEPTUAL_TYPES.has(h.type) && h.hex.length === 64) {
      const parts = perceptualParts.get(h.type) ?? [];
      if (parts.length >= LEDGER_MAX_PERCEPTUAL_HASHES) continue;
      parts.push(Buffer.from(h.hex, 'hex'));
      if (h.variants) for (const v of DIHEDRAL_ORDER.slice(1)) parts.push(Buffer.from(h.variants[v], 'hex'));
      perceptualParts.set(h.type, parts);
    }
  }
  const perceptual = [...perceptualParts].map(([type, parts]) => ({ type, hashes: Buffer.concat(parts) }));
  return {
    id: newLedgerId(nowMs),
    acceptedAtMs,
    reference: input.reference,
    body: {
      route: clip(input.route, 2000),
      requestId: clip(input.requestId, 200),
      uploader: normalizeUploader(input.uploader),
      file: normalizeFile(input.file, false),
      // the variants live in the perceptual table as bytes; the JSON keeps each hash once
      hashes: hashes.map(({ variants: _variants, ...rest }) => rest),
    },
    exact,
    perceptual,
  };
}
