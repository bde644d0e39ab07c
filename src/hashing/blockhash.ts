/**
 * Owns the blockhash perceptual hash (256 bits): blockhash-core's algorithm, with the input checks
 * it lacks. The precise method runs through an identical but faster evaluation
 * (blockhash-precise.ts); tests hold it to blockhash-core's output.
 */

import { bmvbhashEven } from 'blockhash-core';
import { ErrorCodes, HashgateError } from '../errors';
import { bmvbhashPrecise } from './blockhash-precise';
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
  const even = width % BLOCKHASH_BITS === 0 && height % BLOCKHASH_BITS === 0;
  // The precise method equals the quick one when both sides divide evenly (blockhash-core does the
  // same); otherwise the faster, operation-for-operation identical evaluation is used.
  const hex =
    method === 'quick' || even
      ? bmvbhashEven(image, BLOCKHASH_BITS)
      : bmvbhashPrecise(width, height, data, BLOCKHASH_BITS);
  const bytes = new Uint8Array(Buffer.from(hex, 'hex'));
  return { hex, bytes, method, weight: weightBytes(bytes) };
}
