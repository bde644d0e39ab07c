/**
 * Owns the evidence file format: a small authenticated header (incident id, key id, nonce) followed
 * by the AES-256-GCM ciphertext of the metadata and the original bytes, and the GCM tag.
 *
 * Layout: `HGEV` | version (1 byte) | header length (4 bytes, big-endian) | header JSON |
 * ciphertext | tag (16 bytes). Everything before the ciphertext is the additional authenticated
 * data, so the incident id and key id cannot be changed without detection. The plaintext is
 * metadata length (4 bytes) | metadata JSON | original bytes, so the metadata (file name, types)
 * is confidential too.
 */

import { type CipherGCM, createCipheriv, createDecipheriv, type DecipherGCM, randomBytes } from 'node:crypto';
import { DEFAULT_SLICE_MS, SLICE_BYTES, Yielder } from '../cooperative';
import { IncidentErrorCodes, incidentError } from '../incidents/errors';
import type { EvidenceKey, EvidenceKeyRing } from './keys';

const MAGIC = Buffer.from('HGEV', 'latin1');
const VERSION = 1;
const PREFIX = 9;
const TAG_BYTES = 16;
const NONCE_BYTES = 12;
const MAX_HEADER = 4096;

/** The authenticated, unencrypted header of an evidence file. */
export interface EvidenceHeader {
  readonly alg: 'AES-256-GCM';
  readonly incidentId: string;
  readonly keyId: string;
  /** Check value of the key (tells a wrong key from tampering). */
  readonly keyCheck: string;
  /** Base64 of the 96-bit nonce. */
  readonly nonce: string;
  /** When it was stored (ISO 8601). */
  readonly storedAt: string;
}

/** Facts about the upload kept, encrypted, with its bytes. */
export type EvidenceMetadata = Readonly<Record<string, string | number | boolean | null>>;

/** The start of an evidence file (its authenticated prefix and header) and a cipher that has encrypted the metadata. */
function beginSealing(
  key: EvidenceKey,
  incidentId: string,
  storedAt: string,
  metadata: EvidenceMetadata,
): { aad: Buffer; cipher: CipherGCM; encryptedMetadata: Buffer } {
  const nonce = randomBytes(NONCE_BYTES);
  const header: EvidenceHeader = {
    alg: 'AES-256-GCM',
    incidentId,
    keyId: key.id,
    keyCheck: key.check,
    nonce: nonce.toString('base64'),
    storedAt,
  };
  const headerBytes = Buffer.from(JSON.stringify(header), 'utf8');
  const prefix = Buffer.alloc(PREFIX);
  MAGIC.copy(prefix, 0);
  prefix[4] = VERSION;
  prefix.writeUInt32BE(headerBytes.length, 5);
  const aad = Buffer.concat([prefix, headerBytes]);
  const meta = Buffer.from(JSON.stringify(metadata), 'utf8');
  const metaLength = Buffer.alloc(4);
  metaLength.writeUInt32BE(meta.length, 0);
  const cipher = createCipheriv('aes-256-gcm', key.key, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad);
  return { aad, cipher, encryptedMetadata: Buffer.concat([cipher.update(metaLength), cipher.update(meta)]) };
}

/** Encrypts one evidence file under `key`, bound to `incidentId`. */
export function sealEvidence(
  key: EvidenceKey,
  incidentId: string,
  storedAt: string,
  bytes: Uint8Array,
  metadata: EvidenceMetadata,
): Buffer {
  const { aad, cipher, encryptedMetadata } = beginSealing(key, incidentId, storedAt, metadata);
  const body = Buffer.concat([encryptedMetadata, cipher.update(bytes), cipher.final()]);
  return Buffer.concat([aad, body, cipher.getAuthTag()]);
}

/**
 * {@link sealEvidence} for the request path: the same file, encrypted 1 MiB at a time into one
 * buffer of the final size, with a turn of the event loop whenever `yielder` says its slice is
 * used up. Sealing 100 MB in one go held the event loop for about 250 ms.
 */
export async function sealEvidenceCooperatively(
  key: EvidenceKey,
  incidentId: string,
  storedAt: string,
  bytes: Uint8Array,
  metadata: EvidenceMetadata,
  yielder = new Yielder(DEFAULT_SLICE_MS, 1),
): Promise<Buffer> {
  const { aad, cipher, encryptedMetadata } = beginSealing(key, incidentId, storedAt, metadata);
  const out = Buffer.allocUnsafe(aad.length + encryptedMetadata.length + bytes.byteLength + TAG_BYTES);
  let at = aad.copy(out, 0);
  at += encryptedMetadata.copy(out, at);
  for (let off = 0; off < bytes.byteLength; off += SLICE_BYTES) {
    at += cipher.update(bytes.subarray(off, off + SLICE_BYTES)).copy(out, at);
    if (yielder.due()) await yielder.yield();
  }
  at += cipher.final().copy(out, at);
  at += cipher.getAuthTag().copy(out, at);
  return at === out.length ? out : out.subarray(0, at);
}

function tampered(message: string, cause?: unknown): Error {
  return incidentError(IncidentErrorCodes.EVIDENCE_TAMPERED, message, cause);
}

/** Reads the header without a key (it is authenticated only once the file is opened). */
export function readEvidenceHeader(file: Uint8Array): { header: EvidenceHeader; aadLength: number } {
  const buf = Buffer.from(file.buffer, file.byteOffset, file.byteLength);
  if (buf.length < PREFIX + TAG_BYTES || !buf.subarray(0, 4).equals(MAGIC)) {
    throw tampered('The file is not hashgate evidence, or it was truncated');
  }
  if (buf[4] !== VERSION) throw tampered(`The evidence file has an unknown format version ${buf[4]}`);
  const length = buf.readUInt32BE(5);
  if (length > MAX_HEADER || PREFIX + length + TAG_BYTES > buf.length)
    throw tampered('The evidence header is damaged');
  let header: EvidenceHeader;
  try {
    header = JSON.parse(buf.subarray(PREFIX, PREFIX + length).toString('utf8')) as EvidenceHeader;
  } catch (err) {
    throw tampered('The evidence header is damaged', err);
  }
  if (
    header?.alg !== 'AES-256-GCM' ||
    typeof header.incidentId !== 'string' ||
    typeof header.keyId !== 'string' ||
    typeof header.keyCheck !== 'string' ||
    typeof header.nonce !== 'string' ||
    typeof header.storedAt !== 'string'
  ) {
    throw tampered('The evidence header is damaged');
  }
  return { header, aadLength: PREFIX + length };
}

/** What an opened evidence file holds. */
export interface OpenedEvidence {
  readonly header: EvidenceHeader;
  readonly metadata: EvidenceMetadata;
  /** The original bytes of the upload. */
  readonly bytes: Buffer;
}

/**
 * Decrypts and authenticates an evidence file. Throws `ERR_HASHGATE_EVIDENCE_KEY_UNKNOWN` when the
 * ring lacks its key id, `ERR_HASHGATE_EVIDENCE_WRONG_KEY` when the key under that id is another
 * key, and `ERR_HASHGATE_EVIDENCE_TAMPERED` when the file was modified or belongs to another
 * incident. No plaintext is returned unless authentication succeeded.
 */
export function openEvidence(
  file: Uint8Array,
  keys: EvidenceKeyRing,
  expectedIncidentId: string,
): OpenedEvidence {
  const { header, decipher, cipherText } = beginOpening(file, keys);
  let plain: Buffer;
  try {
    plain = Buffer.concat([decipher.update(cipherText), decipher.final()]);
  } catch (err) {
    throw tampered('The evidence file failed authentication: it was modified or damaged', err);
  }
  return finishOpening(header, plain, expectedIncidentId);
}

/**
 * {@link openEvidence} for a server: the ciphertext is decrypted 1 MiB at a time into one buffer,
 * with a turn of the event loop whenever `yielder` says its slice is used up. Nothing is returned
 * unless authentication succeeded.
 */
export async function openEvidenceCooperatively(
  file: Uint8Array,
  keys: EvidenceKeyRing,
  expectedIncidentId: string,
  yielder = new Yielder(DEFAULT_SLICE_MS, 1),
): Promise<OpenedEvidence> {
  const { header, decipher, cipherText } = beginOpening(file, keys);
  const plain = Buffer.allocUnsafe(cipherText.length);
  let at = 0;
  try {
    for (let off = 0; off < cipherText.length; off += SLICE_BYTES) {
      at += decipher.update(cipherText.subarray(off, off + SLICE_BYTES)).copy(plain, at);
      if (yielder.due()) await yielder.yield();
    }
    at += decipher.final().copy(plain, at);
  } catch (err) {
    throw tampered('The evidence file failed authentication: it was modified or damaged', err);
  }
  return finishOpening(header, plain.subarray(0, at), expectedIncidentId);
}

/** Checks the key and sets up the decipher of an evidence file. */
function beginOpening(
  file: Uint8Array,
  keys: EvidenceKeyRing,
): { header: EvidenceHeader; decipher: DecipherGCM; cipherText: Buffer } {
  const { header, aadLength } = readEvidenceHeader(file);
  const buf = Buffer.from(file.buffer, file.byteOffset, file.byteLength);
  const key = keys.get(header.keyId);
  if (!key) {
    throw incidentError(
      IncidentErrorCodes.EVIDENCE_KEY_UNKNOWN,
      `The evidence was encrypted with key ${header.keyId}, which is not in the key ring; add it to HASHGATE_EVIDENCE_PREVIOUS_KEYS`,
    );
  }
  if (key.check !== header.keyCheck) {
    throw incidentError(
      IncidentErrorCodes.EVIDENCE_WRONG_KEY,
      `The key loaded as ${header.keyId} is not the key this evidence was encrypted with`,
    );
  }
  const nonce = Buffer.from(header.nonce, 'base64');
  if (nonce.length !== NONCE_BYTES) throw tampered('The evidence header is damaged');
  const decipher = createDecipheriv('aes-256-gcm', key.key, nonce, { authTagLength: TAG_BYTES });
  decipher.setAAD(buf.subarray(0, aadLength));
  decipher.setAuthTag(buf.subarray(buf.length - TAG_BYTES));
  return { header, decipher, cipherText: buf.subarray(aadLength, buf.length - TAG_BYTES) };
}

/** Reads the metadata and bytes out of authenticated plaintext. */
function finishOpening(header: EvidenceHeader, plain: Buffer, expectedIncidentId: string): OpenedEvidence {
  // authenticated from here on
  if (header.incidentId !== expectedIncidentId)
    throw tampered('The evidence file belongs to another incident');
  if (plain.length < 4) throw tampered('The evidence plaintext is damaged');
  const metaLength = plain.readUInt32BE(0);
  if (4 + metaLength > plain.length) throw tampered('The evidence plaintext is damaged');
  const metadata = JSON.parse(plain.subarray(4, 4 + metaLength).toString('utf8')) as EvidenceMetadata;
  return { header, metadata, bytes: plain.subarray(4 + metaLength) };
}
