/**
 * Owns the error helper of the incident store, the audit log, the outbox, the ledger and the
 * evidence vault; the codes are in src/error-codes.ts.
 */

import { IncidentErrorCodes } from '../error-codes';
import { HashgateError } from '../errors';

export { IncidentErrorCodes } from '../error-codes';

/** One of the incident and evidence error codes. */
export type IncidentErrorCode = (typeof IncidentErrorCodes)[keyof typeof IncidentErrorCodes];

/** Creates a {@link HashgateError} with an incident or evidence code. */
export function incidentError(code: IncidentErrorCode, message: string, cause?: unknown): HashgateError {
  return new HashgateError(code, message, cause === undefined ? undefined : { cause });
}

/** Wraps a driver error (SQLite, PostgreSQL) as `ERR_HASHGATE_STORE_FAILED`, keeping hashgate errors as they are. */
export function storeFailure(what: string, err: unknown): Error {
  if (err instanceof HashgateError) return err;
  const code = (err as { code?: unknown } | null)?.code;
  const detail = typeof code === 'string' ? ` (${code})` : '';
  return incidentError(IncidentErrorCodes.STORE_FAILED, `The incident store could not ${what}${detail}`, err);
}
