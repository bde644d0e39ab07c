/**
 * Benchmark of the hashing engine over a folder of real photos.
 *
 *   npm run bench:hashing -- /tmp/corpus/photos [--limit 300] [--workers 2]
 *
 * Per image: the time sharp needs to decode it to raw pixels (the floor) and a full scan (exact
 * hashes, decode, PDQ with its 8 dihedral variants, blockhash) through the worker pool, back to
 * back, taking turns going first; then, in a second pass, PDQ alone and blockhash alone; in a third,
 * the floor and the scan again, each after a 20 ms pause (every thread asleep first, as for a lone
 * upload on a quiet server). Each as a ratio to the floor, medians over the set. For reference, the ratio over the photos without an
 * ICC profile (the floor applies no colour transform to them) and, for the photos around the median
 * ratio, what each part of the scan adds (decode, PDQ, blockhash, the framed content, and the
 * hand-offs between threads with the rest). Then the event loop's maximum and p99 delay while the
 * whole set is scanned at full concurrency, and the maximum while one 100 MB in-memory upload is
 * scanned.
 */

import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import sharp from 'sharp';
import { blockhashPixels } from '../src/hashing/blockhash';
import { decodeImage } from '../src/hashing/decode';
import { createHasher } from '../src/hashing/hasher';
import type { HashOutcome } from '../src/hashing/outcome';
import { pdqHash } from '../src/hashing/pdq';
import { pdqSource } from '../src/hashing/pixels';
import { arg } from './lib/args';

function quantile(values: number[], q: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? Number.NaN;
}

const fmt = (n: number, d = 2): string => n.toFixed(d);
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The pause before each floor and scan of the rested comparison: long enough for threads to sleep deeply. */
const REST_MS = 20;

async function main(): Promise<void> {
  const folder = process.argv[2];
  if (!folder || folder.startsWith('--')) {
    console.error('usage: node dist-bench/bench/hashing.js <folder of photos> [--limit N] [--workers N]');
    process.exit(2);
  }
  const limit = Number(arg('limit', '300'));
  const workers = Number(arg('workers', '2'));
  const all = readdirSync(folder)
    .filter((f) => /\.(jpe?g|png|webp)$/i.test(f))
    .sort();
  // an even sample across the (category-sorted) folder
  const step = Math.max(1, all.length / limit);
  const files: string[] = [];
  for (let i = 0; i < all.length && files.length < limit; i += step) files.push(all[Math.floor(i)]!);
  const inputs = files.map((f) => readFileSync(join(folder, f)));
  console.log(
    `hashing benchmark: ${files.length} of ${all.length} photos from ${folder}, ${workers} workers`,
  );
  console.log(
    `decoder: sharp ${sharp.versions.sharp} / libvips ${sharp.versions.vips}; node ${process.version}`,
  );

  const hasher = createHasher({ workers });
  // warm up the workers and sharp
  for (const input of inputs.slice(0, 4)) {
    await hasher.hash({ bytes: input });
    await sharp(input).raw().toBuffer();
  }

  const floor: number[] = [];
  const full: number[] = [];
  const pdqOnly: number[] = [];
  const bhOnly: number[] = [];
  const megapixels: number[] = [];
  const rFull: number[] = [];
  const rPdq: number[] = [];
  const rBh: number[] = [];
  const inWorker = { decode: [] as number[], pdq: [] as number[], blockhash: [] as number[] };
  // Per image, each part of the scan as a ratio to that image's floor; `rest` is everything outside
  // the worker's decode and hashing (the hand-offs between threads, the calling thread's work).
  const parts: {
    ratio: number;
    decode: number;
    pdq: number;
    blockhash: number;
    trim: number;
    rest: number;
  }[] = [];
  const limits = { maxPixels: 100_000_000, timeoutMs: 60_000, frame: 0, failOn: 'error' as const };
  // Photos without an ICC profile: the floor applies no colour transform to them, so it does the
  // same work as the scan's decode.
  const rFullNoIcc: number[] = [];
  // First the floor and the scan of every photo, back to back; then, in a pass of their own, the
  // reference measurements. Run between the two, those kept the hashing worker idle three times as
  // long before each scan, and waking a thread that has slept longer costs more (docs/hashing.md).
  /**
   * The floor and the scan of one photo, each after `pauseMs` of idling; which goes first
   * alternates with `index`, so that neither always finds the bytes in cache.
   */
  const timePair = async (
    input: Buffer,
    index: number,
    pauseMs: number,
  ): Promise<{ f: number; s: number; outcome: HashOutcome }> => {
    const timeFloor = async (): Promise<number> => {
      if (pauseMs > 0) await sleep(pauseMs);
      const t = performance.now();
      await sharp(input).raw().toBuffer();
      return performance.now() - t;
    };
    const timeScan = async (): Promise<[number, HashOutcome]> => {
      if (pauseMs > 0) await sleep(pauseMs);
      const t = performance.now();
      const outcome = await hasher.hash({ bytes: input });
      return [performance.now() - t, outcome];
    };
    if (index % 2 === 0) {
      const f = await timeFloor();
      const [s, outcome] = await timeScan();
      return { f, s, outcome };
    }
    const [s, outcome] = await timeScan();
    return { f: await timeFloor(), s, outcome };
  };
  const timed: { input: Buffer; f: number; s: number; outcome: HashOutcome }[] = [];
  for (const [index, input] of inputs.entries()) timed.push({ input, ...(await timePair(input, index, 0)) });
  for (const { input, f, s, outcome } of timed) {
    inWorker.decode.push(outcome.timings.decodeMs);
    inWorker.pdq.push(outcome.timings.pdqMs);
    inWorker.blockhash.push(outcome.timings.blockhashMs);

    const decoded = await decodeImage(input, input, limits);
    if (!decoded.ok) continue;
    const img = decoded.image;
    let t = performance.now();
    pdqHash(pdqSource(img), { dihedral: true });
    const p = performance.now() - t;
    t = performance.now();
    blockhashPixels(img);
    const b = performance.now() - t;

    floor.push(f);
    if (!img.hasIcc) rFullNoIcc.push(s / f);
    full.push(s);
    pdqOnly.push(p);
    bhOnly.push(b);
    megapixels.push((img.width * img.height) / 1e6);
    rFull.push(s / f);
    const tm = outcome.timings;
    const trimMs = tm.trimMs ?? 0;
    parts.push({
      ratio: s / f,
      decode: tm.decodeMs / f,
      pdq: tm.pdqMs / f,
      blockhash: tm.blockhashMs / f,
      trim: trimMs / f,
      rest: (s - tm.decodeMs - tm.pdqMs - tm.blockhashMs - trimMs) / f,
    });
    rPdq.push(p / f);
    rBh.push(b / f);
  }

  console.log('\nper image (median over the set; ratios are per image, then the median):');
  console.log(
    `  size                         ${fmt(quantile(megapixels, 0.5))} MP (p90 ${fmt(quantile(megapixels, 0.9))} MP)`,
  );
  console.log(`  floor: sharp decode to raw   ${fmt(quantile(floor, 0.5))} ms`);
  console.log(
    `  full scan (pool)             ${fmt(quantile(full, 0.5))} ms   ratio ${fmt(quantile(rFull, 0.5))}x (p90 ${fmt(quantile(rFull, 0.9))}x)  target <= 1.5x`,
  );
  console.log(
    `  (the ${rFullNoIcc.length} photos without an ICC profile, whose floor applies no colour transform: ratio ${fmt(quantile(rFullNoIcc, 0.5))}x)`,
  );
  console.log(
    `    inside the worker: decode ${fmt(quantile(inWorker.decode, 0.5))} ms, pdq ${fmt(quantile(inWorker.pdq, 0.5))} ms, blockhash ${fmt(quantile(inWorker.blockhash, 0.5))} ms`,
  );
  // The photos around the median ratio (the middle fifth), part by part: where the ratio goes.
  const middle = [...parts]
    .sort((a, b) => a.ratio - b.ratio)
    .slice(Math.floor(parts.length * 0.4), Math.ceil(parts.length * 0.6));
  const mean = (k: keyof (typeof parts)[number]): string =>
    fmt(middle.reduce((sum, p) => sum + p[k], 0) / Math.max(1, middle.length));
  console.log(
    `    around the median (middle fifth, ${middle.length} photos, mean ratio ${mean('ratio')}x): decode ${mean('decode')}x, pdq ${mean('pdq')}x, blockhash ${mean('blockhash')}x, framed content ${mean('trim')}x, hand-offs and the rest ${mean('rest')}x`,
  );
  console.log(
    `  pdq + 8 variants alone       ${fmt(quantile(pdqOnly, 0.5))} ms   ratio ${fmt(quantile(rPdq, 0.5))}x`,
  );
  console.log(
    `  blockhash alone              ${fmt(quantile(bhOnly, 0.5))} ms   ratio ${fmt(quantile(rBh, 0.5))}x`,
  );

  // The same comparison with every thread asleep first: a pause before each floor and each scan, so
  // that neither starts with threads that have just run (a lone upload on a quiet server).
  const rested: number[] = [];
  for (const [index, input] of inputs.entries()) {
    const { f, s } = await timePair(input, index, REST_MS);
    rested.push(s / f);
  }
  console.log(
    `  floor and scan each after a ${REST_MS} ms pause (every thread asleep first): ratio ${fmt(quantile(rested, 0.5))}x (p90 ${fmt(quantile(rested, 0.9))}x)`,
  );

  // Event-loop delay while the whole set is scanned with every worker busy.
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  const t0 = performance.now();
  await Promise.all(inputs.map((input) => hasher.hash({ bytes: input })));
  const wall = performance.now() - t0;
  h.disable();
  console.log(
    `\nevent loop while scanning ${inputs.length} photos at full concurrency (${fmt(wall / 1000, 1)} s, ${fmt(inputs.length / (wall / 1000), 1)} photos/s):`,
  );
  console.log(
    `  max delay ${fmt(h.max / 1e6, 1)} ms, p99 ${fmt(h.percentile(99) / 1e6, 1)} ms, mean ${fmt(h.mean / 1e6, 1)} ms   target max <= 20 ms`,
  );

  // Event-loop delay while one large in-memory upload is scanned as the middleware does (its cache
  // key, then every hash): a photo of the set padded to 100 MB (decoders stop at the end of the
  // image data; the digests cover every byte).
  const largest = inputs.reduce((a, b) => (b.length > a.length ? b : a));
  const large = Buffer.concat([largest, randomBytes(100 * 1024 * 1024 - largest.length)]);
  const big = monitorEventLoopDelay({ resolution: 1 });
  big.enable();
  const t1 = performance.now();
  const shared = await hasher.share({ bytes: large });
  await hasher.hash(shared, { sha256: await hasher.sha256(shared) });
  const largeWall = performance.now() - t1;
  big.disable();
  console.log(
    `event loop while scanning one 100 MB in-memory upload (${fmt(largeWall / 1000, 2)} s): max delay ${fmt(big.max / 1e6, 1)} ms   target max <= 20 ms`,
  );
  await hasher.close();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
