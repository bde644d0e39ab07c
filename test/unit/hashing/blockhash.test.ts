import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { bmvbhash, bmvbhashEven } from 'blockhash-core';
import fc from 'fast-check';
import { blockhashRgba } from '../../../src/hashing/blockhash';
import { decodeImage } from '../../../src/hashing/decode';
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

async function hashBoth(
  path: string,
): Promise<{ precise: string; quick: string; width: number; height: number }> {
  const bytes = readFileSync(path);
  const decoded = await decodeImage(bytes, bytes, LIMITS);
  if (!decoded.ok) throw new Error(`could not decode ${path}: ${decoded.reason}`);
  return {
    precise: blockhashRgba(decoded.image, 'precise').hex,
    quick: blockhashRgba(decoded.image, 'quick').hex,
    width: decoded.image.width,
    height: decoded.image.height,
  };
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

  it.each(local)('matches the C reference exactly, both methods, on fixture %s', async (name) => {
    const v = vectors.find((x) => x.file === `images/${name}`);
    expect(v).toBeDefined();
    const got = await hashBoth(join(FIXTURES, 'blockhash', name));
    expect({ w: got.width, h: got.height }).toEqual({ w: v!.width, h: v!.height });
    expect(got.precise).toBe(v!.exact);
    expect(got.quick).toBe(v!.quick);
  });

  it('matches the C reference exactly on all 17 reference images when the shared vectors are present', async () => {
    const dir = requireSharedVectors('blockhash full vector set');
    if (!dir) return;
    expect(vectors).toHaveLength(17);
    for (const v of vectors) {
      const got = await hashBoth(join(dir, 'blockhash', v.file));
      expect({ file: v.file, precise: got.precise, quick: got.quick }).toEqual({
        file: v.file,
        precise: v.exact,
        quick: v.quick,
      });
    }
  });

  it('refuses pixels that are not RGBA instead of hashing them wrongly', () => {
    const rgb = { width: 4, height: 4, data: new Uint8Array(4 * 4 * 3) };
    expect(() => blockhashRgba(rgb)).toThrow(
      expect.objectContaining({ code: 'ERR_HASHGATE_INVALID_PIXELS' }),
    );
  });

  it('gives the same hash as blockhash-core for the same RGBA pixels', () => {
    const width = 37;
    const height = 23;
    const data = new Uint8Array(width * height * 4);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7919) % 251;
    expect(blockhashRgba({ width, height, data }).hex).toBe(bmvbhash({ width, height, data }, 16));
  });

  it('computes the precise method exactly as blockhash-core does, for any size and pixels', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 90 }),
        fc.integer({ min: 1, max: 90 }),
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        fc.constantFrom(0, 0.05, 0.5),
        (width, height, seed, transparentShare) => {
          const data = new Uint8Array(width * height * 4);
          let s = seed || 1;
          for (let i = 0; i < data.length; i++) {
            s = (Math.imul(s, 1103515245) + 12345) >>> 0;
            data[i] = s >>> 24;
          }
          // flat patches make ties at the band medians, where float differences would show
          for (let p = 0; p < width * height; p++) {
            if ((p * 2654435761) % 1000 < transparentShare * 1000) data[p * 4 + 3] = 0;
            if (p % 7 === 0) data.fill(128, p * 4, p * 4 + 3);
          }
          const reference = width % 16 === 0 && height % 16 === 0 ? bmvbhashEven : bmvbhash;
          expect(blockhashRgba({ width, height, data }).hex).toBe(reference({ width, height, data }, 16));
        },
      ),
      { numRuns: 300 },
    );
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
});
