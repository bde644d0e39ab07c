/**
 * Owns PDQ steps 1, 3 and 4 (specs/pdq.md): luminance, the two-pass tent filter and the 64x64
 * decimation, streamed a few rows at a time so that a large photo never needs a full-size float
 * buffer. The arithmetic lives in the kernels (pdq-kernels.ts, pdq-wasm.ts); this module only
 * decides which rows and columns they work on.
 *
 * The passes run in the spec's order H, V, H, V, and every value that reaches the 64x64 output
 * is produced by exactly the spec's float32 operation sequence. What differs is only what cannot
 * change a value: independent rows are filtered side by side, independent columns are summed side
 * by side, the first vertical pass pulls rows of the first horizontal pass as it needs them (a
 * ring of rows), and outputs that are never read are not divided out (the second horizontal pass
 * away from the 64 sampled columns, the second vertical pass away from the 64 sampled rows).
 */

import { COLS_AT, HEAP_FIXED, type PdqKernels } from './pdq-kernels';

/** Size of the box window of the tent filter for a side of `n` pixels: floor((n + 127) / 128). */
function pdqWindowSize(n: number): number {
  return Math.floor((n + 127) / 128);
}

/** The 64 indices the decimation reads along a side of `n` pixels: floor((i + 0.5) * n / 64) in double. */
function sampleIndex(i: number, n: number): number {
  return Math.floor(((i + 0.5) * n) / 64);
}

/**
 * The one-dimensional box of spec step 3 run down the rows of a buffer, `n` columns at a time:
 * prime with half - 1 rows, then grow, slide and shrink, emitting each output row once.
 *
 * @param rowAt - slot of input row r; called for the incoming row before the outgoing one.
 * @param dstAt - slot that receives output row p.
 * @param emitted - called after output row p is written.
 */
function boxDown(
  k: PdqKernels,
  n: number,
  rows: number,
  w: number,
  sum: number,
  rowAt: (r: number) => number,
  dstAt: (p: number) => number,
  emitted: (p: number) => void,
): void {
  const half = (w + 2) >> 1;
  let r = 0;
  for (; r < half - 1; r++) k.colAdd(sum, rowAt(r), n);
  let p = 0;
  for (let count = half; count <= w; count++, r++, p++) {
    k.colAddEmit(sum, rowAt(r), dstAt(p), n, count);
    emitted(p);
  }
  let o = 0;
  for (; r < rows; r++, o++, p++) {
    const incoming = rowAt(r);
    k.colSlideEmit(sum, incoming, rowAt(o), dstAt(p), n, w);
    emitted(p);
  }
  for (let count = w - 1; p < rows; count--, o++, p++) {
    k.colSubEmit(sum, rowAt(o), dstAt(p), n, count);
    emitted(p);
  }
}

/**
 * PDQ steps 1, 3 and 4 on validated pixels (`data.length === width * height * channels`,
 * channels 1 to 4, both sides at least 1): writes the 64x64 decimated, tent-filtered luma into
 * `out` (row-major, 4096 floats; cell (i, j) is the filtered value at image row
 * floor((i + 0.5) * height / 64), column floor((j + 0.5) * width / 64)).
 *
 * @param data - 8-bit samples, row-major, `channels` a pixel; with 1 or 2 channels the first is
 *   the luma, with 3 or 4 the first three are R, G, B; a fourth (alpha) is ignored.
 */
export function pdqFilterDecimate(
  k: PdqKernels,
  data: Uint8Array,
  width: number,
  height: number,
  channels: number,
  out: Float32Array,
): void {
  const W = width;
  const H = height;
  const wr = pdqWindowSize(W);
  const wc = pdqWindowSize(H);
  const group = k.group;
  // Rows in the heap are padded to a multiple of 4 slots (16 bytes) for the SIMD kernels.
  const stride = (W + 3) & ~3;
  const rowBytes = W * channels;
  // The first horizontal pass writes `group` rows at once into the ring (row r in slot
  // r % ringRows); the first vertical pass then reads row r and row r - wc. With at least
  // wc + group slots, a multiple of `group`, a block of rows is contiguous in the ring and never
  // overwrites a row still needed, even when the last block runs past the image.
  const ringRows = Math.ceil((wc + group) / group) * group;

  let at = HEAP_FIXED;
  const take = (slots: number): number => {
    const start = at;
    at += (slots + 3) & ~3;
    return start;
  };
  const input = take(Math.ceil((group * rowBytes + 32) / 4));
  const scratch = take(k.scratchSlots(stride));
  const ring = take(ringRows * stride);
  const sum1 = take(stride);
  const vRows = take(group * stride);
  const sum2 = take(64);
  const v2Row = take(64);
  const sampled = take(Math.ceil(H / group) * group * 64);
  const heap = k.reserve(at);
  const f32 = heap.f32;
  f32.fill(0, input, sampled);
  for (let j = 0; j < 64; j++) heap.i32[COLS_AT + j] = sampleIndex(j, W);
  heap.i32[COLS_AT + 64] = -1;

  // Luma and the first horizontal pass, pulled by the first vertical pass `group` rows at a time.
  // In the last block the rows past the image filter stale input into ring slots of rows that are
  // no longer needed.
  let produced = 0;
  const slot = (r: number): number => ring + (r % ringRows) * stride;
  const firstPassRow = (r: number): number => {
    while (produced <= r) {
      const g = Math.min(group, H - produced);
      heap.u8.set(data.subarray(produced * rowBytes, (produced + g) * rowBytes), input * 4);
      k.lumaBoxRows(input * 4, rowBytes, channels, W, wr, slot(produced), stride, scratch);
      produced += g;
    }
    return slot(r);
  };

  // The first vertical pass writes into vRows; every `group` rows the second horizontal pass
  // filters them and keeps the 64 sampled columns of each row in `sampled` (row p at
  // sampled + 64p; rows past the image, from stale vRows, land past row H - 1 and are not read).
  let pending = 0;
  let done = 0;
  const secondPass = (): void => {
    k.boxRowsSampled(vRows, stride, W, wr, sampled + done * 64, scratch);
    done += pending;
    pending = 0;
  };
  boxDown(
    k,
    stride,
    H,
    wc,
    sum1,
    firstPassRow,
    () => vRows + pending * stride,
    () => {
      if (++pending === group) secondPass();
    },
  );
  if (pending > 0) secondPass();

  // The second vertical pass on the 64 sampled columns; keep the output rows the decimation reads.
  let i = 0;
  let nextRow = sampleIndex(0, H);
  boxDown(
    k,
    64,
    H,
    wc,
    sum2,
    (r) => sampled + r * 64,
    () => v2Row,
    (p) => {
      while (i < 64 && p === nextRow) {
        out.set(f32.subarray(v2Row, v2Row + 64), i * 64);
        i++;
        nextRow = sampleIndex(i, H);
      }
    },
  );
}
