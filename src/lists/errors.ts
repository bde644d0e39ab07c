/**
 * Owns the error helpers of the list subsystem (protocol, sync, cache, publisher, server); the codes
 * themselves are in src/error-codes.ts.
 */

import { ListErrorCodes } from '../error-codes';
import { HashgateError } from '../errors';

export { ListErrorCodes } from '../error-codes';

/** One of the list error codes. */
export type ListErrorCode = (typeof ListErrorCodes)[keyof typeof ListErrorCodes];

/** Creates a {@link HashgateError} with a list error code. */
export function listError(code: ListErrorCode, message: string, cause?: unknown): HashgateError {
  return new HashgateError(code, message, cause === undefined ? undefined : { cause });
}

/** The code of a hashgate error, or a generic fallback for anything else. */
export function errorCodeOf(err: unknown): string {
  const code: unknown = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('ERR_HASHGATE_') ? code : ListErrorCodes.INTERNAL;
}
