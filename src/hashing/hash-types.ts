/** Owns the hash types hashgate knows: each a small object with a name, a kind, a size, parsing and a distance. */

import { ErrorCodes, HashgateError } from '../errors';
import { hammingBytes, weightBytes } from './hamming';

/** Exact hashes match only when equal; perceptual hashes match within a distance. */
export type HashKind = 'exact' | 'perceptual';

/** Names of the built-in hash types. */
export type BuiltinHashTypeName = 'md5' | 'sha1' | 'sha256' | 'pdq' | 'blockhash';

/** Why a hex string was refused as a hash of a type. */
export type HashIssue = 'not-a-string' | 'wrong-length' | 'not-hex' | 'degenerate';

/** Result of {@link HashType.validate}: the parsed bytes, or the reason they were refused. */
export type HashParseResult =
  | { ok: true; bytes: Uint8Array }
  | { ok: false; issue: HashIssue; message: string };

/**
 * One kind of hash. Built-in types are in {@link hashTypes}; a custom type (for example a
 * licensed PhotoDNA) implements the same interface.
 */
export interface HashType {
  /** Stable lower-case name used in lists, incidents and configuration, e.g. `pdq`. */
  readonly name: string;
  /** `exact` (equality) or `perceptual` (distance). */
  readonly kind: HashKind;
  /** Length of the hash in bits. */
  readonly bits: number;
  /**
   * Parses a hex string (either case, surrounding white space ignored) into bytes, or says why
   * not. Perceptual types also refuse degenerate values (all zero, weight far from half).
   */
  validate(hex: unknown): HashParseResult;
  /** Like {@link validate} but throws `ERR_HASHGATE_INVALID_HASH`. */
  parse(hex: unknown): Uint8Array;
  /** Lower-case hex of the bytes. */
  format(bytes: Uint8Array): string;
  /** Distance between two hashes of this type: 0 or Infinity for exact types, Hamming bits for perceptual ones. */
  distance(a: Uint8Array, b: Uint8Array): number;
}

const HEX = /^[0-9a-f]*$/;

/** Lower-case hex of a byte array. */
export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

interface HashTypeSpec {
  name: string;
  kind: HashKind;
  bits: number;
  /** For perceptual types: the smallest and largest acceptable number of set bits. */
  weightRange?: readonly [number, number];
}

function defineHashType(spec: HashTypeSpec): HashType {
  const hexLength = spec.bits / 4;
  const validate = (hex: unknown): HashParseResult => {
    if (typeof hex !== 'string') {
      return { ok: false, issue: 'not-a-string', message: `a ${spec.name} hash must be a hex string` };
    }
    const s = hex.trim().toLowerCase();
    if (s.length !== hexLength) {
      return {
        ok: false,
        issue: 'wrong-length',
        message: `a ${spec.name} hash has ${hexLength} hex digits, not ${s.length}`,
      };
    }
    if (!HEX.test(s)) {
      return { ok: false, issue: 'not-hex', message: `a ${spec.name} hash has only the digits 0-9 and a-f` };
    }
    const bytes = new Uint8Array(Buffer.from(s, 'hex'));
    if (spec.weightRange) {
      const w = weightBytes(bytes);
      if (w < spec.weightRange[0] || w > spec.weightRange[1]) {
        return {
          ok: false,
          issue: 'degenerate',
          message: `a ${spec.name} hash with ${w} of ${spec.bits} bits set is degenerate (accepted: ${spec.weightRange[0]} to ${spec.weightRange[1]})`,
        };
      }
    }
    return { ok: true, bytes };
  };
  return Object.freeze({
    name: spec.name,
    kind: spec.kind,
    bits: spec.bits,
    validate,
    parse(hex: unknown): Uint8Array {
      const r = validate(hex);
      if (!r.ok) throw new HashgateError(ErrorCodes.INVALID_HASH, `Invalid ${spec.name} hash: ${r.message}`);
      return r.bytes;
    },
    format: toHex,
    distance(a: Uint8Array, b: Uint8Array): number {
      if (spec.kind === 'exact') {
        return a.length === b.length && Buffer.compare(a, b) === 0 ? 0 : Number.POSITIVE_INFINITY;
      }
      return hammingBytes(a, b);
    },
  });
}

/**
 * PDQ and blockhash hashes of real images have about half their bits set; a value whose weight
 * is this far from 128 comes from a flat or broken image and would match unrelated flat images.
 * PDQ sets exactly 128 bits by construction (except ties at the median); blockhash varies more,
 * so the window is wide and only rejects values that are close to all-zero or all-one.
 */
export const PERCEPTUAL_WEIGHT_RANGE: readonly [number, number] = [32, 224];

/** The built-in hash types, by name. */
export const hashTypes: Readonly<Record<BuiltinHashTypeName, HashType>> = Object.freeze({
  md5: defineHashType({ name: 'md5', kind: 'exact', bits: 128 }),
  sha1: defineHashType({ name: 'sha1', kind: 'exact', bits: 160 }),
  sha256: defineHashType({ name: 'sha256', kind: 'exact', bits: 256 }),
  pdq: defineHashType({ name: 'pdq', kind: 'perceptual', bits: 256, weightRange: PERCEPTUAL_WEIGHT_RANGE }),
  blockhash: defineHashType({
    name: 'blockhash',
    kind: 'perceptual',
    bits: 256,
    weightRange: PERCEPTUAL_WEIGHT_RANGE,
  }),
});

/** The built-in hash type with this name, or undefined. */
export function getHashType(name: string): HashType | undefined {
  return Object.hasOwn(hashTypes, name) ? hashTypes[name as BuiltinHashTypeName] : undefined;
}
