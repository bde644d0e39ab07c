/**
 * Detection benchmark over a folder of real photos.
 *
 *   npx tsc -p tsconfig.build.json && npx tsc -p tsconfig.bench.json &&
 *   node dist-bench/bench/robustness.js /tmp/corpus/photos [--limit 150] [--chart /tmp/robustness.png]
 *
 * 1. Hashes every photo of the folder (PDQ with its 8 dihedral variants, blockhash).
 * 2. For an even sample of photos (`--limit`, skipping the near-identical `series__` frames and the
 *    `astro__` plates), applies each transform of `lib/robustness-transforms` and hashes the result.
 *    Recall per transform at the default thresholds: PDQ plain (the transformed image's `orig`
 *    hash against the original's), PDQ dihedral (min over the 8 variants of the transformed image
 *    against the original's hash) and blockhash.
 * 3. False matches: every pair of different photos of the whole folder, PDQ dihedral (both
 *    directions) and blockhash; pairs of two `series__` frames are counted separately.
 * 4. Prints a table and writes a PNG of the PDQ distance histograms.
 */

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import sharp from 'sharp';
import { bytesToWords256, hamming256, hammingBytes } from '../src/hashing/hamming';
import { createHasher, type Hasher } from '../src/hashing/hasher';
import { DIHEDRAL_VARIANTS, type PerceptualOutcome } from '../src/hashing/outcome';
import { DEFAULT_THRESHOLDS } from '../src/options';
import { writeHistogramPng } from './lib/robustness-chart';
import { TRANSFORMS } from './lib/robustness-transforms';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

const PDQ_T = DEFAULT_THRESHOLDS.pdq!;
const BH_T = DEFAULT_THRESHOLDS.blockhash!;
const BINS = 129; // distances 0..128 (a dihedral minimum is never above 128 in practice; clamped)

/** The perceptual hashes of one image in the form the loops need. */
interface Hashed {
  /** 8 variants x 8 words, `orig` first (DIHEDRAL_VARIANTS order); undefined if PDQ unavailable. */
  pdq?: Uint32Array;
  pdqReason?: string;
  blockhash?: Uint8Array;
  bhReason?: string;
}

function toHashed(o: PerceptualOutcome): Hashed {
  const h: Hashed = {};
  const pdq = o.hashes.find((x) => x.type === 'pdq');
  if (pdq) {
    const words = new Uint32Array(8 * DIHEDRAL_VARIANTS.length);
    DIHEDRAL_VARIANTS.forEach((v, k) => {
      const hex = pdq.variants?.[v] ?? (v === 'orig' ? pdq.hex : undefined);
      if (hex === undefined) throw new Error(`PDQ variant ${v} missing: is dihedral off?`);
      bytesToWords256(Buffer.from(hex, 'hex'), words, k * 8);
    });
    h.pdq = words;
  } else h.pdqReason = o.unavailable.find((u) => u.type === 'pdq')?.reason ?? 'missing';
  const bh = o.hashes.find((x) => x.type === 'blockhash');
  if (bh) h.blockhash = new Uint8Array(Buffer.from(bh.hex, 'hex'));
  else h.bhReason = o.unavailable.find((u) => u.type === 'blockhash')?.reason ?? 'missing';
  return h;
}

/** PDQ distance of `query` (its `orig` only, or the min over its 8 variants) to `ref`'s `orig` hash. */
function pdqDistance(query: Uint32Array, ref: Uint32Array, dihedral: boolean): number {
  let best = hamming256(query, 0, ref, 0);
  if (dihedral) {
    for (let k = 1; k < 8 && best > 0; k++) {
      const d = hamming256(query, k * 8, ref, 0);
      if (d < best) best = d;
    }
  }
  return best;
}

/** Runs `fn` over `items` with at most `n` in flight (the hasher's queue is bounded). */
async function pool<T, R>(
  items: readonly T[],
  n: number,
  fn: (item: T, i: number) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const run = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, run));
  return out;
}

function median(values: number[]): number {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const pct = (num: number, den: number): string => (den === 0 ? '   n/a' : (num / den).toFixed(3).padStart(6));

async function hashBytes(hasher: Hasher, bytes: Buffer): Promise<Hashed> {
  return toHashed(await hasher.perceptual({ bytes }));
}

interface TransformResult {
  name: string;
  group: string;
  /** Photos whose original and transformed PDQ were both available. */
  pdqN: number;
  pdqPlain: number;
  pdqDihedral: number;
  pdqDist: number[];
  /** Transformed images whose PDQ was unavailable (counted as misses). */
  pdqLost: number;
  bhN: number;
  bh: number;
  bhDist: number[];
  bhLost: number;
  failed: number;
}

async function main(): Promise<void> {
  const folder = process.argv[2];
  if (!folder || folder.startsWith('--')) {
    console.error(
      'usage: node dist-bench/bench/robustness.js <folder of photos> [--limit 150] [--chart /tmp/robustness.png] [--workers 2]',
    );
    process.exit(2);
  }
  const limit = Number(arg('limit', '150'));
  const chartPath = arg('chart', '/tmp/robustness.png');
  const workers = Number(arg('workers', '2'));
  const files = readdirSync(folder)
    .filter((f) => /\.(jpe?g|png|webp)$/i.test(f))
    .sort();
  console.log(`robustness benchmark: ${files.length} photos from ${folder}, ${workers} workers`);
  console.log(
    `decoder: sharp ${sharp.versions.sharp} / libvips ${sharp.versions.vips}; node ${process.version}; thresholds pdq <= ${PDQ_T}, blockhash <= ${BH_T}`,
  );
  const hasher = createHasher({ workers });
  const t0 = performance.now();

  // 1. the whole corpus
  const inputs = files.map((f) => readFileSync(join(folder, f)));
  const corpus = await pool(inputs, 2 * workers + 2, (b) => hashBytes(hasher, b));
  const t1 = performance.now();
  const noPdq = corpus.filter((h) => !h.pdq);
  const noBh = corpus.filter((h) => !h.blockhash);
  const reasons = (xs: (string | undefined)[]): string => {
    const m = new Map<string, number>();
    for (const r of xs) m.set(r ?? '?', (m.get(r ?? '?') ?? 0) + 1);
    return [...m].map(([k, v]) => `${k} ${v}`).join(', ') || 'none';
  };
  console.log(
    `hashed ${files.length} photos in ${((t1 - t0) / 1000).toFixed(1)} s; PDQ unavailable for ${noPdq.length} (${reasons(noPdq.map((h) => h.pdqReason))}), blockhash unavailable for ${noBh.length} (${reasons(noBh.map((h) => h.bhReason))})`,
  );

  // 2. transforms over an even sample
  const eligible = files.map((f, i) => ({ f, i })).filter(({ f }) => !/^(series|astro)__/.test(f));
  const step = Math.max(1, eligible.length / limit);
  const sample: { f: string; i: number }[] = [];
  for (let k = 0; k < eligible.length && sample.length < limit; k += step)
    sample.push(eligible[Math.floor(k)]!);
  console.log(
    `transform sample: ${sample.length} of ${eligible.length} eligible photos (no series__ / astro__), ${TRANSFORMS.length} transforms`,
  );
  const results: TransformResult[] = TRANSFORMS.map((t) => ({
    name: t.name,
    group: t.group,
    pdqN: 0,
    pdqPlain: 0,
    pdqDihedral: 0,
    pdqDist: [],
    pdqLost: 0,
    bhN: 0,
    bh: 0,
    bhDist: [],
    bhLost: 0,
    failed: 0,
  }));
  const sameHist = new Array<number>(BINS).fill(0);
  let letterboxNoop = 0;
  await pool(sample, 2, async ({ i }, n) => {
    const orig = corpus[i]!;
    const input = inputs[i]!;
    const meta = await sharp(input).metadata();
    if (Math.abs(meta.width / meta.height - 16 / 9) < 0.01) letterboxNoop++;
    await Promise.all(
      TRANSFORMS.map(async (t, k) => {
        const r = results[k]!;
        let h: Hashed;
        try {
          h = await hashBytes(hasher, await t.apply(input, 1000 * i + k + 1));
        } catch (err) {
          r.failed++;
          if (r.failed === 1) console.error(`transform ${t.name} failed: ${(err as Error).message}`);
          return;
        }
        if (orig.pdq) {
          r.pdqN++;
          if (h.pdq) {
            const plain = pdqDistance(h.pdq, orig.pdq, false);
            const dih = pdqDistance(h.pdq, orig.pdq, true);
            if (plain <= PDQ_T) r.pdqPlain++;
            if (dih <= PDQ_T) r.pdqDihedral++;
            r.pdqDist.push(dih);
            sameHist[Math.min(BINS - 1, dih)]!++;
          } else r.pdqLost++;
        }
        if (orig.blockhash) {
          r.bhN++;
          if (h.blockhash) {
            const d = hammingBytes(h.blockhash, orig.blockhash);
            if (d <= BH_T) r.bh++;
            r.bhDist.push(d);
          } else r.bhLost++;
        }
      }),
    );
    if ((n + 1) % 25 === 0) console.log(`  ${n + 1}/${sample.length} photos transformed`);
  });
  const t2 = performance.now();
  console.log(
    `transformed and hashed ${sample.length * TRANSFORMS.length} images in ${((t2 - t1) / 1000).toFixed(1)} s (${letterboxNoop} sample photos already 16:9: letterbox is a no-op for them)`,
  );

  console.log(
    `\nrecall at the default thresholds (n = sample photos with an original hash; lost = transformed image had no usable hash, counted as a miss)`,
  );
  const header = `${'transform'.padEnd(20)} ${'group'.padEnd(9)} ${'n'.padStart(4)}  ${'PDQ plain'.padStart(9)}  ${'PDQ dihed'.padStart(9)}  ${'blockhash'.padStart(9)}  ${'PDQ med'.padStart(7)}  ${'bh med'.padStart(6)}  lost pdq/bh`;
  console.log(header);
  console.log('-'.repeat(header.length));
  for (const r of results) {
    console.log(
      `${r.name.padEnd(20)} ${r.group.padEnd(9)} ${String(r.pdqN).padStart(4)}  ${pct(r.pdqPlain, r.pdqN).padStart(9)}  ${pct(r.pdqDihedral, r.pdqN).padStart(9)}  ${pct(r.bh, r.bhN).padStart(9)}  ${String(median(r.pdqDist)).padStart(7)}  ${String(median(r.bhDist)).padStart(6)}  ${r.pdqLost}/${r.bhLost}${r.failed ? `  (${r.failed} transform failures)` : ''}`,
    );
  }

  // 3. false matches among different photos
  const isSeries = files.map((f) => f.startsWith('series__'));
  const idxPdq = corpus.map((h, i) => (h.pdq ? i : -1)).filter((i) => i >= 0);
  const idxBh = corpus.map((h, i) => (h.blockhash ? i : -1)).filter((i) => i >= 0);
  const diffHist = new Array<number>(BINS).fill(0);
  const pdqFalse: { a: number; b: number; d: number }[] = [];
  const bhFalse: { a: number; b: number; d: number }[] = [];
  let pdqPairs = 0;
  let bhPairs = 0;
  const series = { pdqPairs: 0, pdqMatch: 0, bhPairs: 0, bhMatch: 0, pdqDist: [] as number[] };
  const t3 = performance.now();
  for (let x = 0; x < idxPdq.length; x++) {
    const a = idxPdq[x]!;
    const ha = corpus[a]!.pdq!;
    for (let y = x + 1; y < idxPdq.length; y++) {
      const b = idxPdq[y]!;
      const hb = corpus[b]!.pdq!;
      const d1 = pdqDistance(ha, hb, true);
      const d2 = pdqDistance(hb, ha, true);
      const d = Math.min(d1, d2);
      if (isSeries[a] && isSeries[b]) {
        series.pdqPairs++;
        series.pdqDist.push(d);
        if (d <= PDQ_T) series.pdqMatch++;
        continue;
      }
      pdqPairs++;
      diffHist[Math.min(BINS - 1, d)]!++;
      if (d <= PDQ_T) pdqFalse.push({ a, b, d });
    }
  }
  for (let x = 0; x < idxBh.length; x++) {
    const a = idxBh[x]!;
    const ha = corpus[a]!.blockhash!;
    for (let y = x + 1; y < idxBh.length; y++) {
      const b = idxBh[y]!;
      const d = hammingBytes(ha, corpus[b]!.blockhash!);
      if (isSeries[a] && isSeries[b]) {
        series.bhPairs++;
        if (d <= BH_T) series.bhMatch++;
        continue;
      }
      bhPairs++;
      if (d <= BH_T) bhFalse.push({ a, b, d });
    }
  }
  const t4 = performance.now();
  console.log(
    `\nfalse matches among pairs of different photos (whole folder, series__ x series__ pairs excluded; ${((t4 - t3) / 1000).toFixed(1)} s):`,
  );
  console.log(`  PDQ dihedral <= ${PDQ_T}: ${pdqFalse.length} of ${pdqPairs} pairs`);
  console.log(`  blockhash    <= ${BH_T}: ${bhFalse.length} of ${bhPairs} pairs`);
  const show = (list: { a: number; b: number; d: number }[]): void => {
    for (const p of list.sort((u, v) => u.d - v.d).slice(0, 15))
      console.log(`    d=${p.d}  ${files[p.a]}  ~  ${files[p.b]}`);
    if (list.length > 15) console.log(`    ... ${list.length - 15} more`);
  };
  if (pdqFalse.length) {
    console.log('  PDQ false matches:');
    show(pdqFalse);
  }
  if (bhFalse.length) {
    console.log('  blockhash false matches:');
    show(bhFalse);
  }
  let minDiff = -1;
  for (let d = 0; d < BINS; d++)
    if (diffHist[d]) {
      minDiff = d;
      break;
    }
  console.log(`  smallest PDQ dihedral distance between different photos: ${minDiff}`);
  console.log(
    `series__ frames (near-identical, reported separately): PDQ ${series.pdqMatch} of ${series.pdqPairs} pairs within ${PDQ_T} (median distance ${median(series.pdqDist)}), blockhash ${series.bhMatch} of ${series.bhPairs} within ${BH_T}`,
  );

  // 4. chart
  const sameN = sameHist.reduce((p, c) => p + c, 0);
  await writeHistogramPng(
    {
      title: 'PDQ distance: same photo transformed vs. different photos',
      subtitle: `${sample.length} photos x ${TRANSFORMS.length} transforms (${sameN} pairs); ${pdqPairs} pairs of different photos from ${files.length}; each histogram normalised`,
      threshold: PDQ_T,
      series: [
        { label: `same photo, transformed (${sameN})`, colour: '#1f77b4', counts: sameHist },
        { label: `different photos (${pdqPairs})`, colour: '#d62728', counts: diffHist },
      ],
    },
    chartPath,
  );
  console.log(`\nchart written to ${chartPath}`);
  await hasher.close();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
