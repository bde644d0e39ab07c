/**
 * Owns the error codes of the match index until they are merged into `src/errors.ts`; every error
 * is still a {@link HashgateError}, so `isHashgateError()` and `err.code` work as everywhere else.
 */

import { type ErrorCode, HashgateError } from '../errors';

/**
 * Stable codes the match index throws. To be merged into `ErrorCodes` in `src/errors.ts` (and
 * documented in docs/errors.md); the values will not change when that happens.
 */
export const MatchingErrorCodes = {
  /** A query was malformed: a hash of the wrong length for its type, or a radius outside 0..256. */
  INVALID_QUERY: 'ERR_HASHGATE_INVALID_QUERY',
  /** A list snapshot handed to the index builder is inconsistent (column lengths, hash sizes, categories). */
  INVALID_SNAPSHOT: 'ERR_HASHGATE_INVALID_SNAPSHOT',
  /** More entries of one hash type, or more lists, than one index can address. */
  INDEX_TOO_LARGE: 'ERR_HASHGATE_INDEX_TOO_LARGE',
  /** Building an index failed for a reason that is not the snapshot's fault (the build worker died, no worker script). */
  INDEX_BUILD_FAILED: 'ERR_HASHGATE_INDEX_BUILD_FAILED',
} as const;

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
  // The cast goes away once these codes are part of ErrorCodes in src/errors.ts.
  return new HashgateError(code as unknown as ErrorCode, message, options);
}
