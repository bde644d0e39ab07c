/**
 * Owns a faster evaluation of blockhash's precise method (blockhash-core's `bmvbhash` with 16 bits)
 * that performs the same floating-point operations in the same order, so its hashes are identical:
 * each block sum receives the same products `(value * weightY) * weightX` in the same pixel order.
 * What it saves is the per-pixel work that does not touch the sums: the modulo, floor and ceil that
 * blockhash-core recomputes for every pixel are computed once per column and once per row, the
 * blocks live in one Float64Array, and products that are exactly zero are not added (adding +0 to
 * a sum of non-negative values never changes it). It also owns the steps both engines share: where
 * each column and row lands ({@link precisePlacement}) and the bit rule ({@link blockSumsToHex}).
 * Tests compare it with blockhash-core.
 */

// Read once: inside a vm context (jest) every `Math.*` lookup goes through the context's global.
const floor = Math.floor;
const ceil = Math.ceil;
const abs = Math.abs;

/**
 * Where each pixel column (or row) of a side of `size` pixels lands among `bits` blocks, derived
 * exactly as blockhash-core derives it for every pixel: the pixel's value goes to block `first[i]`
 * with weight `wFirst[i]` and to block `second[i]` with weight `wSecond[i]` (the same block when
 * the pixel does not straddle a boundary; `wSecond` is then the fractional part blockhash-core
 * still adds there).
 */
export interface PrecisePlacement {
  /** blockhash-core's `blockLeft` / `blockTop` per pixel column / row. */
  readonly first: Int32Array;
  /** blockhash-core's `blockRight` / `blockBottom`. */
  readonly second: Int32Array;
  /** blockhash-core's `weightLeft` / `weightTop`. */
  readonly wFirst: Float64Array;
  /** blockhash-core's `weightRight` / `weightBottom`. */
  readonly wSecond: Float64Array;
}

/** The placement of every pixel column (size = width) or row (size = height); see {@link PrecisePlacement}. */
export function precisePlacement(size: number, bits: number): PrecisePlacement {
  const first = new Int32Array(size);
  const second = new Int32Array(size);
  const wFirst = new Float64Array(size);
  const wSecond = new Float64Array(size);
  const blockSize = size / bits;
  const even = size % bits === 0;
  for (let i = 0; i < size; i++) {
    if (even) {
      first[i] = second[i] = floor(i / blockSize);
      wFirst[i] = 1;
      wSecond[i] = 0;
    } else {
      const mod = (i + 1) % blockSize;
      const frac = mod - floor(mod);
      const int = mod - frac;
      wFirst[i] = 1 - frac;
      wSecond[i] = frac;
      // int is 0 on the far border and on block boundaries
      if (int > 0 || i + 1 === size) {
        first[i] = second[i] = floor(i / blockSize);
      } else {
        first[i] = floor(i / blockSize);
        second[i] = ceil(i / blockSize);
      }
    }
  }
  return { first, second, wFirst, wSecond };
}

/** Block sums as blockhash-core's precise method computes them, row-major, bits x bits. */
export function preciseBlockSums(
  width: number,
  height: number,
  data: Uint8Array,
  bits: number,
): Float64Array {
  const blocks = new Float64Array(bits * bits);
  const { first: left, second: right, wFirst: wLeft, wSecond: wRight } = precisePlacement(width, bits);
  const rows = precisePlacement(height, bits);

  for (let y = 0; y < height; y++) {
    const wTop = rows.wFirst[y]!;
    const wBottom = rows.wSecond[y]!;
    const topRow = rows.first[y]! * bits;
    const bottomRow = rows.second[y]! * bits;
    let i = y * width * 4;
    if (wBottom === 0) {
      // Only the top row of blocks receives non-zero products on this pixel row.
      for (let x = 0; x < width; x++, i += 4) {
        const v = data[i + 3] === 0 ? 765 : data[i]! + data[i + 1]! + data[i + 2]!;
        const a = v * wTop;
        const wl = wLeft[x]!;
        const wr = wRight[x]!;
        if (wl !== 0) {
          const k = topRow + left[x]!;
          blocks[k] = blocks[k]! + a * wl;
        }
        if (wr !== 0) {
          const k = topRow + right[x]!;
          blocks[k] = blocks[k]! + a * wr;
        }
      }
    } else {
      for (let x = 0; x < width; x++, i += 4) {
        const v = data[i + 3] === 0 ? 765 : data[i]! + data[i + 1]! + data[i + 2]!;
        const a = v * wTop;
        const b = v * wBottom;
        const l = left[x]!;
        const r = right[x]!;
        const wl = wLeft[x]!;
        const wr = wRight[x]!;
        if (wl !== 0) blocks[topRow + l] = blocks[topRow + l]! + a * wl;
        if (wr !== 0) blocks[topRow + r] = blocks[topRow + r]! + a * wr;
        if (wl !== 0) blocks[bottomRow + l] = blocks[bottomRow + l]! + b * wl;
        if (wr !== 0) blocks[bottomRow + r] = blocks[bottomRow + r]! + b * wr;
      }
    }
  }
  return blocks;
}

function median(values: Float64Array): number {
  const s = Float64Array.from(values).sort();
  const n = s.length;
  return n % 2 === 0 ? (s[n / 2 - 1]! + s[n / 2]!) / 2 : s[floor(n / 2)]!;
}

/**
 * blockhash-core's bit rule and hex encoding applied to block sums (row-major, bits x bits): four
 * horizontal bands, each against its own median. `pixelsPerBlock` is what blockhash-core passes:
 * `(width / bits) * (height / bits)` for the precise method, the product of the whole cell sizes
 * for the even one.
 */
export function blockSumsToHex(blocks: Float64Array, pixelsPerBlock: number): string {
  const halfBlockValue = (pixelsPerBlock * 256 * 3) / 2;
  const bandSize = blocks.length / 4;
  const bitsOut = new Uint8Array(blocks.length);
  for (let band = 0; band < 4; band++) {
    const m = median(blocks.subarray(band * bandSize, (band + 1) * bandSize));
    for (let j = band * bandSize; j < (band + 1) * bandSize; j++) {
      const v = blocks[j]!;
      bitsOut[j] = v > m || (abs(v - m) < 1 && m > halfBlockValue) ? 1 : 0;
    }
  }
  let hex = '';
  for (let i = 0; i < bitsOut.length; i += 4) {
    hex += ((bitsOut[i]! << 3) | (bitsOut[i + 1]! << 2) | (bitsOut[i + 2]! << 1) | bitsOut[i + 3]!).toString(
      16,
    );
  }
  return hex;
}

/**
 * The precise-method hash as lower-case hex, identical to blockhash-core's `bmvbhash(image, bits)`
 * for images whose width and height are not both multiples of `bits` (blockhash-core uses its
 * even method for those, and so must the caller).
 */
export function bmvbhashPrecise(width: number, height: number, data: Uint8Array, bits: number): string {
  return blockSumsToHex(preciseBlockSums(width, height, data, bits), (width / bits) * (height / bits));
}
