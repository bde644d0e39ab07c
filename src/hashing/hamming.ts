/** Owns the bit counting used by every distance computation over 256-bit hashes. */

/** Number of set bits in a 32-bit integer (branch-free SWAR popcount). */
export function popcount32(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  x = (x + (x >>> 4)) & 0x0f0f0f0f;
  return Math.imul(x, 0x01010101) >>> 24;
}

/**
 * Hamming distance between two 256-bit values stored as 8 consecutive 32-bit words,
 * `a[ai..ai+8)` and `b[bi..bi+8)`. Works on any typed array of 32-bit words, so a whole list can
 * live in one `Uint32Array` and be compared without allocation.
 */
export function hamming256(a: Uint32Array, ai: number, b: Uint32Array, bi: number): number {
  return (
    popcount32(a[ai]! ^ b[bi]!) +
    popcount32(a[ai + 1]! ^ b[bi + 1]!) +
    popcount32(a[ai + 2]! ^ b[bi + 2]!) +
    popcount32(a[ai + 3]! ^ b[bi + 3]!) +
    popcount32(a[ai + 4]! ^ b[bi + 4]!) +
    popcount32(a[ai + 5]! ^ b[bi + 5]!) +
    popcount32(a[ai + 6]! ^ b[bi + 6]!) +
    popcount32(a[ai + 7]! ^ b[bi + 7]!)
  );
}

/** Hamming distance between two equal-length byte strings. */
export function hammingBytes(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) throw new RangeError('hammingBytes needs two arrays of the same length');
  let d = 0;
  let i = 0;
  for (; i + 4 <= a.length; i += 4) {
    const x =
      ((a[i]! ^ b[i]!) << 24) |
      ((a[i + 1]! ^ b[i + 1]!) << 16) |
      ((a[i + 2]! ^ b[i + 2]!) << 8) |
      (a[i + 3]! ^ b[i + 3]!);
    d += popcount32(x);
  }
  for (; i < a.length; i++) d += popcount32(a[i]! ^ b[i]!);
  return d;
}

/** Number of set bits in a byte string (the "weight" of a perceptual hash; a normal PDQ hash has 128). */
export function weightBytes(a: Uint8Array): number {
  let w = 0;
  for (let i = 0; i < a.length; i++) w += popcount32(a[i]!);
  return w;
}

/**
 * Packs a 32-byte hash (big-endian hex order) into 8 big-endian 32-bit words, as
 * {@link hamming256} expects. Word 0 holds the first 4 bytes.
 */
export function bytesToWords256(
  bytes: Uint8Array,
  out: Uint32Array = new Uint32Array(8),
  offset = 0,
): Uint32Array {
  if (bytes.length !== 32) throw new RangeError('bytesToWords256 needs exactly 32 bytes');
  for (let w = 0; w < 8; w++) {
    const i = w * 4;
    out[offset + w] =
      ((bytes[i]! << 24) | (bytes[i + 1]! << 16) | (bytes[i + 2]! << 8) | bytes[i + 3]!) >>> 0;
  }
  return out;
}
