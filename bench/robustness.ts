/**
 * Detection benchmark over a folder of real photos.
 *
 *   npx tsc -p tsconfig.build.json && npx tsc -p tsconfig.bench.json &&
 *   node dist-bench/bench/robustness.js /tmp/corpus/photos [--limit 150] [--chart /tmp/robustness.png]
 *     [--pdq-threshold 31] [--blockhash-threshold 10]
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
 *
 * Every figure is given for four set-ups (docs/detection.md):
 * - `plain`: the whole image's hashes only, on both sides (hash-only lists, trimming off);
 * - `trim`: uploads and list images also hashed after border and letterbox removal (the default);
 * - `aug`: the list also holds the hashes of the crops of list augmentation (`--augment crops`);
 * - `trim+aug`: both.
 * False matches are counted for each set-up with the list side's hashes (whole, trimmed, crops)
 * against the upload side's (whole and trimmed, all 8 dihedral variants), both ways round.
 */

import { readdirSync, readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import sharp from 'sharp';
import { bytesToWords256, hamming256, hammingBytes } from '../src/hashing/hamming';
import { createHasher, type Hasher } from '../src/hashing/hasher';
import { type ComputedHash, DIHEDRAL_VARIANTS, type PerceptualOutcome } from '../src/hashing/outcome';
import { cropHashes, DEFAULT_CROPS } from '../src/lists/augment';
import { DEFAULT_THRESHOLDS } from '../src/options';
import { arg } from './lib/args';
import { writeHistogramPng } from './lib/robustness-chart';
import { TRANSFORMS } from './lib/robustness-transforms';

// thresholds: the defaults, or others to see what a change would trade
const PDQ_T = Number(arg('pdq-threshold', String(DEFAULT_THRESHOLDS.pdq!)));
const BH_T = Number(arg('blockhash-threshold', String(DEFAULT_THRESHOLDS.blockhash!)));
const BINS = 129; // distances 0..128 (a dihedral minimum is never above 128 in practice; clamped)

/** The perceptual hashes of one image in the form the loops need. */
interface Hashed {
  /** 8 variants x 8 words, `orig` first (DIHEDRAL_VARIANTS order); undefined if PDQ unavailable. */
  pdq?: Uint32Array;
  pdqReason?: string;
  blockhash?: Uint8Array;
  bhReason?: string;
  /** PDQ (8 variants) and blockhash of the content inside a border, when trimming found one. */
  pdqTrim?: Uint32Array;
  bhTrim?: Uint8Array;
  /** PDQ (`orig` only, 8 words each) and blockhash of the crops of list augmentation. */
  pdqCrops?: Uint32Array[];
  bhCrops?: Uint8Array[];
  /** Milliseconds finding the border and hashing the trimmed content. */
  trimMs: number;
}

function pdqWords(h: ComputedHash): Uint32Array {
  const words = new Uint32Array(8 * DIHEDRAL_VARIANTS.length);
  DIHEDRAL_VARIANTS.forEach((v, k) => {
    const hex = h.variants?.[v] ?? (v === 'orig' ? h.hex : undefined);
    if (hex === undefined) throw new Error(`PDQ variant ${v} missing: is dihedral off?`);
    bytesToWords256(Buffer.from(hex, 'hex'), words, k * 8);
  });
  return words;
}

function toHashed(o: PerceptualOutcome): Hashed {
  const h: Hashed = { trimMs: o.timings.trimMs ?? 0 };
  const whole = o.hashes.filter((x) => !x.provenance.region);
  const trimmed = o.hashes.filter((x) => x.provenance.region?.kind === 'trimmed');
  const pdq = whole.find((x) => x.type === 'pdq');
  if (pdq) h.pdq = pdqWords(pdq);
  else h.pdqReason = o.unavailable.find((u) => u.type === 'pdq')?.reason ?? 'missing';
  const bh = whole.find((x) => x.type === 'blockhash');
  if (bh) h.blockhash = new Uint8Array(Buffer.from(bh.hex, 'hex'));
  else h.bhReason = o.unavailable.find((u) => u.type === 'blockhash')?.reason ?? 'missing';
  const pdqT = trimmed.find((x) => x.type === 'pdq');
  if (pdqT) h.pdqTrim = pdqWords(pdqT);
  const bhT = trimmed.find((x) => x.type === 'blockhash');
  if (bhT) h.bhTrim = new Uint8Array(Buffer.from(bhT.hex, 'hex'));
  return h;
}

function addCrops(h: Hashed, crops: readonly ComputedHash[]): void {
  h.pdqCrops = crops
    .filter((c) => c.type === 'pdq')
    .map((c) => {
      const words = new Uint32Array(8);
      bytesToWords256(Buffer.from(c.hex, 'hex'), words, 0);
      return words;
    });
  h.bhCrops = crops
    .filter((c) => c.type === 'blockhash')
    .map((c) => new Uint8Array(Buffer.from(c.hex, 'hex')));
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

/** The four set-ups every figure is given for. */
const SETUPS = ['plain', 'trim', 'aug', 'trim+aug'] as const;
type Setup = (typeof SETUPS)[number];
const NO_MATCH = 256;

/**
 * Smallest dihedral PDQ distance from the upload `u` (whole and, with trimming, trimmed; all 8
 * variants) to the list image `l` (whole, trimmed with trimming, crops with augmentation), per set-up.
 */
function pdqSetups(u: Hashed, l: Hashed): Record<Setup, number> {
  const m = (a?: Uint32Array, b?: Uint32Array): number => (a && b ? pdqDistance(a, b, true) : NO_MATCH);
  const crops = (a?: Uint32Array): number => {
    let best = NO_MATCH;
    if (a && l.pdqCrops) for (const c of l.pdqCrops) best = Math.min(best, pdqDistance(a, c, true));
    return best;
  };
  const plain = m(u.pdq, l.pdq);
  const trim = Math.min(plain, m(u.pdqTrim, l.pdq), m(u.pdq, l.pdqTrim), m(u.pdqTrim, l.pdqTrim));
  const aug = Math.min(plain, crops(u.pdq));
  return { plain, trim, aug, 'trim+aug': Math.min(trim, aug, crops(u.pdqTrim)) };
}

/** The same for blockhash (no dihedral variants). */
function bhSetups(u: Hashed, l: Hashed): Record<Setup, number> {
  const m = (a?: Uint8Array, b?: Uint8Array): number => (a && b ? hammingBytes(a, b) : NO_MATCH);
  const crops = (a?: Uint8Array): number => {
    let best = NO_MATCH;
    if (a && l.bhCrops) for (const c of l.bhCrops) best = Math.min(best, hammingBytes(a, c));
    return best;
  };
  const plain = m(u.blockhash, l.blockhash);
  const trim = Math.min(plain, m(u.bhTrim, l.blockhash), m(u.blockhash, l.bhTrim), m(u.bhTrim, l.bhTrim));
  const aug = Math.min(plain, crops(u.blockhash));
  return { plain, trim, aug, 'trim+aug': Math.min(trim, aug, crops(u.bhTrim)) };
}

const zeroSetups = (): Record<Setup, number> => ({ plain: 0, trim: 0, aug: 0, 'trim+aug': 0 });

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
  /** Photos whose original PDQ was available. */
  pdqN: number;
  pdqPlain: number;
  /** Matches per set-up, PDQ with dihedral queries. */
  pdq: Record<Setup, number>;
  pdqDist: number[];
  /** Transformed images whose PDQ was unavailable (counted as misses). */
  pdqLost: number;
  /** Transformed images in which trimming found a border. */
  trimmed: number;
  bhN: number;
  bh: Record<Setup, number>;
  bhDist: number[];
  bhLost: number;
  failed: number;
}

async function main(): Promise<void> {
  const folder = process.argv[2];
  if (!folder || folder.startsWith('--')) {
    console.error(
      'usage: node dist-bench/bench/robustness.js <folder of photos> [--limit 150] [--chart /tmp/robustness.png] [--workers 2] [--pdq-threshold N] [--blockhash-threshold N]',
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
    `decoder: sharp ${sharp.versions.sharp} / libvips ${sharp.versions.vips}; node ${process.version}; thresholds pdq <= ${PDQ_T}, blockhash <= ${BH_T}; load average at start ${loadavg()
      .map((x) => x.toFixed(1))
      .join(' ')} on ${cpus().length} cores`,
  );
  // Regions are hashed with blockhash too, to measure what it would add (the defaults hash them
  // with PDQ only): the blockhash columns of trim and aug are those of a non-default set-up.
  const hasher = createHasher({ workers, trim: { blockhash: true } });
  const t0 = performance.now();

  // 1. the whole corpus: the hasher's defaults (whole image and, for framed images, trimmed
  // content), then the crops of list augmentation of every photo (on this thread, like the CLI).
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
  const kinds = (pred: (h: Hashed, f: string) => boolean): string => {
    const m = new Map<string, number>();
    corpus.forEach((h, i) => {
      const k = files[i]!.split('__')[0]!;
      if (pred(h, files[i]!)) m.set(k, (m.get(k) ?? 0) + 1);
    });
    return [...m].map(([k, v]) => `${k} ${v}`).join(', ') || 'none';
  };
  const trimmedCorpus = corpus.filter((h) => h.pdqTrim || h.bhTrim).length;
  const trimMs = corpus.map((h) => h.trimMs);
  const trimMsTrimmed = corpus.filter((h) => h.pdqTrim || h.bhTrim).map((h) => h.trimMs);
  console.log(
    `trimming found a frame in ${trimmedCorpus} of ${files.length} untouched photos (${kinds((h) => !!(h.pdqTrim || h.bhTrim))}); time: median ${median(trimMs).toFixed(2)} ms a photo, median ${median(trimMsTrimmed).toFixed(1)} ms for a framed one (find + hash the content)`,
  );
  const t1c = performance.now();
  await pool(inputs, 2, async (b, i) => {
    if (corpus[i]!.pdq || corpus[i]!.blockhash)
      addCrops(corpus[i]!, await cropHashes({ bytes: b }, hasher.config, DEFAULT_CROPS, true));
  });
  const t1d = performance.now();
  console.log(
    `list augmentation: ${DEFAULT_CROPS.length} crops (${DEFAULT_CROPS.map((c) => c.name).join(', ')}) of ${files.length} photos hashed in ${((t1d - t1c) / 1000).toFixed(1)} s on the main thread (${((t1d - t1c) / files.length).toFixed(0)} ms a list image, decode included)`,
  );
  const count = (f: (h: Hashed) => number): number => corpus.reduce((n, h) => n + f(h), 0);
  const entries = {
    pdq: {
      plain: count((h) => (h.pdq ? 1 : 0)),
      trim: count((h) => (h.pdq ? 1 : 0) + (h.pdqTrim ? 1 : 0)),
      aug: count((h) => (h.pdq ? 1 : 0) + (h.pdqCrops?.length ?? 0)),
      'trim+aug': count((h) => (h.pdq ? 1 : 0) + (h.pdqTrim ? 1 : 0) + (h.pdqCrops?.length ?? 0)),
    },
    blockhash: {
      plain: count((h) => (h.blockhash ? 1 : 0)),
      trim: count((h) => (h.blockhash ? 1 : 0) + (h.bhTrim ? 1 : 0)),
      aug: count((h) => (h.blockhash ? 1 : 0) + (h.bhCrops?.length ?? 0)),
      'trim+aug': count((h) => (h.blockhash ? 1 : 0) + (h.bhTrim ? 1 : 0) + (h.bhCrops?.length ?? 0)),
    },
  };

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
    pdq: zeroSetups(),
    pdqDist: [],
    pdqLost: 0,
    trimmed: 0,
    bhN: 0,
    bh: zeroSetups(),
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
        if (h.pdqTrim || h.bhTrim) r.trimmed++;
        if (orig.pdq) {
          r.pdqN++;
          if (h.pdq) {
            if (pdqDistance(h.pdq, orig.pdq, false) <= PDQ_T) r.pdqPlain++;
            const d = pdqSetups(h, orig);
            for (const s of SETUPS) if (d[s] <= PDQ_T) r.pdq[s]++;
            r.pdqDist.push(d.trim);
            sameHist[Math.min(BINS - 1, d.trim)]!++;
          } else r.pdqLost++;
        }
        if (orig.blockhash) {
          r.bhN++;
          if (h.blockhash) {
            const d = bhSetups(h, orig);
            for (const s of SETUPS) if (d[s] <= BH_T) r.bh[s]++;
            r.bhDist.push(d.trim);
          } else r.bhLost++;
        }
      }),
    );
    if ((n + 1) % 25 === 0) console.log(`  ${n + 1}/${sample.length} photos transformed`);
  });
  const t2 = performance.now();
  console.log(
    `transformed and hashed ${sample.length * TRANSFORMS.length} images in ${((t2 - t1d) / 1000).toFixed(1)} s (${letterboxNoop} sample photos already 16:9: letterbox is a no-op for them)`,
  );

  console.log(
    `\nrecall at the default thresholds (n = sample photos with an original hash; lost = transformed image had no usable hash, counted as a miss).
PDQ plain = the upload's orig hash only; then PDQ with dihedral queries and blockhash, each for: plain (whole images), trim (border removal on both sides: the default),
aug (list augmented with crops ${DEFAULT_CROPS.map((c) => c.name).join(' ')}), trim+aug. "framed" = transformed images in which trimming found a frame.
groups: crop = crops in the augmentation set (5% all sides = all5, 15% one side = right15); crop+ = crops not in it; border+ = a border not in issue 9's list`,
  );
  const cols = (x: Record<Setup, number>, n: number): string => SETUPS.map((s) => pct(x[s], n)).join(' ');
  const header = `${'transform'.padEnd(22)} ${'group'.padEnd(8)} ${'n'.padStart(4)}  ${'PDQ'.padStart(6)}  ${'PDQ dihedral: plain   trim    aug trim+aug'}  ${'blockhash: plain   trim    aug trim+aug'}  ${'framed'.padStart(6)}  ${'med'.padStart(4)}  lost pdq/bh`;
  console.log(header);
  console.log('-'.repeat(header.length));
  for (const r of results) {
    console.log(
      `${r.name.padEnd(22)} ${r.group.padEnd(8)} ${String(r.pdqN).padStart(4)}  ${pct(r.pdqPlain, r.pdqN)}  ${' '.repeat(14)}${cols(r.pdq, r.pdqN)}  ${' '.repeat(11)}${cols(r.bh, r.bhN)}  ${String(r.trimmed).padStart(6)}  ${String(median(r.pdqDist)).padStart(4)}  ${r.pdqLost}/${r.bhLost}${r.failed ? `  (${r.failed} transform failures)` : ''}`,
    );
  }

  // 3. false matches among different photos, per set-up: photo a as the list image (whole,
  // trimmed, crops) against photo b as the upload (whole, trimmed; 8 variants), both ways round.
  const isSeries = files.map((f) => f.startsWith('series__'));
  const diffHist = new Array<number>(BINS).fill(0);
  const pdqFalse: Record<Setup, { a: number; b: number; d: number }[]> = {
    plain: [],
    trim: [],
    aug: [],
    'trim+aug': [],
  };
  const bhFalse: Record<Setup, { a: number; b: number; d: number }[]> = {
    plain: [],
    trim: [],
    aug: [],
    'trim+aug': [],
  };
  const minDiff = { pdq: zeroSetups(), bh: zeroSetups() };
  for (const s of SETUPS) {
    minDiff.pdq[s] = NO_MATCH;
    minDiff.bh[s] = NO_MATCH;
  }
  let pdqPairs = 0;
  let bhPairs = 0;
  const series = { pdqPairs: 0, pdqMatch: 0, bhPairs: 0, bhMatch: 0, pdqDist: [] as number[] };
  const t3 = performance.now();
  for (let a = 0; a < corpus.length; a++) {
    const ha = corpus[a]!;
    for (let b = a + 1; b < corpus.length; b++) {
      const hb = corpus[b]!;
      if (ha.pdq && hb.pdq) {
        const ab = pdqSetups(ha, hb);
        const ba = pdqSetups(hb, ha);
        if (isSeries[a] && isSeries[b]) {
          const d = Math.min(ab.plain, ba.plain);
          series.pdqPairs++;
          series.pdqDist.push(d);
          if (d <= PDQ_T) series.pdqMatch++;
        } else {
          pdqPairs++;
          for (const s of SETUPS) {
            const d = Math.min(ab[s], ba[s]);
            if (s === 'trim') diffHist[Math.min(BINS - 1, d)]!++;
            if (d < minDiff.pdq[s]) minDiff.pdq[s] = d;
            if (d <= PDQ_T) pdqFalse[s].push({ a, b, d });
          }
        }
      }
      if (ha.blockhash && hb.blockhash) {
        const ab = bhSetups(ha, hb);
        const ba = bhSetups(hb, ha);
        if (isSeries[a] && isSeries[b]) {
          series.bhPairs++;
          if (Math.min(ab.plain, ba.plain) <= BH_T) series.bhMatch++;
        } else {
          bhPairs++;
          for (const s of SETUPS) {
            const d = Math.min(ab[s], ba[s]);
            if (d < minDiff.bh[s]) minDiff.bh[s] = d;
            if (d <= BH_T) bhFalse[s].push({ a, b, d });
          }
        }
      }
    }
  }
  const t4 = performance.now();
  console.log(
    `\nfalse matches among pairs of different photos (whole folder, series__ x series__ pairs excluded; list side: whole + trimmed + crops as the set-up has them, upload side: whole + trimmed, 8 variants; ${((t4 - t3) / 1000).toFixed(1)} s):`,
  );
  console.log(
    `  ${'set-up'.padEnd(9)} ${'PDQ false'.padStart(9)} ${'of pairs'.padStart(9)} ${'min d'.padStart(5)}  ${'bh false'.padStart(8)} ${'of pairs'.padStart(9)} ${'min d'.padStart(5)}  ${'PDQ entries'.padStart(11)} ${'bh entries'.padStart(10)}`,
  );
  for (const s of SETUPS) {
    console.log(
      `  ${s.padEnd(9)} ${String(pdqFalse[s].length).padStart(9)} ${String(pdqPairs).padStart(9)} ${String(minDiff.pdq[s]).padStart(5)}  ${String(bhFalse[s].length).padStart(8)} ${String(bhPairs).padStart(9)} ${String(minDiff.bh[s]).padStart(5)}  ${String(entries.pdq[s]).padStart(11)} ${String(entries.blockhash[s]).padStart(10)}`,
    );
  }
  const show = (list: { a: number; b: number; d: number }[]): void => {
    for (const p of [...list].sort((u, v) => u.d - v.d).slice(0, 15))
      console.log(`    d=${p.d}  ${files[p.a]}  ~  ${files[p.b]}`);
    if (list.length > 15) console.log(`    ... ${list.length - 15} more`);
  };
  for (const s of SETUPS) {
    if (pdqFalse[s].length) {
      console.log(`  PDQ false matches (${s}):`);
      show(pdqFalse[s]);
    }
    if (bhFalse[s].length) {
      console.log(`  blockhash false matches (${s}):`);
      show(bhFalse[s]);
    }
  }
  console.log(
    `series__ frames (near-identical, reported separately, plain): PDQ ${series.pdqMatch} of ${series.pdqPairs} pairs within ${PDQ_T} (median distance ${median(series.pdqDist)}), blockhash ${series.bhMatch} of ${series.bhPairs} within ${BH_T}`,
  );
  console.log(
    `load average at the end: ${loadavg()
      .map((x) => x.toFixed(1))
      .join(' ')}`,
  );

  // 4. chart (the defaults: trimming on, hash-only list)
  const sameN = sameHist.reduce((p, c) => p + c, 0);
  await writeHistogramPng(
    {
      title: 'PDQ distance: same photo transformed vs. different photos (trimming on)',
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
