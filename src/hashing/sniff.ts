/** Owns file-type sniffing from the first bytes of an upload: the client's type and file name are never trusted. */

import { open } from 'node:fs/promises';

/** Formats hashgate recognises from magic bytes. */
export type SniffedFormat =
  | 'jpeg'
  | 'png'
  | 'gif'
  | 'webp'
  | 'tiff'
  | 'avif'
  | 'heif'
  | 'jxl'
  | 'bmp'
  | 'ico'
  | 'svg'
  | 'pdf'
  | 'zip'
  | 'gzip'
  | 'mp4'
  | 'webm'
  | 'unknown';

/** Raster formats the decoder (sharp/libvips) is asked to decode for perceptual hashing. */
export const DECODABLE_FORMATS: ReadonlySet<SniffedFormat> = new Set([
  'jpeg',
  'png',
  'gif',
  'webp',
  'tiff',
  'avif',
  'heif',
]);

/** How many leading bytes {@link sniffFormat} needs at most. */
export const SNIFF_BYTES = 512;

function startsWith(b: Uint8Array, sig: readonly number[], at = 0): boolean {
  if (b.length < at + sig.length) return false;
  for (let i = 0; i < sig.length; i++) if (b[at + i] !== sig[i]) return false;
  return true;
}

function ascii(b: Uint8Array, from: number, to: number): string {
  const end = Math.min(to, b.length);
  if (from >= end) return '';
  return Buffer.from(b.buffer, b.byteOffset + from, end - from).toString('latin1');
}

/**
 * The real format of a file, from its first bytes (pass at least {@link SNIFF_BYTES}).
 * Returns `unknown` for anything it does not recognise.
 */
export function sniffFormat(b: Uint8Array): SniffedFormat {
  if (startsWith(b, [0xff, 0xd8, 0xff])) return 'jpeg';
  if (startsWith(b, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return 'png';
  if (startsWith(b, [0x47, 0x49, 0x46, 0x38]) && (b[4] === 0x37 || b[4] === 0x39) && b[5] === 0x61)
    return 'gif';
  if (startsWith(b, [0x52, 0x49, 0x46, 0x46]) && ascii(b, 8, 12) === 'WEBP') return 'webp';
  if (startsWith(b, [0x49, 0x49, 0x2a, 0x00]) || startsWith(b, [0x4d, 0x4d, 0x00, 0x2a])) return 'tiff';
  if (startsWith(b, [0xff, 0x0a]) || startsWith(b, [0x00, 0x00, 0x00, 0x0c, 0x4a, 0x58, 0x4c, 0x20]))
    return 'jxl';
  if (ascii(b, 4, 8) === 'ftyp') {
    const brand = ascii(b, 8, 12);
    if (brand === 'avif' || brand === 'avis') return 'avif';
    if (['heic', 'heix', 'hevc', 'hevx', 'heim', 'heis', 'mif1', 'msf1'].includes(brand)) return 'heif';
    return 'mp4';
  }
  if (startsWith(b, [0x42, 0x4d])) return 'bmp';
  if (startsWith(b, [0x00, 0x00, 0x01, 0x00])) return 'ico';
  if (startsWith(b, [0x25, 0x50, 0x44, 0x46, 0x2d])) return 'pdf';
  if (startsWith(b, [0x50, 0x4b, 0x03, 0x04])) return 'zip';
  if (startsWith(b, [0x1f, 0x8b])) return 'gzip';
  if (startsWith(b, [0x1a, 0x45, 0xdf, 0xa3])) return 'webm';
  // SVG is text: skip a BOM and white space, allow an XML declaration, comments and a doctype.
  const head = ascii(b, 0, Math.min(b.length, SNIFF_BYTES)).replace(/^\uFEFF|^\xEF\xBB\xBF/, '');
  if (/^\s*(<\?xml[^>]*>\s*)?(<!--[\s\S]*?-->\s*)*(<!doctype svg[^>]*>\s*)?<svg[\s>]/i.test(head))
    return 'svg';
  return 'unknown';
}

/** The first `bytes` bytes of a file (default {@link SNIFF_BYTES}) and its size, read with one open. */
export async function readFileHead(
  path: string,
  bytes = SNIFF_BYTES,
): Promise<{ head: Uint8Array; size: number }> {
  const handle = await open(path, 'r');
  try {
    const head = Buffer.alloc(bytes);
    const { bytesRead } = await handle.read(head, 0, bytes, 0);
    const { size } = await handle.stat();
    return { head: head.subarray(0, bytesRead), size };
  } finally {
    await handle.close();
  }
}
