import sharp, { type Sharp } from 'sharp';
import { decodeImage } from '../../../src/hashing/decode';
import { spreadToRgba, syntheticImage, syntheticRgb, withPngChunk } from '../../helpers/images';

const LIMITS = { maxPixels: 100_000_000, timeoutMs: 10_000, frame: 0, failOn: 'error' } as const;

const rgb = (w: number, h: number): Sharp =>
  sharp(syntheticRgb(w, h), { raw: { width: w, height: h, channels: 3 } });

/** The RGBA pixels the decoder returned before it kept the file's channels: sharp with ensureAlpha. */
async function rgbaOf(bytes: Buffer): Promise<Buffer> {
  return sharp(bytes, { ignoreIcc: true, autoOrient: false })
    .ensureAlpha()
    .raw({ depth: 'uchar' })
    .toBuffer();
}

async function decoded(bytes: Buffer) {
  const r = await decodeImage(bytes, bytes, LIMITS);
  if (!r.ok) throw new Error(`could not decode: ${r.reason}`);
  return r.image;
}

describe('decoding to the channels the file has', () => {
  it.each<[string, () => Promise<Buffer>, number, boolean]>([
    ['an RGB JPEG', () => syntheticImage(121, 83), 3, false],
    ['a greyscale JPEG', () => rgb(121, 83).toColourspace('b-w').jpeg().toBuffer(), 1, true],
    ['a CMYK JPEG', () => rgb(121, 83).toColourspace('cmyk').jpeg().toBuffer(), 3, false],
    ['an RGB PNG', () => syntheticImage(121, 83, 'png'), 3, false],
    ['an RGBA PNG', () => rgb(121, 83).ensureAlpha(0.5).png().toBuffer(), 4, false],
    ['a greyscale PNG', () => rgb(121, 83).toColourspace('b-w').png().toBuffer(), 1, true],
    [
      'a greyscale PNG with alpha',
      () => rgb(121, 83).toColourspace('b-w').ensureAlpha(0.5).png().toBuffer(),
      4,
      true,
    ],
    [
      'a greyscale PNG with a transparent grey (tRNS)',
      async () =>
        withPngChunk(await rgb(121, 83).toColourspace('b-w').png().toBuffer(), 'tRNS', Uint8Array.of(0, 60)),
      4,
      true,
    ],
    ['a 16-bit greyscale PNG', () => rgb(121, 83).toColourspace('grey16').png().toBuffer(), 3, true],
    [
      'a palette PNG with transparency',
      () => rgb(121, 83).ensureAlpha(0.5).png({ palette: true }).toBuffer(),
      4,
      false,
    ],
    ['a greyscale WebP (stored as RGB)', () => rgb(121, 83).toColourspace('b-w').webp().toBuffer(), 3, false],
  ])('decodes %s to %i channels, the same pixels as its RGBA decode', async (_name, make, channels, grey) => {
    const bytes = await make();
    const image = await decoded(bytes);
    expect({ channels: image.channels, grey: image.grey }).toEqual({ channels, grey });
    expect(image.data.length).toBe(121 * 83 * channels);
    expect(spreadToRgba(image.data, channels).equals(await rgbaOf(bytes))).toBe(true);
  });

  it('keeps the transparent pixels of a greyscale PNG with a tRNS chunk', async () => {
    const png = await sharp(Buffer.from([0, 60, 200, 60]), { raw: { width: 2, height: 2, channels: 1 } })
      .toColourspace('b-w')
      .png()
      .toBuffer();
    const image = await decoded(withPngChunk(png, 'tRNS', Uint8Array.of(0, 60)));
    expect(image.channels).toBe(4);
    expect([...image.data].filter((_, i) => i % 4 === 3)).toEqual([255, 0, 255, 0]);
  });
});
