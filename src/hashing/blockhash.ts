/** Owns the blockhash perceptual hash (256 bits) through blockhash-core, with the input checks it lacks. */

import { bmvbhash, bmvbhashEven } from 'blockhash-core';
import { ErrorCodes, HashgateError } from '../errors';
import { weightBytes } from './hamming';

/** `precise` is the reference default (blocks split by area); `quick` uses whole-pixel cells. */
export type BlockhashMethod = 'precise' | 'quick';

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

/**
 * blockhash of RGBA pixels. blockhash-core reads 4 bytes a pixel and checks nothing, so a
 * 3-channel buffer would silently give a wrong hash: the shape is asserted here.
 *
 * @throws HashgateError `ERR_HASHGATE_INVALID_PIXELS` when `data` is not `width * height * 4` bytes.
 */
export function blockhashRgba(
  pixels: { readonly width: number; readonly height: number; readonly data: Uint8Array },
  method: BlockhashMethod = 'precise',
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
  const image = { width, height, data };
  const hex = method === 'precise' ? bmvbhash(image, BLOCKHASH_BITS) : bmvbhashEven(image, BLOCKHASH_BITS);
  const bytes = new Uint8Array(Buffer.from(hex, 'hex'));
  return { hex, bytes, method, weight: weightBytes(bytes) };
}
