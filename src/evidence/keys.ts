/**
 * Owns the evidence key ring: AES-256 keys with ids, loaded from the environment, the current one
 * for new evidence and older ones kept for reading evidence they encrypted (key rotation).
 */

import { createHmac } from 'node:crypto';
import { IncidentErrorCodes, incidentError } from '../incidents/errors';

/** One evidence key. */
export interface EvidenceKey {
  /** Key id recorded in every evidence file it encrypts. */
  readonly id: string;
  /** 32 bytes. */
  readonly key: Buffer;
  /** Short check value that tells a wrong key from tampering, without revealing the key. */
  readonly check: string;
}

/** The keys evidence is encrypted and decrypted with. */
export interface EvidenceKeyRing {
  /** The key new evidence is encrypted with, or null for a read-only ring. */
  readonly current: EvidenceKey | null;
  /** The key with this id, or undefined. */
  get(id: string): EvidenceKey | undefined;
  /** Every key id in the ring. */
  ids(): string[];
}

/** A key as configured: base64 of 32 random bytes (or the bytes), with its id. */
export interface EvidenceKeyInput {
  /** Key id (required for previous keys). @default for the current key, `fp-` and 12 hex digits of a fingerprint */
  readonly id?: string;
  readonly key: string | Uint8Array;
}

/** Environment variable names the key ring is read from. */
export const EVIDENCE_KEY_ENV = Object.freeze({
  /** Base64 of 32 random bytes (`openssl rand -base64 32`): the current key. */
  key: 'HASHGATE_EVIDENCE_KEY',
  /** Id of the current key. @default a fingerprint of the key, `fp-<12 hex>` */
  keyId: 'HASHGATE_EVIDENCE_KEY_ID',
  /** Older keys still needed to read old evidence: `id:base64,id:base64`. */
  previous: 'HASHGATE_EVIDENCE_PREVIOUS_KEYS',
});

const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;

function keyError(message: string): Error {
  return incidentError(IncidentErrorCodes.EVIDENCE_KEY_INVALID, message);
}

/** HMAC of a fixed label under the key: a public check value and a default id, neither revealing the key. */
function keyDigest(key: Buffer, label: string): string {
  return createHmac('sha256', key).update(label).digest('hex');
}

function decodeKey(value: string | Uint8Array, what: string): Buffer {
  let bytes: Buffer;
  if (typeof value === 'string') {
    const s = value.trim();
    if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(s)) throw keyError(`${what} is not base64`);
    bytes = Buffer.from(s.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  } else if (value instanceof Uint8Array) {
    bytes = Buffer.from(value);
  } else {
    throw keyError(`${what} must be base64 text or bytes`);
  }
  if (bytes.length !== 32)
    throw keyError(`${what} must be 32 bytes (base64 of 32 random bytes), not ${bytes.length}`);
  return bytes;
}

function makeKey(id: string | undefined, value: string | Uint8Array, what: string): EvidenceKey {
  const key = decodeKey(value, what);
  const keyId = id ?? `fp-${keyDigest(key, 'hashgate evidence key id v1').slice(0, 12)}`;
  if (!KEY_ID.test(keyId)) throw keyError(`The id of ${what} must be 1-64 letters, digits, '.', '_' or '-'`);
  return Object.freeze({
    id: keyId,
    key,
    check: keyDigest(key, 'hashgate evidence key check v1').slice(0, 16),
  });
}

/**
 * Builds a key ring. `current` encrypts new evidence; `previous` keys only decrypt. Throws
 * `ERR_HASHGATE_EVIDENCE_KEY_INVALID` for a key that is not 32 bytes, a bad id or a duplicate id.
 *
 * @example
 * const keys = createEvidenceKeyRing({ current: { id: '2025-03', key: process.env.KEY! } });
 */
export function createEvidenceKeyRing(options: {
  readonly current?: EvidenceKeyInput | null;
  readonly previous?: readonly EvidenceKeyInput[];
}): EvidenceKeyRing {
  const byId = new Map<string, EvidenceKey>();
  const add = (k: EvidenceKey): void => {
    if (byId.has(k.id)) throw keyError(`Two evidence keys have the id ${k.id}`);
    byId.set(k.id, k);
  };
  const current = options.current
    ? makeKey(options.current.id, options.current.key, 'the current evidence key')
    : null;
  if (current) add(current);
  for (const [i, p] of (options.previous ?? []).entries()) {
    if (typeof p?.id !== 'string') throw keyError(`Previous evidence key ${i + 1} needs an id`);
    add(makeKey(p.id, p.key, `previous evidence key ${p.id}`));
  }
  return Object.freeze({
    current,
    get: (id: string) => byId.get(id),
    ids: () => [...byId.keys()],
  });
}

/**
 * Reads the key ring from the environment: `HASHGATE_EVIDENCE_KEY` (base64 of 32 bytes) with
 * `HASHGATE_EVIDENCE_KEY_ID`, and `HASHGATE_EVIDENCE_PREVIOUS_KEYS` (`id:base64,...`) for keys
 * that only decrypt. Without `HASHGATE_EVIDENCE_KEY` the ring is read-only (no new evidence).
 * Key values never appear in error messages.
 */
export function evidenceKeyRingFromEnv(env: NodeJS.ProcessEnv = process.env): EvidenceKeyRing {
  const key = env[EVIDENCE_KEY_ENV.key];
  const id = env[EVIDENCE_KEY_ENV.keyId];
  const previous: EvidenceKeyInput[] = [];
  for (const part of (env[EVIDENCE_KEY_ENV.previous] ?? '').split(',')) {
    const s = part.trim();
    if (!s) continue;
    const colon = s.indexOf(':');
    if (colon <= 0) throw keyError(`${EVIDENCE_KEY_ENV.previous} holds id:base64 pairs separated by commas`);
    previous.push({ id: s.slice(0, colon), key: s.slice(colon + 1) });
  }
  if (id !== undefined && !key)
    throw keyError(`${EVIDENCE_KEY_ENV.keyId} is set but ${EVIDENCE_KEY_ENV.key} is not`);
  return createEvidenceKeyRing({
    current: key ? { ...(id === undefined ? {} : { id }), key } : null,
    previous,
  });
}
