/**
 * Owns the inner loops of PDQ's tent filter (specs/pdq.md steps 1 and 3), and the quality and DCT
 * of its 64x64 output (steps 5 and 6), behind one interface,
 * and their plain JavaScript implementation (Float32Array buffers, `Math.fround` after every
 * operation). pdq-wasm.ts implements the same interface in WebAssembly; both give identical bits.
 *
 * Every kernel works on one "heap": a buffer seen as bytes, float32 and int32. Offsets are in
 * 32-bit slots (float32 elements) except byte offsets named `...Byte`. The first
 * {@link HEAP_FIXED} slots hold the sampled column indices.
 *
 * A float32 operation is done here as the double operation on float32 operands, rounded back to
 * float32 (by `Math.fround` or by a store into the Float32Array): for +, -, * and / that is
 * exactly the native float32 result.
 */

import { pdqDct16, pdqQuality } from './pdq-dct';

/**
 * `Math.fround` read once: inside a vm context (jest) every `Math.fround` lookup in a hot loop goes
 * through the context's global object and is not inlined, which made the loops 35 times slower.
 */
const fround = Math.fround;

/** Slot of the 64 sampled column indices (int32, ascending) and a sentinel -1. */
export const COLS_AT = 0;
/** Slots reserved at the start of every heap (the column indices), a multiple of 4. */
export const HEAP_FIXED = 68;

/** Views of a kernel heap. They are only valid until the next {@link PdqKernels.reserve}. */
export interface PdqHeap {
  /** The heap as bytes (pixel input). */
  readonly u8: Uint8Array;
  /** The heap as float32 slots. */
  readonly f32: Float32Array;
  /** The heap as int32 slots. */
  readonly i32: Int32Array;
}

/**
 * The inner loops of the tent filter. Row strides are multiples of 4 slots and at least
 * `width` rounded up to 4; kernels may write the padding slots of a row past `width` with values
 * nobody reads. The box is the one-dimensional box of spec step 3 (prime with half - 1 samples,
 * grow, slide, shrink; half = floor((w + 2) / 2)).
 */
export interface PdqKernels {
  /** `wasm` or `js`. */
  readonly name: string;
  /** Rows the horizontal kernels process per call. */
  readonly group: number;
  /** Scratch slots the horizontal kernels need for rows of `stride` slots. */
  scratchSlots(stride: number): number;
  /**
   * Makes the heap at least `slots` 32-bit slots long (keeping its content) and returns views of
   * it.
   */
  reserve(slots: number): PdqHeap;
  /**
   * Luma (step 1) and the first horizontal box of window `w` for {@link group} rows: row i is read
   * from byte `inByte + i * rowBytes` (`width` pixels of `channels` bytes; with 1 or 2 channels
   * the first byte is the luma, with 3 or 4 the first three are R, G, B) and written to
   * `dst + i * dstStride`. The input holds `group * rowBytes` readable bytes plus 32 spare.
   */
  lumaBoxRows(
    inByte: number,
    rowBytes: number,
    channels: number,
    width: number,
    w: number,
    dst: number,
    dstStride: number,
    scratch: number,
  ): void;
  /**
   * The second horizontal box of window `w` for {@link group} rows at `src + i * srcStride`,
   * writing only the outputs at the sampled positions (the int32 list at {@link COLS_AT}): the
   * output of row i at sample j goes to `dst + 64 * i + j`.
   */
  boxRowsSampled(
    src: number,
    srcStride: number,
    width: number,
    w: number,
    dst: number,
    scratch: number,
  ): void;
  /** `sum[c] = sum[c] + a[c]` for c < n (n a multiple of 4). */
  colAdd(sum: number, a: number, n: number): void;
  /** `sum[c] = sum[c] + a[c]; dst[c] = sum[c] / count` for c < n (n a multiple of 4). */
  colAddEmit(sum: number, a: number, dst: number, n: number, count: number): void;
  /** `sum[c] = (sum[c] + a[c]) - o[c]; dst[c] = sum[c] / w` for c < n (n a multiple of 4). */
  colSlideEmit(sum: number, a: number, o: number, dst: number, n: number, w: number): void;
  /** `sum[c] = sum[c] - o[c]; dst[c] = sum[c] / count` for c < n (n a multiple of 4). */
  colSubEmit(sum: number, o: number, dst: number, n: number, count: number): void;
  /** PDQ quality (step 5) of the 64x64 filtered luma, as {@link pdqQuality} computes it. */
  quality(buffer: Float32Array): number;
  /** The 16x16 DCT (step 6) of the 64x64 filtered luma into `out`, as {@link pdqDct16} computes it. */
  dct16(buffer: Float32Array, out: Float32Array): void;
}

/** The float32 luma terms fround(c * v) for v = 0..255: R at 0, G at 256, B at 512. */
function lumaTables(): Float32Array {
  const tables = new Float32Array(768);
  const r = fround(0.299);
  const g = fround(0.587);
  const b = fround(0.114);
  for (let v = 0; v < 256; v++) {
    tables[v] = r * v;
    tables[256 + v] = g * v;
    tables[512 + v] = b * v;
  }
  return tables;
}

function views(buffer: ArrayBuffer): PdqHeap {
  return { u8: new Uint8Array(buffer), f32: new Float32Array(buffer), i32: new Int32Array(buffer) };
}

/**
 * Luma of `n` pixels from byte `p` (`stride` bytes a pixel) to slots `out..`: the grey byte, or
 * fround(fround(R term + G term) + B term) with the terms from {@link lumaTables}.
 */
function lumaRow(
  u8: Uint8Array,
  f: Float32Array,
  t: Float32Array,
  p: number,
  stride: number,
  n: number,
  out: number,
): void {
  if (stride < 3) {
    for (let i = 0; i < n; i++, p += stride) f[out + i] = u8[p]!;
    return;
  }
  for (let i = 0; i < n; i++, p += stride) {
    f[out + i] = fround(t[u8[p]!]! + t[256 + u8[p + 1]!]!) + t[512 + u8[p + 2]!]!;
  }
}

/**
 * The box along four rows at `src + k * srcStride` (k < 4), four independent running sums in one
 * loop so that their latencies overlap. With `cols` null every output goes to
 * `dst + k * dstStride + p`; otherwise only outputs at the positions in `cols` (from `colsAt`,
 * ascending, sentinel -1) are divided out, sample j to `dst + k * dstStride + j`.
 */
function boxRows4(
  f: Float32Array,
  src: number,
  srcStride: number,
  dst: number,
  dstStride: number,
  n: number,
  w: number,
  cols: Int32Array | null,
): void {
  const a0 = src;
  const a1 = src + srcStride;
  const a2 = a1 + srcStride;
  const a3 = a2 + srcStride;
  const b0 = dst;
  const b1 = dst + dstStride;
  const b2 = b1 + dstStride;
  const b3 = b2 + dstStride;
  const half = (w + 2) >> 1;
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let ri = 0;
  let j = 0;
  let next = cols === null ? -1 : cols[COLS_AT]!;
  for (; ri < half - 1; ri++) {
    s0 = fround(s0 + f[a0 + ri]!);
    s1 = fround(s1 + f[a1 + ri]!);
    s2 = fround(s2 + f[a2 + ri]!);
    s3 = fround(s3 + f[a3 + ri]!);
  }
  let p = 0;
  for (let count = half; count <= w; count++, ri++, p++) {
    s0 = fround(s0 + f[a0 + ri]!);
    s1 = fround(s1 + f[a1 + ri]!);
    s2 = fround(s2 + f[a2 + ri]!);
    s3 = fround(s3 + f[a3 + ri]!);
    if (cols === null) {
      f[b0 + p] = s0 / count;
      f[b1 + p] = s1 / count;
      f[b2 + p] = s2 / count;
      f[b3 + p] = s3 / count;
    } else {
      for (; p === next; next = cols[COLS_AT + ++j]!) {
        f[b0 + j] = s0 / count;
        f[b1 + j] = s1 / count;
        f[b2 + j] = s2 / count;
        f[b3 + j] = s3 / count;
      }
    }
  }
  let oi = 0;
  for (; ri < n; ri++, oi++, p++) {
    s0 = fround(fround(s0 + f[a0 + ri]!) - f[a0 + oi]!);
    s1 = fround(fround(s1 + f[a1 + ri]!) - f[a1 + oi]!);
    s2 = fround(fround(s2 + f[a2 + ri]!) - f[a2 + oi]!);
    s3 = fround(fround(s3 + f[a3 + ri]!) - f[a3 + oi]!);
    if (cols === null) {
      f[b0 + p] = s0 / w;
      f[b1 + p] = s1 / w;
      f[b2 + p] = s2 / w;
      f[b3 + p] = s3 / w;
    } else {
      for (; p === next; next = cols[COLS_AT + ++j]!) {
        f[b0 + j] = s0 / w;
        f[b1 + j] = s1 / w;
        f[b2 + j] = s2 / w;
        f[b3 + j] = s3 / w;
      }
    }
  }
  for (let count = w - 1; p < n; count--, oi++, p++) {
    s0 = fround(s0 - f[a0 + oi]!);
    s1 = fround(s1 - f[a1 + oi]!);
    s2 = fround(s2 - f[a2 + oi]!);
    s3 = fround(s3 - f[a3 + oi]!);
    if (cols === null) {
      f[b0 + p] = s0 / count;
      f[b1 + p] = s1 / count;
      f[b2 + p] = s2 / count;
      f[b3 + p] = s3 / count;
    } else {
      for (; p === next; next = cols[COLS_AT + ++j]!) {
        f[b0 + j] = s0 / count;
        f[b1 + j] = s1 / count;
        f[b2 + j] = s2 / count;
        f[b3 + j] = s3 / count;
      }
    }
  }
}

/** The kernels in plain JavaScript: the readable form, and the fallback where WebAssembly is unavailable. */
class JsKernels implements PdqKernels {
  readonly name = 'js';
  readonly group = 4;
  readonly #tables = lumaTables();
  #heap = views(new ArrayBuffer(HEAP_FIXED * 4));

  scratchSlots(stride: number): number {
    return this.group * stride;
  }

  reserve(slots: number): PdqHeap {
    if (this.#heap.f32.length < slots) {
      const grown = views(new ArrayBuffer(Math.max(slots, 2 * this.#heap.f32.length) * 4));
      grown.f32.set(this.#heap.f32);
      this.#heap = grown;
    }
    return this.#heap;
  }

  lumaBoxRows(
    inByte: number,
    rowBytes: number,
    channels: number,
    width: number,
    w: number,
    dst: number,
    dstStride: number,
    scratch: number,
  ): void {
    const { u8, f32 } = this.#heap;
    const stride = (width + 3) & ~3;
    for (let i = 0; i < this.group; i++) {
      lumaRow(u8, f32, this.#tables, inByte + i * rowBytes, channels, width, scratch + i * stride);
    }
    boxRows4(f32, scratch, stride, dst, dstStride, width, w, null);
  }

  boxRowsSampled(src: number, srcStride: number, width: number, w: number, dst: number): void {
    boxRows4(this.#heap.f32, src, srcStride, dst, 64, width, w, this.#heap.i32);
  }

  colAdd(sum: number, a: number, n: number): void {
    const f = this.#heap.f32;
    for (let c = 0; c < n; c++) f[sum + c] = f[sum + c]! + f[a + c]!;
  }

  colAddEmit(sum: number, a: number, dst: number, n: number, count: number): void {
    const f = this.#heap.f32;
    for (let c = 0; c < n; c++) {
      const s = fround(f[sum + c]! + f[a + c]!);
      f[sum + c] = s;
      f[dst + c] = s / count;
    }
  }

  colSlideEmit(sum: number, a: number, o: number, dst: number, n: number, w: number): void {
    const f = this.#heap.f32;
    for (let c = 0; c < n; c++) {
      const s = fround(fround(f[sum + c]! + f[a + c]!) - f[o + c]!);
      f[sum + c] = s;
      f[dst + c] = s / w;
    }
  }

  quality(buffer: Float32Array): number {
    return pdqQuality(buffer);
  }

  dct16(buffer: Float32Array, out: Float32Array): void {
    pdqDct16(buffer, out);
  }

  colSubEmit(sum: number, o: number, dst: number, n: number, count: number): void {
    const f = this.#heap.f32;
    for (let c = 0; c < n; c++) {
      const s = fround(f[sum + c]! - f[o + c]!);
      f[sum + c] = s;
      f[dst + c] = s / count;
    }
  }
}

let jsKernels: PdqKernels | undefined;

/** The JavaScript kernels (one shared instance: hashing is synchronous, so calls never interleave). */
export function pdqJsKernels(): PdqKernels {
  jsKernels ??= new JsKernels();
  return jsKernels;
}
