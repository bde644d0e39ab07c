/**
 * Owns PDQ steps 5 to 8 (specs/pdq.md) on the 64x64 filtered luma: quality, the 16x16 DCT, the
 * median threshold and bit layout, and the eight dihedral variants derived from one DCT. All
 * arithmetic is float32 (`Math.fround` after every operation, float32 buffers).
 */

/**
 * `Math.fround` read once: inside a vm context (jest) every `Math.fround` lookup in a hot loop goes
 * through the context's global object and is not inlined, which made the loops 35 times slower.
 */
const fround = Math.fround;

/** Names of the eight dihedral variants, in the order the reference tools print them. */
export const PDQ_DIHEDRAL_VARIANTS = [
  'orig',
  'rot90',
  'rot180',
  'rot270',
  'flipx',
  'flipy',
  'flipplus1',
  'flipminus1',
] as const;

/** One of the eight dihedral variants of a PDQ hash (rotations by 90 degrees and mirror images). */
export type PdqDihedralVariant = (typeof PDQ_DIHEDRAL_VARIANTS)[number];

let dctMatrix: Float32Array | undefined;

/** The 16x64 DCT basis (row-major): D[i][j] = fround(s * cos((pi/128) * (i+1) * (2j+1))), s = fround(sqrt(2/64)), product in double. */
export function dctBasis(): Float32Array {
  if (dctMatrix === undefined) {
    const d = new Float32Array(16 * 64);
    const scale = fround(Math.sqrt(2 / 64));
    for (let i = 0; i < 16; i++) {
      for (let j = 0; j < 64; j++) d[i * 64 + j] = scale * Math.cos((Math.PI / 128) * (i + 1) * (2 * j + 1));
    }
    dctMatrix = d;
  }
  return dctMatrix;
}

/**
 * PDQ quality (step 5) of a 64x64 buffer: the sum over vertical and horizontal neighbour pairs of
 * |trunc(fround(fround(u - v) * 100) / 255)|, divided by 90 (integer division), at most 100.
 */
export function pdqQuality(buffer: Float32Array): number {
  let total = 0;
  for (let i = 0; i < 63; i++) {
    for (let j = 0; j < 64; j++) {
      const u = buffer[i * 64 + j]!;
      const v = buffer[(i + 1) * 64 + j]!;
      total += Math.abs(Math.trunc(fround(fround(fround(u - v) * 100) / 255)));
    }
  }
  for (let i = 0; i < 64; i++) {
    for (let j = 0; j < 63; j++) {
      const u = buffer[i * 64 + j]!;
      const v = buffer[i * 64 + j + 1]!;
      total += Math.abs(Math.trunc(fround(fround(fround(u - v) * 100) / 255)));
    }
  }
  return Math.min(100, Math.floor(total / 90));
}

/**
 * The 16x16 DCT of a 64x64 buffer (step 6): B = D * A * D^T, each dot product accumulated in
 * float32 in index order. Writes B row-major into `out` (256 floats; row i is the vertical
 * frequency i + 1).
 */
export function pdqDct16(buffer: Float32Array, out: Float32Array): void {
  const d = dctBasis();
  const t = new Float32Array(16 * 64);
  for (let i = 0; i < 16; i++) {
    const di = i * 64;
    for (let j = 0; j < 64; j++) {
      let s = 0;
      for (let k = 0; k < 64; k++) s = fround(s + fround(d[di + k]! * buffer[k * 64 + j]!));
      t[di + j] = s;
    }
  }
  for (let i = 0; i < 16; i++) {
    const ti = i * 64;
    for (let j = 0; j < 16; j++) {
      const dj = j * 64;
      let s = 0;
      for (let k = 0; k < 64; k++) s = fround(s + fround(t[ti + k]! * d[dj + k]!));
      out[i * 16 + j] = s;
    }
  }
}

/**
 * The lower median of 256 DCT values (the 128th smallest), the threshold of step 7. `scratch` (256
 * floats) is clobbered. Found by selection, not by sorting (about 1 µs against 6 µs); the value is
 * the one `sort()` would leave at index 127 (a zero may come back with the other sign, which no
 * comparison with it can tell).
 */
export function pdqMedian(dct: Float32Array, scratch: Float32Array): number {
  scratch.set(dct);
  return selectKth(scratch, 127);
}

/**
 * The `k`-th smallest (0-based) of `v`, which it reorders: quickselect with Hoare's partition
 * around the middle element. After a partition, `v[lo..j]` are at most the pivot, `v[i..hi]` at
 * least the pivot and anything between equals it, so the search narrows to the side holding `k`.
 */
function selectKth(v: Float32Array, k: number): number {
  let lo = 0;
  let hi = v.length - 1;
  while (lo < hi) {
    const pivot = v[(lo + hi) >> 1]!;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (v[i]! < pivot) i++;
      while (v[j]! > pivot) j--;
      if (i <= j) {
        const t = v[i]!;
        v[i] = v[j]!;
        v[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else break;
  }
  return v[k]!;
}

/**
 * Bit layout (step 8): bit k = 16i + j is set when B[i][j] is greater than `median`; the 256-bit
 * number is written big-endian, so bit k lives in byte 31 - floor(k / 8). Returns 32 new bytes.
 */
export function pdqBitsAbove(dct: Float32Array, median: number): Uint8Array {
  const bytes = new Uint8Array(32);
  for (let k = 0; k < 256; k++) {
    if (dct[k]! > median) bytes[31 - (k >> 3)]! |= 1 << (k & 7);
  }
  return bytes;
}

/**
 * Median threshold and bit layout (steps 7 and 8): {@link pdqBitsAbove} the {@link pdqMedian}.
 * Returns 32 new bytes. `scratch` (256 floats) is clobbered.
 */
export function pdqBits(dct: Float32Array, scratch: Float32Array): Uint8Array {
  return pdqBitsAbove(dct, pdqMedian(dct, scratch));
}

/**
 * Which sign pattern a dihedral variant applies to the DCT (see {@link pdqDihedralDct}): 0 none,
 * 1 negate even columns, 2 negate even rows, 3 negate where row and column parity differ.
 * Variants with the same pattern hold the same 256 values, only transposed, so they share a
 * median.
 */
export const PDQ_DIHEDRAL_SIGNS: Readonly<Record<PdqDihedralVariant, 0 | 1 | 2 | 3>> = {
  orig: 0,
  flipplus1: 0,
  rot90: 1,
  flipy: 1,
  rot270: 2,
  flipx: 2,
  rot180: 3,
  flipminus1: 3,
};

/**
 * Writes into `out` the DCT of a dihedral variant of the image, derived from the DCT `a` of the
 * original (the table in specs/pdq.md): rotations and mirrors only transpose the 16x16 block and
 * flip the sign of odd-frequency terms.
 */
export function pdqDihedralDct(a: Float32Array, variant: PdqDihedralVariant, out: Float32Array): void {
  const { to, negate } = dihedralMove(variant);
  for (let k = 0; k < 256; k++) {
    const v = a[k]!;
    out[to[k]!] = negate[k] ? -v : v;
  }
}

/** The variants that transpose the 16x16 block: the quarter turns and the two diagonal mirrors. */
const TRANSPOSING: ReadonlySet<PdqDihedralVariant> = new Set(['rot90', 'rot270', 'flipplus1', 'flipminus1']);

/** Where each DCT term goes for a variant, and whether its sign flips, built once per variant. */
const dihedralMoves = new Map<PdqDihedralVariant, { to: Uint8Array; negate: Uint8Array }>();

function dihedralMove(variant: PdqDihedralVariant): { to: Uint8Array; negate: Uint8Array } {
  let move = dihedralMoves.get(variant);
  if (!move) {
    const pattern = PDQ_DIHEDRAL_SIGNS[variant];
    const transpose = TRANSPOSING.has(variant);
    move = { to: new Uint8Array(256), negate: new Uint8Array(256) };
    for (let i = 0; i < 16; i++) {
      for (let j = 0; j < 16; j++) {
        const iEven = (i & 1) === 0;
        const jEven = (j & 1) === 0;
        const flips = pattern === 1 ? jEven : pattern === 2 ? iEven : pattern === 3 && iEven !== jEven;
        move.to[i * 16 + j] = transpose ? j * 16 + i : i * 16 + j;
        move.negate[i * 16 + j] = flips ? 1 : 0;
      }
    }
    dihedralMoves.set(variant, move);
  }
  return move;
}
