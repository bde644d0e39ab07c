/**
 * Owns the shapes of the incident subsystem: incidents and their review history, allowlist
 * entries, audit records, outbox events and ledger records, as every store reads and writes them.
 */

import type { ComputedHash, DihedralVariant } from '../hashing/outcome';

/**
 * Review state of an incident:
 * - `new`: recorded, nobody has decided yet
 * - `confirmed`: a reviewer confirmed the match
 * - `reported`: reported to a hotline or authority (carries the report's reference); evidence is under legal hold
 * - `dismissed`: a false positive (optionally allowlisted)
 */
export type ReviewState = 'new' | 'confirmed' | 'reported' | 'dismissed';

/** All review states, in workflow order. */
export const REVIEW_STATES: readonly ReviewState[] = ['new', 'confirmed', 'reported', 'dismissed'];

/**
 * What hashgate did about the upload: `block` (refused and quarantined), `review` (stored and
 * flagged), `log` (stored, recorded only) or `takedown` (already hosted content found by a ledger
 * re-check; the host was asked to take it down).
 */
export type IncidentAction = 'block' | 'review' | 'log' | 'takedown';

/** Where an incident came from: a scanned upload, or a re-check of the ledger after a list update. */
export type IncidentSource = 'upload' | 'recheck';

/** Who uploaded the file. Every field may be unknown (null). */
export interface IncidentUploader {
  /** User id from the host's `uploaderId` callback. */
  readonly userId: string | null;
  /** Client IP address as the host sees it (after its proxy configuration). */
  readonly ip: string | null;
  /** Client source port (hotlines ask for it behind carrier-grade NAT). */
  readonly port: number | null;
  /** The `User-Agent` request header. */
  readonly userAgent: string | null;
}

/** What was uploaded (never the bytes: those are the evidence). */
export interface IncidentFile {
  /** File name as the client sent it. */
  readonly originalName: string | null;
  /** MIME type the client declared. */
  readonly declaredType: string | null;
  /** Format sniffed from the bytes (`jpeg`, `png`, ..., `unknown`). */
  readonly sniffedType: string | null;
  /** Size in bytes. */
  readonly size: number;
}

/** One match of an upload's hash against a list entry. */
export interface IncidentMatch {
  /** List name. */
  readonly list: string;
  /** List version that matched. */
  readonly listVersion: number;
  /** Entry id as the list publishes it. */
  readonly entryId: string;
  /** Entry category (`default` when the list gives none). */
  readonly category: string;
  /** Hash type that matched (`md5`, `pdq`, ...). */
  readonly hashType: string;
  /** 0 for exact types; Hamming distance in bits for perceptual ones. */
  readonly distance: number;
  /** For PDQ: the dihedral variant of the upload that matched. */
  readonly variant: DihedralVariant | null;
  /** Quality of the upload's perceptual hash (PDQ), when known. */
  readonly quality: number | null;
}

/** Where an incident's encrypted evidence is and which key encrypted it. */
export interface EvidenceRef {
  /** Evidence id (the incident id: one evidence file per incident). */
  readonly id: string;
  /** Id of the key that encrypted it. */
  readonly keyId: string;
  /** Size of the original bytes. */
  readonly size: number;
  /** When it was stored (ISO 8601, UTC). */
  readonly storedAt: string;
}

/** The evidence of a stored incident, with its deletion time once the retention sweep removed it. */
export interface IncidentEvidence extends EvidenceRef {
  /** When the retention sweep deleted it (ISO 8601), or null while it exists. */
  readonly deletedAt: string | null;
}

/** The ledger record an incident raised by a re-check refers to. */
export interface IncidentLedgerLink {
  /** Ledger record id. */
  readonly id: string;
  /** The host's reference to where the content is stored. */
  readonly reference: string;
  /** When the upload was accepted (ISO 8601). */
  readonly acceptedAt: string;
}

/** An incident to record. Everything except `file`, `hashes`, `matches` and `action` is optional. */
export interface NewIncident {
  /**
   * Incident id from `newIncidentId()`; generate it first when evidence is stored before the
   * incident (the evidence is bound to the id). @default a new random id
   */
  readonly id?: string;
  /** When the upload happened. @default the store's clock */
  readonly occurredAt?: Date | number;
  /** IANA time zone of the server. @default the store's `timeZone` */
  readonly timeZone?: string;
  /** Route (path pattern) of the upload, e.g. `POST /avatars`. */
  readonly route?: string | null;
  /** The host's request id. */
  readonly requestId?: string | null;
  readonly uploader?: Partial<IncidentUploader>;
  readonly file: Partial<IncidentFile> & { readonly size: number };
  /** Every hash of the upload with how it was made. */
  readonly hashes: readonly ComputedHash[];
  /** Every match. */
  readonly matches: readonly IncidentMatch[];
  readonly action: IncidentAction;
  /** The match came from a dry-run list: recorded, nothing was blocked. @default false */
  readonly dryRun?: boolean;
  /** Evidence written for this incident. */
  readonly evidence?: EvidenceRef | null;
  /** @default 'upload' */
  readonly source?: IncidentSource;
  /** For re-check incidents: the ledger record that matched (the store links the record to the incident). */
  readonly ledger?: IncidentLedgerLink | null;
}

/** One entry of an incident's review history (the first is its creation). */
export interface ReviewEvent {
  /** State before, or null for the creation. */
  readonly from: ReviewState | null;
  readonly to: ReviewState;
  /** Reviewer id (`hashgate` for the creation). */
  readonly actor: string;
  /** ISO 8601, UTC. */
  readonly at: string;
  /** Why. */
  readonly reason: string;
  /** For `reported`: the hotline's report reference. */
  readonly reportReference: string | null;
}

/** A recorded incident. */
export interface Incident {
  /** Opaque random id (safe to show to the uploader). */
  readonly id: string;
  readonly source: IncidentSource;
  /** When it happened, ISO 8601 in UTC with milliseconds. */
  readonly occurredAt: string;
  /** IANA zone of the server. */
  readonly timeZone: string;
  /** Offset of that zone from UTC at `occurredAt`, in minutes. */
  readonly utcOffsetMinutes: number;
  /** `occurredAt` as local time of `timeZone` with its offset, e.g. `2025-03-01T13:00:00.000+01:00`. */
  readonly localTime: string;
  readonly route: string | null;
  readonly requestId: string | null;
  readonly uploader: IncidentUploader;
  readonly file: IncidentFile;
  readonly hashes: readonly ComputedHash[];
  readonly matches: readonly IncidentMatch[];
  readonly action: IncidentAction;
  readonly dryRun: boolean;
  readonly evidence: IncidentEvidence | null;
  readonly ledger: IncidentLedgerLink | null;
  /** Current review state. */
  readonly state: ReviewState;
  /** When the state last changed (ISO 8601). */
  readonly stateChangedAt: string;
  /** The report reference once `reported`. */
  readonly reportReference: string | null;
  /** Evidence may not be deleted before this time (ISO 8601), or null without a hold. */
  readonly legalHoldUntil: string | null;
  /** True once a person viewed the evidence (the original file); exports alone do not set it. */
  readonly evidenceViewed: boolean;
  /** Review history, oldest first, starting with the creation. */
  readonly history: readonly ReviewEvent[];
}

/** Filter for listing incidents. */
export interface IncidentQuery {
  /** Incidents that occurred at or after this time. */
  readonly from?: Date | number;
  /** Incidents that occurred before this time. */
  readonly to?: Date | number;
  /** Only these states. */
  readonly states?: readonly ReviewState[];
  /** At most this many. @default 1000 */
  readonly limit?: number;
  /** Continue after this incident (keyset pagination in `occurredAt`, `id` order). */
  readonly after?: { readonly occurredAt: string; readonly id: string };
}

/** Dismissing with an allowlist: which of the incident's hashes to allowlist. */
export interface AllowlistRequest {
  /** Hash types to allowlist. @default the types that matched */
  readonly types?: readonly string[];
}

/** A request to move an incident to another review state. */
export interface TransitionRequest {
  readonly to: ReviewState;
  /** Reviewer id. */
  readonly actor: string;
  /** Why (required: every transition records its reason). */
  readonly reason: string;
  /** Required for `reported`: the hotline's report reference. */
  readonly reportReference?: string;
  /** Only for `dismissed`: add the incident's hashes to the local allowlist with the reason. */
  readonly allowlist?: boolean | AllowlistRequest;
}

/** `pending` (waits for a second reviewer), `active` (overrides every list) or `revoked`. */
export type AllowlistStatus = 'pending' | 'active' | 'revoked';

/** A hash a reviewer declared a false positive. Only `active` entries override lists. */
export interface AllowlistEntry {
  readonly id: string;
  readonly type: string;
  /** Lower-case hex. */
  readonly hex: string;
  readonly status: AllowlistStatus;
  readonly reason: string;
  /** The dismissed incident it came from. */
  readonly incidentId: string | null;
  readonly proposedBy: string;
  readonly proposedAt: string;
  readonly approvedBy: string | null;
  readonly approvedAt: string | null;
  readonly revokedBy: string | null;
  readonly revokedAt: string | null;
  readonly revokeReason: string | null;
}

/** Kinds of audit records hashgate writes. Hosts may append their own kinds (lower-case, dotted). */
export type AuditEventType =
  | 'incident.created'
  | 'incident.viewed'
  | 'incident.state_changed'
  | 'incident.legal_hold_set'
  | 'incident.legal_hold_lifted'
  | 'evidence.stored'
  | 'evidence.viewed'
  | 'evidence.exported'
  | 'evidence.deleted'
  | 'allowlist.added'
  | 'allowlist.approved'
  | 'allowlist.revoked'
  | 'list.version_changed'
  | 'export.incidents'
  | 'export.report'
  | 'ledger.rechecked';

/** A JSON value as audit details hold them. */
export type JsonValue =
  | null
  | boolean
  | number
  | string
  | readonly JsonValue[]
  | { readonly [key: string]: JsonValue };

/** A record to append to the audit log. */
export interface AuditInput {
  readonly type: AuditEventType | (string & {});
  /** Who did it (a reviewer id, `hashgate`, `cli:<user>`, ...). */
  readonly actor: string;
  readonly incidentId?: string | null;
  /** Small JSON details (no evidence bytes). */
  readonly details?: { readonly [key: string]: JsonValue };
}

/** One record of the hash-chained audit log. */
export interface AuditRecord {
  /** Position in the chain, from 1. */
  readonly seq: number;
  /** ISO 8601, UTC. */
  readonly at: string;
  readonly type: string;
  readonly actor: string;
  readonly incidentId: string | null;
  readonly details: { readonly [key: string]: JsonValue };
  /** SHA-256 (hex) of the previous record's canonical form; 64 zeros for the first. */
  readonly prevHash: string;
  /** SHA-256 (hex) of this record's canonical form. */
  readonly hash: string;
}

/** The last record of the chain as the store's head row says (seq 0 and the zero hash when empty). */
export interface AuditHead {
  readonly seq: number;
  readonly hash: string;
}

/** What `verifyAuditChain()` found. `position` is the 1-based chain position of the first bad record. */
export type AuditVerification =
  | { readonly ok: true; readonly records: number; readonly head: AuditHead }
  | {
      readonly ok: false;
      /** Records that verified before the first bad one. */
      readonly records: number;
      readonly position: number;
      readonly problem: 'edited' | 'missing' | 'broken-link' | 'out-of-order' | 'truncated' | 'head-mismatch';
      /** What went wrong, in words (no record contents). */
      readonly message: string;
    };

/** Kinds of outbox events (one webhook delivery each). */
export type OutboxEventType = 'incident.created' | 'incident.state_changed';

/**
 * The body of a webhook: the incident id, its state and the names of the lists that matched;
 * never hashes, entry ids or other match details.
 */
export interface WebhookPayload {
  /** Event id; also the `Idempotency-Key` header. */
  readonly id: string;
  readonly type: OutboxEventType;
  /** When the change happened (ISO 8601). */
  readonly occurredAt: string;
  readonly incident: {
    readonly id: string;
    readonly state: ReviewState;
    readonly previousState: ReviewState | null;
    readonly action: IncidentAction;
    readonly source: IncidentSource;
    readonly dryRun: boolean;
    /** Names of the lists that matched. */
    readonly lists: readonly string[];
  };
}

/** An event in the outbox. */
export interface OutboxEvent {
  /** Event id (the idempotency key). */
  readonly id: string;
  /** Order of creation within the store. */
  readonly seq: number;
  readonly type: OutboxEventType;
  readonly incidentId: string;
  /** ISO 8601. */
  readonly createdAt: string;
  readonly payload: WebhookPayload;
  /** Delivery rounds tried so far. */
  readonly attempts: number;
  /** Not tried again before this time (ISO 8601). */
  readonly nextAttemptAt: string;
  /** When every endpoint acknowledged it (ISO 8601), or null while pending. */
  readonly deliveredAt: string | null;
  /** Names of the endpoints that acknowledged it. */
  readonly deliveredTo: readonly string[];
  /** Short reason of the last failure (status code or network error code; never a body). */
  readonly lastError: string | null;
}

/** The outcome of one delivery round of one claimed event. */
export interface OutboxSettlement {
  /** Endpoints that acknowledged the event in this round. */
  readonly deliveredTo: readonly string[];
  /** True when every endpoint has now acknowledged it. */
  readonly done: boolean;
  /** When to try again (ms since the epoch) when not done. */
  readonly nextAttemptAt?: number;
  /** Short failure reason when not done. */
  readonly error?: string;
}

/** An upload that was allowed, to re-check when lists gain entries. */
export interface NewLedgerRecord {
  /** The host's reference to where it stored the content (object key, path, URL). */
  readonly reference: string;
  /** When it was accepted. @default the store's clock */
  readonly acceptedAt?: Date | number;
  readonly route?: string | null;
  readonly requestId?: string | null;
  readonly uploader?: Partial<IncidentUploader>;
  readonly file?: Partial<IncidentFile>;
  /** The hashes the scan computed (PDQ with its dihedral variants, when computed). */
  readonly hashes: readonly ComputedHash[];
}

/** A ledger record as stored. */
export interface LedgerRecord {
  readonly id: string;
  /** Store order. */
  readonly seq: number;
  readonly reference: string;
  readonly acceptedAt: string;
  readonly route: string | null;
  readonly requestId: string | null;
  readonly uploader: IncidentUploader;
  readonly file: IncidentFile;
  readonly hashes: readonly ComputedHash[];
  /** The incident a re-check raised for it, or null. */
  readonly incidentId: string | null;
}

/** A ledger record whose exact hash equals one of the queried values. */
export interface LedgerExactHit {
  readonly seq: number;
  readonly type: string;
  readonly hex: string;
}

/**
 * A page of perceptual hashes from the ledger, in store order: record `i` has seq `seqs[i]` and
 * its hashes in `hashes[i]` (32 bytes per variant, `orig` first, then the other dihedral variants
 * in {@link DIHEDRAL_VARIANTS} order when they were computed).
 */
export interface LedgerPerceptualPage {
  readonly seqs: readonly number[];
  readonly hashes: readonly Uint8Array[];
}

/** An incident whose evidence is past retention, not held and whose review is closed. */
export interface EvidenceDue {
  readonly incidentId: string;
  readonly evidence: EvidenceRef;
}
