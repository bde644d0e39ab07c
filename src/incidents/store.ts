/**
 * Owns the `IncidentStore` interface: everything hashgate persists about incidents (review,
 * allowlist, audit chain, outbox, ledger, evidence bookkeeping), documented so that a host can
 * write its own store. docs/incident-store.md explains the guarantees each method must keep.
 */

import type {
  AllowlistEntry,
  AllowlistStatus,
  AuditHead,
  AuditInput,
  AuditRecord,
  AuditVerification,
  EvidenceDue,
  EvidenceRef,
  Incident,
  IncidentQuery,
  LedgerExactHit,
  LedgerPerceptualPage,
  LedgerRecord,
  NewIncident,
  NewLedgerRecord,
  OutboxEvent,
  OutboxSettlement,
  TransitionRequest,
} from './types';

/** Who did something and why, for methods that write an audit record. */
export interface AuditedAction {
  /** Reviewer or operator id. */
  readonly actor: string;
  /** Why (optional where the action explains itself). */
  readonly reason?: string;
}

/**
 * Persistence of incidents and everything around them. hashgate ships a SQLite store (the
 * embedded default, {@link createSqliteStore}) and a PostgreSQL store ({@link createPostgresStore});
 * both pass the same contract test suite, and a host's own store must keep the same guarantees:
 *
 * - **Atomicity.** Every method that changes state does so in one transaction together with its
 *   audit record and, for incident creation and review transitions, its outbox event. After a crash
 *   either all of it exists or none of it does.
 * - **Durability.** A method resolves only after its transaction is committed durably.
 * - **One audit chain.** Audit records are appended in one total order (`seq` 1, 2, 3, ...), each
 *   sealed with the SHA-256 of the previous record; appends from several processes serialise.
 * - **Stable errors.** Every failure is a `HashgateError`; see docs/incident-store.md for the codes.
 *
 * All times are milliseconds since the epoch in and ISO 8601 strings out.
 */
export interface IncidentStore {
  /** `sqlite`, `postgres`, or the name of a host's store. */
  readonly kind: string;

  /**
   * Records an incident in state `new`, with its `incident.created` audit record and outbox event,
   * in one transaction. When `ledger` is set, links that ledger record to the incident too.
   * Throws `ERR_HASHGATE_INCIDENT_DUPLICATE` for an id that exists and
   * `ERR_HASHGATE_INCIDENT_INVALID_INPUT` for a malformed incident.
   */
  createIncident(input: NewIncident): Promise<Incident>;

  /** The incident with this id, or undefined. Writes no audit record (for machines, not people). */
  getIncident(id: string): Promise<Incident | undefined>;

  /** The incident with this id for a person to look at: appends `incident.viewed`. Throws `ERR_HASHGATE_INCIDENT_NOT_FOUND`. */
  viewIncident(id: string, action: AuditedAction): Promise<Incident>;

  /** Incidents in `occurredAt`, `id` order, filtered by time and state. */
  listIncidents(query?: IncidentQuery): Promise<Incident[]>;

  /**
   * Moves an incident to another review state (see `REVIEW_TRANSITIONS`) with who, when and why,
   * appending `incident.state_changed` and an outbox event in the same transaction. `reported`
   * needs a `reportReference` and sets a legal hold of at least the store's `reportHoldMs`;
   * `dismissed` may add the incident's hashes to the allowlist. Throws
   * `ERR_HASHGATE_INCIDENT_INVALID_TRANSITION` for a transition the workflow does not allow.
   */
  transition(id: string, request: TransitionRequest): Promise<Incident>;

  /** Sets (or extends; a hold is never shortened; see `liftLegalHold`) the legal hold on an incident's evidence. Appends `incident.legal_hold_set`. */
  setLegalHold(id: string, request: AuditedAction & { readonly until: Date | number }): Promise<Incident>;

  /**
   * Lifts the legal hold on an incident's evidence, with a required reason, appending
   * `incident.legal_hold_lifted` in the same transaction (no outbox event: holds are not review
   * state). The hold becomes none, except on a `reported` incident, whose evidence stays held until
   * `reportedAt + reportHoldMs` (the store option): lifting sets it to exactly that date and never
   * earlier. Once the retention sweep finds the evidence due, it deletes it. Throws
   * `ERR_HASHGATE_INCIDENT_NOT_FOUND` for an unknown id, `ERR_HASHGATE_INCIDENT_INVALID_INPUT`
   * without a reason or when the incident has no hold to lift, and `ERR_HASHGATE_EVIDENCE_HELD`
   * when a reported incident's hold is already the minimum its report imposes.
   */
  liftLegalHold(id: string, request: AuditedAction & { readonly reason: string }): Promise<Incident>;

  /** Attaches evidence to an incident that has none (re-check incidents, after the host fetched the content). Appends `evidence.stored`. */
  attachEvidence(id: string, evidence: EvidenceRef, action: AuditedAction): Promise<Incident>;

  /**
   * Records that a person viewed or exported an incident's evidence (`evidence.viewed` /
   * `evidence.exported`); a view also sets `evidenceViewed` (hotlines ask whether a person saw the
   * file). Call it before handing the bytes out.
   */
  recordEvidenceAccess(
    id: string,
    request: AuditedAction & {
      readonly kind: 'viewed' | 'exported';
      readonly details?: Record<string, string | number | boolean>;
    },
  ): Promise<void>;

  /** Allowlist entries, newest first. @default only `active` entries */
  listAllowlist(query?: { readonly status?: readonly AllowlistStatus[] }): Promise<AllowlistEntry[]>;

  /** Active allowlist entries equal to any of these hashes (type and lower-case hex). The matcher's lookup. */
  findAllowlisted(
    hashes: readonly { readonly type: string; readonly hex: string }[],
  ): Promise<AllowlistEntry[]>;

  /**
   * Second approval of a pending entry (when the store requires two reviewers). Throws
   * `ERR_HASHGATE_ALLOWLIST_SAME_REVIEWER` when the approver proposed it and
   * `ERR_HASHGATE_ALLOWLIST_STATE` unless it is pending. Appends `allowlist.approved`.
   */
  approveAllowlistEntry(id: string, action: AuditedAction): Promise<AllowlistEntry>;

  /** Revokes an entry (pending or active); the hash matches again. Needs a reason. Appends `allowlist.revoked`. */
  revokeAllowlistEntry(
    id: string,
    action: AuditedAction & { readonly reason: string },
  ): Promise<AllowlistEntry>;

  /** Appends a record to the audit chain (list version changes, exports, host events). */
  appendAudit(input: AuditInput): Promise<AuditRecord>;

  /** Audit records with `seq > afterSeq`, in `seq` order. @default afterSeq 0, limit 1000 */
  readAudit(options?: { readonly afterSeq?: number; readonly limit?: number }): Promise<AuditRecord[]>;

  /** The head row: seq and hash of the last record (0 and 64 zeros when empty). */
  auditHead(): Promise<AuditHead>;

  /** Re-hashes the whole chain and reports the first edited, missing or reordered record. */
  verifyAuditChain(): Promise<AuditVerification>;

  /**
   * Claims up to `limit` pending outbox events that are due at `now` and not leased to another
   * owner, leasing them to `owner` until `now + leaseMs`. Safe to call from several processes at
   * once: an event is leased to one owner at a time (PostgreSQL: `FOR UPDATE SKIP LOCKED`).
   */
  claimOutbox(request: {
    readonly owner: string;
    readonly limit: number;
    readonly leaseMs: number;
    readonly now: number;
  }): Promise<OutboxEvent[]>;

  /**
   * Records the outcome of a delivery round of a claimed event and releases the lease. Resolves
   * false (and changes nothing) when the lease was lost to another owner.
   */
  settleOutbox(eventId: string, owner: string, settlement: OutboxSettlement): Promise<boolean>;

  /** Outbox events, oldest first: all of one incident, or only the pending ones. */
  listOutbox(query?: {
    readonly incidentId?: string;
    readonly pending?: boolean;
    readonly limit?: number;
  }): Promise<OutboxEvent[]>;

  /**
   * Evidence the retention sweep may delete: stored before `storedBefore`, not yet deleted, not
   * under legal hold at `now`, and whose incident's review is closed (`dismissed` or `reported`).
   */
  listEvidenceDue(request: {
    readonly storedBefore: number;
    readonly now: number;
    readonly limit: number;
  }): Promise<EvidenceDue[]>;

  /**
   * Marks an incident's evidence deleted and appends `evidence.deleted`. Throws
   * `ERR_HASHGATE_EVIDENCE_HELD` when the evidence is under hold or the incident is still open.
   */
  markEvidenceDeleted(id: string, action: AuditedAction): Promise<void>;

  /** Appends accepted uploads to the ledger (one transaction for the batch). */
  addToLedger(records: readonly NewLedgerRecord[]): Promise<LedgerRecord[]>;

  /** Ledger records whose exact hash of `type` equals one of `hexes` (lower-case hex). */
  findLedgerExact(type: string, hexes: readonly string[]): Promise<LedgerExactHit[]>;

  /** A page of the ledger's perceptual hashes of `type` with `seq > afterSeq`, in seq order. */
  scanLedgerPerceptual(type: string, afterSeq: number, limit: number): Promise<LedgerPerceptualPage>;

  /** Ledger records by seq (in no particular order; unknown seqs are left out). */
  getLedgerRecords(seqs: readonly number[]): Promise<LedgerRecord[]>;

  /** Closes the database (a store given an existing pool leaves the pool open). Further calls throw `ERR_HASHGATE_STORE_CLOSED`. */
  close(): Promise<void>;
}
