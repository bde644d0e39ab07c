/**
 * Owns a minimal WebAssembly assembler: LEB128 encoders, the instructions hashgate's kernels use,
 * a few structured-control helpers, and the encoder of a module that imports one memory and exports
 * its functions. The kernels (pdq-wasm.ts, blockhash-wasm.ts) build their bytes with it at start-up,
 * so no binary is shipped.
 */

/** Bytes of encoded instructions (or of any other part of a module). */
export type Code = readonly number[];

/** Value type `i32`. */
export const I32 = 0x7f;
/** Value type `f64`. */
export const F64 = 0x7c;
/** Value type `v128` (fixed-width SIMD). */
export const V128 = 0x7b;

/** Size of a WebAssembly memory page in bytes. */
export const PAGE = 65536;

/**
 * Unsigned LEB128 of a 32-bit value.
 *
 * @example
 * uleb(624485); // [0xe5, 0x8e, 0x26]
 */
export function uleb(value: number): number[] {
  const out: number[] = [];
  let v = value >>> 0;
  do {
    let byte = v & 0x7f;
    v >>>= 7;
    if (v !== 0) byte |= 0x80;
    out.push(byte);
  } while (v !== 0);
  return out;
}

/**
 * Signed LEB128 of a 32-bit value.
 *
 * @example
 * sleb(-1); // [0x7f]
 */
export function sleb(value: number): number[] {
  const out: number[] = [];
  let v = value | 0;
  for (;;) {
    const byte = v & 0x7f;
    v >>= 7;
    if ((v === 0 && (byte & 0x40) === 0) || (v === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

/** A SIMD instruction: the 0xfd prefix and its LEB128 sub-opcode. */
export const simd = (opcode: number): Code => [0xfd, ...uleb(opcode)];

/** Four float32 values as the 16 bytes of a v128 constant. */
export function f32x4Bytes(value: number): number[] {
  return [...new Uint8Array(new Float32Array([value, value, value, value]).buffer)];
}

/** Four int32 values as the 16 bytes of a v128 constant. */
export function i32x4Bytes(value: number): number[] {
  return [...new Uint8Array(new Int32Array([value, value, value, value]).buffer)];
}

/** Byte indices selecting 32-bit lanes `lanes` (0-3 from the first operand, 4-7 from the second). */
export function laneBytes(lanes: readonly number[]): number[] {
  return lanes.flatMap((lane) => [4 * lane, 4 * lane + 1, 4 * lane + 2, 4 * lane + 3]);
}

/**
 * The instructions the kernels use (WebAssembly 2.0 with fixed-width SIMD). Memory instructions
 * take the constant byte offset of their memarg; the alignment hint is the natural one.
 */
export const op = {
  get: (local: number): Code => [0x20, ...uleb(local)],
  set: (local: number): Code => [0x21, ...uleb(local)],
  tee: (local: number): Code => [0x22, ...uleb(local)],
  i32: (value: number): Code => [0x41, ...sleb(value)],
  i32Add: [0x6a],
  i32Sub: [0x6b],
  i32Mul: [0x6c],
  i32Shl: [0x74],
  i32ShrS: [0x75],
  i32Eqz: [0x45],
  i32Eq: [0x46],
  i32Ne: [0x47],
  i32LtU: [0x49],
  i32GtS: [0x4a],
  i32LeS: [0x4c],
  i32Load: (offset = 0): Code => [0x28, 2, ...uleb(offset)],
  f32Load: (offset = 0): Code => [0x2a, 2, ...uleb(offset)],
  f64Load: (offset = 0): Code => [0x2b, 3, ...uleb(offset)],
  f32Store: (offset = 0): Code => [0x38, 2, ...uleb(offset)],
  f32FromI32: [0xb2],
  v128Load: (offset = 0): Code => [...simd(0), 4, ...uleb(offset)],
  v128Store: (offset = 0): Code => [...simd(11), 4, ...uleb(offset)],
  v128Const: (bytes: readonly number[]): Code => [...simd(12), ...bytes],
  shuffle: (bytes: readonly number[]): Code => [...simd(13), ...bytes],
  swizzle: simd(14),
  f32x4Splat: simd(19),
  f64x2Splat: simd(20),
  f32x4ExtractLane: (lane: number): Code => [...simd(31), lane],
  i32x4LtU: simd(0x3a),
  v128And: simd(0x4e),
  v128Bitselect: simd(0x52),
  /** `v128.load64_lane`: address and vector on the stack, the loaded 64 bits replace `lane`. */
  v128Load64Lane: (lane: number, offset = 0): Code => [...simd(0x57), 3, ...uleb(offset), lane],
  /** `v128.load64_zero`: 64 bits into lane 0, lane 1 zero. */
  v128Load64Zero: (offset = 0): Code => [...simd(0x5d), 3, ...uleb(offset)],
  i16x8ExtaddPairwiseI8x16U: simd(0x7d),
  i32x4ExtaddPairwiseI16x8U: simd(0x7f),
  i32x4Abs: simd(0xa0),
  i32x4Add: simd(0xae),
  f32x4Add: simd(228),
  f32x4Sub: simd(229),
  f32x4Mul: simd(230),
  f32x4Div: simd(231),
  f64x2Add: simd(0xf0),
  f64x2Mul: simd(0xf2),
  /** `i32x4.trunc_sat_f32x4_s`: float32 lanes truncated toward zero to int32. */
  i32x4TruncSatF32x4: simd(248),
  f32x4FromI32x4: simd(250),
  /** `f64x2.convert_low_i32x4_u`: int32 lanes 0 and 1 (unsigned) to two f64 lanes. */
  f64x2FromLowU32x4: simd(0xff),
} as const;

/** `while (cond) body`: `cond` leaves an i32 on the stack; `body` does not branch out. */
export function whileLoop(cond: Code, ...body: Code[]): Code {
  return [0x02, 0x40, 0x03, 0x40, ...cond, ...op.i32Eqz, 0x0d, 1, ...body.flat(), 0x0c, 0, 0x0b, 0x0b];
}

/** `if (cond) then else otherwise`: `cond` leaves an i32 on the stack; no values are produced. */
export function ifElse(cond: Code, then: Code, otherwise: Code = []): Code {
  return [...cond, 0x04, 0x40, ...then, ...(otherwise.length > 0 ? [0x05, ...otherwise] : []), 0x0b];
}

/** `local += step` for an i32 local and a constant step. */
export const bump = (local: number, step: number): Code => [
  ...op.get(local),
  ...op.i32(step),
  ...op.i32Add,
  ...op.set(local),
];

/** `local += other` for two i32 locals. */
export const bumpBy = (local: number, other: number): Code => [
  ...op.get(local),
  ...op.get(other),
  ...op.i32Add,
  ...op.set(local),
];

/** `a < b` for two i32 locals holding addresses or offsets (unsigned, so beyond 2 GiB too). */
export const lessThan = (a: number, b: number): Code => [...op.get(a), ...op.get(b), ...op.i32LtU];

/** `target = a + b` for i32 locals. */
export const sumOf = (target: number, a: number, b: number): Code => [
  ...op.get(a),
  ...op.get(b),
  ...op.i32Add,
  ...op.set(target),
];

/** An exported function: its parameter count (all i32, no result), extra local types and body. */
export interface WasmFunction {
  /** Export name. */
  name: string;
  /** Number of i32 parameters (locals 0 to params - 1). */
  params: number;
  /** Types of the further locals, in index order (from {@link Locals.types}). */
  locals: number[];
  /** The instructions, without the final `end`. */
  body: Code;
}

/**
 * Allocates local indices after the parameters.
 *
 * @example
 * const l = new Locals(2); // two i32 parameters
 * const sum = l.add(F64); // 2
 * fn.locals = l.types; // [F64]
 */
export class Locals {
  /** Types of the allocated locals, in index order. */
  readonly types: number[] = [];
  #next: number;
  constructor(params: number) {
    this.#next = params;
  }
  /** A new local of `type`; returns its index. */
  add(type: number): number {
    this.types.push(type);
    return this.#next++;
  }
  /** `count` new locals of `type`; returns their indices. */
  addMany(type: number, count: number): number[] {
    return Array.from({ length: count }, () => this.add(type));
  }
}

function section(id: number, content: Code): Code {
  return [id, ...uleb(content.length), ...content];
}

function vector(items: Code[]): Code {
  return [...uleb(items.length), ...items.flat()];
}

function name(text: string): Code {
  const bytes = [...Buffer.from(text, 'utf8')];
  return [...uleb(bytes.length), ...bytes];
}

/** Encodes a module that imports its memory as env.mem (at least one page) and exports `functions`. */
export function encodeModule(functions: WasmFunction[]): Uint8Array {
  const types = functions.map((f) => [0x60, ...vector(Array.from({ length: f.params }, () => [I32])), 0]);
  const imports = [[...name('env'), ...name('mem'), 0x02, 0x00, 0x01]];
  const bodies = functions.map((f) => {
    const body = [...vector(f.locals.map((t) => [1, t])), ...f.body, 0x0b];
    return [...uleb(body.length), ...body];
  });
  return new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, vector(types)),
    ...section(2, vector(imports)),
    ...section(3, vector(functions.map((_, i) => uleb(i)))),
    ...section(7, vector(functions.map((f, i) => [...name(f.name), 0x00, ...uleb(i)]))),
    ...section(10, vector(bodies)),
  ]);
}

/** A WebAssembly memory (the part of the JS API used here). */
export interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}

/** The part of the WebAssembly JS API used here (the project's TypeScript libs do not declare it). */
export interface WasmApi {
  Memory: new (descriptor: { initial: number }) => WasmMemory;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: Record<string, Record<string, unknown>>) => { exports: unknown };
}

/** The global `WebAssembly` object, or undefined where the runtime has none (e.g. `node --jitless`). */
export function wasmApi(): WasmApi | undefined {
  return (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
}

/**
 * Grows `memory` (keeping its content) until it holds at least `bytes`; returns whether it grew, in
 * which case views of the old buffer are detached and must be made again.
 */
export function ensureMemory(memory: WasmMemory, bytes: number): boolean {
  const have = memory.buffer.byteLength;
  if (have >= bytes) return false;
  memory.grow(Math.ceil((bytes - have) / PAGE));
  return true;
}
