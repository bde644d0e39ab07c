/**
 * Owns the stable error codes of the incident store, the audit log, the outbox, the ledger and the
 * evidence vault until they are merged into `src/errors.ts` and docs/errors.md.
 */

import { type ErrorCode, HashgateError } from '../errors';

/**
 * Error codes raised by `src/incidents` and `src/evidence`. Like every hashgate code they are
 * stable and never reused. Messages never contain hashes, file contents or evidence bytes.
 */
export const IncidentErrorCodes = {
  /** No incident (or allowlist entry, or evidence) with the given id exists. */
  NOT_FOUND: 'ERR_HASHGATE_INCIDENT_NOT_FOUND',
  /** A review transition that the state machine does not allow (for example `dismissed` -> `reported`). */
  INVALID_TRANSITION: 'ERR_HASHGATE_INCIDENT_INVALID_TRANSITION',
  /** An argument to a store method is malformed (missing reason, bad id, wrong type). */
  INVALID_INPUT: 'ERR_HASHGATE_INCIDENT_INVALID_INPUT',
  /** An incident with the same id already exists. */
  DUPLICATE: 'ERR_HASHGATE_INCIDENT_DUPLICATE',
  /** The second approval of an allowlist entry came from the reviewer who proposed it. */
  SAME_REVIEWER: 'ERR_HASHGATE_ALLOWLIST_SAME_REVIEWER',
  /** An allowlist entry is not in a state that allows the change (approve an active or revoked entry). */
  ALLOWLIST_STATE: 'ERR_HASHGATE_ALLOWLIST_STATE',
  /** The database could not be opened, migrated, read or written. */
  STORE_FAILED: 'ERR_HASHGATE_STORE_FAILED',
  /** The database schema is newer than this version of hashgate knows. */
  SCHEMA_TOO_NEW: 'ERR_HASHGATE_STORE_SCHEMA_TOO_NEW',
  /** The store has been closed. */
  STORE_CLOSED: 'ERR_HASHGATE_STORE_CLOSED',
  /** The audit chain failed verification (an edited, deleted, inserted or reordered record). */
  AUDIT_CHAIN_BROKEN: 'ERR_HASHGATE_AUDIT_CHAIN_BROKEN',
  /** An evidence key is missing or malformed (not base64 of 32 bytes, bad key id). */
  EVIDENCE_KEY_INVALID: 'ERR_HASHGATE_EVIDENCE_KEY_INVALID',
  /** Evidence was encrypted under a key id that is not in the key ring. */
  EVIDENCE_KEY_UNKNOWN: 'ERR_HASHGATE_EVIDENCE_KEY_UNKNOWN',
  /** The key loaded under the evidence's key id is not the key it was encrypted with. */
  EVIDENCE_WRONG_KEY: 'ERR_HASHGATE_EVIDENCE_WRONG_KEY',
  /** An evidence file failed authentication: it was modified, truncated or belongs to another incident. */
  EVIDENCE_TAMPERED: 'ERR_HASHGATE_EVIDENCE_TAMPERED',
  /** Evidence for this incident already exists (evidence is never overwritten). */
  EVIDENCE_EXISTS: 'ERR_HASHGATE_EVIDENCE_EXISTS',
  /** Reading or writing an evidence file failed (disk full, permissions, missing file). */
  EVIDENCE_IO: 'ERR_HASHGATE_EVIDENCE_IO',
  /** The evidence is under legal hold (or its incident is still open) and may not be deleted. */
  EVIDENCE_HELD: 'ERR_HASHGATE_EVIDENCE_HELD',
} as const;

/** One of the incident and evidence error codes. */
export type IncidentErrorCode = (typeof IncidentErrorCodes)[keyof typeof IncidentErrorCodes];

/**
 * Creates a {@link HashgateError} with an incident or evidence code. The cast is temporary: once the
 * codes are merged into `ErrorCodes` it goes away.
 */
export function incidentError(code: IncidentErrorCode, message: string, cause?: unknown): HashgateError {
  return new HashgateError(
    code as unknown as ErrorCode,
    message,
    cause === undefined ? undefined : { cause },
  );
}

/** Wraps a driver error (SQLite, PostgreSQL) as `ERR_HASHGATE_STORE_FAILED`, keeping hashgate errors as they are. */
export function storeFailure(what: string, err: unknown): Error {
  if (err instanceof HashgateError) return err;
  const code = (err as { code?: unknown } | null)?.code;
  const detail = typeof code === 'string' ? ` (${code})` : '';
  return incidentError(IncidentErrorCodes.STORE_FAILED, `The incident store could not ${what}${detail}`, err);
}
