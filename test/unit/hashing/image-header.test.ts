import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp, { type Sharp } from 'sharp';
import { decodeImage } from '../../../src/hashing/decode';
import { exifOrientation, readImageHeader } from '../../../src/hashing/image-header';
import { sniffFormat } from '../../../src/hashing/sniff';
import { syntheticImage, syntheticRgb, withPngChunk } from '../../helpers/images';
import { FIXTURES } from '../../helpers/vectors';

const OPEN = { failOn: 'error', ignoreIcc: true, autoOrient: false, limitInputPixels: false } as const;

/** What sharp's metadata pass reports, in the shape of an ImageHeader. */
async function libvipsFacts(bytes: Buffer): Promise<Record<string, unknown>> {
  const m = await sharp(bytes, OPEN).metadata();
  return {
    width: m.width,
    height: m.height,
    space: m.space,
    depth: m.depth,
    hasAlpha: m.hasAlpha,
    hasIcc: m.hasProfile === true,
    ...(m.orientation !== undefined ? { orientation: m.orientation } : {}),
  };
}

function header(bytes: Buffer): Record<string, unknown> | undefined {
  const h = readImageHeader(sniffFormat(bytes), bytes);
  return h === undefined ? undefined : { ...h };
}

const rgb = (w: number, h: number): Sharp =>
  sharp(syntheticRgb(w, h), { raw: { width: w, height: h, channels: 3 } });

const variants: [string, () => Promise<Buffer>][] = [
  ['a baseline JPEG', () => syntheticImage(120, 80)],
  ['a progressive JPEG', () => rgb(120, 80).jpeg({ progressive: true }).toBuffer()],
  ['a greyscale JPEG', () => rgb(120, 80).toColourspace('b-w').jpeg().toBuffer()],
  ['a CMYK JPEG', () => rgb(120, 80).toColourspace('cmyk').jpeg().toBuffer()],
  ['a JPEG with EXIF orientation 6', () => rgb(120, 80).withMetadata({ orientation: 6 }).jpeg().toBuffer()],
  ['a JPEG with an ICC profile', () => rgb(120, 80).withIccProfile('p3').jpeg().toBuffer()],
  ['an RGB PNG', () => syntheticImage(120, 80, 'png')],
  ['an RGBA PNG', () => rgb(120, 80).ensureAlpha(0.5).png().toBuffer()],
  ['a greyscale PNG', () => rgb(120, 80).toColourspace('b-w').png().toBuffer()],
  ['a 16-bit PNG', () => rgb(120, 80).toColourspace('rgb16').png().toBuffer()],
  ['a 16-bit greyscale PNG', () => rgb(120, 80).toColourspace('grey16').png().toBuffer()],
  ['a palette PNG', () => rgb(120, 80).png({ palette: true }).toBuffer()],
  ['a palette PNG with transparency', () => rgb(120, 80).ensureAlpha(0.5).png({ palette: true }).toBuffer()],
  ['a greyscale PNG with alpha', () => rgb(120, 80).toColourspace('b-w').ensureAlpha(0.5).png().toBuffer()],
  [
    'a greyscale PNG with a transparent grey (tRNS)',
    async () =>
      withPngChunk(await rgb(120, 80).toColourspace('b-w').png().toBuffer(), 'tRNS', Uint8Array.of(0, 60)),
  ],
  [
    'an RGB PNG with a transparent colour (tRNS)',
    async () =>
      withPngChunk(await syntheticImage(120, 80, 'png'), 'tRNS', Uint8Array.of(0, 60, 0, 60, 0, 60)),
  ],
  ['a PNG with EXIF orientation 8', () => rgb(120, 80).withMetadata({ orientation: 8 }).png().toBuffer()],
];

describe('reading JPEG and PNG headers', () => {
  it.each(variants)('reports what libvips reports for %s', async (_name, make) => {
    const bytes = await make();
    expect(header(bytes)).toEqual(await libvipsFacts(bytes));
  });

  it('reports what libvips reports for every JPEG and PNG fixture', async () => {
    const files = readdirSync(FIXTURES, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => join(e.parentPath, e.name));
    let compared = 0;
    for (const file of files) {
      const bytes = readFileSync(file);
      const format = sniffFormat(bytes);
      if (format !== 'jpeg' && format !== 'png') continue;
      const facts = await libvipsFacts(bytes).catch(() => undefined);
      if (facts === undefined) continue;
      const h = header(bytes);
      if (h !== undefined) {
        expect({ file, ...h }).toEqual({ file, ...facts });
        compared++;
      }
    }
    expect(compared).toBeGreaterThan(0);
  });

  it('leaves a header that ends before the image data to libvips', async () => {
    const jpeg = await rgb(120, 80).withMetadata({ orientation: 6 }).jpeg().toBuffer();
    const png = await syntheticImage(120, 80, 'png');
    expect(readImageHeader('jpeg', jpeg.subarray(0, 40))).toBeUndefined();
    expect(readImageHeader('png', png.subarray(0, 40))).toBeUndefined();
  });

  it('leaves other formats and 12-bit JPEGs to libvips', async () => {
    const jpeg = await syntheticImage(64, 64);
    const sof = jpeg.indexOf(Buffer.from([0xff, 0xc0]));
    const twelveBit = Buffer.from(jpeg);
    twelveBit[sof + 4] = 12;
    expect(readImageHeader('jpeg', twelveBit)).toBeUndefined();
    expect(readImageHeader('webp', await syntheticImage(64, 64, 'webp'))).toBeUndefined();
  });

  it('clamps an EXIF orientation outside 1-8 into that range, as libvips does', () => {
    const tiff = (value: number): Uint8Array =>
      Uint8Array.from([
        ...[0x4d, 0x4d, 0, 42, 0, 0, 0, 8],
        ...[0, 1],
        ...[0x01, 0x12, 0, 3, 0, 0, 0, 1, value >> 8, value & 0xff, 0, 0],
        ...[0, 0, 0, 0],
      ]);
    expect(exifOrientation(tiff(6))).toBe(6);
    expect(exifOrientation(tiff(0))).toBe(1);
    expect(exifOrientation(tiff(9))).toBe(8);
    expect(exifOrientation(tiff(6).subarray(0, 14))).toBeUndefined();
  });
});

describe('decoding with the header read from the bytes', () => {
  const limits = { maxPixels: 100_000_000, timeoutMs: 10_000, frame: 0, failOn: 'error' } as const;
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'hashgate-header-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each(variants)('gives the pixels and facts of the metadata path for %s', async (_name, make) => {
    const bytes = await make();
    const fast = await decodeImage(bytes, bytes, limits);
    // A path with a head that ends before the image data takes the metadata path.
    const path = join(dir, 'image');
    writeFileSync(path, bytes);
    const head = bytes.subarray(0, 16);
    expect(readImageHeader(sniffFormat(head), head)).toBeUndefined();
    const slow = await decodeImage(path, head, limits);
    expect(fast.ok && slow.ok).toBe(true);
    if (!fast.ok || !slow.ok) return;
    expect({ ...fast.image, data: undefined }).toEqual({ ...slow.image, data: undefined });
    expect(fast.image.data.equals(slow.image.data)).toBe(true);
  });

  it('refuses a JPEG over the pixel limit from its header, before decoding', async () => {
    const jpeg = await syntheticImage(120, 80);
    const r = await decodeImage(jpeg, jpeg, { ...limits, maxPixels: 120 * 80 - 1 });
    expect(r).toMatchObject({ ok: false, reason: 'too-large', detail: expect.stringContaining('120x80') });
  });

  it('says a JPEG has no second frame', async () => {
    const jpeg = await syntheticImage(120, 80);
    const r = await decodeImage(jpeg, jpeg, { ...limits, frame: 1 });
    expect(r).toMatchObject({ ok: false, reason: 'undecodable' });
  });
});
