/**
 * Owns the layout of decoded 8-bit pixels (1 to 4 interleaved channels: grey, grey + alpha, RGB,
 * RGBA) and the few copies between layouts that the hashes need: a crop, an RGBA expansion and
 * the grey samples PDQ reads from a greyscale image.
 */

/** Samples a pixel: 1 (grey), 2 (grey, alpha), 3 (RGB) or 4 (RGBA). */
export type PixelChannels = 1 | 2 | 3 | 4;

/** Decoded 8-bit pixels, row-major, `channels` samples a pixel, no padding between rows. */
export interface Pixels {
  readonly width: number;
  readonly height: number;
  readonly channels: PixelChannels;
  /** Exactly `width * height * channels` bytes. */
  readonly data: Uint8Array;
  /**
   * The image is greyscale: with 1 or 2 channels the first sample is the grey value, with 3 or 4
   * R = G = B hold it. PDQ reads it directly as luminance.
   */
  readonly grey?: boolean;
}

/** A rectangle of an image, in pixels of the decoded image. */
export interface PixelBox {
  readonly left: number;
  readonly top: number;
  readonly width: number;
  readonly height: number;
}

/** Whether `channels` is a layout {@link Pixels} can have. */
export function isPixelChannels(channels: unknown): channels is PixelChannels {
  return channels === 1 || channels === 2 || channels === 3 || channels === 4;
}

/** Whether the layout has an alpha channel (its last sample). */
export function hasAlpha(channels: PixelChannels): boolean {
  return channels === 2 || channels === 4;
}

/** A copy of the pixels inside `box`, in the same layout. */
export function cropPixels(pixels: Pixels, box: PixelBox): Uint8Array {
  const c = pixels.channels;
  const out = new Uint8Array(box.width * box.height * c);
  const rowBytes = box.width * c;
  for (let y = 0; y < box.height; y++) {
    const s = ((box.top + y) * pixels.width + box.left) * c;
    out.set(pixels.data.subarray(s, s + rowBytes), y * rowBytes);
  }
  return out;
}

/**
 * The pixels as RGBA, `width * height * 4` bytes: grey is replicated to R, G and B, and alpha is
 * 255 where the layout has none. Returns `data` itself when it already is RGBA.
 */
export function toRgba(pixels: Pick<Pixels, 'width' | 'height' | 'channels' | 'data'>): Uint8Array {
  const { channels: c, data } = pixels;
  if (c === 4) return data;
  const n = pixels.width * pixels.height;
  const out = new Uint8Array(n * 4);
  // Where G and B sit in a pixel (the grey sample for 1 or 2 channels), and alpha (-1: none).
  const g = c < 3 ? 0 : 1;
  const b = c < 3 ? 0 : 2;
  const a = c === 2 ? 1 : -1;
  for (let i = 0, s = 0, o = 0; i < n; i++, s += c, o += 4) {
    out[o] = data[s]!;
    out[o + 1] = data[s + g]!;
    out[o + 2] = data[s + b]!;
    out[o + 3] = a < 0 ? 255 : data[s + a]!;
  }
  return out;
}

/**
 * What PDQ hashes: for a greyscale image its grey samples (as the reference reads greyscale, not
 * the RGB formula applied to R = G = B, which can differ in the last float32 bit), else the pixels
 * as they are. A grey image that arrives with 3 or 4 channels (16-bit grey, which is decoded
 * through RGB) has its R samples copied out.
 */
export function pdqSource(pixels: Pixels): Pixels {
  const { width, height, channels: c, data } = pixels;
  if (!pixels.grey || c < 3) return { width, height, channels: c, data };
  const n = width * height;
  const grey = new Uint8Array(n);
  for (let i = 0, j = 0; i < n; i++, j += c) grey[i] = data[j]!;
  return { width, height, channels: 1, data: grey };
}
