import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { createHasher, type Hasher } from '../../../src/hashing/hasher';
import type { HashingOptions } from '../../../src/hashing/hasher-options';
import type { HashOutcome } from '../../../src/hashing/outcome';
import { countEventLoopTurns } from '../../helpers/event-loop';
import { animatedGif, pngDeclaring, syntheticImage, tinyZip } from '../../helpers/images';
import { FIXTURES } from '../../helpers/vectors';

function reasons(outcome: HashOutcome): Record<string, string> {
  return Object.fromEntries(outcome.unavailable.map((u) => [u.type, u.reason]));
}

function types(outcome: HashOutcome): string[] {
  return outcome.hashes.map((h) => h.type);
}

describe.each([
  ['in worker threads', 1],
  ['on the calling thread', 0],
])('hashing %s', (_label, workers) => {
  let hasher: Hasher;
  let dir: string;
  beforeAll(() => {
    hasher = createHasher({ workers, timeoutMs: 10_000 });
    dir = mkdtempSync(join(tmpdir(), 'hashgate-hasher-'));
  });
  afterAll(async () => {
    await hasher.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('gives every hash of a photo with how it was made', async () => {
    const jpeg = await syntheticImage(640, 480);
    const outcome = await hasher.hash({ bytes: jpeg });
    expect(types(outcome)).toEqual(['md5', 'sha1', 'sha256', 'pdq', 'blockhash']);
    expect(outcome.unavailable).toEqual([]);
    expect(outcome.format).toBe('jpeg');
    expect(outcome.size).toBe(jpeg.length);
    const pdq = outcome.hashes.find((h) => h.type === 'pdq')!;
    expect(pdq.hex).toMatch(/^[0-9a-f]{64}$/);
    expect(pdq.provenance).toMatchObject({
      algorithm: 'pdq',
      convention: 'fullres',
      width: 640,
      height: 480,
      frame: 0,
    });
    expect(pdq.provenance.quality).toBeGreaterThanOrEqual(50);
    expect(pdq.provenance.decoder).toMatch(/^sharp .* \/ libvips /);
    expect(Object.keys(pdq.variants!)).toEqual([
      'orig',
      'rot90',
      'rot180',
      'rot270',
      'flipx',
      'flipy',
      'flipplus1',
      'flipminus1',
    ]);
    expect(pdq.variants!.orig).toBe(pdq.hex);
    const bh = outcome.hashes.find((h) => h.type === 'blockhash')!;
    expect(bh.provenance).toMatchObject({ algorithm: 'blockhash-precise-16', width: 640, height: 480 });
  });

  it('gives the same hashes for a file path as for its bytes', async () => {
    const png = await syntheticImage(300, 200, 'png', 5);
    const path = join(dir, 'same.png');
    writeFileSync(path, png);
    const fromPath = await hasher.hash({ path });
    const fromBytes = await hasher.hash({ bytes: png });
    expect(fromPath.hashes).toEqual(fromBytes.hashes);
  });

  it("leaves the caller's buffer intact", async () => {
    const jpeg = await syntheticImage(200, 200);
    const copy = Buffer.from(jpeg);
    await hasher.hash({ bytes: jpeg });
    expect(jpeg.equals(copy)).toBe(true);
  });

  it('reports an empty file as not an image, with its exact hashes', async () => {
    const outcome = await hasher.hash({ bytes: new Uint8Array(0) });
    expect(types(outcome)).toEqual(['md5', 'sha1', 'sha256']);
    expect(reasons(outcome)).toEqual({ pdq: 'not-an-image', blockhash: 'not-an-image' });
  });

  it('hashes a truncated JPEG as far as it decodes, or says it is undecodable', async () => {
    const jpeg = await syntheticImage(400, 300);
    const outcome = await hasher.hash({ bytes: jpeg.subarray(0, Math.floor(jpeg.length / 2)) });
    expect(outcome.format).toBe('jpeg');
    // libvips decodes the first half and fills the rest; either way nothing is silently dropped
    for (const type of ['pdq', 'blockhash']) {
      const made = outcome.hashes.some((h) => h.type === type);
      const why = outcome.unavailable.find((u) => u.type === type)?.reason;
      expect(made || why === 'undecodable' || why === 'low-quality').toBe(true);
    }
  });

  it('reports random bytes as not an image', async () => {
    const outcome = await hasher.hash({ bytes: randomBytes(10_000) });
    expect(reasons(outcome)).toEqual({ pdq: 'not-an-image', blockhash: 'not-an-image' });
  });

  it('reports a 1x1 image as too small for PDQ and low quality for blockhash', async () => {
    const png = await sharp({ create: { width: 1, height: 1, channels: 3, background: '#808080' } })
      .png()
      .toBuffer();
    const outcome = await hasher.hash({ bytes: png });
    expect(types(outcome)).toEqual(['md5', 'sha1', 'sha256']);
    expect(reasons(outcome).pdq).toBe('too-small');
    expect(['degenerate', 'low-quality']).toContain(reasons(outcome).blockhash);
  });

  it('refuses a tiny PNG that declares 30000x30000 pixels before decoding it', async () => {
    const bomb = pngDeclaring(30_000, 30_000);
    expect(bomb.length).toBeLessThan(1024);
    const outcome = await hasher.hash({ bytes: bomb });
    expect(reasons(outcome)).toEqual({ pdq: 'too-large', blockhash: 'too-large' });
  });

  it('does not render SVG', async () => {
    const svg = Buffer.from(
      '<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="100" height="100"><rect width="100" height="100" fill="red"/></svg>',
    );
    const outcome = await hasher.hash({ bytes: svg });
    expect(outcome.format).toBe('svg');
    expect(reasons(outcome)).toEqual({ pdq: 'unsupported-format', blockhash: 'unsupported-format' });
  });

  it('hashes the first frame of a GIF with hundreds of frames', async () => {
    const gif = await animatedGif(300);
    const outcome = await hasher.hash({ bytes: gif });
    expect(outcome.format).toBe('gif');
    expect(outcome.image?.pages).toBe(300);
    expect(types(outcome)).toContain('pdq');
    const pdq = outcome.hashes.find((h) => h.type === 'pdq')!;
    expect(pdq.provenance).toMatchObject({ frame: 0, width: 64, height: 64 });
    // Encoding the 300-frame GIF is most of the time; on a loaded machine it took over a minute.
  }, 180_000);

  it('treats a text file named .jpg as what its bytes are', async () => {
    const path = join(dir, 'photo.jpg');
    writeFileSync(path, 'this is not a picture\n'.repeat(50));
    const outcome = await hasher.hash({ path });
    expect(outcome.format).toBe('unknown');
    expect(reasons(outcome)).toEqual({ pdq: 'not-an-image', blockhash: 'not-an-image' });
  });

  it('hashes a JPEG with a ZIP appended as the image, and the exact hashes cover every byte', async () => {
    const jpeg = await syntheticImage(320, 240);
    const polyglot = Buffer.concat([jpeg, tinyZip()]);
    const plain = await hasher.hash({ bytes: jpeg });
    const outcome = await hasher.hash({ bytes: polyglot });
    expect(outcome.format).toBe('jpeg');
    expect(outcome.size).toBe(polyglot.length);
    const pick = (o: HashOutcome, t: string): string | undefined => o.hashes.find((h) => h.type === t)?.hex;
    expect(pick(outcome, 'pdq')).toBe(pick(plain, 'pdq'));
    expect(pick(outcome, 'sha256')).not.toBe(pick(plain, 'sha256'));
  });

  it('reports a file that vanished as undecodable without throwing for the perceptual part', async () => {
    const outcome = await hasher.perceptual({ path: join(dir, 'gone.jpg') });
    expect(reasons(outcome as HashOutcome)).toEqual({ pdq: 'undecodable', blockhash: 'undecodable' });
  });

  it('records the EXIF orientation without applying it', async () => {
    const rotated = readFileSync(join(FIXTURES, 'images/bridge-mods__square-256x256.jpg'));
    const tagged = await sharp(rotated).withMetadata({ orientation: 6 }).jpeg({ quality: 95 }).toBuffer();
    const outcome = await hasher.hash({ bytes: tagged });
    expect(outcome.image?.orientation).toBe(6);
    const pdq = outcome.hashes.find((h) => h.type === 'pdq')!;
    expect(pdq.provenance).toMatchObject({ width: 256, height: 256 });
  });
});

describe('hashing options', () => {
  it('refuse a bad value with what was expected and what was received', () => {
    expect(() => createHasher({ maxPixels: -3 })).toThrow(
      'Expected a whole number at least 1 for `hashing.maxPixels` but received -3',
    );
  });

  it('refuse an unknown option name instead of ignoring it', () => {
    expect(() => createHasher({ maxPixel: 5 } as never)).toThrow(
      expect.objectContaining({ code: 'ERR_HASHGATE_INVALID_OPTION' }),
    );
  });

  it('can turn a perceptual hash off, which is then reported as disabled', async () => {
    const hasher = createHasher({ workers: 0, blockhash: false });
    const outcome = await hasher.hash({ bytes: await syntheticImage(100, 100) });
    expect(reasons(outcome)).toEqual({ blockhash: 'disabled' });
    await hasher.close();
  });

  it('enforce the pixel limit', async () => {
    const hasher = createHasher({ workers: 0, maxPixels: 100 * 100 });
    const outcome = await hasher.hash({ bytes: await syntheticImage(101, 100) });
    expect(reasons(outcome)).toEqual({ pdq: 'too-large', blockhash: 'too-large' });
    await hasher.close();
  });

  it('enforce the input byte limit for decoding but still give exact hashes', async () => {
    const hasher = createHasher({ workers: 0, maxInputBytes: 1000 });
    const outcome = await hasher.hash({ bytes: await syntheticImage(200, 200) });
    expect(types(outcome)).toEqual(['md5', 'sha1', 'sha256']);
    expect(reasons(outcome)).toEqual({ pdq: 'too-large', blockhash: 'too-large' });
    await hasher.close();
  });
});

/** Runs `use` with a hasher made with `options`, and closes it whatever happens. */
async function withHasher(options: HashingOptions, use: (hasher: Hasher) => Promise<void>): Promise<void> {
  const hasher = createHasher(options);
  try {
    await use(hasher);
  } finally {
    await hasher.close();
  }
}

describe('exact digests of an in-memory image in the worker', () => {
  const digestsOf = (bytes: Uint8Array): Record<string, string> =>
    Object.fromEntries(
      (['md5', 'sha1', 'sha256'] as const).map((a) => [a, createHash(a).update(bytes).digest('hex')]),
    );
  const exactOf = (outcome: HashOutcome): Record<string, string> =>
    Object.fromEntries(
      outcome.hashes.filter((h) => ['md5', 'sha1', 'sha256'].includes(h.type)).map((h) => [h.type, h.hex]),
    );

  it('are the digests of the bytes, at every size around the thresholds', async () => {
    await withHasher({ workers: 1 }, async (hasher) => {
      const jpeg = await syntheticImage(320, 240);
      // A JPEG padded past the end of its image data (decoders stop at the end marker) to sizes on
      // either side of the digest thread's bounds and the slice size.
      for (const size of [
        jpeg.length,
        64 * 1024 - 1,
        64 * 1024 + 1,
        (1 << 20) + 7,
        4 * 1024 * 1024 + 3,
        9 * 1024 * 1024 + 1,
      ]) {
        const bytes = Buffer.concat([jpeg, randomBytes(Math.max(0, size - jpeg.length))]);
        const outcome = await hasher.hash({ bytes });
        expect(exactOf(outcome)).toEqual(digestsOf(bytes));
        expect(outcome.size).toBe(bytes.length);
        expect(types(outcome)).toEqual(['md5', 'sha1', 'sha256', 'pdq', 'blockhash']);
      }
    });
  });

  it('are those of each upload when more uploads are in flight than there are workers', async () => {
    await withHasher({ workers: 2 }, async (hasher) => {
      // Different images of different sizes at once: two start at once, the others wait in the
      // queue and are copied into a worker's reused input buffer when it is free; one upload
      // must never be read with another's bytes.
      const images = await Promise.all(
        Array.from({ length: 8 }, (_, i) => syntheticImage(120 + 37 * i, 90 + 23 * i)),
      );
      const uploads = images.map((jpeg, i) => Buffer.concat([jpeg, randomBytes(i * 20_000)]));
      const outcomes = await Promise.all(uploads.map((bytes) => hasher.hash({ bytes })));
      await withHasher({ workers: 0 }, async (here) => {
        for (const [i, bytes] of uploads.entries()) {
          expect(exactOf(outcomes[i]!)).toEqual(digestsOf(bytes));
          expect(outcomes[i]!.hashes).toEqual((await here.hash({ bytes })).hashes);
        }
      });
    });
  });

  it('reuse a SHA-256 the caller already has and compute the other two', async () => {
    await withHasher({ workers: 1 }, async (hasher) => {
      const jpeg = await syntheticImage(200, 160);
      const known = digestsOf(jpeg);
      const outcome = await hasher.hash({ bytes: jpeg }, { sha256: known.sha256 });
      expect(exactOf(outcome)).toEqual(known);
    });
  });

  it('take every digest the caller has as it is, for bytes and for a file', async () => {
    // Stand-in digests that no bytes have: they come back only if nothing was computed again.
    const known = { md5: '1'.repeat(32), sha1: '2'.repeat(40), sha256: '3'.repeat(64) };
    const jpeg = await syntheticImage(240, 180);
    const dir = mkdtempSync(join(tmpdir(), 'hashgate-known-'));
    const path = join(dir, 'upload.jpg');
    writeFileSync(path, jpeg);
    try {
      for (const workers of [1, 0]) {
        await withHasher({ workers }, async (hasher) => {
          for (const source of [{ bytes: jpeg }, { path }]) {
            const outcome = await hasher.hash(source, { ...known, size: jpeg.length });
            expect(exactOf(outcome)).toEqual(known);
            expect(outcome.size).toBe(jpeg.length);
            expect(types(outcome)).toEqual(['md5', 'sha1', 'sha256', 'pdq', 'blockhash']);
          }
        });
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('never compute a SHA-256 the caller passed in again, whatever the size', async () => {
    // A stand-in SHA-256 that no bytes have: it comes back only if it was reused.
    const given = 'f'.repeat(64);
    for (const workers of [1, 0]) {
      await withHasher({ workers }, async (hasher) => {
        for (const size of [1000, 200 * 1024, 2 * 1024 * 1024, 5 * 1024 * 1024]) {
          const bytes = randomBytes(size);
          const { sha256: _real, ...others } = digestsOf(bytes);
          const exact = await hasher.exact({ bytes }, given);
          expect({ md5: exact.md5, sha1: exact.sha1, sha256: exact.sha256, size: exact.size }).toEqual({
            ...others,
            sha256: given,
            size,
          });
        }
      });
    }
  });

  it('of a large upload come from one copy in shared memory, made in slices the event loop runs between', async () => {
    await withHasher({ workers: 1 }, async (hasher) => {
      // Large enough that copying it takes several of the 4 ms slices on any machine.
      const big = randomBytes(64 * 1024 * 1024);
      const { result: shared, turns } = await countEventLoopTurns(() => hasher.share({ bytes: big }));
      // The copy gave the event loop turns (done in one go, it would have had none).
      expect(turns).toBeGreaterThanOrEqual(1);
      if (!('bytes' in shared)) throw new Error('expected bytes');
      expect(shared.bytes.buffer).toBeInstanceOf(SharedArrayBuffer);
      expect(Buffer.from(shared.bytes).equals(big)).toBe(true);
      // Handing the shared copy over again makes no second copy.
      const again = await hasher.share(shared);
      expect('bytes' in again && again.bytes).toBe(shared.bytes);
      // A file that is no image: its digests, and a known SHA-256 reused.
      const known = digestsOf(big);
      await expect(hasher.sha256(shared)).resolves.toBe(known.sha256);
      const exact = await hasher.exact(shared, known.sha256);
      expect({ md5: exact.md5, sha1: exact.sha1, sha256: exact.sha256 }).toEqual(known);
      // Smaller buffers are not copied.
      const small = randomBytes(1 << 20);
      const same = await hasher.share({ bytes: small });
      expect('bytes' in same && same.bytes).toBe(small);
    });
  });

  it('of a large upload stay on the calling thread with workers: 0', async () => {
    await withHasher({ workers: 0 }, async (hasher) => {
      const big = randomBytes(5 * 1024 * 1024);
      const shared = await hasher.share({ bytes: big });
      expect('bytes' in shared && shared.bytes).toBe(big);
      await expect(hasher.sha256({ bytes: big })).resolves.toBe(digestsOf(big).sha256);
      const exact = await hasher.exact({ bytes: big });
      expect({ md5: exact.md5, sha1: exact.sha1, sha256: exact.sha256 }).toEqual(digestsOf(big));
    });
  });

  it('settle an image over the byte limit on the calling thread, without a worker', async () => {
    // One worker, kept busy, and no queue: a file sent to the pool would come back overloaded.
    await withHasher({ workers: 1, maxQueue: 0, maxInputBytes: 200_000 }, async (hasher) => {
      const busy = await sharp({ create: { width: 2000, height: 2000, channels: 3, background: '#369' } })
        .png()
        .toBuffer();
      expect(busy.length).toBeLessThan(200_000);
      const over = Buffer.concat([await syntheticImage(200, 200), randomBytes(300_000)]);
      const first = hasher.hash({ bytes: busy });
      const outcome = await hasher.hash({ bytes: over });
      expect(reasons(outcome)).toEqual({ pdq: 'too-large', blockhash: 'too-large' });
      expect(exactOf(outcome)).toEqual(digestsOf(over));
      await first;
    });
  });

  it('are computed on the calling thread when the worker cannot take the job', async () => {
    // One worker and no queue: of two scans started together, the second is refused as
    // overloaded, and its digests must still be there.
    await withHasher({ workers: 1, maxQueue: 0 }, async (hasher) => {
      const a = await syntheticImage(400, 300, 'jpeg', 1);
      const b = await syntheticImage(400, 300, 'jpeg', 2);
      const [first, second] = await Promise.all([hasher.hash({ bytes: a }), hasher.hash({ bytes: b })]);
      expect(reasons(first)).toEqual({});
      expect(reasons(second)).toEqual({ pdq: 'overloaded', blockhash: 'overloaded' });
      expect(exactOf(first)).toEqual(digestsOf(a));
      expect(exactOf(second)).toEqual(digestsOf(b));
    });
  });
});
