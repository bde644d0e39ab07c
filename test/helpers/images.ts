/** Generates benign synthetic test images and hostile inputs, so that tests need few stored files. */

import sharp from 'sharp';
import { crc32 } from '../../bench/lib/crc32';

/** RGB pixels of a deterministic "photo-like" scene: smooth gradients, discs and bars, so PDQ quality is high. */
export function syntheticRgb(width: number, height: number, seed = 1): Buffer {
  const data = Buffer.alloc(width * height * 3);
  const s = seed * 0.6180339887;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const u = x / width;
      const v = y / height;
      const disc = (u - 0.3 - 0.2 * Math.sin(s)) ** 2 + (v - 0.6) ** 2 < 0.04 ? 90 : 0;
      const bar = Math.floor((u + v * 0.5 + s) * 6) % 2 === 0 ? 40 : 0;
      const o = (y * width + x) * 3;
      data[o] = Math.min(255, Math.round(120 + 100 * Math.sin(6.3 * u + s) * Math.cos(3.1 * v) + disc));
      data[o + 1] = Math.min(255, Math.round(100 + 80 * Math.cos(4.7 * v + 2 * s) + bar));
      data[o + 2] = Math.min(255, Math.round(60 + 60 * Math.sin(9.1 * u * v + s) + disc / 2));
    }
  }
  return data;
}

/** A synthetic photo-like image encoded as `format`. */
export function syntheticImage(
  width: number,
  height: number,
  format: 'jpeg' | 'png' | 'webp' = 'jpeg',
  seed = 1,
): Promise<Buffer> {
  return sharp(syntheticRgb(width, height, seed), { raw: { width, height, channels: 3 } })
    .toFormat(format)
    .toBuffer();
}

/** An animated GIF with `frames` frames of `side` x `side` pixels. */
export function animatedGif(frames: number, side = 64): Promise<Buffer> {
  const frameBytes = side * side * 3;
  const all = Buffer.alloc(frameBytes * frames);
  for (let i = 0; i < frames; i++) syntheticRgb(side, side, i + 1).copy(all, i * frameBytes);
  return sharp(all, { raw: { width: side, height: side * frames, channels: 3, pageHeight: side } })
    .gif()
    .toBuffer();
}

function pngChunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

/** A tiny PNG (well under 1 KB) whose header declares `width` x `height` pixels: a decompression bomb's shape. */
export function pngDeclaring(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  // a few bytes of zlib data (an empty stored block): the pixel data is far shorter than declared
  const idat = Buffer.from([0x78, 0x01, 0x01, 0x00, 0x00, 0xff, 0xff, 0x00, 0x00, 0x00, 0x01]);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', idat),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

/** A minimal ZIP archive (one stored file), to append to an image as a polyglot. */
export function tinyZip(): Buffer {
  const name = Buffer.from('a.txt');
  const content = Buffer.from('hello');
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0);
  local.writeUInt16LE(10, 4);
  local.writeUInt32LE(crc32(content), 14);
  local.writeUInt32LE(content.length, 18);
  local.writeUInt32LE(content.length, 22);
  local.writeUInt16LE(name.length, 26);
  return Buffer.concat([local, name, content]);
}

/**
 * `png` with one more chunk right after IHDR, for chunks sharp never writes, such as a tRNS
 * (transparent colour) chunk in a greyscale PNG.
 */
export function withPngChunk(png: Buffer, type: string, data: Uint8Array): Buffer {
  const afterHeader = 8 + 8 + 13 + 4;
  return Buffer.concat([
    png.subarray(0, afterHeader),
    pngChunk(type, Buffer.from(data)),
    png.subarray(afterHeader),
  ]);
}

/**
 * Pixels of 1 to 4 samples (grey, grey + alpha, RGB, RGBA) written out as RGBA: grey repeated in
 * R, G and B, alpha 255 where there is none. Written here independently of src/, as the oracle
 * the decoder and blockhash are held to.
 */
export function spreadToRgba(data: Uint8Array, channels: number): Buffer {
  const n = data.length / channels;
  const out = Buffer.alloc(n * 4);
  for (let p = 0; p < n; p++) {
    const s = p * channels;
    const grey = channels < 3;
    out[p * 4] = data[s]!;
    out[p * 4 + 1] = data[grey ? s : s + 1]!;
    out[p * 4 + 2] = data[grey ? s : s + 2]!;
    out[p * 4 + 3] = channels === 2 || channels === 4 ? data[s + channels - 1]! : 255;
  }
  return out;
}
