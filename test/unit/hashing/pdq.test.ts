import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import sharp from 'sharp';
import { ErrorCodes, isHashgateError } from '../../../src/errors';
import { hammingBytes } from '../../../src/hashing/hamming';
import {
  PDQ_DIHEDRAL_VARIANTS,
  type PdqConvention,
  type PdqEngine,
  type PdqPixels,
  type PdqResult,
  pdqHash,
} from '../../../src/hashing/pdq';

const FIXTURES = path.resolve(__dirname, '../../fixtures/pdq');
const CONVENTIONS: readonly PdqConvention[] = ['fullres', 'cli512'];
const ENGINES: readonly PdqEngine[] = ['wasm', 'js'];

/** The full shared conformance set: `HASHGATE_VECTORS` (the vectors folder, or its pdq/), else next to the checkout. */
function sharedVectorsDir(): string {
  const env = process.env.HASHGATE_VECTORS;
  if (env) {
    const nested = path.join(env, 'pdq');
    return fs.existsSync(path.join(nested, 'expected-decoded-png.csv')) ? nested : env;
  }
  return path.resolve(__dirname, '../../../../shared/vectors/pdq');
}

type Row = Record<string, string>;

function readCsv(file: string): Row[] {
  const [head, ...lines] = fs
    .readFileSync(file, 'utf8')
    .split(/\r?\n/)
    .filter((line) => line.trim() !== '');
  const names = (head ?? '').split(',');
  return lines.map((line) => {
    const cells = line.split(',');
    return Object.fromEntries(names.map((n, i) => [n, cells[i] ?? '']));
  });
}

interface Expected {
  hex: string;
  quality: number;
}

interface Vectors {
  /** Per PNG file name and convention: the reference hash and quality. */
  decoded: Map<string, Record<PdqConvention, Expected>>;
  /** Per PNG file name and convention: the reference's 8 dihedral variants and quality. */
  dihedral: Record<PdqConvention, Map<string, { variants: Record<string, string>; quality: number }>>;
}

/** `a/b/c.jpg` in the dihedral CSVs is the image decoded to `a__b__c.png`. */
function pngNameOfSource(source: string): string {
  return `${source
    .replace(/\.[^.]+$/, '')
    .split('/')
    .join('__')}.png`;
}

function loadVectors(dir: string): Vectors {
  const decoded = new Map<string, Record<PdqConvention, Expected>>();
  for (const row of readCsv(path.join(dir, 'expected-decoded-png.csv'))) {
    decoded.set(path.basename(row.png_path!), {
      fullres: { hex: row.core_fullres_hex!, quality: Number(row.core_quality) },
      cli512: { hex: row.cli_512squash_hex!, quality: Number(row.cli_quality) },
    });
  }
  const dihedralOf = (file: string) =>
    new Map(
      readCsv(path.join(dir, file)).map((row) => [
        pngNameOfSource(row.source!),
        {
          variants: Object.fromEntries(PDQ_DIHEDRAL_VARIANTS.map((v) => [v, row[v]!])),
          quality: Number(row.quality),
        },
      ]),
    );
  return {
    decoded,
    dihedral: {
      fullres: dihedralOf('expected-dihedral-core-fullres.csv'),
      cli512: dihedralOf('expected-dihedral-cli-512squash.csv'),
    },
  };
}

/**
 * Decodes a plain PNG (no profile, no alpha) to the pixels the reference hashed: greyscale stays
 * one channel (sharp would otherwise expand it to sRGB), colour stays three.
 */
async function decodePng(file: string): Promise<PdqPixels> {
  const meta = await sharp(file).metadata();
  expect(meta.hasProfile).toBeFalsy();
  expect(meta.hasAlpha).toBe(false);
  const grey = meta.channels === 1;
  const { data, info } = await (grey ? sharp(file).toColourspace('b-w') : sharp(file))
    .raw()
    .toBuffer({ resolveWithObject: true });
  expect(info.channels).toBe(grey ? 1 : 3);
  return { width: info.width, height: info.height, channels: info.channels, data };
}

function hashed(result: PdqResult) {
  if (!result.ok) throw new Error(`expected a hash, got no hash (${result.reason})`);
  return result;
}

/**
 * A dihedral row describes these pixels only when its `orig` is the image's expected hash: the
 * I16 row was made from a 16-bit decode of the original file, not from the 8-bit PNG.
 */
function dihedralRowFor(vectors: Vectors, name: string, convention: PdqConvention) {
  const row = vectors.dihedral[convention].get(name);
  return row && row.variants.orig === vectors.decoded.get(name)?.[convention].hex ? row : undefined;
}

/** The checks every reference PNG gets: both conventions, both engines, dihedral variants when listed. */
async function expectReferenceHashes(vectors: Vectors, file: string): Promise<void> {
  const name = path.basename(file);
  const expected = vectors.decoded.get(name);
  if (!expected) throw new Error(`${name} has no row in expected-decoded-png.csv`);
  const pixels = await decodePng(file);
  for (const convention of CONVENTIONS) {
    const dihedral = dihedralRowFor(vectors, name, convention);
    for (const engine of ENGINES) {
      const r = hashed(pdqHash(pixels, { convention, engine, dihedral: true }));
      expect({ convention, engine, hex: r.hex, quality: r.quality }).toEqual({
        convention,
        engine,
        ...expected[convention],
      });
      expect(r.dihedral?.orig.hex).toBe(r.hex);
      if (dihedral) {
        const variants = Object.fromEntries(PDQ_DIHEDRAL_VARIANTS.map((v) => [v, r.dihedral?.[v].hex]));
        expect({ convention, engine, variants, quality: r.quality }).toEqual({
          convention,
          engine,
          ...dihedral,
        });
      }
    }
  }
}

function pngsIn(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.png'))
    .sort()
    .map((f) => path.join(dir, f));
}

/** Deterministic pseudo-random bytes. */
function randomBytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x >>> 24;
  }
  return out;
}

function randomImage(width: number, height: number, channels: number, seed: number): PdqPixels {
  return { width, height, channels, data: randomBytes(width * height * channels, seed) };
}

/**
 * specs/pdq.md written out literally, with whole-image buffers and `round` after every operation
 * (Math.fround for the reference, the identity for a naive float64 port). Independent of src/.
 */
function literalPdq(px: PdqPixels, round: (x: number) => number): { hex: string; quality: number } {
  const { width: W, height: H, channels: C, data } = px;
  const f = round;
  const luma = new Float64Array(W * H);
  const [kr, kg, kb] = [f(0.299), f(0.587), f(0.114)];
  for (let i = 0; i < W * H; i++) {
    const p = i * C;
    luma[i] = C < 3 ? data[p]! : f(f(f(kr * data[p]!) + f(kg * data[p + 1]!)) + f(kb * data[p + 2]!));
  }
  const box = (src: Float64Array, dst: Float64Array, start: number, step: number, n: number, w: number) => {
    const half = Math.floor((w + 2) / 2);
    let sum = 0;
    let count = 0;
    let incoming = 0;
    let outgoing = 0;
    let emitted = 0;
    const at = (k: number) => start + k * step;
    for (let k = 0; k < half - 1; k++, count++) sum = f(sum + src[at(incoming++)]!);
    for (let k = 0; k < w - half + 1; k++) {
      sum = f(sum + src[at(incoming++)]!);
      count++;
      dst[at(emitted++)] = f(sum / count);
    }
    for (let k = 0; k < n - w; k++) {
      sum = f(sum + src[at(incoming++)]!);
      sum = f(sum - src[at(outgoing++)]!);
      dst[at(emitted++)] = f(sum / w);
    }
    for (let k = 0; k < half - 1; k++) {
      sum = f(sum - src[at(outgoing++)]!);
      count--;
      dst[at(emitted++)] = f(sum / count);
    }
  };
  const wr = Math.floor((W + 127) / 128);
  const wc = Math.floor((H + 127) / 128);
  const other = new Float64Array(W * H);
  for (let pass = 0; pass < 2; pass++) {
    for (let y = 0; y < H; y++) box(luma, other, y * W, 1, W, wr);
    for (let x = 0; x < W; x++) box(other, luma, x, W, H, wc);
  }
  const a = new Float64Array(4096);
  for (let i = 0; i < 64; i++) {
    for (let j = 0; j < 64; j++)
      a[i * 64 + j] = luma[Math.floor(((i + 0.5) * H) / 64) * W + Math.floor(((j + 0.5) * W) / 64)]!;
  }
  let total = 0;
  const gradient = (u: number, v: number) => Math.abs(Math.trunc(f(f(f(u - v) * 100) / 255)));
  for (let i = 0; i < 63; i++)
    for (let j = 0; j < 64; j++) total += gradient(a[i * 64 + j]!, a[(i + 1) * 64 + j]!);
  for (let i = 0; i < 64; i++)
    for (let j = 0; j < 63; j++) total += gradient(a[i * 64 + j]!, a[i * 64 + j + 1]!);
  const scale = f(Math.sqrt(2 / 64));
  const d = (i: number, j: number) => f(scale * Math.cos((Math.PI / 128) * (i + 1) * (2 * j + 1)));
  const t = new Float64Array(16 * 64);
  for (let i = 0; i < 16; i++) {
    for (let j = 0; j < 64; j++) {
      let s = 0;
      for (let k = 0; k < 64; k++) s = f(s + f(d(i, k) * a[k * 64 + j]!));
      t[i * 64 + j] = s;
    }
  }
  const b = new Float64Array(256);
  for (let i = 0; i < 16; i++) {
    for (let j = 0; j < 16; j++) {
      let s = 0;
      for (let k = 0; k < 64; k++) s = f(s + f(t[i * 64 + k]! * d(j, k)));
      b[i * 16 + j] = s;
    }
  }
  const median = [...b].sort((x, y) => x - y)[127]!;
  const bytes = Buffer.alloc(32);
  b.forEach((value, k) => {
    if (value > median) bytes[31 - (k >> 3)]! |= 1 << (k & 7);
  });
  return { hex: bytes.toString('hex'), quality: Math.min(100, Math.floor(total / 90)) };
}

function expectInvalidPixels(pixels: unknown): void {
  let error: unknown;
  try {
    pdqHash(pixels as PdqPixels);
  } catch (e) {
    error = e;
  }
  expect(isHashgateError(error)).toBe(true);
  expect((error as { code: string }).code).toBe(ErrorCodes.INVALID_PIXELS);
}

describe('pdqHash on the reference PNGs in test/fixtures/pdq', () => {
  const vectors = loadVectors(FIXTURES);
  const files = pngsIn(path.join(FIXTURES, 'decoded-png'));

  it('has the fixture images it is meant to have', () => {
    expect(files.length).toBeGreaterThanOrEqual(19);
    expect(files.map((f) => path.basename(f))).toContain('bridge-mods__aaa-orig.png');
  });

  it('checks the dihedral rows of all fixture images but the 16-bit one', () => {
    for (const convention of CONVENTIONS) {
      const names = files.map((f) => path.basename(f)).filter((n) => vectors.dihedral[convention].has(n));
      const usable = names.filter((n) => dihedralRowFor(vectors, n, convention));
      expect(names.filter((n) => !usable.includes(n))).toEqual(['pytx-resources__I16.png']);
      expect(usable.length).toBe(files.length - 1);
    }
  });

  it.each(files.map((f) => [path.basename(f), f]))(
    'reproduces the reference hashes and qualities of %s in both conventions',
    async (_name, file) => {
      await expectReferenceHashes(vectors, file);
    },
  );

  it('reproduces the reference dihedral variants of a 1600x1004 photo in both conventions', async () => {
    const name = 'bridge-mods__aaa-orig.png';
    const pixels = await decodePng(path.join(FIXTURES, 'decoded-png', name));
    for (const convention of CONVENTIONS) {
      const r = hashed(pdqHash(pixels, { convention, dihedral: true }));
      const expected = vectors.dihedral[convention].get(name);
      expect(Object.fromEntries(PDQ_DIHEDRAL_VARIANTS.map((v) => [v, r.dihedral?.[v].hex]))).toEqual(
        expected?.variants,
      );
    }
  });
});

describe('pdqHash on the float32 stress images', () => {
  const rows = readCsv(path.join(FIXTURES, 'expected-stress-float32.csv'));

  it.each(rows.map((row) => [path.basename(row.pnm!, '.pnm'), row]))(
    'hashes %s exactly as the float32 reference, not as a float64 port',
    async (name, row) => {
      const pixels = await decodePng(path.join(FIXTURES, 'stress', `${name}.png`));
      expect([pixels.width, pixels.height]).toEqual([Number(row.width), Number(row.height)]);
      for (const engine of ENGINES) {
        const r = hashed(pdqHash(pixels, { engine }));
        expect({ engine, hex: r.hex, quality: r.quality }).toEqual({
          engine,
          hex: row.pdq_hex,
          quality: Number(row.quality),
        });
      }
      const drift = hammingBytes(
        Buffer.from(row.pdq_hex!, 'hex'),
        Buffer.from(row.naive_float64_hex!, 'hex'),
      );
      expect(drift).toBe(Number(row.hamming_float64_vs_ref));
      if (drift > 0) expect(hashed(pdqHash(pixels)).hex).not.toBe(row.naive_float64_hex);
      // The literal spec reproduces both columns: float32 gives the reference, float64 the naive port.
      expect(literalPdq(pixels, Math.fround).hex).toBe(row.pdq_hex);
      expect(literalPdq(pixels, (x) => x).hex).toBe(row.naive_float64_hex);
    },
  );

  it('includes thin images whose hash depends on float32 arithmetic', () => {
    expect(rows.filter((row) => Number(row.hamming_float64_vs_ref) >= 10).length).toBeGreaterThanOrEqual(6);
  });
});

describe('pdqHash on every reference PNG of the shared conformance vectors', () => {
  const dir = sharedVectorsDir();
  const present =
    fs.existsSync(path.join(dir, 'decoded-png')) && fs.existsSync(path.join(dir, 'expected-decoded-png.csv'));

  if (!present) {
    it('runs when the shared vectors are present (required under CI)', () => {
      const reason = `PDQ shared conformance vectors not found at ${dir}; set HASHGATE_VECTORS to the vectors folder to run them`;
      if (process.env.CI === 'true') throw new Error(reason);
      console.warn(`${reason}. Only the fixture subset was checked.`);
    });
    return;
  }

  const vectors = loadVectors(dir);
  const files = pngsIn(path.join(dir, 'decoded-png'));

  it('lists an expected hash for every PNG and a PNG for every expected hash', () => {
    expect(files.map((f) => path.basename(f)).sort()).toEqual([...vectors.decoded.keys()].sort());
  });

  it.each(files.map((f) => [path.basename(f), f]))(
    'reproduces the reference hashes and qualities of %s in both conventions',
    async (_name, file) => {
      await expectReferenceHashes(vectors, file);
    },
  );
});

describe('pdqHash against the literal spec on synthetic images', () => {
  const shapes: Array<[number, number]> = [
    [5, 5],
    [5, 300],
    [300, 5],
    [7, 129],
    [129, 7],
    [64, 64],
    [63, 65],
    [257, 131],
    [1000, 6],
    [6, 1000],
    [513, 9],
  ];

  it.each(shapes)('matches the literal spec on random %ix%i images with 1 to 4 channels', (width, height) => {
    for (let channels = 1; channels <= 4; channels++) {
      const pixels = randomImage(width, height, channels, width * 7919 + height * 31 + channels);
      const expected = literalPdq(pixels, Math.fround);
      for (const engine of ENGINES) {
        const r = hashed(pdqHash(pixels, { engine }));
        expect({ engine, channels, hex: r.hex, quality: r.quality }).toEqual({
          engine,
          channels,
          ...expected,
        });
      }
    }
  });

  it('matches the literal spec on random sizes, channels and contents', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 5, max: 90 }),
        fc.integer({ min: 5, max: 90 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer(),
        (width, height, channels, seed) => {
          const pixels = randomImage(width, height, channels, seed);
          const expected = literalPdq(pixels, Math.fround);
          for (const engine of ENGINES) {
            const r = hashed(pdqHash(pixels, { engine }));
            expect({ hex: r.hex, quality: r.quality }).toEqual(expected);
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it('matches the literal spec on smooth images with long runs of equal pixels', () => {
    const width = 211;
    const height = 97;
    const data = new Uint8Array(width * height * 3);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const i = (y * width + x) * 3;
        data[i] = (x * 255) / width;
        data[i + 1] = y < height / 2 ? 40 : 200;
        data[i + 2] = ((x >> 4) ^ (y >> 4)) & 1 ? 255 : 0;
      }
    }
    const pixels = { width, height, channels: 3, data };
    const expected = literalPdq(pixels, Math.fround);
    for (const engine of ENGINES) expect(hashed(pdqHash(pixels, { engine })).hex).toBe(expected.hex);
  });

  it('gives the same hashes when calls of different sizes alternate', () => {
    const big = randomImage(700, 450, 3, 1);
    const small = randomImage(9, 33, 1, 2);
    const first = [hashed(pdqHash(big)).hex, hashed(pdqHash(small)).hex];
    const again = [hashed(pdqHash(small)).hex, hashed(pdqHash(big)).hex].reverse();
    expect(again).toEqual(first);
    expect(first[0]).toBe(literalPdq(big, Math.fround).hex);
  });
});

describe('pdqHash input handling', () => {
  it('returns too-small, never a hash, when a side is under 5 pixels', () => {
    for (const [width, height] of [
      [1, 1],
      [4, 100],
      [100, 4],
      [4, 4],
    ] as const) {
      const r = pdqHash(randomImage(width, height, 3, 5));
      expect(r).toEqual({
        ok: false,
        reason: 'too-small',
        convention: 'fullres',
        sourceWidth: width,
        sourceHeight: height,
        width,
        height,
      });
      expect('hex' in r).toBe(false);
    }
  });

  it('hashes a 5x5 image and flags it as small', () => {
    const r = hashed(pdqHash(randomImage(5, 5, 3, 9), { dihedral: true }));
    expect(r.small).toBe(true);
    expect(r.hash).toHaveLength(32);
    expect(r.hex).toMatch(/^[0-9a-f]{64}$/);
    expect(r.hex).toBe(Buffer.from(r.hash).toString('hex'));
    expect(r.weight).toBeLessThanOrEqual(128);
    expect(Object.keys(r.dihedral ?? {})).toEqual([...PDQ_DIHEDRAL_VARIANTS]);
  });

  it('does not flag images with both sides of 32 pixels or more as small', () => {
    expect(hashed(pdqHash(randomImage(32, 32, 1, 3))).small).toBe(false);
    expect(hashed(pdqHash(randomImage(31, 300, 1, 3))).small).toBe(true);
  });

  it('reports the weight of a normal hash as 128 and does not flag it', () => {
    const r = hashed(pdqHash(randomImage(120, 80, 3, 4)));
    expect(r.weight).toBe(128);
    expect(r.degenerate).toBe(false);
    expect(r.quality).toBe(100);
  });

  it('gives a flat image quality 0', () => {
    const r = hashed(pdqHash({ width: 64, height: 48, channels: 1, data: new Uint8Array(64 * 48).fill(77) }));
    expect(r.quality).toBe(0);
  });

  it('flags the all-zero hash of a black image as degenerate instead of hiding it', () => {
    const r = hashed(pdqHash({ width: 64, height: 48, channels: 3, data: new Uint8Array(64 * 48 * 3) }));
    expect([r.quality, r.weight, r.hex]).toEqual([0, 0, '0'.repeat(64)]);
    expect(r.degenerate).toBe(true);
  });

  it('ignores alpha: grey+alpha hashes like grey, RGBA like RGB', () => {
    const grey = randomImage(50, 40, 1, 11);
    const greyAlpha = new Uint8Array(50 * 40 * 2);
    const rgb = randomImage(50, 40, 3, 12);
    const rgba = new Uint8Array(50 * 40 * 4);
    const alpha = randomBytes(50 * 40, 13);
    for (let i = 0; i < 50 * 40; i++) {
      greyAlpha[2 * i] = grey.data[i]!;
      greyAlpha[2 * i + 1] = alpha[i]!;
      rgba.set(rgb.data.subarray(3 * i, 3 * i + 3), 4 * i);
      rgba[4 * i + 3] = alpha[i]!;
    }
    expect(hashed(pdqHash({ width: 50, height: 40, channels: 2, data: greyAlpha })).hex).toBe(
      hashed(pdqHash(grey)).hex,
    );
    expect(hashed(pdqHash({ width: 50, height: 40, channels: 4, data: rgba })).hex).toBe(
      hashed(pdqHash(rgb)).hex,
    );
  });

  it('accepts a Buffer that is a view into a larger allocation', () => {
    const pixels = randomImage(40, 30, 3, 21);
    const backing = Buffer.alloc(pixels.data.length + 17);
    backing.set(pixels.data, 17);
    const view = backing.subarray(17);
    expect(hashed(pdqHash({ ...pixels, data: view })).hex).toBe(hashed(pdqHash(pixels)).hex);
  });

  it('throws INVALID_PIXELS when the data length does not match the shape', () => {
    expectInvalidPixels({ width: 10, height: 10, channels: 3, data: new Uint8Array(299) });
    expectInvalidPixels({ width: 10, height: 10, channels: 3, data: new Uint8Array(301) });
    expectInvalidPixels({ width: 1, height: 1, channels: 1, data: new Uint8Array(0) });
  });

  it('throws INVALID_PIXELS for a bad channel count, size or data type', () => {
    expectInvalidPixels({ width: 10, height: 10, channels: 5, data: new Uint8Array(500) });
    expectInvalidPixels({ width: 10, height: 10, channels: 0, data: new Uint8Array(0) });
    expectInvalidPixels({ width: 2.5, height: 10, channels: 1, data: new Uint8Array(25) });
    expectInvalidPixels({ width: 10, height: Number.NaN, channels: 1, data: new Uint8Array(0) });
    expectInvalidPixels({ width: 0, height: 10, channels: 1, data: new Uint8Array(0) });
    expectInvalidPixels({ width: -5, height: -5, channels: 1, data: new Uint8Array(25) });
    expectInvalidPixels({ width: 5, height: 5, channels: 1, data: new Uint16Array(25) });
    expectInvalidPixels({ width: 5, height: 5, channels: 1, data: Array.from({ length: 25 }, () => 0) });
    expectInvalidPixels(null);
  });

  it('throws INVALID_OPTION for an unknown convention, engine or a non-boolean dihedral', () => {
    const pixels = randomImage(8, 8, 1, 1);
    for (const options of [{ convention: 'thumbnail' }, { engine: 'gpu' }, { dihedral: 'yes' }]) {
      let error: unknown;
      try {
        pdqHash(pixels, options as never);
      } catch (e) {
        error = e;
      }
      expect((error as { code?: string }).code).toBe(ErrorCodes.INVALID_OPTION);
    }
  });
});

describe('pdqHash conventions and engines', () => {
  it('gives the same result in both conventions for an image of at most 512x512', () => {
    const pixels = randomImage(512, 300, 3, 8);
    const full = hashed(pdqHash(pixels));
    const cli = hashed(pdqHash(pixels, { convention: 'cli512' }));
    expect(cli.hex).toBe(full.hex);
    expect([cli.convention, cli.width, cli.height]).toEqual(['cli512', 512, 300]);
  });

  it('squashes a larger image to 512x512 by nearest neighbour under cli512', () => {
    const pixels = randomImage(1030, 700, 3, 15);
    const squashed = new Uint8Array(512 * 512 * 3);
    for (let y = 0; y < 512; y++) {
      for (let x = 0; x < 512; x++) {
        const from = (Math.floor((y * 700) / 512) * 1030 + Math.floor((x * 1030) / 512)) * 3;
        squashed.set(pixels.data.subarray(from, from + 3), (y * 512 + x) * 3);
      }
    }
    const cli = hashed(pdqHash(pixels, { convention: 'cli512' }));
    expect(cli).toMatchObject({
      convention: 'cli512',
      sourceWidth: 1030,
      sourceHeight: 700,
      width: 512,
      height: 512,
    });
    expect(cli.hex).toBe(
      literalPdq({ width: 512, height: 512, channels: 3, data: squashed }, Math.fround).hex,
    );
    expect(hashed(pdqHash(pixels)).hex).not.toBe(cli.hex);
  });

  it('hashes a 4x600 image under cli512 (squashed to 512x512) but not under fullres', () => {
    const pixels = randomImage(4, 600, 1, 16);
    expect(pdqHash(pixels).ok).toBe(false);
    const cli = hashed(pdqHash(pixels, { convention: 'cli512' }));
    expect([cli.width, cli.height, cli.small]).toEqual([512, 512, true]);
  });

  it('computes the eight dihedral variants from one DCT, orig equal to the hash', () => {
    const r = hashed(pdqHash(randomImage(90, 70, 3, 17), { dihedral: true }));
    expect(r.dihedral?.orig).toEqual({ hash: r.hash, hex: r.hex, weight: r.weight });
    const hexes = new Set(PDQ_DIHEDRAL_VARIANTS.map((v) => r.dihedral?.[v].hex));
    expect(hexes.size).toBe(8);
    expect(hashed(pdqHash(randomImage(90, 70, 3, 17))).dihedral).toBeUndefined();
  });

  it('finds a 90-degree rotation of an image through the rot90 variant', () => {
    const width = 160;
    const height = 100;
    const src = randomImage(width, height, 1, 18);
    // Smooth the noise a little so that the image has structure at PDQ's scale.
    const data = new Uint8Array(width * height);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++)
        data[y * width + x] = (src.data[(y >> 3) * width + (x >> 3)]! + x + y) & 255;
    }
    // Rotated 90 degrees counter-clockwise, as the reference's rotate-90 test image: new (x, y)
    // reads old column width - 1 - y of row x; the new image is height x width.
    const rotated = new Uint8Array(width * height);
    for (let y = 0; y < width; y++) {
      for (let x = 0; x < height; x++) rotated[y * height + x] = data[x * width + (width - 1 - y)]!;
    }
    const original = hashed(pdqHash({ width, height, channels: 1, data }, { dihedral: true }));
    const turned = hashed(pdqHash({ width: height, height: width, channels: 1, data: rotated }));
    const distances = PDQ_DIHEDRAL_VARIANTS.map((v) => hammingBytes(original.dihedral![v].hash, turned.hash));
    expect(Math.min(...distances)).toBeLessThanOrEqual(31);
    expect(Math.min(...distances)).toBe(distances[PDQ_DIHEDRAL_VARIANTS.indexOf('rot90')]);
  });

  it('falls back to JavaScript where WebAssembly is unavailable, and refuses engine wasm there', () => {
    const pixels = randomImage(120, 90, 3, 20);
    const expected = hashed(pdqHash(pixels)).hex;
    const global = globalThis as { WebAssembly?: unknown };
    const saved = global.WebAssembly;
    global.WebAssembly = undefined;
    try {
      jest.isolateModules(() => {
        const fresh: typeof import('../../../src/hashing/pdq') = require('../../../src/hashing/pdq');
        expect(hashed(fresh.pdqHash(pixels)).hex).toBe(expected);
        expect(() => fresh.pdqHash(pixels, { engine: 'wasm' })).toThrow(
          expect.objectContaining({ code: ErrorCodes.INVALID_OPTION }),
        );
      });
    } finally {
      global.WebAssembly = saved;
    }
  });

  it('runs the WebAssembly engine here, and auto uses it', () => {
    const pixels = randomImage(300, 200, 3, 19);
    const wasm = hashed(pdqHash(pixels, { engine: 'wasm' }));
    expect(hashed(pdqHash(pixels)).hex).toBe(wasm.hex);
    expect(hashed(pdqHash(pixels, { engine: 'js' })).hex).toBe(wasm.hex);
  });
});
