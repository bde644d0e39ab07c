/**
 * Owns Ed25519 keys and manifest signatures of the list protocol: key generation, key parsing
 * (PEM or raw base64), key ids, and the detached signature file `manifest.json.sig`.
 */

import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign,
  verify,
} from 'node:crypto';
import { ListErrorCodes, listError } from './errors';

/** A public key a client trusts, with its key id. */
export interface TrustedKey {
  /** First 16 hex digits of the SHA-256 of the raw 32-byte public key. */
  readonly keyId: string;
  /** The Ed25519 public key. */
  readonly publicKey: KeyObject;
}

/** A private key a publisher signs with, with the key id of its public half. */
export interface SigningKey extends TrustedKey {
  /** The Ed25519 private key. */
  readonly privateKey: KeyObject;
}

/** A freshly generated key pair in its text forms. */
export interface GeneratedKeyPair {
  /** Key id of the public key. */
  keyId: string;
  /** Private key, PKCS#8 PEM. Keep it secret (file mode 0600). */
  privateKeyPem: string;
  /** Public key, SPKI PEM. */
  publicKeyPem: string;
  /** Public key as raw 32 bytes in base64 (the compact form for configuration). */
  publicKeyBase64: string;
}

// DER prefixes of an Ed25519 SubjectPublicKeyInfo and of a PKCS#8 PrivateKeyInfo (RFC 8410):
// the key bytes follow directly.
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** The raw 32 bytes of an Ed25519 public key. */
export function rawPublicKey(publicKey: KeyObject): Buffer {
  const der = publicKey.export({ format: 'der', type: 'spki' });
  return der.subarray(der.length - 32);
}

/** Key id of a public key: the first 16 hex digits of the SHA-256 of its raw 32 bytes. */
export function keyIdOf(publicKey: KeyObject): string {
  return createHash('sha256').update(rawPublicKey(publicKey)).digest('hex').slice(0, 16);
}

function rawFromText(text: string, what: string): Buffer {
  const s = text.trim().replace(/^ed25519:/, '');
  const raw = BASE64.test(s) ? Buffer.from(s, 'base64') : Buffer.alloc(0);
  if (raw.length !== 32) {
    throw listError(
      ListErrorCodes.KEY_INVALID,
      `Expected an Ed25519 ${what} as PEM or as 32 raw bytes in base64, but received text of length ${text.length}`,
    );
  }
  return raw;
}

function requireEd25519(key: KeyObject, what: string): void {
  if (key.asymmetricKeyType !== 'ed25519') {
    throw listError(
      ListErrorCodes.KEY_INVALID,
      `Expected an Ed25519 ${what} but received a ${key.asymmetricKeyType ?? 'symmetric'} key`,
    );
  }
}

/**
 * Parses a trusted public key: SPKI PEM (`-----BEGIN PUBLIC KEY-----`) or the raw 32 bytes in
 * base64 (optionally prefixed `ed25519:`).
 *
 * @example
 * const key = parsePublicKey('ed25519:Jt9m...=')
 */
export function parsePublicKey(text: string): TrustedKey {
  let publicKey: KeyObject;
  try {
    if (text.includes('-----BEGIN')) {
      publicKey = createPublicKey({ key: text, format: 'pem' });
    } else {
      publicKey = createPublicKey({
        key: Buffer.concat([SPKI_PREFIX, rawFromText(text, 'public key')]),
        format: 'der',
        type: 'spki',
      });
    }
  } catch (err) {
    if ((err as { code?: string }).code === ListErrorCodes.KEY_INVALID) throw err;
    throw listError(
      ListErrorCodes.KEY_INVALID,
      'The public key is not a valid PEM or base64 Ed25519 key',
      err,
    );
  }
  requireEd25519(publicKey, 'public key');
  return Object.freeze({ keyId: keyIdOf(publicKey), publicKey });
}

/**
 * Parses a signing key: PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`) or the raw 32-byte seed in
 * base64 (optionally prefixed `ed25519:`).
 */
export function parsePrivateKey(text: string): SigningKey {
  let privateKey: KeyObject;
  try {
    if (text.includes('-----BEGIN')) {
      privateKey = createPrivateKey({ key: text, format: 'pem' });
    } else {
      privateKey = createPrivateKey({
        key: Buffer.concat([PKCS8_PREFIX, rawFromText(text, 'private key')]),
        format: 'der',
        type: 'pkcs8',
      });
    }
  } catch (err) {
    if ((err as { code?: string }).code === ListErrorCodes.KEY_INVALID) throw err;
    throw listError(
      ListErrorCodes.KEY_INVALID,
      'The private key is not a valid PEM or base64 Ed25519 key',
      err,
    );
  }
  requireEd25519(privateKey, 'private key');
  const publicKey = createPublicKey(privateKey);
  return Object.freeze({ keyId: keyIdOf(publicKey), publicKey, privateKey });
}

/** Generates a new Ed25519 key pair for signing lists. */
export function generateListKeyPair(): GeneratedKeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    keyId: keyIdOf(publicKey),
    privateKeyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    publicKeyPem: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
    publicKeyBase64: rawPublicKey(publicKey).toString('base64'),
  };
}

/** Format marker of the signature file. */
export const SIGNATURE_FORMAT = 'hashgate-list-signature';

/** One signature in the signature file. */
export interface ManifestSignature {
  /** Always `ed25519`. */
  alg: 'ed25519';
  /** Key id of the signing key. */
  keyId: string;
  /** The 64-byte Ed25519 signature over the exact manifest bytes, base64. */
  sig: string;
}

/**
 * Signs the exact manifest bytes with each key and returns the signature file's bytes (JSON).
 * Signing with two keys lets clients that trust either one accept the list during a rotation.
 */
export function signManifest(manifestBytes: Uint8Array, keys: readonly SigningKey[]): Buffer {
  if (keys.length === 0)
    throw listError(ListErrorCodes.KEY_INVALID, 'Expected at least one signing key but received none');
  const signatures: ManifestSignature[] = keys.map((k) => ({
    alg: 'ed25519',
    keyId: k.keyId,
    sig: sign(null, manifestBytes, k.privateKey).toString('base64'),
  }));
  return Buffer.from(
    `${JSON.stringify({ format: SIGNATURE_FORMAT, protocol: 1, signatures }, null, 2)}\n`,
    'utf8',
  );
}

/**
 * Verifies the signature file against the exact manifest bytes: at least one signature by a
 * trusted key must verify. Returns the key id that verified; throws
 * `ERR_HASHGATE_LIST_SIGNATURE_INVALID` otherwise.
 */
export function verifyManifestSignature(
  manifestBytes: Uint8Array,
  signatureFile: Uint8Array,
  trusted: readonly TrustedKey[],
): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(signatureFile).toString('utf8'));
  } catch {
    throw listError(ListErrorCodes.SIGNATURE_INVALID, 'The signature file is not JSON');
  }
  const sigs = (parsed as { format?: unknown; signatures?: unknown } | null)?.signatures;
  if ((parsed as { format?: unknown } | null)?.format !== SIGNATURE_FORMAT || !Array.isArray(sigs)) {
    throw listError(
      ListErrorCodes.SIGNATURE_INVALID,
      `The signature file is not a ${SIGNATURE_FORMAT} document`,
    );
  }
  let sawTrusted = false;
  for (const s of sigs as unknown[]) {
    const { alg, keyId, sig } = (s ?? {}) as Record<string, unknown>;
    if (alg !== 'ed25519' || typeof keyId !== 'string' || typeof sig !== 'string') continue;
    const key = trusted.find((k) => k.keyId === keyId);
    if (!key) continue;
    sawTrusted = true;
    const raw = Buffer.from(sig, 'base64');
    if (raw.length === 64 && verify(null, manifestBytes, key.publicKey, raw)) return keyId;
  }
  throw listError(
    ListErrorCodes.SIGNATURE_INVALID,
    sawTrusted
      ? 'The manifest signature does not verify with the trusted key'
      : `The manifest is not signed by any of the ${trusted.length} trusted key(s)`,
  );
}
