/**
 * Owns every stable error code, grouped by the part of hashgate that raises it. Codes are never
 * reused or renamed; docs/errors.md explains each one (meaning, likely cause, fix).
 */

/**
 * Error codes of the hashing engine and of option parsing. Codes are never reused or renamed;
 * docs/errors.md explains each one (meaning, likely cause, fix).
 */
export const CoreErrorCodes = {
  /** An option passed to a hashgate factory or command is invalid. */
  INVALID_OPTION: 'ERR_HASHGATE_INVALID_OPTION',
  /** A hex string is not a valid hash of the named type. */
  INVALID_HASH: 'ERR_HASHGATE_INVALID_HASH',
  /** Input is larger than the configured byte limit. */
  INPUT_TOO_LARGE: 'ERR_HASHGATE_INPUT_TOO_LARGE',
  /** The file could not be read from disk. */
  READ_FAILED: 'ERR_HASHGATE_READ_FAILED',
  /** Pixel data handed to a hash function has the wrong shape (channels, length). */
  INVALID_PIXELS: 'ERR_HASHGATE_INVALID_PIXELS',
  /** The worker pool is closed, or a worker failed in a way that was not the input's fault. */
  WORKER_FAILED: 'ERR_HASHGATE_WORKER_FAILED',
  /** The worker pool has been closed and takes no more work. */
  POOL_CLOSED: 'ERR_HASHGATE_POOL_CLOSED',
  /** The body code of the response to a blocked upload (the response reveals nothing else). */
  UPLOAD_BLOCKED: 'ERR_HASHGATE_UPLOAD_BLOCKED',
  /** The body code of the 503 response to an upload that could not be checked under `whenUnavailable: 'reject'`. */
  UPLOAD_UNCHECKED: 'ERR_HASHGATE_UPLOAD_UNCHECKED',
  /** `ready()` found a list that could not be loaded. */
  NOT_READY: 'ERR_HASHGATE_NOT_READY',
  /** The hashgate instance was closed. */
  CLOSED: 'ERR_HASHGATE_CLOSED',
} as const;

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

/** Every stable hashgate error code, by name. */
export const ErrorCodes = {
  ...CoreErrorCodes,
  ...ListErrorCodes,
  ...MatchingErrorCodes,
  ...IncidentErrorCodes,
} as const;

/** One of the stable hashgate error codes. */
export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];
