/**
 * Owns the WebAssembly evaluation of blockhash's block sums (16 bits a side), identical to
 * blockhash-core's: the precise method's float64 sums (`bmvbhash`, and blockhash-precise.ts) and
 * the even method's whole-number totals (`bmvbhashEven`, which `bmvbhash` also uses when both
 * sides are multiples of 16).
 *
 * Why the precise sums are identical: WebAssembly's f64 (and f64x2 lane) add and multiply are IEEE
 * double with round-to-nearest and never fused, which is what JavaScript numbers do. Each block sum
 * is one chain of additions whose order is fixed (pixel rows top to bottom, pixels left to right,
 * and per pixel the products `(value * weightTop) * weightLeft`, `* weightRight`, then
 * `(value * weightBottom) * weightLeft`, `* weightRight`). The kernel adds exactly those products
 * in that order to each block; chains of different blocks are independent, so it runs all 16 block
 * columns of a pixel row at once: the lanes of eight f64x2 accumulators are the 16 blocks of a row
 * of blocks, and lane j walks, in x order, through the pixels that add to block column j. Three
 * liberties are taken, none of which can change a bit:
 * - a lane with fewer pixels than the longest one is padded with steps of weight zero, and a weight
 *   that is zero in one lane but not the other is multiplied as zero: both add +0, which never
 *   changes a sum of non-negative numbers (blockhash-core adds such +0 products too);
 * - where every second column weight is zero, those products are left out (they are all +0);
 * - where every first column weight is exactly 1 and every second one 0 (width a multiple of 16),
 *   the multiplication by 1 is left out: `x * 1` is `x` in IEEE arithmetic.
 *
 * Why the even totals are identical: blockhash-core sums whole numbers below 2^53, which is exact in
 * any order; the kernel sums each pixel column over a row of cells in int32 (at most 765 x the
 * cell height, so cells of up to 2.8 million rows), and those column totals are added in float64.
 *
 * The pixels may have 1 to 4 channels (grey, grey + alpha, RGB, RGBA; a pixel's value is 765 where
 * alpha is 0, else R + G + B, with R = G = B = grey): each layout has its own kernels, which spread
 * the pixels they load into RGBA with one byte shuffle, so decoded pixels are never expanded.
 *
 * The pixels are copied into the module's memory a strip of rows at a time (sharp hands out its
 * own buffer, which cannot be a view of a WebAssembly memory): the memory stays small and the strip
 * is still in cache when the kernel reads it. Over a corpus of photos the copy is about a quarter
 * of the time (mostly the first read of pixels no longer in cache, which reading in place would
 * pay too).
 */

import { type PrecisePlacement, precisePlacement } from './blockhash-precise';
import { hasAlpha, type PixelChannels } from './pixels';
import {
  type Code,
  encodeModule,
  ensureMemory,
  I32,
  i32x4Bytes,
  ifElse,
  Locals,
  laneBytes,
  lessThan,
  op,
  V128,
  type WasmApi,
  type WasmFunction,
  type WasmMemory,
  wasmApi,
  whileLoop,
} from './wasm-assembler';

/** Bits a side the kernels are built for: 16 block columns in eight f64x2 vectors. */
export const BLOCKHASH_WASM_BITS = 16;

const BITS = BLOCKHASH_WASM_BITS;
/** f64x2 vectors across one row of blocks. */
const VECTORS = BITS / 2;
/**
 * One step of the column table: the first weights of all lanes (VECTORS x f64x2), the second
 * weights (the same), then the addresses of the values the lanes read (VECTORS x two i32).
 */
const STEP_C1 = 0;
const STEP_C2 = 16 * VECTORS;
const STEP_ADDRESSES = 32 * VECTORS;
const STEP_BYTES = 40 * VECTORS;
/**
 * One record of the row table: block-row addresses (top, bottom) and kind (i32), then wTop and
 * wBottom (f64).
 */
const ROW_TOP = 0;
const ROW_BOTTOM = 4;
const ROW_KIND = 8;
const ROW_W_TOP = 16;
const ROW_W_BOTTOM = 24;
const ROW_BYTES = 32;
/** Row kinds: only wTop is non-zero; top and bottom are the same row of blocks; they differ. */
const KIND_TOP = 0;
const KIND_SAME = 1;
const KIND_SPLIT = 2;

/**
 * Memory layout: the block sums, the values of one pixel row (float64, or the int32 column totals
 * of the even method), then the row table, the column table and the pixel strip.
 */
const BLOCKS_AT = 0;
const VALUES_AT = BLOCKS_AT + BITS * BITS * 8;
/** Bytes of int32 column totals the even kernel adds to an iteration (16 pixels). */
const TOTALS_GROUP = 64;
/**
 * Bytes the kernels may read past the end of the pixel strip: the even kernel's last load of a
 * row takes 16 bytes from 12 pixels after a pixel inside the row (under 64 bytes past its end).
 */
const SLACK = 64;
/** Pixel bytes copied into the module's memory per kernel call (at least one row). */
const STRIP_BYTES = 256 * 1024;
/**
 * Largest memory the kernels use (a photo needs under 2 MiB). Degenerate shapes that would need
 * more, such as a one-pixel-wide image millions of rows tall, are left to JavaScript.
 */
const MAX_MEMORY_BYTES = 64 * 1024 * 1024;
/** Tallest cell whose int32 column totals cannot overflow (765 x rows < 2^31). */
const MAX_CELL_HEIGHT = Math.floor(0x7fffffff / 765);

// Read once: inside a vm context (jest) every `Math.*` lookup goes through the context's global.
const max = Math.max;
const min = Math.min;
const floor = Math.floor;
const ceil = Math.ceil;

/** Which column products a precise kernel computes (see the module comment). */
type ColumnMode = 'wide' | 'narrow' | 'unit';

const COLUMN_MODES: readonly ColumnMode[] = ['wide', 'narrow', 'unit'];
const CHANNELS: readonly PixelChannels[] = [1, 2, 3, 4];

/** Locals holding the constants of {@link pixelValues}. */
interface ValueConstants {
  readonly channels: PixelChannels;
  readonly mask: number;
  readonly opaque: number;
  readonly white: number;
  readonly spread: number;
}

function valueConstants(l: Locals, channels: PixelChannels): ValueConstants {
  return { channels, mask: l.add(V128), opaque: l.add(V128), white: l.add(V128), spread: l.add(V128) };
}

/**
 * The byte indices (for `i8x16.swizzle`) that turn four pixels of `channels` samples, loaded from
 * their first byte, into four RGBA pixels: grey goes to R, G and B; an index of 16 or more gives
 * a zero byte, which is where a layout without alpha leaves A (its values need no alpha test).
 */
function spreadBytes(channels: PixelChannels): number[] {
  const none = 0x80;
  const out: number[] = [];
  for (let px = 0; px < 4; px++) {
    const s = px * channels;
    if (channels === 1) out.push(s, s, s, none);
    else if (channels === 2) out.push(s, s, s, s + 1);
    else if (channels === 3) out.push(s, s + 1, s + 2, none);
    else out.push(s, s + 1, s + 2, s + 3);
  }
  return out;
}

function initValueConstants(c: ValueConstants): Code {
  return [
    ...op.v128Const(i32x4Bytes(0x00ffffff)),
    ...op.set(c.mask),
    ...op.v128Const(i32x4Bytes(0x01000000)),
    ...op.set(c.opaque),
    ...op.v128Const(i32x4Bytes(765)),
    ...op.set(c.white),
    ...op.v128Const(spreadBytes(c.channels)),
    ...op.set(c.spread),
  ];
}

/**
 * The values of four pixels loaded into `p` (from their first byte) as four int32 lanes: 765
 * where alpha is 0, else R + G + B. Other layouts are first spread into RGBA; without alpha the
 * A bytes are zero and the sum needs no mask and no alpha test. For RGBA, alpha is masked off,
 * then the bytes of each pixel are added pairwise. May overwrite `p`.
 */
function pixelValues(p: number, c: ValueConstants): Code {
  const rgba: Code = c.channels === 4 ? [] : [...op.get(p), ...op.get(c.spread), ...op.swizzle, ...op.set(p)];
  if (!hasAlpha(c.channels)) {
    return [...rgba, ...op.get(p), ...op.i16x8ExtaddPairwiseI8x16U, ...op.i32x4ExtaddPairwiseI16x8U];
  }
  return [
    ...rgba,
    ...op.get(c.white),
    ...op.get(p),
    ...op.get(c.mask),
    ...op.v128And,
    ...op.i16x8ExtaddPairwiseI8x16U,
    ...op.i32x4ExtaddPairwiseI16x8U,
    ...op.get(p),
    ...op.get(c.opaque),
    ...op.i32x4LtU,
    ...op.v128Bitselect,
  ];
}

/** `local += step` for an i32 local. */
const advance = (local: number, step: number): Code => [
  ...op.get(local),
  ...op.i32(step),
  ...op.i32Add,
  ...op.set(local),
];

/**
 * sums-{wide,narrow,unit}-{channels} (rowTab, rows, pix, rowBytes, steps, nSteps), addresses in
 * bytes: adds the precise method's products of `rows` pixel rows, the first at `pix`, to the
 * block sums. Row r is described by the record at rowTab + 32 r, the columns by `nSteps` steps at
 * `steps`. Each pixel row is first turned into float64 values at VALUES_AT (four pixels an
 * iteration, reading up to 15 bytes past the row), which the steps then pick by address.
 */
function sumsFunction(mode: ColumnMode, channels: PixelChannels): WasmFunction {
  const rowTab = 0;
  const rows = 1;
  const pix = 2;
  const rowBytes = 3;
  const steps = 4;
  const nSteps = 5;
  const l = new Locals(6);
  const top = l.add(I32);
  const bottom = l.add(I32);
  const kind = l.add(I32);
  const sp = l.add(I32);
  const end = l.add(I32);
  const q = l.add(I32);
  const d = l.add(I32);
  const rowEnd = l.add(I32);
  const wTop = l.add(V128);
  const wBottom = l.add(V128);
  const constants = valueConstants(l, channels);
  const p = l.add(V128);
  const v = l.add(V128);
  const a = l.add(V128);
  const b = l.add(V128);
  const accTop = l.addMany(V128, VECTORS);
  const accBottom = l.addMany(V128, VECTORS);

  const valuesOfRow: Code = [
    ...op.get(pix),
    ...op.set(q),
    ...op.i32(VALUES_AT),
    ...op.set(d),
    ...op.get(pix),
    ...op.get(rowBytes),
    ...op.i32Add,
    ...op.set(rowEnd),
    ...whileLoop(
      lessThan(q, rowEnd),
      [...op.get(q), ...op.v128Load(), ...op.set(p)],
      [...pixelValues(p, constants), ...op.set(v)],
      [...op.get(d), ...op.get(v), ...op.f64x2FromLowU32x4, ...op.v128Store(0)],
      [...op.get(d), ...op.get(v), ...op.get(v), ...op.shuffle(laneBytes([2, 3, 2, 3]))],
      [...op.f64x2FromLowU32x4, ...op.v128Store(16)],
      advance(q, 4 * channels),
      advance(d, 32),
    ),
  ];
  /** acc += product * (lane weights at the step pointer + weightsAt); without the * 1 in unit mode. */
  const addProduct = (acc: number, product: number, weightsAt: number): Code => [
    ...op.get(acc),
    ...op.get(product),
    ...(mode === 'unit' ? [] : [...op.get(sp), ...op.v128Load(weightsAt), ...op.f64x2Mul]),
    ...op.f64x2Add,
    ...op.set(acc),
  ];
  /** The two values vector m reads at this step, as f64x2 in `v`. */
  const values = (m: number): Code => [
    ...op.get(sp),
    ...op.i32Load(STEP_ADDRESSES + 8 * m + 4),
    ...op.get(sp),
    ...op.i32Load(STEP_ADDRESSES + 8 * m),
    ...op.v128Load64Zero(),
    ...op.v128Load64Lane(1),
    ...op.set(v),
  ];
  const times = (target: number, weight: number): Code => [
    ...op.get(v),
    ...op.get(weight),
    ...op.f64x2Mul,
    ...op.set(target),
  ];
  /** The products of one pixel row with every block column, for one row kind. */
  const rowBody = (rowKind: number): Code => {
    const bottomToo = rowKind !== KIND_TOP;
    const accB = rowKind === KIND_SPLIT ? accBottom : accTop;
    const step: Code[] = [];
    for (let m = 0; m < VECTORS; m++) {
      step.push(values(m), times(a, wTop));
      if (bottomToo) step.push(times(b, wBottom));
      // Order per block: top x left, top x right, bottom x left, bottom x right.
      step.push(addProduct(accTop[m]!, a, STEP_C1 + 16 * m));
      if (mode === 'wide') step.push(addProduct(accTop[m]!, a, STEP_C2 + 16 * m));
      if (bottomToo) {
        step.push(addProduct(accB[m]!, b, STEP_C1 + 16 * m));
        if (mode === 'wide') step.push(addProduct(accB[m]!, b, STEP_C2 + 16 * m));
      }
    }
    const load = (acc: readonly number[], base: number): Code =>
      acc.flatMap((local, m) => [...op.get(base), ...op.v128Load(16 * m), ...op.set(local)]);
    const store = (acc: readonly number[], base: number): Code =>
      acc.flatMap((local, m) => [...op.get(base), ...op.get(local), ...op.v128Store(16 * m)]);
    return [
      ...load(accTop, top),
      ...(rowKind === KIND_SPLIT ? load(accBottom, bottom) : []),
      ...op.get(steps),
      ...op.set(sp),
      ...whileLoop(lessThan(sp, end), ...step, advance(sp, STEP_BYTES)),
      ...store(accTop, top),
      ...(rowKind === KIND_SPLIT ? store(accBottom, bottom) : []),
    ];
  };
  const is = (k: number): Code => [...op.get(kind), ...op.i32(k), ...op.i32Eq];
  return {
    name: `sums-${mode}-${channels}`,
    params: 6,
    locals: l.types,
    body: [
      ...initValueConstants(constants),
      ...op.get(nSteps),
      ...op.i32(STEP_BYTES),
      ...op.i32Mul,
      ...op.get(steps),
      ...op.i32Add,
      ...op.set(end),
      ...whileLoop(
        [...op.get(rows), ...op.i32(0), ...op.i32GtS],
        [...op.get(rowTab), ...op.i32Load(ROW_TOP), ...op.set(top)],
        [...op.get(rowTab), ...op.i32Load(ROW_BOTTOM), ...op.set(bottom)],
        [...op.get(rowTab), ...op.i32Load(ROW_KIND), ...op.set(kind)],
        [...op.get(rowTab), ...op.f64Load(ROW_W_TOP), ...op.f64x2Splat, ...op.set(wTop)],
        [...op.get(rowTab), ...op.f64Load(ROW_W_BOTTOM), ...op.f64x2Splat, ...op.set(wBottom)],
        valuesOfRow,
        ifElse(
          is(KIND_TOP),
          rowBody(KIND_TOP),
          ifElse(is(KIND_SAME), rowBody(KIND_SAME), rowBody(KIND_SPLIT)),
        ),
        [...op.get(pix), ...op.get(rowBytes), ...op.i32Add, ...op.set(pix)],
        advance(rowTab, ROW_BYTES),
        advance(rows, -1),
      ),
    ],
  };
}

/**
 * columnTotals-{channels} (pix, rows, rowBytes, totals), addresses in bytes: adds the values of
 * `rows` pixel rows, the first at `pix`, to int32 totals per pixel column at `totals` (16 pixels
 * an iteration, so up to 15 totals past the row's last pixel receive bytes read past it).
 */
function columnTotalsFunction(channels: PixelChannels): WasmFunction {
  const pix = 0;
  const rows = 1;
  const rowBytes = 2;
  const totals = 3;
  const l = new Locals(4);
  const q = l.add(I32);
  const t = l.add(I32);
  const rowEnd = l.add(I32);
  const constants = valueConstants(l, channels);
  const p = l.add(V128);
  return {
    name: `columnTotals-${channels}`,
    params: 4,
    locals: l.types,
    body: [
      ...initValueConstants(constants),
      ...whileLoop(
        [...op.get(rows), ...op.i32(0), ...op.i32GtS],
        [...op.get(pix), ...op.set(q), ...op.get(totals), ...op.set(t)],
        [...op.get(pix), ...op.get(rowBytes), ...op.i32Add, ...op.set(rowEnd)],
        whileLoop(
          lessThan(q, rowEnd),
          // Four pixels at a time: their bytes from 4 * channels * k, their totals from 16 * k.
          ...[0, 1, 2, 3].map((k) => [
            ...op.get(q),
            ...op.v128Load(4 * channels * k),
            ...op.set(p),
            ...op.get(t),
            ...op.get(t),
            ...op.v128Load(16 * k),
            ...pixelValues(p, constants),
            ...op.i32x4Add,
            ...op.v128Store(16 * k),
          ]),
          advance(q, 16 * channels),
          advance(t, TOTALS_GROUP),
        ),
        [...op.get(pix), ...op.get(rowBytes), ...op.i32Add, ...op.set(pix)],
        advance(rows, -1),
      ),
    ],
  };
}

type SumsKernel = (
  rowTab: number,
  rows: number,
  pix: number,
  rowBytes: number,
  steps: number,
  nSteps: number,
) => void;
type TotalsKernel = (pix: number, rows: number, rowBytes: number, totals: number) => void;

/** The column table of the precise kernels, lane by lane (lane j = block column j). */
interface ColumnSteps {
  /** Steps: the longest lane's length; shorter lanes are padded with weight-zero steps at x = 0. */
  readonly count: number;
  /** Per lane and step, the pixel column read. */
  readonly columns: Int32Array[];
  /** Per lane and step, the first and second weight. */
  readonly c1: Float64Array[];
  readonly c2: Float64Array[];
  /** The kernel the table allows. */
  readonly mode: ColumnMode;
}

/**
 * Lane j lists, in x order, every pixel that adds to block column j: a pixel inside the column with
 * (weightLeft, weightRight), a pixel straddling its left or right boundary with only the weight
 * that lands in it. Null when a block index falls outside 0..bits-1 (blockhash-core never produces
 * one).
 */
function columnSteps(placement: PrecisePlacement, width: number, bits: number): ColumnSteps | null {
  const { first: left, second: right, wFirst: wLeft, wSecond: wRight } = placement;
  const lengths = new Int32Array(BITS);
  for (let x = 0; x < width; x++) {
    const l = left[x]!;
    const r = right[x]!;
    if (l < 0 || l >= bits || r < 0 || r >= bits) return null;
    if (l === r) lengths[l]! += 1;
    else {
      if (wLeft[x] !== 0) lengths[l]! += 1;
      if (wRight[x] !== 0) lengths[r]! += 1;
    }
  }
  const count = max(...lengths);
  const columns = Array.from({ length: BITS }, () => new Int32Array(count));
  const c1 = Array.from({ length: BITS }, () => new Float64Array(count));
  const c2 = Array.from({ length: BITS }, () => new Float64Array(count));
  const next = new Int32Array(BITS);
  const push = (lane: number, x: number, w1: number, w2: number): void => {
    const t = next[lane]!++;
    columns[lane]![t] = x;
    c1[lane]![t] = w1;
    c2[lane]![t] = w2;
  };
  for (let x = 0; x < width; x++) {
    const l = left[x]!;
    const r = right[x]!;
    const wl = wLeft[x]!;
    const wr = wRight[x]!;
    if (l === r) push(l, x, wl, wr);
    else {
      if (wl !== 0) push(l, x, wl, 0);
      if (wr !== 0) push(r, x, wr, 0);
    }
  }
  const all = (lists: Float64Array[], value: number): boolean =>
    lists.every((w) => w.every((x) => x === value));
  const mode: ColumnMode = !all(c2, 0) ? 'wide' : all(c1, 1) ? 'unit' : 'narrow';
  return { count, columns, c1, c2, mode };
}

/** The WebAssembly kernels and their memory. Hashing is synchronous, so calls never interleave. */
class BlockhashWasm {
  readonly #memory: WasmMemory;
  /** Kernels by channels, then by column mode. */
  readonly #sums: ReadonlyMap<PixelChannels, Readonly<Record<ColumnMode, SumsKernel>>>;
  readonly #totals: ReadonlyMap<PixelChannels, TotalsKernel>;

  constructor(wasm: WasmApi) {
    const bytes = encodeModule(
      CHANNELS.flatMap((c) => [
        ...COLUMN_MODES.map((mode) => sumsFunction(mode, c)),
        columnTotalsFunction(c),
      ]),
    );
    this.#memory = new wasm.Memory({ initial: 1 });
    const instance = new wasm.Instance(new wasm.Module(bytes), { env: { mem: this.#memory } });
    const x = instance.exports as Record<string, SumsKernel & TotalsKernel>;
    this.#sums = new Map(
      CHANNELS.map((c) => [
        c,
        { wide: x[`sums-wide-${c}`]!, narrow: x[`sums-narrow-${c}`]!, unit: x[`sums-unit-${c}`]! },
      ]),
    );
    this.#totals = new Map(CHANNELS.map((c) => [c, x[`columnTotals-${c}`]!]));
  }

  #reserve(bytes: number): { u8: Uint8Array; i32: Int32Array; f64: Float64Array } {
    ensureMemory(this.#memory, bytes);
    const buffer = this.#memory.buffer;
    return { u8: new Uint8Array(buffer), i32: new Int32Array(buffer), f64: new Float64Array(buffer) };
  }

  preciseSums(
    width: number,
    height: number,
    data: Uint8Array,
    bits: number,
    channels: PixelChannels,
  ): Float64Array | null {
    const steps = columnSteps(precisePlacement(width, bits), width, bits);
    if (steps === null) return null;
    const rows = precisePlacement(height, bits);
    for (let y = 0; y < height; y++) {
      const top = rows.first[y]!;
      const bottom = rows.second[y]!;
      if (top < 0 || top >= bits || bottom < 0 || bottom >= bits) return null;
    }
    const rowBytes = width * channels;
    const rowsAt = VALUES_AT + 32 * ceil(width / 4);
    const stepsAt = rowsAt + height * ROW_BYTES;
    const pixAt = stepsAt + steps.count * STEP_BYTES;
    const stripRows = min(height, max(1, floor(STRIP_BYTES / rowBytes)));
    const bytes = pixAt + stripRows * rowBytes + SLACK;
    if (bytes > MAX_MEMORY_BYTES) return null;
    const { u8, i32, f64 } = this.#reserve(bytes);

    f64.fill(0, BLOCKS_AT / 8, BLOCKS_AT / 8 + BITS * BITS);
    for (let y = 0; y < height; y++) {
      const at = rowsAt + y * ROW_BYTES;
      const wBottom = rows.wSecond[y]!;
      const top = rows.first[y]!;
      const bottom = rows.second[y]!;
      i32[(at + ROW_TOP) / 4] = BLOCKS_AT + top * BITS * 8;
      i32[(at + ROW_BOTTOM) / 4] = BLOCKS_AT + bottom * BITS * 8;
      i32[(at + ROW_KIND) / 4] = wBottom === 0 ? KIND_TOP : top === bottom ? KIND_SAME : KIND_SPLIT;
      f64[(at + ROW_W_TOP) / 8] = rows.wFirst[y]!;
      f64[(at + ROW_W_BOTTOM) / 8] = wBottom;
    }
    for (let t = 0; t < steps.count; t++) {
      const at = stepsAt + t * STEP_BYTES;
      for (let lane = 0; lane < BITS; lane++) {
        f64[(at + STEP_C1) / 8 + lane] = steps.c1[lane]![t]!;
        f64[(at + STEP_C2) / 8 + lane] = steps.c2[lane]![t]!;
        i32[(at + STEP_ADDRESSES) / 4 + lane] = VALUES_AT + 8 * steps.columns[lane]![t]!;
      }
    }

    const kernel = this.#sums.get(channels)![steps.mode];
    for (let y = 0; y < height; y += stripRows) {
      const n = min(stripRows, height - y);
      u8.set(data.subarray(y * rowBytes, (y + n) * rowBytes), pixAt);
      kernel(rowsAt + y * ROW_BYTES, n, pixAt, rowBytes, stepsAt, steps.count);
    }
    // Block (k, j) sits at k * 16 + j; lanes and rows of blocks past `bits` stay zero.
    const sums = new Float64Array(bits * bits);
    for (let k = 0; k < bits; k++)
      sums.set(f64.subarray(BLOCKS_AT / 8 + k * BITS, BLOCKS_AT / 8 + k * BITS + bits), k * bits);
    return sums;
  }

  evenSums(width: number, height: number, data: Uint8Array, channels: PixelChannels): Float64Array | null {
    const blocks = new Float64Array(BITS * BITS);
    const cellWidth = floor(width / BITS);
    const cellHeight = floor(height / BITS);
    if (cellWidth === 0 || cellHeight === 0) return blocks;
    const totals = this.#totals.get(channels)!;
    const rowBytes = width * channels;
    const totalsBytes = TOTALS_GROUP * ceil(width / 16);
    const pixAt = VALUES_AT + totalsBytes;
    const stripRows = min(cellHeight, max(1, floor(STRIP_BYTES / rowBytes)));
    const bytes = pixAt + stripRows * rowBytes + SLACK;
    if (bytes > MAX_MEMORY_BYTES || cellHeight > MAX_CELL_HEIGHT) return null;
    const { u8, i32 } = this.#reserve(bytes);
    const totalsAt = VALUES_AT / 4;
    for (let by = 0; by < BITS; by++) {
      i32.fill(0, totalsAt, totalsAt + totalsBytes / 4);
      const last = (by + 1) * cellHeight;
      for (let y = by * cellHeight; y < last; y += stripRows) {
        const n = min(stripRows, last - y);
        u8.set(data.subarray(y * rowBytes, (y + n) * rowBytes), pixAt);
        totals(pixAt, n, rowBytes, VALUES_AT);
      }
      for (let bx = 0; bx < BITS; bx++) {
        let total = 0;
        const first = totalsAt + bx * cellWidth;
        for (let x = first; x < first + cellWidth; x++) total += i32[x]!;
        blocks[by * BITS + bx] = total;
      }
    }
    return blocks;
  }
}

let engine: BlockhashWasm | null | undefined;

function blockhashWasm(): BlockhashWasm | null {
  if (engine === undefined) {
    const wasm = wasmApi();
    try {
      engine = wasm ? new BlockhashWasm(wasm) : null;
    } catch {
      engine = null;
    }
  }
  return engine;
}

/** Whether the WebAssembly kernels are available here (built once per thread, on first use). */
export function blockhashWasmAvailable(): boolean {
  return blockhashWasm() !== null;
}

/**
 * Block sums of blockhash's precise method, row-major, bits x bits, computed in WebAssembly and
 * identical to `preciseBlockSums(width, height, data, bits)` from blockhash-precise.ts (for any
 * size; blockhash-core switches to its even method when both sides are multiples of `bits`).
 * hashgate hashes with 16 bits; fewer bits serve the tests: with 16 (a power of two) every weight
 * is a multiple of 1/16, so every product and sum is exact and the order of the additions cannot
 * show, while with, say, 12 bits they round, and only the same operations in the same order give
 * the same sums.
 *
 * @param data - pixels of `channels` samples, `width * height * channels` bytes (not checked here).
 * @param bits - blocks a side, 1 to 16.
 * @param channels - 1 (grey), 2 (grey, alpha), 3 (RGB) or 4 (RGBA).
 * @returns the sums, or null where WebAssembly with SIMD is unavailable (for example
 *   `node --jitless`), for a degenerate shape that would need over 64 MiB of tables (one pixel
 *   wide and millions of rows tall), or when the geometry puts a pixel outside the blocks
 *   (blockhash-core never does).
 */
export function blockhashWasmPreciseSums(
  width: number,
  height: number,
  data: Uint8Array,
  bits: number = BITS,
  channels: PixelChannels = 4,
): Float64Array | null {
  if (!Number.isInteger(bits) || bits < 1 || bits > BITS) throw new RangeError(`bits must be 1 to ${BITS}`);
  const kernels = blockhashWasm();
  return kernels === null ? null : kernels.preciseSums(width, height, data, bits, channels);
}

/**
 * Block totals of blockhash-core's even method (`bmvbhashEven(image, 16)`), row-major, 16 x 16:
 * whole cells of floor(width / 16) x floor(height / 16) pixels, the pixels right of and below the
 * last cells left out.
 *
 * @param data - pixels of `channels` samples, `width * height * channels` bytes (not checked here).
 * @param channels - 1 (grey), 2 (grey, alpha), 3 (RGB) or 4 (RGBA).
 * @returns the totals, or null where WebAssembly with SIMD is unavailable or for a degenerate shape
 *   (cells of millions of rows, or rows of millions of pixels).
 */
export function blockhashWasmEvenSums(
  width: number,
  height: number,
  data: Uint8Array,
  channels: PixelChannels = 4,
): Float64Array | null {
  const kernels = blockhashWasm();
  return kernels === null ? null : kernels.evenSums(width, height, data, channels);
}
