import sharp from 'sharp';
import { hammingBytes } from '../../../src/hashing/hamming';
import { createHasher, type Hasher } from '../../../src/hashing/hasher';
import { parseHashingOptions } from '../../../src/hashing/hasher-options';
import type { ComputedHash, HashOutcome } from '../../../src/hashing/outcome';
import { type Pixels, toRgba } from '../../../src/hashing/pixels';
import { findContentBox, hashRegion } from '../../../src/hashing/trim';
import { syntheticImage, syntheticRgb } from '../../helpers/images';

type Colour = { r: number; g: number; b: number };

async function rgba(bytes: Buffer): Promise<Pixels> {
  const { data, info } = await sharp(bytes).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, channels: 4, data };
}

/** The image's pixels as sharp decodes them: 3 channels for a file without alpha. */
async function rgb(bytes: Buffer): Promise<Pixels> {
  const { data, info } = await sharp(bytes).raw().toBuffer({ resolveWithObject: true });
  expect(info.channels).toBe(3);
  return { width: info.width, height: info.height, channels: 3, data };
}

/** The image's grey samples, one channel, flagged grey. */
async function grey(bytes: Buffer): Promise<Pixels> {
  const { data, info } = await sharp(bytes).toColourspace('b-w').raw().toBuffer({ resolveWithObject: true });
  expect(info.channels).toBe(1);
  return { width: info.width, height: info.height, channels: 1, data, grey: true };
}

/** A 400x300 synthetic photo with a frame added by sharp, encoded as JPEG or PNG. */
async function framed(
  pad: { top?: number; bottom?: number; left?: number; right?: number },
  background: Colour,
  format: 'jpeg' | 'png',
  quality = 75,
): Promise<Buffer> {
  const photo = sharp(syntheticRgb(400, 300, 3), { raw: { width: 400, height: 300, channels: 3 } });
  const extended = await photo
    .extend({ top: 0, bottom: 0, left: 0, right: 0, ...pad, background: { ...background, alpha: 1 } })
    .png()
    .toBuffer();
  return format === 'jpeg' ? sharp(extended).jpeg({ quality }).toBuffer() : extended;
}

function expectNear(
  box: { left: number; top: number; width: number; height: number } | undefined,
  want: { left: number; top: number; width: number; height: number },
  slack: number,
): void {
  expect(box).toBeDefined();
  expect(Math.abs(box!.left - want.left)).toBeLessThanOrEqual(slack);
  expect(Math.abs(box!.top - want.top)).toBeLessThanOrEqual(slack);
  expect(Math.abs(box!.left + box!.width - (want.left + want.width))).toBeLessThanOrEqual(slack);
  expect(Math.abs(box!.top + box!.height - (want.top + want.height))).toBeLessThanOrEqual(slack);
}

const CONTENT = { left: 40, top: 30, width: 400, height: 300 };

describe('findContentBox', () => {
  it.each([
    ['black', { r: 0, g: 0, b: 0 }],
    ['white', { r: 255, g: 255, b: 255 }],
    ['mid grey', { r: 128, g: 128, b: 128 }],
    ['red', { r: 200, g: 30, b: 40 }],
    ['blue', { r: 20, g: 90, b: 200 }],
  ])('finds the photo inside a 10%% %s border of a lossless image exactly', async (_name, colour) => {
    const box = findContentBox(
      await rgba(await framed({ top: 30, bottom: 30, left: 40, right: 40 }, colour, 'png')),
    );
    expect(box).toEqual(CONTENT);
  });

  // JPEG ringing and chroma subsampling bleed the photo's colours into the frame next to it: the
  // box may keep up to two 8x8 blocks of frame, and never loses content.
  it.each([
    ['black', 40, { r: 0, g: 0, b: 0 }],
    ['white', 40, { r: 255, g: 255, b: 255 }],
    ['red', 50, { r: 200, g: 30, b: 40 }],
    ['blue', 50, { r: 20, g: 90, b: 200 }],
  ])(
    'finds the photo inside a %s border of a JPEG at quality %i within two blocks',
    async (_name, q, colour) => {
      const bytes = await framed({ top: 30, bottom: 30, left: 40, right: 40 }, colour, 'jpeg', q);
      const box = findContentBox(await rgba(bytes));
      expectNear(box, CONTENT, 16);
      expect(box!.left).toBeLessThanOrEqual(CONTENT.left);
      expect(box!.top).toBeLessThanOrEqual(CONTENT.top);
    },
  );

  it('finds the photo between letterbox bars above and below', async () => {
    const bytes = await framed({ top: 60, bottom: 60 }, { r: 0, g: 0, b: 0 }, 'jpeg', 80);
    expectNear(findContentBox(await rgba(bytes)), { left: 0, top: 60, width: 400, height: 300 }, 8);
  });

  it('finds the photo between pillarbox bars left and right', async () => {
    const bytes = await framed({ left: 100, right: 100 }, { r: 16, g: 16, b: 16 }, 'jpeg', 80);
    expectNear(findContentBox(await rgba(bytes)), { left: 100, top: 0, width: 400, height: 300 }, 8);
  });

  it('finds bars of different colours on different axes', async () => {
    const inner = await framed({ top: 40, bottom: 40 }, { r: 0, g: 0, b: 0 }, 'png');
    const bytes = await sharp(inner)
      .extend({ left: 50, right: 50, background: { r: 255, g: 255, b: 255, alpha: 1 } })
      .png()
      .toBuffer();
    expect(findContentBox(await rgba(bytes))).toEqual({ left: 50, top: 40, width: 400, height: 300 });
  });

  it('leaves a photo without a frame alone', async () => {
    expect(findContentBox(await rgba(await syntheticImage(400, 300, 'jpeg', 5)))).toBeUndefined();
  });

  it('leaves alone a uniform band on one side only (a clear sky, a backdrop)', async () => {
    const bytes = await framed({ top: 120 }, { r: 90, g: 150, b: 230 }, 'jpeg', 85);
    expect(findContentBox(await rgba(bytes))).toBeUndefined();
  });

  it('leaves alone a frame thinner than 3% of the image', async () => {
    const bytes = await framed({ top: 2, bottom: 2, left: 3, right: 3 }, { r: 0, g: 0, b: 0 }, 'png');
    expect(findContentBox(await rgba(bytes))).toBeUndefined();
  });

  it('finds no content box in a flat image', async () => {
    const flat = await sharp({
      create: { width: 200, height: 100, channels: 3, background: { r: 10, g: 10, b: 10 } },
    })
      .png()
      .toBuffer();
    expect(findContentBox(await rgba(flat))).toBeUndefined();
  });

  describe('tolerance, at its edge, in every layout', () => {
    // A 300x200 image of noise framed 30 px all round by a colour near both ends of the range;
    // every fourth frame pixel is off by exactly `off` levels on each channel (up or down), far
    // more than the 2% of a line that may miss.
    const W = 300;
    const H = 200;
    const FRAME = 30;
    const COLOUR = [12, 128, 243] as const;
    function noisyFrame(channels: 1 | 2 | 3 | 4, off: number): Pixels {
      const up = off >= 0;
      const size = Math.abs(off);
      const data = new Uint8Array(W * H * channels);
      let seed = 7;
      for (let y = 0; y < H; y++) {
        for (let x = 0; x < W; x++) {
          const o = (y * W + x) * channels;
          const inFrame = x < FRAME || x >= W - FRAME || y < FRAME || y >= H - FRAME;
          const moved = (x + y) % 4 === 0 ? (up ? size : -size) : 0;
          for (let c = 0; c < channels; c++) {
            seed = (seed * 1103515245 + 12345) >>> 0;
            const alpha = (channels === 2 || channels === 4) && c === channels - 1;
            if (alpha)
              data[o + c] = seed >>> 24; // never looked at
            else if (inFrame) data[o + c] = COLOUR[channels < 3 ? 1 : c]! + moved;
            else data[o + c] = seed >>> 24;
          }
        }
      }
      return { width: W, height: H, channels, data, ...(channels < 3 ? { grey: true } : {}) };
    }
    const CONTENT_BOX = { left: FRAME, top: FRAME, width: W - 2 * FRAME, height: H - 2 * FRAME };

    for (const channels of [1, 2, 3, 4] as const) {
      it(`counts a sample off by exactly the tolerance as frame, and one level more as content (${channels} channels)`, () => {
        for (const off of [12, -12]) {
          expect(findContentBox(noisyFrame(channels, off), { tolerance: 12 })).toEqual(CONTENT_BOX);
          expect(findContentBox(noisyFrame(channels, off), { tolerance: 11 })).toBeUndefined();
        }
        // Differences are whole levels: a fractional tolerance acts as the whole number below it.
        expect(findContentBox(noisyFrame(channels, 12), { tolerance: 12.9 })).toEqual(CONTENT_BOX);
        expect(findContentBox(noisyFrame(channels, -12), { tolerance: 11.9 })).toBeUndefined();
        expect(findContentBox(noisyFrame(channels, 0), { tolerance: 0 })).toEqual(CONTENT_BOX);
        expect(findContentBox(noisyFrame(channels, 1), { tolerance: 0 })).toBeUndefined();
      });
    }
  });

  it('finds the same box in RGB pixels as in their RGBA layout', async () => {
    const bytes = await framed(
      { top: 30, bottom: 30, left: 40, right: 40 },
      { r: 200, g: 30, b: 40 },
      'jpeg',
    );
    const box = findContentBox(await rgb(bytes));
    expect(box).toBeDefined();
    expect(box).toEqual(findContentBox(await rgba(bytes)));
  });

  it('finds the same box in grey pixels as in their RGBA expansion', async () => {
    const colour = await framed(
      { top: 30, bottom: 30, left: 40, right: 40 },
      { r: 20, g: 20, b: 20 },
      'jpeg',
    );
    const pixels = await grey(await sharp(colour).toColourspace('b-w').jpeg().toBuffer());
    const box = findContentBox(pixels);
    expectNear(box, CONTENT, 16);
    expect(box).toEqual(findContentBox({ ...pixels, channels: 4, data: toRgba(pixels) }));
  });

  it('finds no content box in pixels whose size does not match their channels', () => {
    const data = new Uint8Array(64 * 64 * 3);
    expect(findContentBox({ width: 64, height: 64, channels: 4, data })).toBeUndefined();
  });
});

describe('hashRegion', () => {
  const how = {
    pdq: { convention: 'fullres', dihedral: true, minQuality: 0 },
    blockhash: { method: 'precise' },
    decoder: 'test',
    frame: 0,
  } as const;

  it('gives the same hashes for a region of grey, RGB and RGBA layouts of the same greyscale pixels', async () => {
    const bytes = await sharp(await framed({ top: 30, bottom: 30 }, { r: 0, g: 0, b: 0 }, 'png'))
      .toColourspace('b-w')
      .png()
      .toBuffer();
    const g = await grey(bytes);
    const expanded = toRgba(g);
    const asRgb = new Uint8Array(g.width * g.height * 3).map((_, i) => g.data[Math.floor(i / 3)]!);
    const region = { kind: 'trimmed', left: 7, top: 25, width: 401, height: 307 } as const;
    const want = hashRegion(g, region, how).hashes;
    expect(want.map((h) => h.type)).toEqual(['pdq', 'blockhash']);
    expect(hashRegion({ ...g, channels: 4, data: expanded }, region, how).hashes).toEqual(want);
    expect(hashRegion({ ...g, channels: 3, data: asRgb }, region, how).hashes).toEqual(want);
  });

  it('gives the same hashes for a region of RGB pixels as of their RGBA layout', async () => {
    const bytes = await framed({ left: 40, right: 40 }, { r: 255, g: 255, b: 255 }, 'jpeg');
    const region = { kind: 'trimmed', left: 40, top: 3, width: 399, height: 297 } as const;
    const want = hashRegion(await rgba(bytes), region, how).hashes;
    expect(want).toHaveLength(2);
    expect(hashRegion(await rgb(bytes), region, how).hashes).toEqual(want);
  });
});

function pdqOf(o: HashOutcome, trimmed: boolean): ComputedHash | undefined {
  return o.hashes.find((h) => h.type === 'pdq' && (h.provenance.region?.kind === 'trimmed') === trimmed);
}

function distance(a: ComputedHash, b: ComputedHash): number {
  return hammingBytes(Buffer.from(a.hex, 'hex'), Buffer.from(b.hex, 'hex'));
}

describe('hashing a framed image', () => {
  let hasher: Hasher;
  let untrimmed: Hasher;
  beforeAll(() => {
    hasher = createHasher({ workers: 0 });
    untrimmed = createHasher({ workers: 0, trim: false });
  });
  afterAll(async () => {
    await hasher.close();
    await untrimmed.close();
  });

  it('also hashes the trimmed content, which matches the photo without its frame', async () => {
    const original = await hasher.hash({ bytes: await framed({}, { r: 0, g: 0, b: 0 }, 'png') });
    const bytes = await framed(
      { top: 30, bottom: 30, left: 40, right: 40 },
      { r: 0, g: 0, b: 0 },
      'jpeg',
      80,
    );
    const outcome = await hasher.hash({ bytes });
    expect(outcome.hashes.map((h) => h.type)).toEqual(['md5', 'sha1', 'sha256', 'pdq', 'blockhash', 'pdq']);
    const whole = pdqOf(outcome, false)!;
    const trimmed = pdqOf(outcome, true)!;
    expect(trimmed.provenance.region?.kind).toBe('trimmed');
    expectNear(trimmed.provenance.region, CONTENT, 4);
    expect(trimmed.provenance.width).toBe(trimmed.provenance.region!.width);
    expect(Object.keys(trimmed.variants ?? {})).toHaveLength(8);
    expect(distance(trimmed, pdqOf(original, false)!)).toBeLessThanOrEqual(31);
    expect(distance(whole, pdqOf(original, false)!)).toBeGreaterThan(
      distance(trimmed, pdqOf(original, false)!),
    );
    expect(outcome.timings.trimMs).toBeGreaterThanOrEqual(0);
  });

  it('also hashes the trimmed content with blockhash when trim.blockhash is on', async () => {
    const withBlockhash = createHasher({ workers: 0, trim: { blockhash: true } });
    const bytes = await framed({ top: 30, bottom: 30, left: 40, right: 40 }, { r: 0, g: 0, b: 0 }, 'png');
    const outcome = await withBlockhash.hash({ bytes });
    await withBlockhash.close();
    const trimmed = outcome.hashes.filter((h) => h.provenance.region?.kind === 'trimmed');
    expect(trimmed.map((h) => h.type)).toEqual(['pdq', 'blockhash']);
  });

  it('hashes only the whole image of a photo without a frame', async () => {
    const outcome = await hasher.hash({ bytes: await syntheticImage(400, 300, 'jpeg', 2) });
    expect(outcome.hashes.map((h) => h.type)).toEqual(['md5', 'sha1', 'sha256', 'pdq', 'blockhash']);
    expect(outcome.hashes.some((h) => h.provenance.region)).toBe(false);
  });

  it('hashes only the whole image when trimming is off', async () => {
    const bytes = await framed({ top: 30, bottom: 30, left: 40, right: 40 }, { r: 0, g: 0, b: 0 }, 'png');
    const outcome = await untrimmed.hash({ bytes });
    expect(outcome.hashes.map((h) => h.type)).toEqual(['md5', 'sha1', 'sha256', 'pdq', 'blockhash']);
  });
});

describe('the trim option', () => {
  it('is on by default with a tolerance of 12', () => {
    expect(parseHashingOptions({}).trim).toEqual({ tolerance: 12, blockhash: false });
    expect(parseHashingOptions({ trim: false }).trim).toBe(false);
  });

  it('refuses a tolerance outside 0-255 and unknown keys', () => {
    expect(() => parseHashingOptions({ trim: { tolerance: 300 } })).toThrow(/hashing\.trim\.tolerance/);
    expect(() => parseHashingOptions({ trim: { colour: 'black' } })).toThrow(/colour/);
  });
});
