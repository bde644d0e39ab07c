/**
 * Owns reading, from the first bytes of a JPEG or PNG file, the facts the decoder needs before it
 * decodes (size, colour space, sample depth, alpha) and the facts it records (EXIF orientation, embedded
 * ICC profile), exactly as libvips reports them, so that one sharp pipeline decodes the file
 * without a separate metadata pass. Anything unusual returns `undefined` and the decoder asks
 * libvips instead; a header this module cannot read is never guessed at.
 */

import type { SniffedFormat } from './sniff';

/** What libvips would report about a JPEG or PNG file before decoding it. */
export interface ImageHeader {
  readonly width: number;
  readonly height: number;
  /** libvips' interpretation of the loaded image: `srgb`, `b-w`, `cmyk`, `rgb16` or `grey16`. */
  readonly space: 'srgb' | 'b-w' | 'cmyk' | 'rgb16' | 'grey16';
  /** `uchar` (8-bit samples) or `ushort` (16-bit PNG). */
  readonly depth: 'uchar' | 'ushort';
  /** The decoded image has an alpha channel (a PNG with one, or with a tRNS chunk). */
  readonly hasAlpha: boolean;
  /** EXIF orientation 1 to 8 (libvips clamps other values into that range); absent without the tag. */
  readonly orientation?: number;
  /** The file embeds an ICC profile that the decoder would read. */
  readonly hasIcc: boolean;
}

const u16 = (b: Uint8Array, at: number, le = false): number =>
  le ? b[at]! | (b[at + 1]! << 8) : (b[at]! << 8) | b[at + 1]!;

const u32 = (b: Uint8Array, at: number, le = false): number =>
  le
    ? (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0
    : ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;

function hasText(b: Uint8Array, at: number, text: string): boolean {
  if (at + text.length > b.length) return false;
  for (let i = 0; i < text.length; i++) if (b[at + i] !== text.charCodeAt(i)) return false;
  return true;
}

/**
 * The orientation tag (0x0112) of IFD0 in TIFF-structured EXIF data, clamped to 1-8 as libvips
 * does; `undefined` when the data holds no readable tag.
 */
export function exifOrientation(tiff: Uint8Array): number | undefined {
  if (tiff.length < 8) return undefined;
  let le: boolean;
  if (tiff[0] === 0x49 && tiff[1] === 0x49) le = true;
  else if (tiff[0] === 0x4d && tiff[1] === 0x4d) le = false;
  else return undefined;
  if (u16(tiff, 2, le) !== 42) return undefined;
  const ifd = u32(tiff, 4, le);
  if (ifd < 8 || ifd + 2 > tiff.length) return undefined;
  const count = u16(tiff, ifd, le);
  for (let k = 0; k < count; k++) {
    const e = ifd + 2 + 12 * k;
    if (e + 12 > tiff.length) return undefined;
    if (u16(tiff, e, le) !== 0x0112) continue;
    const type = u16(tiff, e + 2, le);
    if (u32(tiff, e + 4, le) < 1) return undefined;
    let value: number;
    if (type === 3) value = u16(tiff, e + 8, le);
    else if (type === 8) value = (u16(tiff, e + 8, le) << 16) >> 16;
    else if (type === 4) value = u32(tiff, e + 8, le);
    else if (type === 9) value = u32(tiff, e + 8, le) | 0;
    else return undefined;
    return Math.min(8, Math.max(1, value));
  }
  return undefined;
}

/** Start-of-frame markers (baseline, extended, progressive, lossless; Huffman or arithmetic). */
function isStartOfFrame(marker: number): boolean {
  return marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
}

/**
 * The ICC rule of libjpeg's `jpeg_read_icc_profile`: every APP2 `ICC_PROFILE` segment agrees on
 * the number of segments, each sequence number appears once, none is missing, and the profile is
 * not empty.
 */
function iccComplete(segments: readonly { seq: number; count: number; bytes: number }[]): boolean {
  if (segments.length === 0) return false;
  const count = segments[0]!.count;
  const seen = new Set<number>();
  let total = 0;
  for (const s of segments) {
    if (s.count !== count || s.seq < 1 || s.seq > count || seen.has(s.seq)) return false;
    seen.add(s.seq);
    total += s.bytes;
  }
  return seen.size === count && total > 0;
}

function jpegHeader(b: Uint8Array): ImageHeader | undefined {
  let i = 2;
  let frame: { width: number; height: number; components: number } | undefined;
  let orientation: number | undefined;
  const icc: { seq: number; count: number; bytes: number }[] = [];
  // libjpeg reads every marker up to the first scan; libvips keeps the last EXIF segment.
  for (;;) {
    if (i >= b.length || b[i] !== 0xff) return undefined;
    while (i < b.length && b[i] === 0xff) i++;
    if (i >= b.length) return undefined;
    const marker = b[i++]!;
    if (marker === 0xd8 || marker === 0xd9 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      return undefined;
    }
    if (i + 2 > b.length) return undefined;
    const length = u16(b, i);
    if (length < 2 || i + length > b.length) return undefined;
    const data = b.subarray(i + 2, i + length);
    i += length;
    if (marker === 0xda) break;
    if (isStartOfFrame(marker)) {
      if (frame !== undefined || data.length < 6) return undefined;
      // 12- and 16-bit samples, or a height given later (DNL), are left to libvips.
      if (data[0] !== 8) return undefined;
      frame = { height: u16(data, 1), width: u16(data, 3), components: data[5]! };
    } else if (marker === 0xe1 && hasText(data, 0, 'Exif\0\0')) {
      orientation = exifOrientation(data.subarray(6));
    } else if (marker === 0xe2 && data.length >= 14 && hasText(data, 0, 'ICC_PROFILE\0')) {
      icc.push({ seq: data[12]!, count: data[13]!, bytes: data.length - 14 });
    }
  }
  if (frame === undefined || frame.width === 0 || frame.height === 0) return undefined;
  const space =
    frame.components === 1 ? 'b-w' : frame.components === 3 ? 'srgb' : frame.components === 4 ? 'cmyk' : null;
  if (space === null) return undefined;
  return {
    width: frame.width,
    height: frame.height,
    space,
    depth: 'uchar',
    hasAlpha: false,
    ...(orientation !== undefined ? { orientation } : {}),
    hasIcc: iccComplete(icc),
  };
}

function pngHeader(b: Uint8Array): ImageHeader | undefined {
  if (b.length < 33 || u32(b, 8) !== 13 || !hasText(b, 12, 'IHDR')) return undefined;
  const width = u32(b, 16);
  const height = u32(b, 20);
  const bitDepth = b[24]!;
  const colourType = b[25]!;
  if (width === 0 || height === 0 || width > 0x7fffffff || height > 0x7fffffff) return undefined;
  const grey = colourType === 0 || colourType === 4;
  if (!grey && colourType !== 2 && colourType !== 6 && colourType !== 3) return undefined;
  const wide = bitDepth === 16;
  if (colourType === 3 && wide) return undefined;
  let orientation: number | undefined;
  let hasIcc = false;
  let hasAlpha = colourType === 4 || colourType === 6;
  // The chunks before the first IDAT: what libvips reads while it opens the file.
  let i = 33;
  for (;;) {
    if (i + 8 > b.length) return undefined;
    const length = u32(b, i);
    if (length > 0x7fffffff || i + 12 + length > b.length) return undefined;
    if (hasText(b, i + 4, 'IDAT')) break;
    if (hasText(b, i + 4, 'IEND')) return undefined;
    const data = b.subarray(i + 8, i + 8 + length);
    // A second iCCP or eXIf chunk is left to libvips to judge.
    if (hasText(b, i + 4, 'iCCP')) {
      if (hasIcc) return undefined;
      hasIcc = true;
    } else if (hasText(b, i + 4, 'eXIf')) {
      if (orientation !== undefined) return undefined;
      orientation = exifOrientation(data);
    } else if (hasText(b, i + 4, 'tRNS')) {
      // A transparent colour (or palette alphas) decodes to an alpha channel; a second tRNS
      // chunk, or one where the colour type has alpha already, is left to libvips.
      if (hasAlpha) return undefined;
      hasAlpha = true;
    }
    i += 12 + length;
  }
  return {
    width,
    height,
    space: grey ? (wide ? 'grey16' : 'b-w') : wide ? 'rgb16' : 'srgb',
    depth: wide ? 'ushort' : 'uchar',
    hasAlpha,
    ...(orientation !== undefined ? { orientation } : {}),
    hasIcc,
  };
}

/**
 * The header facts of a JPEG (8-bit samples) or PNG file from its first bytes, or `undefined`
 * when the format is another one, the bytes end before the first image data, or anything is
 * unusual enough that only libvips should judge it.
 *
 * @param format - the format sniffed from the same bytes.
 */
export function readImageHeader(format: SniffedFormat, bytes: Uint8Array): ImageHeader | undefined {
  if (format === 'jpeg') return jpegHeader(bytes);
  if (format === 'png') return pngHeader(bytes);
  return undefined;
}
