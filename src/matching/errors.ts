/**
 * Owns the error helper of the match index; the codes are in src/error-codes.ts. Every error is a
 * {@link HashgateError}, so `isHashgateError()` and `err.code` work as everywhere else.
 */

import type { MatchingErrorCodes } from '../error-codes';
import { HashgateError } from '../errors';

export { MatchingErrorCodes } from '../error-codes';

/** One of the match index's error codes. */
export type MatchingErrorCode = (typeof MatchingErrorCodes)[keyof typeof MatchingErrorCodes];

/**
 * Creates a {@link HashgateError} with one of the match index's codes. Messages must never contain
 * hashes, list contents or entry ids.
 */
export function matchingError(
  code: MatchingErrorCode,
  message: string,
  options?: { cause?: unknown },
): HashgateError {
  return new HashgateError(code, message, options);
}
