/**
 * Owns a faster evaluation of blockhash's precise method (blockhash-core's `bmvbhash` with 16 bits)
 * that performs the same floating-point operations in the same order, so its hashes are identical:
 * each block sum receives the same products `(value * weightY) * weightX` in the same pixel order.
 * What it saves is the per-pixel work that does not touch the sums: the modulo, floor and ceil that
 * blockhash-core recomputes for every pixel are computed once per column and once per row, the
 * blocks live in one Float64Array, and products that are exactly zero are not added (adding +0 to
 * a sum of non-negative values never changes it). Tests compare it with blockhash-core.
 */

/** Block sums as blockhash-core's precise method computes them, row-major, bits x bits. */
export function preciseBlockSums(
  width: number,
  height: number,
  data: Uint8Array,
  bits: number,
): Float64Array {
  const blocks = new Float64Array(bits * bits);
  const blockWidth = width / bits;
  const blockHeight = height / bits;
  const evenX = width % bits === 0;
  const evenY = height % bits === 0;

  // Per column: left/right block and weights, exactly as blockhash-core derives them per pixel.
  const left = new Int32Array(width);
  const right = new Int32Array(width);
  const wLeft = new Float64Array(width);
  const wRight = new Float64Array(width);
  for (let x = 0; x < width; x++) {
    if (evenX) {
      left[x] = right[x] = Math.floor(x / blockWidth);
      wLeft[x] = 1;
      wRight[x] = 0;
    } else {
      const xMod = (x + 1) % blockWidth;
      const xFrac = xMod - Math.floor(xMod);
      const xInt = xMod - xFrac;
      wLeft[x] = 1 - xFrac;
      wRight[x] = xFrac;
      if (xInt > 0 || x + 1 === width) {
        left[x] = right[x] = Math.floor(x / blockWidth);
      } else {
        left[x] = Math.floor(x / blockWidth);
        right[x] = Math.ceil(x / blockWidth);
      }
    }
  }

  for (let y = 0; y < height; y++) {
    let top: number;
    let bottom: number;
    let wTop: number;
    let wBottom: number;
    if (evenY) {
      top = bottom = Math.floor(y / blockHeight);
      wTop = 1;
      wBottom = 0;
    } else {
      const yMod = (y + 1) % blockHeight;
      const yFrac = yMod - Math.floor(yMod);
      const yInt = yMod - yFrac;
      wTop = 1 - yFrac;
      wBottom = yFrac;
      if (yInt > 0 || y + 1 === height) {
        top = bottom = Math.floor(y / blockHeight);
      } else {
        top = Math.floor(y / blockHeight);
        bottom = Math.ceil(y / blockHeight);
      }
    }
    const topRow = top * bits;
    const bottomRow = bottom * bits;
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
  return n % 2 === 0 ? (s[n / 2 - 1]! + s[n / 2]!) / 2 : s[Math.floor(n / 2)]!;
}

/**
 * The precise-method hash as lower-case hex, identical to blockhash-core's `bmvbhash(image, bits)`
 * for images whose width and height are not both multiples of `bits` (blockhash-core uses its
 * even method for those, and so must the caller).
 */
export function bmvbhashPrecise(width: number, height: number, data: Uint8Array, bits: number): string {
  const blocks = preciseBlockSums(width, height, data, bits);
  // The same bit rule as blockhash-core: four horizontal bands, each against its own median.
  const pixelsPerBlock = (width / bits) * (height / bits);
  const halfBlockValue = (pixelsPerBlock * 256 * 3) / 2;
  const bandSize = blocks.length / 4;
  const bitsOut = new Uint8Array(blocks.length);
  for (let band = 0; band < 4; band++) {
    const m = median(blocks.subarray(band * bandSize, (band + 1) * bandSize));
    for (let j = band * bandSize; j < (band + 1) * bandSize; j++) {
      const v = blocks[j]!;
      bitsOut[j] = v > m || (Math.abs(v - m) < 1 && m > halfBlockValue) ? 1 : 0;
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
