/**
 * Owns the blockhash perceptual hash (256 bits): blockhash-core's algorithm, with the input checks
 * it lacks. The block sums come from identical but faster evaluations: WebAssembly
 * (blockhash-wasm.ts) where available, else JavaScript (blockhash-precise.ts for the precise
 * method, blockhash-core for the even one); tests hold both to blockhash-core's output.
 */

import { bmvbhashEven } from 'blockhash-core';
import { ErrorCodes, HashgateError, invalidOption } from '../errors';
import { blockSumsToHex, bmvbhashPrecise } from './blockhash-precise';
import {
  BLOCKHASH_WASM_BITS,
  blockhashWasmAvailable,
  blockhashWasmEvenSums,
  blockhashWasmPreciseSums,
} from './blockhash-wasm';
import { weightBytes } from './hamming';

/** `precise` is the reference default (blocks split by area); `quick` uses whole-pixel cells. */
export type BlockhashMethod = 'precise' | 'quick';

/**
 * Which implementation computes the block sums. Both give identical hashes.
 * - `auto`: WebAssembly where available, else JavaScript.
 * - `wasm`: WebAssembly; throws `ERR_HASHGATE_INVALID_OPTION` where it is unavailable.
 * - `js`: JavaScript only (blockhash-precise.ts, and blockhash-core for the even method), several
 *   times slower.
 */
export type BlockhashEngine = 'auto' | 'wasm' | 'js';

/** Options of {@link blockhashRgba}. */
export interface BlockhashOptions {
  /**
   * Implementation of the block sums (both methods); only for benchmarks and for checking one
   * against the other.
   * @default 'auto'
   */
  readonly engine?: BlockhashEngine;
}

/** Bits per side: 16 gives the 256-bit hashes hashgate stores. */
export const BLOCKHASH_BITS = 16;

/** A computed blockhash with how it was made. */
export interface BlockhashResult {
  readonly hex: string;
  readonly bytes: Uint8Array;
  readonly method: BlockhashMethod;
  /** Number of set bits (a normal image has roughly half of 256). */
  readonly weight: number;
}

function useWasm(options: BlockhashOptions | undefined): boolean {
  const engine = options?.engine ?? 'auto';
  if (engine !== 'auto' && engine !== 'wasm' && engine !== 'js') {
    throw invalidOption('engine', "'auto', 'wasm' or 'js'", engine);
  }
  if (engine === 'js') return false;
  const available = BLOCKHASH_BITS === BLOCKHASH_WASM_BITS && blockhashWasmAvailable();
  if (engine === 'wasm' && !available) {
    throw invalidOption(
      'engine',
      'an available engine',
      engine,
      'WebAssembly with SIMD is unavailable here; use auto',
    );
  }
  return available;
}

/**
 * blockhash of RGBA pixels. blockhash-core reads 4 bytes a pixel and checks nothing, so a
 * 3-channel buffer would silently give a wrong hash: the shape is asserted here.
 *
 * @param method - the precise method is the reference's default.
 * @param options - {@link BlockhashOptions}.
 * @throws HashgateError `ERR_HASHGATE_INVALID_PIXELS` when `data` is not `width * height * 4` bytes,
 *   `ERR_HASHGATE_INVALID_OPTION` for a bad option.
 *
 * @example
 * const { data, info } = await sharp(file, { ignoreIcc: true }).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
 * const { hex } = blockhashRgba({ width: info.width, height: info.height, data });
 */
export function blockhashRgba(
  pixels: { readonly width: number; readonly height: number; readonly data: Uint8Array },
  method: BlockhashMethod = 'precise',
  options?: BlockhashOptions,
): BlockhashResult {
  const { width, height, data } = pixels;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new HashgateError(
      ErrorCodes.INVALID_PIXELS,
      `blockhash needs a positive integer size, got ${width}x${height}`,
    );
  }
  if (data.length !== width * height * 4) {
    throw new HashgateError(
      ErrorCodes.INVALID_PIXELS,
      `blockhash needs RGBA pixels (${width * height * 4} bytes for ${width}x${height}), got ${data.length} bytes`,
    );
  }
  const wasm = useWasm(options);
  const image = { width, height, data };
  // blockhash-core's precise method switches to the even one when both sides divide evenly.
  const even = method === 'quick' || (width % BLOCKHASH_BITS === 0 && height % BLOCKHASH_BITS === 0);
  let hex: string | undefined;
  if (wasm) {
    const sums = even
      ? blockhashWasmEvenSums(width, height, data)
      : blockhashWasmPreciseSums(width, height, data);
    const pixelsPerBlock = even
      ? Math.floor(width / BLOCKHASH_BITS) * Math.floor(height / BLOCKHASH_BITS)
      : (width / BLOCKHASH_BITS) * (height / BLOCKHASH_BITS);
    if (sums !== null) hex = blockSumsToHex(sums, pixelsPerBlock);
  }
  hex ??= even ? bmvbhashEven(image, BLOCKHASH_BITS) : bmvbhashPrecise(width, height, data, BLOCKHASH_BITS);
  const bytes = new Uint8Array(Buffer.from(hex, 'hex'));
  return { hex, bytes, method, weight: weightBytes(bytes) };
}
