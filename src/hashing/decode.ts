/**
 * Owns decoding an upload to raw pixels with sharp (libvips) under explicit limits, following the
 * decode policy in docs/decoding.md: the format is sniffed from the bytes, the first frame of an
 * animation is used, EXIF orientation is not applied, embedded ICC profiles are ignored, CMYK is
 * converted to RGB, 16-bit samples are reduced to 8 bits, and the pixels keep the channels the
 * file has (grey, RGB, with or without alpha).
 */

import sharp, { type Metadata } from 'sharp';
import { readImageHeader } from './image-header';
import { isPixelChannels, type PixelChannels, type Pixels } from './pixels';
import { DECODABLE_FORMATS, type SniffedFormat, sniffFormat } from './sniff';

/** Limits applied to every decode. Every field is required here; defaults live in the options parser. */
export interface DecodeLimits {
  /** Largest accepted width x height, checked from the header before any pixel is decoded. */
  readonly maxPixels: number;
  /** Wall-clock limit for one decode, in milliseconds (libvips checks it in whole seconds, at least 1). */
  readonly timeoutMs: number;
  /** Which frame of an animated or multi-page image to decode (0 = first). */
  readonly frame: number;
  /** How strict libvips is with damaged pixel data: `'error'` decodes a truncated file as far as it goes. */
  readonly failOn: 'none' | 'truncated' | 'error' | 'warning';
}

/** Raw 8-bit pixels of one decoded frame, plus what the decoder saw. */
export interface DecodedImage extends Pixels {
  /** Interleaved samples, `width * height * channels` bytes. */
  readonly data: Buffer;
  readonly width: number;
  readonly height: number;
  /**
   * The channels the file has: 1 for 8-bit greyscale without alpha (the grey samples), 3 (RGB)
   * or 4 (RGBA) for everything else, greyscale with alpha and 16-bit greyscale included (R = G =
   * B). CMYK is converted to RGB. 2 is never returned today, but consumers accept it.
   */
  readonly channels: PixelChannels;
  /** The file is greyscale: the grey value (first sample, or R = G = B) is PDQ's luminance. */
  readonly grey: boolean;
  /** Format sniffed from the bytes. */
  readonly format: SniffedFormat;
  /** Frames or pages in the file (1 for a still image). */
  readonly pages: number;
  /** EXIF orientation tag (1-8) when present; recorded, not applied. */
  readonly orientation?: number;
  /** Colour space the file declared (`srgb`, `b-w`, `cmyk`, `rgb16`, ...). */
  readonly space: string;
  /** Sample depth the file declared (`uchar`, `ushort`, ...). */
  readonly depth: string;
  /** Whether the file embeds an ICC profile (ignored for hashing, as the references do). */
  readonly hasIcc: boolean;
}

/** Why an input produced no pixels. */
export type DecodeFailureReason =
  | 'not-an-image'
  | 'unsupported-format'
  | 'undecodable'
  | 'too-large'
  | 'timed-out';

/** The result of {@link decodeImage}: pixels, or a reason with a short detail that never contains input bytes. */
export type DecodeResult =
  | { readonly ok: true; readonly image: DecodedImage }
  | {
      readonly ok: false;
      readonly reason: DecodeFailureReason;
      readonly detail: string;
      readonly format: SniffedFormat;
    };

/** The decoder identity recorded with every perceptual hash, e.g. `sharp 0.35.5 / libvips 8.18.7`. */
export const DECODER_VERSION = `sharp ${sharp.versions.sharp ?? 'unknown'} / libvips ${sharp.versions.vips}`;

const KNOWN_NON_RASTER: ReadonlySet<SniffedFormat> = new Set(['svg', 'bmp', 'ico', 'jxl', 'mp4', 'webm']);

/** What the decoder needs to know about a file before it decodes it. */
interface HeaderFacts {
  readonly width: number;
  readonly height: number;
  readonly pages: number;
  readonly space: string;
  readonly depth: string;
  readonly hasAlpha: boolean;
  readonly orientation?: number;
  readonly hasIcc: boolean;
}

function factsOf(meta: Metadata): HeaderFacts {
  return {
    width: meta.width ?? 0,
    height: meta.height ?? 0,
    pages: meta.pages ?? 1,
    space: meta.space ?? 'unknown',
    depth: meta.depth ?? 'unknown',
    hasAlpha: meta.hasAlpha === true,
    ...(meta.orientation !== undefined ? { orientation: meta.orientation } : {}),
    hasIcc: meta.hasProfile === true,
  };
}

function failure(reason: DecodeFailureReason, detail: string, format: SniffedFormat): DecodeResult {
  return { ok: false, reason, detail, format };
}

/** Maps a libvips error to a reason without echoing its text (it may name paths). */
function classifySharpError(err: unknown): { reason: DecodeFailureReason; detail: string } {
  const msg = err instanceof Error ? err.message : String(err);
  if (/timeout/i.test(msg)) return { reason: 'timed-out', detail: 'the decoder ran past its time limit' };
  if (/pixel limit|exceeds pixel|too large/i.test(msg)) {
    return { reason: 'too-large', detail: 'the image has more pixels than the limit' };
  }
  if (/premature end|truncat|unexpected end/i.test(msg)) {
    return { reason: 'undecodable', detail: 'the image data ends early' };
  }
  return { reason: 'undecodable', detail: 'the decoder could not read the image data' };
}

/**
 * Decodes the first (or `limits.frame`) frame of an image to 8-bit raw pixels.
 * Never throws for bad input: every failure is a {@link DecodeResult} with a reason.
 *
 * @param input - the file's bytes, or a path sharp reads itself
 * @param head - the file's first bytes, for sniffing; when `input` is a path, also for reading a JPEG
 *   or PNG header (a head that ends before the image data costs a metadata pass)
 */
export async function decodeImage(
  input: Uint8Array | string,
  head: Uint8Array,
  limits: DecodeLimits,
): Promise<DecodeResult> {
  const format = sniffFormat(head);
  if (!DECODABLE_FORMATS.has(format)) {
    return KNOWN_NON_RASTER.has(format)
      ? failure('unsupported-format', `${format} files are not decoded for perceptual hashing`, format)
      : failure('not-an-image', 'the bytes are not an image format hashgate decodes', format);
  }
  const src =
    typeof input === 'string' ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  const base = {
    failOn: limits.failOn,
    limitInputPixels: limits.maxPixels,
    ignoreIcc: true,
    autoOrient: false,
    pages: 1,
    page: limits.frame,
    sequentialRead: true,
  } as const;

  // JPEG and PNG headers are read here from the bytes already in hand; any other format, or a
  // header that is not plain, costs a metadata pass through libvips first.
  const header = readImageHeader(format, typeof input === 'string' ? head : input);
  let facts: HeaderFacts;
  if (header !== undefined) {
    facts = { ...header, pages: 1 };
  } else {
    try {
      facts = factsOf(await sharp(src, { ...base, limitInputPixels: false }).metadata());
    } catch (err) {
      const { reason, detail } = classifySharpError(err);
      return failure(reason, detail, format);
    }
  }
  const { width, height, pages } = facts;
  if (width <= 0 || height <= 0) return failure('undecodable', 'the image header declares no size', format);
  if (width * height > limits.maxPixels) {
    return failure(
      'too-large',
      `the image declares ${width}x${height} pixels, over the limit of ${limits.maxPixels}`,
      format,
    );
  }
  if (limits.frame >= pages) return failure('undecodable', `the image has no frame ${limits.frame}`, format);

  try {
    let pipeline = sharp(src, base).timeout({ seconds: Math.max(1, Math.ceil(limits.timeoutMs / 1000)) });
    // CMYK has no meaning for the luminance formula: convert it to RGB with libvips' built-in
    // CMYK profile. 8-bit greyscale without alpha is kept as one grey sample a pixel (sharp would
    // expand it to RGB); with alpha it is expanded to RGBA (sharp's grey output drops alpha), and
    // 16-bit grey to RGB (libvips' 16-to-8-bit grey conversion rounds differently from the RGB
    // one). Greyscale is flagged so that PDQ reads the grey value directly as luminance.
    const asGrey = facts.space === 'b-w' && facts.depth === 'uchar' && !facts.hasAlpha;
    if (facts.space === 'cmyk') pipeline = pipeline.toColourspace('srgb');
    else if (asGrey) pipeline = pipeline.toColourspace('b-w');
    const { data, info } = await pipeline.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
    const channels = info.channels;
    if (
      !isPixelChannels(channels) ||
      (asGrey ? channels !== 1 : channels < 3) ||
      info.width !== width ||
      info.height !== height ||
      data.length !== width * height * channels
    ) {
      return failure('undecodable', 'the decoder returned an unexpected pixel layout', format);
    }
    return {
      ok: true,
      image: {
        data,
        width,
        height,
        channels,
        grey: facts.space === 'b-w' || facts.space === 'grey16',
        format,
        pages,
        ...(facts.orientation !== undefined ? { orientation: facts.orientation } : {}),
        space: facts.space,
        depth: facts.depth,
        hasIcc: facts.hasIcc,
      },
    };
  } catch (err) {
    const { reason, detail } = classifySharpError(err);
    return failure(reason, detail, format);
  }
}
