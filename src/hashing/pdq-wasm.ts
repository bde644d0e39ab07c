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

import { COLS_AT, HEAP_FIXED, type PdqHeap, type PdqKernels } from './pdq-kernels';
import {
  bump,
  bumpBy,
  type Code,
  encodeModule,
  f32x4Bytes,
  I32,
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

/**
 * luma{channels}(inByte, rowBytes, n, out, outStride, rows), addresses in bytes: the luma of
 * `rows` rows of `n` pixels, four pixels an iteration (so up to three padding slots are written
 * and up to 16 bytes past the last pixel are read). A swizzle spreads the R, G and B bytes of four
 * pixels over four 32-bit lanes; the float32 products with the float32 coefficients are exactly
 * the table entries of the JavaScript kernel, and the sum is (R + G) + B.
 */
function lumaFunction(channels: number): WasmFunction {
  const inByte = 0;
  const rowBytes = 1;
  const n = 2;
  const out = 3;
  const outStride = 4;
  const rows = 5;
  const l = new Locals(6);
  const p = l.add(I32);
  const q = l.add(I32);
  const end = l.add(I32);
  const v = l.add(V128);
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
    ...op.get(v),
    ...op.get(spreads[i]!.local),
    ...op.swizzle,
    ...op.f32x4FromI32x4,
    ...(rgb ? [...op.get(coefficients[i]!.local), ...op.f32x4Mul] : []),
  ];
  const pixels: Code = rgb
    ? [
        ...op.get(p),
        ...op.v128Load(),
        ...op.set(v),
        ...term(0),
        ...term(1),
        ...op.f32x4Add,
        ...term(2),
        ...op.f32x4Add,
      ]
    : [...op.get(p), ...op.v128Load(), ...op.set(v), ...term(0)];
  return {
    name: `luma${channels}`,
    params: 6,
    locals: l.types,
    body: [
      ...[...spreads, ...coefficients].flatMap((c) => [...op.v128Const(c.bytes), ...op.set(c.local)]),
      ...whileLoop(
        [...op.get(rows), ...op.i32(0), ...op.i32GtS],
        [...op.get(inByte), ...op.set(p), ...op.get(out), ...op.set(q)],
        [...op.get(out), ...op.get(n), ...op.i32(2), ...op.i32Shl, ...op.i32Add, ...op.set(end)],
        whileLoop(
          lessThan(q, end),
          [...op.get(q), ...pixels, ...op.v128Store()],
          bump(p, 4 * channels),
          bump(q, 16),
        ),
        bumpBy(inByte, rowBytes),
        bumpBy(out, outStride),
        bump(rows, -1),
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

type WasmKernel = (...args: number[]) => void;

interface WasmExports {
  luma1: WasmKernel;
  luma2: WasmKernel;
  luma3: WasmKernel;
  luma4: WasmKernel;
  toColumns: WasmKernel;
  toRows: WasmKernel;
  hbox: WasmKernel;
  hboxSampled: WasmKernel;
  colAdd: WasmKernel;
  colAddEmit: WasmKernel;
  colSlideEmit: WasmKernel;
  colSubEmit: WasmKernel;
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
      lumaFunction(1),
      lumaFunction(2),
      lumaFunction(3),
      lumaFunction(4),
      transposeFunction(true),
      transposeFunction(false),
      hboxFunction(false),
      hboxFunction(true),
      columnFunction('Add'),
      columnFunction('AddEmit'),
      columnFunction('SlideEmit'),
      columnFunction('SubEmit'),
    ]);
    this.#memory = new wasm.Memory({ initial: 1 });
    const instance = new wasm.Instance(new wasm.Module(bytes), { env: { mem: this.#memory } });
    this.#x = instance.exports as WasmExports;
    this.#luma = [this.#x.luma1, this.#x.luma1, this.#x.luma2, this.#x.luma3, this.#x.luma4];
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
    this.#luma[channels]!(inByte, rowBytes, width, rows, stride * 4, GROUP);
    this.#x.toColumns(rows, stride * 4, columns, stride);
    // The filtered columns reuse the space of the luma rows, which are no longer needed.
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
