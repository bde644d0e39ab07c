/**
 * Owns the WebAssembly form of the PDQ kernels (the interface in pdq-kernels.ts): the small module
 * it builds at start-up with the assembler in wasm-assembler.ts, so no binary is shipped.
 *
 * Why WebAssembly: its f32 instructions are IEEE single precision with round-to-nearest and never
 * fused, exactly the arithmetic the spec prescribes, without the two conversions each
 * `Math.fround` costs in JavaScript; and its SIMD instructions (f32x4) do the same float32
 * operation in four lanes at once. The vertical running sums put four columns in the lanes. The
 * horizontal running sums are a chain along each row, so there the lanes hold 16 different rows:
 * blocks of 16 rows are transposed (4x4 shuffles, no arithmetic), filtered column by column, and
 * transposed back. Each lane therefore sees exactly the operation sequence of the JavaScript
 * kernels; the tests check that both give identical bits.
 */

import { dctBasis } from './pdq-dct';
import { COLS_AT, HEAP_FIXED, type PdqHeap, type PdqKernels } from './pdq-kernels';
import {
  bump,
  bumpBy,
  type Code,
  encodeModule,
  f32x4Bytes,
  I32,
  i32x4Bytes,
  Locals,
  laneBytes,
  lessThan,
  op,
  PAGE,
  sumOf,
  V128,
  type WasmApi,
  type WasmFunction,
  type WasmMemory,
  wasmApi,
  whileLoop,
} from './wasm-assembler';

/** Rows per horizontal block: four f32x4 running sums side by side. */
const GROUP = 16;
/** Bytes of one column of a transposed block (GROUP float32 values). */
const COLUMN = GROUP * 4;
/** Bytes of one row of sampled output (64 float32 values). */
const SAMPLED_ROW = 256;

/** Locals and code that turn four pixels of `channels` bytes, loaded in a v128 local, into their luma as f32x4. */
interface LumaCode {
  /** Sets the constant locals; run once before the loop. */
  readonly init: Code;
  /** Leaves the luma of the four pixels in `pixels` on the stack. */
  readonly of: Code;
}

/**
 * A swizzle spreads the R, G and B bytes of four pixels over four 32-bit lanes; the float32
 * products with the float32 coefficients are exactly the table entries of the JavaScript kernel,
 * and the sum is (R + G) + B. With one or two channels the first byte is the luma itself.
 */
function lumaCode(channels: number, l: Locals, pixels: number): LumaCode {
  const rgb = channels >= 3;
  // Constants live in locals so that the loop does not rebuild them.
  const spreads = (rgb ? [0, 1, 2] : [0]).map((first) => ({
    local: l.add(V128),
    bytes: [0, 1, 2, 3].flatMap((k) => [channels * k + first, 0x80, 0x80, 0x80]),
  }));
  const coefficients = (rgb ? [0.299, 0.587, 0.114] : []).map((value) => ({
    local: l.add(V128),
    bytes: f32x4Bytes(value),
  }));
  const term = (i: number): Code => [
    ...op.get(pixels),
    ...op.get(spreads[i]!.local),
    ...op.swizzle,
    ...op.f32x4FromI32x4,
    ...(rgb ? [...op.get(coefficients[i]!.local), ...op.f32x4Mul] : []),
  ];
  return {
    init: [...spreads, ...coefficients].flatMap((c) => [...op.v128Const(c.bytes), ...op.set(c.local)]),
    of: rgb ? [...term(0), ...term(1), ...op.f32x4Add, ...term(2), ...op.f32x4Add] : term(0),
  };
}

/**
 * lumaColumns{channels}(inByte, rowBytes, dst, n), addresses in bytes: the luma (spec step 1) of
 * GROUP rows of pixels, row i at inByte + i * rowBytes, written as `n` columns of GROUP floats
 * at dst (column c at dst + c * COLUMN), the layout the horizontal box reads. `n` is a multiple
 * of 4 at least the row's pixels: the columns past the last pixel hold values nobody reads, and
 * up to 16 bytes past the last pixel of a row are read. Four pixels of four rows at a time: their
 * luma, then a 4x4 transpose.
 */
function lumaColumnsFunction(channels: number): WasmFunction {
  const inByte = 0;
  const rowBytes = 1;
  const dst = 2;
  const n = 3;
  const l = new Locals(4);
  const c = l.add(I32);
  const end = l.add(I32);
  const q = l.add(I32);
  const pixels = l.add(V128);
  const v = l.addMany(V128, 4);
  const t = l.addMany(V128, 4);
  const o = l.addMany(V128, 4);
  const luma = lumaCode(channels, l, pixels);
  const blocks: Code[] = [];
  for (let g = 0; g < GROUP / 4; g++) {
    const load: Code[] = v.map((local) => [
      ...op.get(q),
      ...op.v128Load(),
      ...op.set(pixels),
      ...luma.of,
      ...op.set(local),
      ...bumpBy(q, rowBytes),
    ]);
    const store: Code[] = o.map((local, i) => [
      ...op.get(dst),
      ...op.get(local),
      ...op.v128Store(i * COLUMN + 16 * g),
    ]);
    blocks.push(...load, transpose(v, t, o), ...store);
  }
  return {
    name: `lumaColumns${channels}`,
    params: 4,
    locals: l.types,
    body: [
      ...luma.init,
      ...op.get(n),
      ...op.i32(2),
      ...op.i32Shl,
      ...op.set(end),
      ...whileLoop(
        lessThan(c, end),
        [...op.get(inByte), ...op.set(q)],
        ...blocks,
        bump(dst, 4 * COLUMN),
        bump(inByte, 4 * channels),
        bump(c, 16),
      ),
    ],
  };
}

/** 4x4 transpose of 32-bit lanes: rows in locals `v`, columns out to locals `c` (via `t`). */
function transpose(v: readonly number[], t: readonly number[], c: readonly number[]): Code {
  const shuffle = (target: number, a: number, b: number, lanes: readonly number[]): Code => [
    ...op.get(a),
    ...op.get(b),
    ...op.shuffle(laneBytes(lanes)),
    ...op.set(target),
  ];
  const [v0, v1, v2, v3] = v as [number, number, number, number];
  const [t0, t1, t2, t3] = t as [number, number, number, number];
  const [c0, c1, c2, c3] = c as [number, number, number, number];
  return [
    ...shuffle(t0, v0, v1, [0, 4, 1, 5]),
    ...shuffle(t1, v2, v3, [0, 4, 1, 5]),
    ...shuffle(t2, v0, v1, [2, 6, 3, 7]),
    ...shuffle(t3, v2, v3, [2, 6, 3, 7]),
    ...shuffle(c0, t0, t1, [0, 1, 4, 5]),
    ...shuffle(c1, t0, t1, [2, 3, 6, 7]),
    ...shuffle(c2, t2, t3, [0, 1, 4, 5]),
    ...shuffle(c3, t2, t3, [2, 3, 6, 7]),
  ];
}

/**
 * toColumns(src, srcStride, dst, n): GROUP rows of `n` floats (n a multiple of 4) at src + i *
 * srcStride become `n` columns of GROUP floats at dst (column c at dst + c * COLUMN).
 * toRows(src, dst, dstStride, n) is the inverse. Addresses in bytes.
 */
function transposeFunction(toColumns: boolean): WasmFunction {
  // toColumns(src, srcStride, dst, n) and toRows(src, dst, dstStride, n)
  const src = 0;
  const stride = toColumns ? 1 : 2;
  const dst = toColumns ? 2 : 1;
  const n = 3;
  const l = new Locals(4);
  const c = l.add(I32);
  const end = l.add(I32);
  const q = l.add(I32);
  const v = l.addMany(V128, 4);
  const t = l.addMany(V128, 4);
  const o = l.addMany(V128, 4);
  const blocks: Code[] = [];
  for (let g = 0; g < GROUP / 4; g++) {
    const load: Code[] = v.map((local, i) =>
      toColumns
        ? [...op.get(q), ...op.v128Load(), ...op.set(local), ...bumpBy(q, stride)]
        : [...op.get(src), ...op.v128Load(i * COLUMN + 16 * g), ...op.set(local)],
    );
    const store: Code[] = o.map((local, i) =>
      toColumns
        ? [...op.get(dst), ...op.get(local), ...op.v128Store(i * COLUMN + 16 * g)]
        : [...op.get(q), ...op.get(local), ...op.v128Store(), ...bumpBy(q, stride)],
    );
    blocks.push(...load, transpose(v, t, o), ...store);
  }
  const corner = toColumns ? src : dst;
  return {
    name: toColumns ? 'toColumns' : 'toRows',
    params: 4,
    locals: l.types,
    body: [
      ...op.get(n),
      ...op.i32(2),
      ...op.i32Shl,
      ...op.set(end),
      ...whileLoop(
        lessThan(c, end),
        sumOf(q, corner, c),
        ...blocks,
        toColumns ? bump(dst, 4 * COLUMN) : bump(src, 4 * COLUMN),
        bump(c, 16),
      ),
    ],
  };
}

/**
 * hbox(src, dst, n, w) and hboxSampled(src, dst, n, w), addresses in bytes: the one-dimensional
 * box along GROUP rows held as `n` transposed columns at src, as four f32x4 running sums. hbox
 * writes every output column to dst (same layout). hboxSampled writes only the sampled positions
 * (int32 list at COLS_AT, sentinel -1): row i, sample j to dst + 256 i + 4 j.
 */
function hboxFunction(sampled: boolean): WasmFunction {
  const src = 0;
  const dst = 1;
  const n = 2;
  const w = 3;
  const l = new Locals(4);
  const count = l.add(I32);
  const limit = l.add(I32);
  const ri = l.add(I32);
  const oi = l.add(I32);
  const p = l.add(I32);
  const x = l.add(I32);
  const z = l.add(I32);
  const j = l.add(I32);
  const next = l.add(I32);
  const q = l.add(V128);
  const tmp = l.add(V128);
  const sums = l.addMany(V128, GROUP / 4);
  const at = (base: number, offset: number): Code => [...op.get(base), ...op.v128Load(offset)];
  const add = sums.map((s, g) => [...op.get(s), ...at(x, 16 * g), ...op.f32x4Add, ...op.set(s)]);
  const slide = sums.map((s, g) => [
    ...op.get(s),
    ...at(x, 16 * g),
    ...op.f32x4Add,
    ...at(z, 16 * g),
    ...op.f32x4Sub,
    ...op.set(s),
  ]);
  const sub = sums.map((s, g) => [...op.get(s), ...at(z, 16 * g), ...op.f32x4Sub, ...op.set(s)]);
  const loadNext: Code = [
    ...op.get(j),
    ...op.i32Load(COLS_AT * 4),
    ...op.i32(COLUMN),
    ...op.i32Mul,
    ...op.set(next),
  ];
  // Positions are byte offsets of columns (x COLUMN); the sentinel -1 becomes negative, never a position.
  const emit: Code = sampled
    ? whileLoop(
        [...op.get(p), ...op.get(next), ...op.i32Eq],
        ...sums.map((s, g) => [
          ...op.get(s),
          ...op.get(q),
          ...op.f32x4Div,
          ...op.set(tmp),
          ...[0, 1, 2, 3].flatMap((lane) => [
            ...op.get(dst),
            ...op.get(j),
            ...op.i32Add,
            ...op.get(tmp),
            ...op.f32x4ExtractLane(lane),
            ...op.f32Store((4 * g + lane) * SAMPLED_ROW),
          ]),
        ]),
        bump(j, 4),
        loadNext,
      )
    : [
        ...sumOf(x, dst, p),
        ...sums.flatMap((s, g) => [
          ...op.get(x),
          ...op.get(s),
          ...op.get(q),
          ...op.f32x4Div,
          ...op.v128Store(16 * g),
        ]),
      ];
  const splatCount: Code = [...op.get(count), ...op.f32FromI32, ...op.f32x4Splat, ...op.set(q)];
  return {
    name: sampled ? 'hboxSampled' : 'hbox',
    params: 4,
    locals: l.types,
    body: [
      ...(sampled ? loadNext : []),
      // half = (w + 2) >> 1; prime with half - 1 samples
      ...op.get(w),
      ...op.i32(2),
      ...op.i32Add,
      ...op.i32(1),
      ...op.i32ShrS,
      ...op.tee(count),
      ...op.i32(1),
      ...op.i32Sub,
      ...op.i32(COLUMN),
      ...op.i32Mul,
      ...op.set(limit),
      ...whileLoop(lessThan(ri, limit), sumOf(x, src, ri), ...add, bump(ri, COLUMN)),
      // grow: count = half..w
      ...whileLoop(
        [...op.get(count), ...op.get(w), ...op.i32LeS],
        splatCount,
        sumOf(x, src, ri),
        ...add,
        emit,
        bump(count, 1),
        bump(ri, COLUMN),
        bump(p, COLUMN),
      ),
      // full window until the last sample is in
      ...op.get(w),
      ...op.set(count),
      ...splatCount,
      ...op.get(n),
      ...op.i32(COLUMN),
      ...op.i32Mul,
      ...op.set(limit),
      ...whileLoop(
        lessThan(ri, limit),
        sumOf(x, src, ri),
        sumOf(z, src, oi),
        ...slide,
        emit,
        bump(ri, COLUMN),
        bump(oi, COLUMN),
        bump(p, COLUMN),
      ),
      // shrink: count = w - 1 down
      ...op.get(w),
      ...op.i32(1),
      ...op.i32Sub,
      ...op.set(count),
      ...whileLoop(
        lessThan(p, limit),
        splatCount,
        sumOf(z, src, oi),
        ...sub,
        emit,
        bump(count, -1),
        bump(oi, COLUMN),
        bump(p, COLUMN),
      ),
    ],
  };
}

/**
 * The vertical running sums over `n` columns (a multiple of 4), four columns an instruction:
 * colAdd(sum, a, n), colAddEmit(sum, a, dst, n, count), colSlideEmit(sum, a, o, dst, n, w),
 * colSubEmit(sum, o, dst, n, count); addresses in bytes.
 */
function columnFunction(kind: 'Add' | 'AddEmit' | 'SlideEmit' | 'SubEmit'): WasmFunction {
  const hasIn = kind !== 'SubEmit';
  const hasOut = kind === 'SlideEmit' || kind === 'SubEmit';
  const hasEmit = kind !== 'Add';
  const params: string[] = ['sum'];
  if (hasIn) params.push('a');
  if (hasOut) params.push('o');
  if (hasEmit) params.push('dst');
  params.push('n');
  if (hasEmit) params.push('divisor');
  const at = (param: string): number => params.indexOf(param);
  const l = new Locals(params.length);
  const c = l.add(I32);
  const end = l.add(I32);
  const v = l.add(V128);
  const q = l.add(V128);
  const vec = (base: string): Code => [...op.get(at(base)), ...op.get(c), ...op.i32Add, ...op.v128Load()];
  const body: Code[] = [[...op.get(at('sum')), ...op.get(c), ...op.i32Add, ...vec('sum')]];
  if (hasIn) body.push([...vec('a'), ...op.f32x4Add]);
  if (hasOut) body.push([...vec('o'), ...op.f32x4Sub]);
  body.push([...op.tee(v), ...op.v128Store()]);
  if (hasEmit) {
    body.push([
      ...op.get(at('dst')),
      ...op.get(c),
      ...op.i32Add,
      ...op.get(v),
      ...op.get(q),
      ...op.f32x4Div,
      ...op.v128Store(),
    ]);
  }
  body.push(bump(c, 16));
  return {
    name: `col${kind}`,
    params: params.length,
    locals: l.types,
    body: [
      ...(hasEmit ? [...op.get(at('divisor')), ...op.f32FromI32, ...op.f32x4Splat, ...op.set(q)] : []),
      ...op.get(at('n')),
      ...op.i32(2),
      ...op.i32Shl,
      ...op.set(end),
      ...whileLoop(lessThan(c, end), ...body),
    ],
  };
}

/** Bytes of one row of the 64x64 filtered luma (64 float32 values). */
const LUMA_ROW = 256;

/**
 * matmul{vectors}(a, b, dst, rows), addresses in bytes: `rows` rows of dst = A x B, where A has
 * rows of 64 floats and B has 64 rows of `vectors` f32x4 values; dst rows are as wide as B's.
 * Each output value is the float32 sum of the 64 products A[r][k] * B[k][c] added in k order from
 * zero, as pdqDct16 adds them; the lanes hold four adjacent output columns.
 */
function matmulFunction(vectors: number): WasmFunction {
  const a = 0;
  const b = 1;
  const dst = 2;
  const rows = 3;
  const l = new Locals(4);
  const k = l.add(I32);
  const q = l.add(I32);
  const s = l.add(V128);
  const acc = l.addMany(V128, vectors);
  const rowBytes = vectors * 16;
  return {
    name: `matmul${vectors}`,
    params: 4,
    locals: l.types,
    body: whileLoop(
      [...op.get(rows), ...op.i32(0), ...op.i32GtS],
      acc.flatMap((x) => [...op.v128Const(f32x4Bytes(0)), ...op.set(x)]),
      [...op.i32(0), ...op.set(k), ...op.get(b), ...op.set(q)],
      whileLoop(
        [...op.get(k), ...op.i32(LUMA_ROW), ...op.i32LtU],
        [...op.get(a), ...op.get(k), ...op.i32Add, ...op.f32Load(), ...op.f32x4Splat, ...op.set(s)],
        ...acc.map((x, m) => [
          ...op.get(x),
          ...op.get(s),
          ...op.get(q),
          ...op.v128Load(16 * m),
          ...op.f32x4Mul,
          ...op.f32x4Add,
          ...op.set(x),
        ]),
        bump(k, 4),
        bump(q, rowBytes),
      ),
      acc.flatMap((x, m) => [...op.get(dst), ...op.get(x), ...op.v128Store(16 * m)]),
      bump(a, LUMA_ROW),
      bump(dst, rowBytes),
      bump(rows, -1),
    ),
  };
}

/**
 * quality(src, dst), addresses in bytes: over the 64x64 floats at src, the int32 lanes at dst
 * receive four partial sums of |trunc(((u - v) * 100) / 255)| (float32 operations) over every
 * vertical and horizontal pair of neighbours, as pdqQuality sums them. The horizontal pairs of a
 * row's last column are masked out; they read up to 4 bytes past the 64x64 floats.
 */
function qualityFunction(): WasmFunction {
  const src = 0;
  const dst = 1;
  const l = new Locals(2);
  const p = l.add(I32);
  const end = l.add(I32);
  const acc = l.add(V128);
  const hundred = l.add(V128);
  const divisor = l.add(V128);
  const lastColumn = l.add(V128);
  const pair = (u: number, v: number, mask: boolean): Code => [
    ...op.get(acc),
    ...op.get(p),
    ...op.v128Load(u),
    ...op.get(p),
    ...op.v128Load(v),
    ...op.f32x4Sub,
    ...op.get(hundred),
    ...op.f32x4Mul,
    ...op.get(divisor),
    ...op.f32x4Div,
    ...op.i32x4TruncSatF32x4,
    ...op.i32x4Abs,
    ...(mask ? [...op.get(lastColumn), ...op.v128And] : []),
    ...op.i32x4Add,
    ...op.set(acc),
  ];
  const blocks = Array.from({ length: 16 }, (_, m) => m);
  const rowsUpTo = (last: number): Code => [
    ...op.get(src),
    ...op.i32(last * LUMA_ROW),
    ...op.i32Add,
    ...op.set(end),
    ...op.get(src),
    ...op.set(p),
  ];
  return {
    name: 'quality',
    params: 2,
    locals: l.types,
    body: [
      ...op.v128Const(f32x4Bytes(100)),
      ...op.set(hundred),
      ...op.v128Const(f32x4Bytes(255)),
      ...op.set(divisor),
      ...op.v128Const([...i32x4Bytes(-1).slice(0, 12), 0, 0, 0, 0]),
      ...op.set(lastColumn),
      // vertical pairs: rows 0 to 62 with the row below
      ...rowsUpTo(63),
      ...whileLoop(
        lessThan(p, end),
        ...blocks.map((m) => pair(16 * m, LUMA_ROW + 16 * m, false)),
        bump(p, LUMA_ROW),
      ),
      // horizontal pairs: every row, column j with column j + 1
      ...rowsUpTo(64),
      ...whileLoop(
        lessThan(p, end),
        ...blocks.map((m) => pair(16 * m, 16 * m + 4, m === 15)),
        bump(p, LUMA_ROW),
      ),
      ...op.get(dst),
      ...op.get(acc),
      ...op.v128Store(),
    ],
  };
}

/** Slots of the quality and DCT region of the heap: luma, padding, D, D transposed, D x luma, the DCT. */
const FINISH = {
  luma: HEAP_FIXED,
  sums: HEAP_FIXED + 4096,
  basis: HEAP_FIXED + 4096 + 8,
  basisT: HEAP_FIXED + 4096 + 8 + 1024,
  partial: HEAP_FIXED + 4096 + 8 + 2048,
  dct: HEAP_FIXED + 4096 + 8 + 3072,
  end: HEAP_FIXED + 4096 + 8 + 3072 + 256,
} as const;

type WasmKernel = (...args: number[]) => void;

interface WasmExports {
  lumaColumns1: WasmKernel;
  lumaColumns2: WasmKernel;
  lumaColumns3: WasmKernel;
  lumaColumns4: WasmKernel;
  toColumns: WasmKernel;
  toRows: WasmKernel;
  hbox: WasmKernel;
  hboxSampled: WasmKernel;
  colAdd: WasmKernel;
  colAddEmit: WasmKernel;
  colSlideEmit: WasmKernel;
  colSubEmit: WasmKernel;
  matmul16: WasmKernel;
  matmul4: WasmKernel;
  quality: WasmKernel;
}

/** The kernels in WebAssembly. Heap offsets from the interface (slots) become byte addresses (x4). */
class WasmKernels implements PdqKernels {
  readonly name = 'wasm';
  readonly group = GROUP;
  readonly #memory: WasmMemory;
  readonly #x: WasmExports;
  readonly #luma: readonly WasmKernel[];
  #heap: PdqHeap;

  constructor(wasm: WasmApi) {
    const bytes = encodeModule([
      lumaColumnsFunction(1),
      lumaColumnsFunction(2),
      lumaColumnsFunction(3),
      lumaColumnsFunction(4),
      transposeFunction(true),
      transposeFunction(false),
      hboxFunction(false),
      hboxFunction(true),
      columnFunction('Add'),
      columnFunction('AddEmit'),
      columnFunction('SlideEmit'),
      columnFunction('SubEmit'),
      matmulFunction(16),
      matmulFunction(4),
      qualityFunction(),
    ]);
    this.#memory = new wasm.Memory({ initial: 1 });
    const instance = new wasm.Instance(new wasm.Module(bytes), { env: { mem: this.#memory } });
    this.#x = instance.exports as WasmExports;
    this.#luma = [
      this.#x.lumaColumns1,
      this.#x.lumaColumns1,
      this.#x.lumaColumns2,
      this.#x.lumaColumns3,
      this.#x.lumaColumns4,
    ];
    this.#heap = this.#views();
  }

  #views(): PdqHeap {
    const buffer = this.#memory.buffer;
    return { u8: new Uint8Array(buffer), f32: new Float32Array(buffer), i32: new Int32Array(buffer) };
  }

  scratchSlots(stride: number): number {
    return 2 * GROUP * stride;
  }

  reserve(slots: number): PdqHeap {
    const bytes = Math.max(slots, HEAP_FIXED) * 4;
    if (this.#memory.buffer.byteLength < bytes) {
      this.#memory.grow(Math.ceil((bytes - this.#memory.buffer.byteLength) / PAGE));
      this.#heap = this.#views();
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
    const stride = (width + 3) & ~3;
    const rows = scratch * 4;
    const columns = rows + GROUP * stride * 4;
    this.#luma[channels]!(inByte, rowBytes, columns, stride);
    // The box writes its rows-to-be into the first half of the scratch, then back to rows.
    this.#x.hbox(columns, rows, width, w);
    this.#x.toRows(rows, dst * 4, dstStride * 4, stride);
  }

  boxRowsSampled(
    src: number,
    srcStride: number,
    width: number,
    w: number,
    dst: number,
    scratch: number,
  ): void {
    const columns = scratch * 4;
    this.#x.toColumns(src * 4, srcStride * 4, columns, (width + 3) & ~3);
    this.#x.hboxSampled(columns, dst * 4, width, w);
  }

  colAdd(sum: number, a: number, n: number): void {
    this.#x.colAdd(sum * 4, a * 4, n);
  }

  colAddEmit(sum: number, a: number, dst: number, n: number, count: number): void {
    this.#x.colAddEmit(sum * 4, a * 4, dst * 4, n, count);
  }

  colSlideEmit(sum: number, a: number, o: number, dst: number, n: number, w: number): void {
    this.#x.colSlideEmit(sum * 4, a * 4, o * 4, dst * 4, n, w);
  }

  colSubEmit(sum: number, o: number, dst: number, n: number, count: number): void {
    this.#x.colSubEmit(sum * 4, o * 4, dst * 4, n, count);
  }

  quality(buffer: Float32Array): number {
    const { f32, i32 } = this.reserve(FINISH.end);
    f32.set(buffer, FINISH.luma);
    this.#x.quality(FINISH.luma * 4, FINISH.sums * 4);
    const total = i32[FINISH.sums]! + i32[FINISH.sums + 1]! + i32[FINISH.sums + 2]! + i32[FINISH.sums + 3]!;
    return Math.min(100, Math.floor(total / 90));
  }

  dct16(buffer: Float32Array, out: Float32Array): void {
    const { f32 } = this.reserve(FINISH.end);
    f32.set(buffer, FINISH.luma);
    f32.set(dctBasis(), FINISH.basis);
    f32.set(dctBasisTransposed(), FINISH.basisT);
    // D x luma (16 rows of 64), then (D x luma) x D^T (16 rows of 16)
    this.#x.matmul16(FINISH.basis * 4, FINISH.luma * 4, FINISH.partial * 4, 16);
    this.#x.matmul4(FINISH.partial * 4, FINISH.basisT * 4, FINISH.dct * 4, 16);
    out.set(f32.subarray(FINISH.dct, FINISH.dct + 256));
  }
}

let basisTransposed: Float32Array | undefined;

/** The DCT basis transposed: 64 rows of 16 values, row k holding D[0..15][k]. */
function dctBasisTransposed(): Float32Array {
  if (basisTransposed === undefined) {
    const d = dctBasis();
    const t = new Float32Array(64 * 16);
    for (let i = 0; i < 16; i++) for (let k = 0; k < 64; k++) t[k * 16 + i] = d[i * 64 + k]!;
    basisTransposed = t;
  }
  return basisTransposed;
}

let wasmKernels: PdqKernels | null | undefined;

/**
 * The WebAssembly kernels, or null where WebAssembly with SIMD is unavailable (for example
 * `node --jitless`). Built once per thread; hashing is synchronous, so calls never interleave.
 */
export function pdqWasmKernels(): PdqKernels | null {
  if (wasmKernels === undefined) {
    const wasm = wasmApi();
    try {
      wasmKernels = wasm ? new WasmKernels(wasm) : null;
    } catch {
      wasmKernels = null;
    }
  }
  return wasmKernels;
}
