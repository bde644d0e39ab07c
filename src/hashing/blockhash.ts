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
import { isPixelChannels, type PixelChannels, toRgba } from './pixels';

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

/** Options of {@link blockhashPixels} and {@link blockhashRgba}. */
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
 * Decoded 8-bit pixels for blockhash, row-major, `channels` samples a pixel, no padding between
 * rows. A pixel's value is R + G + B, or 765 (white) where alpha is 0; grey counts three times.
 */
export interface BlockhashPixels {
  /** Width in pixels (a positive integer). */
  readonly width: number;
  /** Height in pixels (a positive integer). */
  readonly height: number;
  /** 1 (grey), 2 (grey, alpha), 3 (RGB) or 4 (RGBA). */
  readonly channels: PixelChannels;
  /** Exactly `width * height * channels` bytes. */
  readonly data: Uint8Array;
}

function invalidPixels(message: string): HashgateError {
  return new HashgateError(ErrorCodes.INVALID_PIXELS, message);
}

/**
 * blockhash of decoded pixels in any of the layouts sharp returns (grey, grey + alpha, RGB,
 * RGBA), identical to blockhash-core's hash of the same image expanded to RGBA. blockhash-core
 * reads 4 bytes a pixel and checks nothing, so a buffer of another shape would silently give a
 * wrong hash: the shape is asserted here.
 *
 * @param method - the precise method is the reference's default.
 * @param options - {@link BlockhashOptions}.
 * @throws HashgateError `ERR_HASHGATE_INVALID_PIXELS` when `channels` is not 1 to 4 or `data` is
 *   not `width * height * channels` bytes, `ERR_HASHGATE_INVALID_OPTION` for a bad option.
 *
 * @example
 * const { data, info } = await sharp(file, { ignoreIcc: true }).raw().toBuffer({ resolveWithObject: true });
 * const { hex } = blockhashPixels({ width: info.width, height: info.height, channels: info.channels, data });
 */
export function blockhashPixels(
  pixels: BlockhashPixels,
  method: BlockhashMethod = 'precise',
  options?: BlockhashOptions,
): BlockhashResult {
  return blockhash(pixels, 'channels', method, options);
}

/**
 * blockhash of RGBA pixels, or of another layout given by `channels` (see {@link blockhashPixels},
 * which takes `channels` as required).
 *
 * @param pixels - `channels` defaults to 4 (RGBA).
 * @param method - the precise method is the reference's default.
 * @param options - {@link BlockhashOptions}.
 * @throws HashgateError `ERR_HASHGATE_INVALID_PIXELS` when `data` is not `width * height * 4`
 *   bytes (`width * height * channels` with `channels`), `ERR_HASHGATE_INVALID_OPTION` for a bad
 *   option.
 *
 * @example
 * const { data, info } = await sharp(file, { ignoreIcc: true }).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
 * const { hex } = blockhashRgba({ width: info.width, height: info.height, data });
 */
export function blockhashRgba(
  pixels: {
    readonly width: number;
    readonly height: number;
    readonly data: Uint8Array;
    readonly channels?: PixelChannels;
  },
  method: BlockhashMethod = 'precise',
  options?: BlockhashOptions,
): BlockhashResult {
  const { width, height, data, channels } = pixels;
  return channels === undefined
    ? blockhash({ width, height, data, channels: 4 }, 'rgba', method, options)
    : blockhash({ width, height, data, channels }, 'channels', method, options);
}

/** `given`: whether the caller stated `channels` or relied on the RGBA default (for the message). */
function blockhash(
  pixels: BlockhashPixels,
  given: 'channels' | 'rgba',
  method: BlockhashMethod,
  options: BlockhashOptions | undefined,
): BlockhashResult {
  const { width, height, channels, data } = pixels;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw invalidPixels(`blockhash needs a positive integer size, got ${width}x${height}`);
  }
  if (!isPixelChannels(channels)) {
    throw invalidPixels(`Expected 1, 2, 3 or 4 for \`channels\` but received ${String(channels)}`);
  }
  const expected = width * height * channels;
  if (data.length !== expected) {
    throw invalidPixels(
      given === 'rgba'
        ? `Expected ${expected} bytes of RGBA \`data\` for ${width}x${height} but received ${data.length}; pass \`channels\` for pixels with 1 to 3 channels`
        : `Expected ${expected} bytes of \`data\` for ${width}x${height} with ${channels} channels but received ${data.length}`,
    );
  }
  const wasm = useWasm(options);
  // blockhash-core's precise method switches to the even one when both sides divide evenly.
  const even = method === 'quick' || (width % BLOCKHASH_BITS === 0 && height % BLOCKHASH_BITS === 0);
  let hex: string | undefined;
  if (wasm) {
    const sums = even
      ? blockhashWasmEvenSums(width, height, data, channels)
      : blockhashWasmPreciseSums(width, height, data, BLOCKHASH_BITS, channels);
    const pixelsPerBlock = even
      ? Math.floor(width / BLOCKHASH_BITS) * Math.floor(height / BLOCKHASH_BITS)
      : (width / BLOCKHASH_BITS) * (height / BLOCKHASH_BITS);
    if (sums !== null) hex = blockSumsToHex(sums, pixelsPerBlock);
  }
  if (hex === undefined) {
    // The JavaScript evaluations read RGBA; they only run without WebAssembly SIMD.
    const rgba = toRgba(pixels);
    hex = even
      ? bmvbhashEven({ width, height, data: rgba }, BLOCKHASH_BITS)
      : bmvbhashPrecise(width, height, rgba, BLOCKHASH_BITS);
  }
  const bytes = new Uint8Array(Buffer.from(hex, 'hex'));
  return { hex, bytes, method, weight: weightBytes(bytes) };
}
