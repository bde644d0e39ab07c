import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { bmvbhash, bmvbhashEven } from 'blockhash-core';
import fc from 'fast-check';
import { type BlockhashEngine, blockhashPixels, blockhashRgba } from '../../../src/hashing/blockhash';
import { blockSumsToHex, preciseBlockSums } from '../../../src/hashing/blockhash-precise';
import {
  blockhashWasmAvailable,
  blockhashWasmEvenSums,
  blockhashWasmPreciseSums,
} from '../../../src/hashing/blockhash-wasm';
import { decodeImage } from '../../../src/hashing/decode';
import type { PixelChannels } from '../../../src/hashing/pixels';
import { spreadToRgba } from '../../helpers/images';
import { FIXTURES, requireSharedVectors } from '../../helpers/vectors';

interface Vector {
  file: string;
  width: number;
  height: number;
  exact: string;
  quick: string;
}

const LIMITS = { maxPixels: 100_000_000, timeoutMs: 30_000, frame: 0, failOn: 'error' as const };
const vectors: Vector[] = JSON.parse(readFileSync(join(FIXTURES, 'blockhash/vectors.json'), 'utf8'));
const ENGINES: BlockhashEngine[] = ['wasm', 'js'];

async function hashBoth(
  path: string,
  engine: BlockhashEngine,
): Promise<{ precise: string; quick: string; width: number; height: number }> {
  const bytes = readFileSync(path);
  const decoded = await decodeImage(bytes, bytes, LIMITS);
  if (!decoded.ok) throw new Error(`could not decode ${path}: ${decoded.reason}`);
  return {
    precise: blockhashRgba(decoded.image, 'precise', { engine }).hex,
    quick: blockhashRgba(decoded.image, 'quick', { engine }).hex,
    width: decoded.image.width,
    height: decoded.image.height,
  };
}

/**
 * Benign synthetic RGBA pixels: pseudo-random bytes from `seed`, a share of fully transparent
 * pixels, and flat grey patches that make ties at the band medians (where any difference in the
 * float sums would show).
 */
function synthetic(width: number, height: number, seed: number, transparentShare: number): Uint8Array {
  const data = new Uint8Array(width * height * 4);
  let s = seed || 1;
  for (let i = 0; i < data.length; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    data[i] = s >>> 24;
  }
  for (let p = 0; p < width * height; p++) {
    if ((p * 2654435761) % 1000 < transparentShare * 1000) data[p * 4 + 3] = 0;
    if (p % 7 === 0) data.fill(128, p * 4, p * 4 + 3);
  }
  return data;
}

/**
 * The same image in another layout: `channels` 1 keeps R as grey, 2 keeps R as grey and A, 3
 * drops A, 4 is the RGBA data itself. Alpha-0 pixels of the synthetic data survive in 2 and 4.
 */
function layout(rgba: Uint8Array, channels: PixelChannels): Uint8Array {
  if (channels === 4) return rgba;
  const n = rgba.length / 4;
  const out = new Uint8Array(n * channels);
  for (let p = 0; p < n; p++) {
    const s = p * 4;
    const o = p * channels;
    if (channels === 3) out.set(rgba.subarray(s, s + 3), o);
    else out[o] = rgba[s]!;
    if (channels === 2) out[o + 1] = rgba[s + 3]!;
  }
  return out;
}

const CHANNELS: PixelChannels[] = [1, 2, 3, 4];

/** blockhash-core's hash as `bmvbhash` gives it (it switches to the even method itself). */
function reference(width: number, height: number, data: Uint8Array): string {
  return bmvbhash({ width, height, data }, 16);
}

/** Element-wise identity of two sum arrays, bit for bit (a difference in the last bit fails). */
function sameBits(a: Float64Array | null, b: Float64Array): boolean {
  return a !== null && a.length === b.length && a.every((x, i) => Object.is(x, b[i]));
}

describe('blockhash', () => {
  const local = [
    '00136101.jpg',
    '00106901.jpg',
    'Babylonian.png',
    'clipper_ship.jpg',
    'emptyBasket.png',
    'puffy_white.png',
    'stoplights.jpg',
  ];

  it('has the WebAssembly engine available in this runtime', () => {
    expect(blockhashWasmAvailable()).toBe(true);
  });

  describe.each(ENGINES)('with the %s engine', (engine) => {
    it.each(local)('matches the C reference exactly, both methods, on fixture %s', async (name) => {
      const v = vectors.find((x) => x.file === `images/${name}`);
      expect(v).toBeDefined();
      const got = await hashBoth(join(FIXTURES, 'blockhash', name), engine);
      expect({ w: got.width, h: got.height }).toEqual({ w: v!.width, h: v!.height });
      expect(got.precise).toBe(v!.exact);
      expect(got.quick).toBe(v!.quick);
    });

    it('matches the C reference exactly on all 17 reference images when the shared vectors are present', async () => {
      const dir = requireSharedVectors('blockhash full vector set');
      if (!dir) return;
      expect(vectors).toHaveLength(17);
      for (const v of vectors) {
        const got = await hashBoth(join(dir, 'blockhash', v.file), engine);
        expect({ file: v.file, precise: got.precise, quick: got.quick }).toEqual({
          file: v.file,
          precise: v.exact,
          quick: v.quick,
        });
      }
    });

    it('computes both methods exactly as blockhash-core does, for any size from 1 to 90 and any pixels', () => {
      fc.assert(
        fc.property(
          fc.integer({ min: 1, max: 90 }),
          fc.integer({ min: 1, max: 90 }),
          fc.integer({ min: 0, max: 2 ** 31 - 1 }),
          fc.constantFrom(0, 0.05, 0.5),
          (width, height, seed, transparentShare) => {
            const data = synthetic(width, height, seed, transparentShare);
            const image = { width, height, data };
            expect(blockhashRgba(image, 'precise', { engine }).hex).toBe(reference(width, height, data));
            expect(blockhashRgba(image, 'quick', { engine }).hex).toBe(bmvbhashEven(image, 16));
          },
        ),
        { numRuns: 300 },
      );
    });

    it.each([
      [1999, 1333],
      [1024, 768],
      [4001, 17],
      [17, 2003],
      [1000, 1000],
    ])('computes both methods exactly as blockhash-core does on a large %ix%i image', (width, height) => {
      const data = synthetic(width, height, width * 7919 + height, 0.05);
      const image = { width, height, data };
      expect(blockhashRgba(image, 'precise', { engine }).hex).toBe(reference(width, height, data));
      expect(blockhashRgba(image, 'quick', { engine }).hex).toBe(bmvbhashEven(image, 16));
    });
  });

  describe.each(ENGINES)('with the %s engine, pixels with 1 to 4 channels', (engine) => {
    it('hashes every layout exactly as blockhash-core hashes its RGBA expansion, for any size from 1 to 90', () => {
      fc.assert(
        fc.property(
          fc.integer({ min: 1, max: 90 }),
          fc.integer({ min: 1, max: 90 }),
          fc.integer({ min: 0, max: 2 ** 31 - 1 }),
          fc.constantFrom(0, 0.05, 0.5),
          fc.constantFrom(...CHANNELS),
          (width, height, seed, transparentShare, channels) => {
            const data = layout(synthetic(width, height, seed, transparentShare), channels);
            const rgba = { width, height, data: spreadToRgba(data, channels) };
            const pixels = { width, height, channels, data };
            expect(blockhashPixels(pixels, 'precise', { engine }).hex).toBe(
              reference(width, height, rgba.data),
            );
            expect(blockhashPixels(pixels, 'quick', { engine }).hex).toBe(bmvbhashEven(rgba, 16));
          },
        ),
        { numRuns: 400 },
      );
    });

    it.each(
      // Several strips of rows (256 KiB each) even for one channel, both methods' kernels.
      [
        [1001, 301],
        [1024, 768],
        [333, 77],
        [17, 2003],
        [4001, 17],
      ].flatMap(([w, h]) => CHANNELS.slice(0, 3).map((c) => [w!, h!, c] as const)),
    )('hashes a large %ix%i image with %i channels as its RGBA expansion', (width, height, channels) => {
      const data = layout(synthetic(width, height, width * 31 + height, 0.05), channels);
      const rgba = { width, height, data: spreadToRgba(data, channels) };
      const pixels = { width, height, channels, data };
      for (const method of ['precise', 'quick'] as const) {
        expect(blockhashPixels(pixels, method, { engine }).hex).toBe(
          blockhashRgba(rgba, method, { engine: 'wasm' }).hex,
        );
      }
    });
  });

  it('adds exactly the same float64 block sums in WebAssembly for every layout as in JavaScript for its RGBA expansion, 16, 12 or 10 blocks a side', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 90 }),
        fc.integer({ min: 1, max: 90 }),
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        fc.constantFrom(0, 0.05, 0.5),
        fc.constantFrom(16, 12, 10),
        fc.constantFrom(...CHANNELS),
        (width, height, seed, transparentShare, bits, channels) => {
          const data = layout(synthetic(width, height, seed, transparentShare), channels);
          const wasm = blockhashWasmPreciseSums(width, height, data, bits, channels);
          expect(sameBits(wasm, preciseBlockSums(width, height, spreadToRgba(data, channels), bits))).toBe(
            true,
          );
        },
      ),
      { numRuns: 600 },
    );
  });

  it.each(CHANNELS)(
    'gives the even method the same whole-number totals for %i channels as for the RGBA expansion',
    (channels) => {
      // 16-pixel groups and a width that is not: 16 x 3 + 5 pixels, each cell 3 x 2 pixels.
      for (const [width, height] of [
        [48, 35],
        [53, 35],
        [250, 33],
      ] as const) {
        const data = layout(synthetic(width, height, width + channels, 0.2), channels);
        const want = blockhashWasmEvenSums(width, height, spreadToRgba(data, channels))!;
        expect(sameBits(blockhashWasmEvenSums(width, height, data, channels), want)).toBe(true);
      }
    },
  );

  // With 16 blocks a side every weight is a multiple of 1/16 and every float64 operation is exact,
  // so only sizes of 12 or 10 blocks (weights such as 1/3, which round) can show a change in the
  // order of the additions.
  it('adds exactly the same float64 block sums in WebAssembly as in JavaScript, for any size from 1 to 90 and 16, 12 or 10 blocks a side', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 90 }),
        fc.integer({ min: 1, max: 90 }),
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        fc.constantFrom(0, 0.05, 0.5),
        fc.constantFrom(16, 12, 10),
        (width, height, seed, transparentShare, bits) => {
          const data = synthetic(width, height, seed, transparentShare);
          const wasm = blockhashWasmPreciseSums(width, height, data, bits);
          expect(sameBits(wasm, preciseBlockSums(width, height, data, bits))).toBe(true);
        },
      ),
      { numRuns: 600 },
    );
  });

  it('hashes with 12 and 10 blocks a side exactly as blockhash-core does, where the float64 sums round', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 200 }),
        fc.integer({ min: 1, max: 200 }),
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        fc.constantFrom(12, 10),
        (width, height, seed, bits) => {
          fc.pre(width % bits !== 0 || height % bits !== 0);
          const data = synthetic(width, height, seed, 0.05);
          const sums = blockhashWasmPreciseSums(width, height, data, bits)!;
          expect(blockSumsToHex(sums, (width / bits) * (height / bits))).toBe(
            bmvbhash({ width, height, data }, bits),
          );
        },
      ),
      { numRuns: 300 },
    );
  });

  it.each([
    [1999, 1333, 16],
    [1024, 768, 16],
    [1600, 1067, 16],
    [3, 5000, 16],
    [1999, 1333, 12],
    [1023, 767, 10],
  ])(
    'adds exactly the same float64 block sums in WebAssembly as in JavaScript on a large %ix%i image, %i blocks a side',
    (width, height, bits) => {
      const data = synthetic(width, height, width + height, 0.5);
      expect(
        sameBits(
          blockhashWasmPreciseSums(width, height, data, bits),
          preciseBlockSums(width, height, data, bits),
        ),
      ).toBe(true);
    },
  );

  it('gives the even method whole-number totals that blockhash-core would add', () => {
    const width = 48;
    const height = 35; // floor(35 / 16) = 2 rows a cell, the last 3 rows left out
    const data = synthetic(width, height, 7, 0.05);
    const totals = blockhashWasmEvenSums(width, height, data)!;
    let expected = 0;
    for (let y = 0; y < 2; y++) {
      for (let x = 0; x < 3; x++) {
        const i = (y * width + x) * 4;
        expected += data[i + 3] === 0 ? 765 : data[i]! + data[i + 1]! + data[i + 2]!;
      }
    }
    expect(totals[0]).toBe(expected);
    expect(totals.every((t) => Number.isInteger(t))).toBe(true);
  });

  it('gives the same hashes with the WebAssembly and JavaScript engines after images of other sizes', () => {
    // The module's memory and tables are reused between calls: a large image first, then a small one.
    for (const [width, height] of [
      [1500, 900],
      [20, 20],
      [333, 77],
      [32, 48],
    ] as const) {
      const data = synthetic(width, height, width * height, 0.05);
      const image = { width, height, data };
      expect(blockhashRgba(image, 'precise', { engine: 'wasm' }).hex).toBe(
        blockhashRgba(image, 'precise', { engine: 'js' }).hex,
      );
    }
  });

  it('leaves a one-pixel-wide image millions of rows tall to JavaScript, with the same hash', () => {
    const width = 1;
    const height = 2_100_000; // its row table alone would take over 64 MiB of WebAssembly memory
    const data = synthetic(width, height, 3, 0.05);
    expect(blockhashWasmPreciseSums(width, height, data)).toBeNull();
    expect(blockhashRgba({ width, height, data }, 'precise', { engine: 'wasm' }).hex).toBe(
      reference(width, height, data),
    );
  });

  it('refuses pixels that are not RGBA instead of hashing them wrongly', () => {
    const rgb = { width: 4, height: 4, data: new Uint8Array(4 * 4 * 3) };
    expect(() => blockhashRgba(rgb)).toThrow(
      expect.objectContaining({ code: 'ERR_HASHGATE_INVALID_PIXELS' }),
    );
  });

  it('says how to hash pixels that are not RGBA', () => {
    const rgb = { width: 4, height: 4, data: new Uint8Array(4 * 4 * 3) };
    expect(() => blockhashRgba(rgb)).toThrow(/pass `channels`/);
    expect(blockhashRgba({ ...rgb, channels: 3 }).hex).toBe(blockhashPixels({ ...rgb, channels: 3 }).hex);
  });

  it.each([0, 5, 2.5, undefined])('refuses %p channels with the pixels error', (channels) => {
    const pixels = { width: 4, height: 4, channels: channels as PixelChannels, data: new Uint8Array(16 * 4) };
    expect(() => blockhashPixels(pixels)).toThrow(
      expect.objectContaining({
        code: 'ERR_HASHGATE_INVALID_PIXELS',
        message: expect.stringMatching(/channels/),
      }),
    );
  });

  it('refuses data whose length does not match its channels', () => {
    const pixels = { width: 4, height: 4, channels: 2 as const, data: new Uint8Array(4 * 4 * 3) };
    expect(() => blockhashPixels(pixels)).toThrow(
      expect.objectContaining({
        code: 'ERR_HASHGATE_INVALID_PIXELS',
        message: 'Expected 32 bytes of `data` for 4x4 with 2 channels but received 48',
      }),
    );
  });

  it('refuses an unknown engine with the option error', () => {
    const image = { width: 4, height: 4, data: new Uint8Array(4 * 4 * 4) };
    expect(() => blockhashRgba(image, 'precise', { engine: 'gpu' as BlockhashEngine })).toThrow(
      expect.objectContaining({ code: 'ERR_HASHGATE_INVALID_OPTION' }),
    );
  });

  it('gives the same hash as blockhash-core for the same RGBA pixels', () => {
    const width = 37;
    const height = 23;
    const data = new Uint8Array(width * height * 4);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7919) % 251;
    expect(blockhashRgba({ width, height, data }).hex).toBe(bmvbhash({ width, height, data }, 16));
  });

  it('counts transparent pixels as white', () => {
    const width = 32;
    const height = 32;
    const opaqueWhite = new Uint8Array(width * height * 4).fill(255);
    const transparentBlack = new Uint8Array(width * height * 4);
    for (let i = 0; i < width * height; i++) {
      // left half black and transparent, right half dark grey and opaque
      const x = i % width;
      const o = i * 4;
      if (x < 16) transparentBlack[o + 3] = 0;
      else transparentBlack.set([40, 40, 40, 255], o);
      if (x >= 16) opaqueWhite.set([40, 40, 40, 255], o);
    }
    expect(blockhashRgba({ width, height, data: transparentBlack }).hex).toBe(
      blockhashRgba({ width, height, data: opaqueWhite }).hex,
    );
  });

  it('counts transparent pixels of grey with alpha as white', () => {
    const width = 32;
    const height = 32;
    const transparentBlack = new Uint8Array(width * height * 2);
    const opaqueWhite = new Uint8Array(width * height).fill(255);
    for (let i = 0; i < width * height; i++) {
      if (i % width >= 16) {
        transparentBlack.set([40, 255], i * 2);
        opaqueWhite[i] = 40;
      }
    }
    expect(blockhashPixels({ width, height, channels: 2, data: transparentBlack }).hex).toBe(
      blockhashPixels({ width, height, channels: 1, data: opaqueWhite }).hex,
    );
  });
});
