/**
 * Owns what a reviewer's browser receives of evidence: a re-encoded JPEG made server-side with
 * sharp, blurred and greyscale for the first look, sharp only after the separate unblur action.
 * The original bytes never leave the server; metadata is stripped by re-encoding.
 */

import sharp from 'sharp';

/** Formats the preview can be made from. */
const IMAGE_FORMATS = new Set(['jpeg', 'png', 'webp', 'gif', 'tiff', 'avif', 'heif']);

/** True when the evidence is an image the console can preview (by the type sniffed at upload). */
export function isPreviewable(sniffedType: string | null): boolean {
  return sniffedType !== null && IMAGE_FORMATS.has(sniffedType);
}

/** Longest side of a blurred preview, in pixels. */
const BLURRED_SIDE = 480;
/** Longest side of an unblurred preview, in pixels. */
const CLEAR_SIDE = 1024;

/**
 * Renders a preview. The blurred one is scaled down, made greyscale and blurred with a sigma of
 * about a twentieth of its longest side: shapes stay visible, detail does not.
 */
export async function renderPreview(bytes: Uint8Array, mode: 'blurred' | 'clear'): Promise<Buffer> {
  const side = mode === 'blurred' ? BLURRED_SIDE : CLEAR_SIDE;
  const base = sharp(bytes, { limitInputPixels: 100_000_000, animated: false, failOn: 'error' })
    .rotate()
    .resize({ width: side, height: side, fit: 'inside', withoutEnlargement: true });
  if (mode === 'clear') return base.jpeg({ quality: 85 }).toBuffer();
  const { data, info } = await base.greyscale().raw().toBuffer({ resolveWithObject: true });
  const sigma = Math.max(6, Math.round(Math.max(info.width, info.height) / 20));
  return sharp(data, { raw: { width: info.width, height: info.height, channels: info.channels } })
    .blur(sigma)
    .toColourspace('b-w')
    .jpeg({ quality: 70 })
    .toBuffer();
}
