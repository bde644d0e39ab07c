/**
 * Owns the stable error codes of the list subsystem (protocol, sync, cache, publisher, server)
 * until they are merged into src/errors.ts and docs/errors.md.
 */

import { type ErrorCode, HashgateError } from '../errors';

/**
 * Error codes raised or reported by `src/lists`. Like every hashgate code they are stable and
 * never reused. Messages never contain hashes or list contents.
 */
export const ListErrorCodes = {
  /** The manifest is not JSON, or not a valid hashgate list manifest v1. */
  MANIFEST_INVALID: 'ERR_HASHGATE_LIST_MANIFEST_INVALID',
  /** No signature by a trusted key verifies over the manifest bytes (or the signature file is malformed). */
  SIGNATURE_INVALID: 'ERR_HASHGATE_LIST_SIGNATURE_INVALID',
  /** The manifest names a different list than the one configured. */
  NAME_MISMATCH: 'ERR_HASHGATE_LIST_NAME_MISMATCH',
  /** The manifest's version is lower than the version already accepted (rollback refused). */
  ROLLBACK: 'ERR_HASHGATE_LIST_ROLLBACK',
  /** A downloaded file's SHA-256 differs from the one the manifest pins. */
  FILE_HASH_MISMATCH: 'ERR_HASHGATE_LIST_FILE_HASH_MISMATCH',
  /** A downloaded file's size differs from the one the manifest declares. */
  FILE_SIZE_MISMATCH: 'ERR_HASHGATE_LIST_FILE_SIZE_MISMATCH',
  /** A response body ended early or the connection closed in the middle of it. */
  TRUNCATED: 'ERR_HASHGATE_LIST_TRUNCATED',
  /** A response (or a decompressed file) is larger than the configured limit. */
  TOO_LARGE: 'ERR_HASHGATE_LIST_TOO_LARGE',
  /** A request took longer than `requestTimeoutMs` (to headers or between body chunks). */
  TIMEOUT: 'ERR_HASHGATE_LIST_TIMEOUT',
  /** The list server answered with an unexpected HTTP status (5xx, 404, ...). */
  HTTP_STATUS: 'ERR_HASHGATE_LIST_HTTP_STATUS',
  /** The request failed at the network level (connection refused, reset, DNS). */
  FETCH_FAILED: 'ERR_HASHGATE_LIST_FETCH_FAILED',
  /** A plain-http URL was used (or redirected to) for a host that is not loopback. */
  INSECURE_URL: 'ERR_HASHGATE_LIST_INSECURE_URL',
  /** A snapshot or delta file is not valid gzip, or its entry lines contradict the manifest. */
  FILE_INVALID: 'ERR_HASHGATE_LIST_FILE_INVALID',
  /** The persisted copy of a list is unreadable, fails verification or belongs to another list. */
  CACHE_INVALID: 'ERR_HASHGATE_LIST_CACHE_INVALID',
  /** Writing the persisted copy of a list failed (the previous copy is kept). */
  CACHE_WRITE_FAILED: 'ERR_HASHGATE_LIST_CACHE_WRITE_FAILED',
  /** A local list file could not be read. */
  SOURCE_READ_FAILED: 'ERR_HASHGATE_LIST_SOURCE_READ_FAILED',
  /** A key file or key string is not an Ed25519 key in a supported form. */
  KEY_INVALID: 'ERR_HASHGATE_LIST_KEY_INVALID',
  /** Publishing a list version failed (bad input, existing list of another name, I/O). */
  PUBLISH_FAILED: 'ERR_HASHGATE_LIST_PUBLISH_FAILED',
  /** An input needs a capability that is not available yet (image inputs need the hashing engine). */
  UNSUPPORTED_INPUT: 'ERR_HASHGATE_LIST_UNSUPPORTED_INPUT',
  /** The sync was stopped while a request was in flight. */
  ABORTED: 'ERR_HASHGATE_LIST_ABORTED',
  /** An unexpected error inside the list subsystem (a bug); the last good list is kept. */
  INTERNAL: 'ERR_HASHGATE_LIST_INTERNAL',
} as const;

/** One of the list error codes. */
export type ListErrorCode = (typeof ListErrorCodes)[keyof typeof ListErrorCodes];

/**
 * Creates a {@link HashgateError} with a list error code. The cast is temporary: once the codes
 * are merged into `ErrorCodes` it goes away.
 */
export function listError(code: ListErrorCode, message: string, cause?: unknown): HashgateError {
  return new HashgateError(
    code as unknown as ErrorCode,
    message,
    cause === undefined ? undefined : { cause },
  );
}

/** The code of a hashgate error, or a generic fallback for anything else. */
export function errorCodeOf(err: unknown): string {
  const code: unknown = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('ERR_HASHGATE_') ? code : ListErrorCodes.INTERNAL;
}
