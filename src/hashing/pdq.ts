/**
 * Owns the PDQ perceptual hash of decoded pixels (specs/pdq.md), bit-exact with Meta's reference:
 * input checks, the two size conventions, the "no hash" outcome and the optional dihedral variants.
 * Pure computation: no I/O, no decoder, no logging.
 */

import { ErrorCodes, HashgateError, invalidOption } from '../errors';
import { weightBytes } from './hamming';
import { PERCEPTUAL_WEIGHT_RANGE, toHex } from './hash-types';
import {
  PDQ_DIHEDRAL_SIGNS,
  PDQ_DIHEDRAL_VARIANTS,
  type PdqDihedralVariant,
  pdqBitsAbove,
  pdqDihedralDct,
  pdqMedian,
} from './pdq-dct';
import { pdqFilterDecimate } from './pdq-filter';
import { type PdqKernels, pdqJsKernels } from './pdq-kernels';
import { pdqWasmKernels } from './pdq-wasm';

export { PDQ_DIHEDRAL_VARIANTS, type PdqDihedralVariant } from './pdq-dct';

/**
 * How the pixels are sized before hashing.
 * - `fullres`: the decoded pixels as they are (python-threatexchange, the Hasher-Matcher-Actioner;
 *   what the shared hash lists hold).
 * - `cli512`: like the reference command-line tool, an image with a side over 512 px is first
 *   squashed to exactly 512x512 by nearest neighbour (aspect ratio dropped).
 */
export type PdqConvention = 'fullres' | 'cli512';

/** Decoded 8-bit pixels, row-major, `channels` samples a pixel, no padding between rows. */
export interface PdqPixels {
  /** Width in pixels (a positive integer). */
  readonly width: number;
  /** Height in pixels (a positive integer). */
  readonly height: number;
  /**
   * 1 (grey, used directly as luma), 2 (grey + alpha), 3 (RGB) or 4 (RGBA). Alpha is ignored: the
   * colour under it is hashed as is. Hand greyscale images in as grey, as the reference reads
   * them: their luma computed from R = G = B can differ in the last float32 bit (sharp expands
   * grey to sRGB unless told `.toColourspace('b-w')`).
   */
  readonly channels: number;
  /** Exactly `width * height * channels` bytes. */
  readonly data: Uint8Array;
}

/**
 * Which implementation of the filter loops runs. Both give identical bits.
 * - `auto`: WebAssembly (with SIMD) where available, else JavaScript.
 * - `wasm`: WebAssembly; throws `ERR_HASHGATE_INVALID_OPTION` where it is unavailable.
 * - `js`: JavaScript only (Float32Array and `Math.fround`), several times slower.
 */
export type PdqEngine = 'auto' | 'wasm' | 'js';

/** Options of {@link pdqHash}. */
export interface PdqOptions {
  /**
   * Size convention; every stored hash must say which one produced it.
   * @default 'fullres'
   */
  readonly convention?: PdqConvention;
  /**
   * Also compute the eight dihedral variants (rotations and mirrors) from the same DCT, to catch
   * rotated or mirrored uploads. Costs well under a millisecond.
   * @default false
   */
  readonly dihedral?: boolean;
  /**
   * Implementation of the filter loops; only for benchmarks and for checking one against the other.
   * @default 'auto'
   */
  readonly engine?: PdqEngine;
}

/** One 256-bit PDQ value. */
export interface PdqHashValue {
  /** 32 bytes, in the order of the hex string (byte 0 is the first two hex digits). */
  readonly hash: Uint8Array;
  /** 64 lower-case hex digits, as the reference prints it. */
  readonly hex: string;
  /** Number of set bits; 128 for a normal image (fewer only when DCT values tie at the median). */
  readonly weight: number;
}

/** The eight dihedral variants of one image's PDQ hash, by variant name. */
export type PdqDihedralHashes = Readonly<Record<PdqDihedralVariant, PdqHashValue>>;

/** Fields common to every {@link pdqHash} outcome. */
export interface PdqOutcomeBase {
  /** The convention that was applied. */
  readonly convention: PdqConvention;
  /** Width of the pixels handed in. */
  readonly sourceWidth: number;
  /** Height of the pixels handed in. */
  readonly sourceHeight: number;
  /** Width that was hashed (512 when `cli512` squashed the image, else the source width). */
  readonly width: number;
  /** Height that was hashed (512 when `cli512` squashed the image, else the source height). */
  readonly height: number;
}

/** A computed PDQ hash and how it was made. */
export interface PdqHashed extends PdqOutcomeBase, PdqHashValue {
  /** Discriminant: a hash was computed. */
  readonly ok: true;
  /**
   * Quality 0 to 100 (how much detail the image has). Meta recommends discarding hashes below 50;
   * hashgate's matcher applies its configured minimum.
   */
  readonly quality: number;
  /**
   * True when {@link PdqHashValue.weight} is outside {@link PERCEPTUAL_WEIGHT_RANGE} (far from 128):
   * the input was degenerate and the hash must not be used for matching.
   */
  readonly degenerate: boolean;
  /** True when the source image has a side under 32 px: the hash is computed but unreliable. */
  readonly small: boolean;
  /** The eight dihedral variants, when {@link PdqOptions.dihedral} was set (`orig` equals the hash). */
  readonly dihedral?: PdqDihedralHashes;
}

/** Why no PDQ hash exists for an image: `too-small` when the hashed image has a side under 5 px. */
export type PdqNoHashReason = 'too-small';

/**
 * No PDQ hash: the reference would return an all-zero hash with quality 0, which hashgate never
 * treats as a matchable value.
 */
export interface PdqNoHash extends PdqOutcomeBase {
  /** Discriminant: no hash was computed. */
  readonly ok: false;
  /** Why not. */
  readonly reason: PdqNoHashReason;
}

/** Outcome of {@link pdqHash}: a hash ({@link PdqHashed}) or a reason there is none ({@link PdqNoHash}). */
export type PdqResult = PdqHashed | PdqNoHash;

/** Smallest side PDQ hashes at all (spec step 2). */
export const PDQ_MIN_SIDE = 5;

/** Sides under this many pixels give an unreliable hash, flagged as `small`. */
export const PDQ_SMALL_SIDE = 32;

/** Side of the square the `cli512` convention squashes larger images to. */
export const PDQ_CLI_SIDE = 512;

function invalidPixels(message: string): HashgateError {
  return new HashgateError(ErrorCodes.INVALID_PIXELS, message);
}

function checkPixels(pixels: PdqPixels): void {
  if (typeof pixels !== 'object' || pixels === null) {
    throw invalidPixels('Expected pixels as { width, height, channels, data } but received no object');
  }
  const { width, height, channels, data } = pixels;
  if (!Number.isSafeInteger(width) || width < 1) {
    throw invalidPixels(`Expected a positive integer for \`width\` but received ${String(width)}`);
  }
  if (!Number.isSafeInteger(height) || height < 1) {
    throw invalidPixels(`Expected a positive integer for \`height\` but received ${String(height)}`);
  }
  if (channels !== 1 && channels !== 2 && channels !== 3 && channels !== 4) {
    throw invalidPixels(`Expected 1, 2, 3 or 4 for \`channels\` but received ${String(channels)}`);
  }
  if (!(data instanceof Uint8Array)) {
    throw invalidPixels('Expected a Uint8Array for `data` (8-bit samples); decode to 8 bits a sample first');
  }
  const expected = width * height * channels;
  if (data.length !== expected) {
    throw invalidPixels(
      `Expected ${expected} bytes of \`data\` for ${width}x${height} with ${channels} channels but received ${data.length}`,
    );
  }
}

function parseOptions(options: PdqOptions | undefined): {
  convention: PdqConvention;
  dihedral: boolean;
  kernels: PdqKernels;
} {
  const convention = options?.convention ?? 'fullres';
  if (convention !== 'fullres' && convention !== 'cli512') {
    throw invalidOption('convention', "'fullres' or 'cli512'", convention);
  }
  const dihedral = options?.dihedral ?? false;
  if (typeof dihedral !== 'boolean') throw invalidOption('dihedral', 'a boolean', dihedral);
  const engine = options?.engine ?? 'auto';
  if (engine !== 'auto' && engine !== 'wasm' && engine !== 'js') {
    throw invalidOption('engine', "'auto', 'wasm' or 'js'", engine);
  }
  let kernels: PdqKernels | null = engine === 'js' ? pdqJsKernels() : pdqWasmKernels();
  if (kernels === null) {
    if (engine === 'wasm') {
      throw invalidOption(
        'engine',
        'an available engine',
        engine,
        'WebAssembly with SIMD is unavailable here; use auto',
      );
    }
    kernels = pdqJsKernels();
  }
  return { convention, dihedral, kernels };
}

/**
 * The reference tool's nearest-neighbour squash to 512x512: output column x reads source column
 * floor(x * width / 512), row y reads floor(y * height / 512).
 */
function squash512(pixels: PdqPixels): Uint8Array {
  const { width, height, channels, data } = pixels;
  const side = PDQ_CLI_SIDE;
  const out = new Uint8Array(side * side * channels);
  const colOffset = new Int32Array(side);
  for (let x = 0; x < side; x++) colOffset[x] = Math.floor((x * width) / side) * channels;
  let o = 0;
  for (let y = 0; y < side; y++) {
    const rowStart = Math.floor((y * height) / side) * width * channels;
    for (let x = 0; x < side; x++) {
      const s = rowStart + colOffset[x]!;
      for (let c = 0; c < channels; c++) out[o++] = data[s + c]!;
    }
  }
  return out;
}

function hashValue(hash: Uint8Array): PdqHashValue {
  return { hash, hex: toHex(hash), weight: weightBytes(hash) };
}

/**
 * Computes the PDQ hash of decoded pixels, bit-identical to Meta's reference implementation for
 * identical pixels. Pure and synchronous: about 2 ns a pixel with the WebAssembly engine (some
 * 25 ms for a 12-megapixel photo), 6 to 8 times that in JavaScript; run it off the event loop.
 *
 * @param pixels - decoded 8-bit pixels; no EXIF rotation is applied (the reference applies none).
 * @param options - {@link PdqOptions}.
 * @returns a {@link PdqHashed} result, or a {@link PdqNoHash} (`too-small`) when the hashed image
 *   has a side under 5 px. Never an all-zero hash as a value.
 * @throws HashgateError `ERR_HASHGATE_INVALID_PIXELS` when the pixels have the wrong shape, and
 *   `ERR_HASHGATE_INVALID_OPTION` for a bad option.
 *
 * @example
 * const { data, info } = await sharp(file).raw().toBuffer({ resolveWithObject: true });
 * const r = pdqHash({ width: info.width, height: info.height, channels: info.channels, data }, { dihedral: true });
 * if (r.ok && !r.degenerate && r.quality >= 50) query(r.dihedral);
 */
export function pdqHash(pixels: PdqPixels, options?: PdqOptions): PdqResult {
  checkPixels(pixels);
  const { convention, dihedral, kernels } = parseOptions(options);
  const sourceWidth = pixels.width;
  const sourceHeight = pixels.height;
  const squash = convention === 'cli512' && (sourceWidth > PDQ_CLI_SIDE || sourceHeight > PDQ_CLI_SIDE);
  const width = squash ? PDQ_CLI_SIDE : sourceWidth;
  const height = squash ? PDQ_CLI_SIDE : sourceHeight;
  const base = { convention, sourceWidth, sourceHeight, width, height };
  if (width < PDQ_MIN_SIDE || height < PDQ_MIN_SIDE) return { ok: false, reason: 'too-small', ...base };

  const data = squash ? squash512(pixels) : pixels.data;
  const buffer = new Float32Array(64 * 64);
  pdqFilterDecimate(kernels, data, width, height, pixels.channels, buffer);
  const quality = kernels.quality(buffer);
  const dct = new Float32Array(256);
  kernels.dct16(buffer, dct);
  const scratch = new Float32Array(256);
  const median = pdqMedian(dct, scratch);
  const main = hashValue(pdqBitsAbove(dct, median));

  let variants: PdqDihedralHashes | undefined;
  if (dihedral) {
    const moved = new Float32Array(256);
    const all = {} as Record<PdqDihedralVariant, PdqHashValue>;
    const medians: (number | undefined)[] = [median];
    for (const variant of PDQ_DIHEDRAL_VARIANTS) {
      if (variant === 'orig') {
        all.orig = main;
        continue;
      }
      pdqDihedralDct(dct, variant, moved);
      const signs = PDQ_DIHEDRAL_SIGNS[variant];
      medians[signs] ??= pdqMedian(moved, scratch);
      all[variant] = hashValue(pdqBitsAbove(moved, medians[signs]));
    }
    variants = Object.freeze(all);
  }

  const weight = main.weight;
  return {
    ok: true,
    ...base,
    hash: main.hash,
    hex: main.hex,
    weight,
    quality,
    degenerate: weight < PERCEPTUAL_WEIGHT_RANGE[0] || weight > PERCEPTUAL_WEIGHT_RANGE[1],
    small: Math.min(sourceWidth, sourceHeight) < PDQ_SMALL_SIDE,
    ...(variants ? { dihedral: variants } : {}),
  };
}
