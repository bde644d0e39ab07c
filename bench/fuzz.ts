/**
 * Fuzzing: mutated image files through the decode-and-hash path (the real hasher with its worker
 * pool) and mutated list files through the real parsers, seeded and reproducible:
 *
 *   npm run bench:fuzz -- [--seed 1] [--cases 3000] [--list-cases 3000] [--images test/fixtures/images]
 *       [--workers 2] [--timeout-ms 5000] [--only <image case seed>] [--only-list <list case seed> --kind <kind>]
 *
 * Every case must end in a defined outcome (hashes, an unavailable reason, a stable error code)
 * within the watchdog; the process's memory (main thread and workers) is sampled throughout.
 * Prints the distribution of outcomes by mutation and the failing case seeds (`--only` and
 * `--only-list` replay one). Exits 1 on any failure. Never prints a hash or list content.
 */

import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHasher } from '../src/hashing/hasher';
import { arg, mib, printTable, RssSampler } from './lib/ops-common';
import {
  caseSeed,
  hashOutcome,
  IMAGE_MUTATIONS,
  LIST_KINDS,
  LIST_MUTATIONS,
  listOutcome,
  manifestSeed,
  mutateImage,
  pngBomb,
  Rng,
  seedImages,
  Tally,
} from './lib/ops-fuzz';

async function main(): Promise<void> {
  const seed = Number(arg('seed', '1'));
  const cases = Number(arg('cases', '3000'));
  const listCases = Number(arg('list-cases', '3000'));
  const imagesDir = arg('images', join(__dirname, '../../test/fixtures/images'));
  const workers = Number(arg('workers', '2'));
  const timeoutMs = Number(arg('timeout-ms', '5000'));
  const only = process.argv.includes('--only') ? Number(arg('only', '0')) : undefined;
  const onlyList = process.argv.includes('--only-list') ? Number(arg('only-list', '0')) : undefined;
  const replaying = only !== undefined || onlyList !== undefined;
  const watchdogMs = timeoutMs + 20_000;

  const files = readdirSync(imagesDir)
    .filter((f) => /\.(jpe?g|png)$/i.test(f))
    .sort()
    .map((f) => ({ name: f, bytes: readFileSync(join(imagesDir, f)) }));
  const seeds = await seedImages(files);
  const hasher = createHasher({ workers, timeoutMs, maxPixels: 50_000_000 });
  const sampler = new RssSampler(process.pid, 250);
  const t0 = Date.now();
  console.log(
    `fuzzing: seed ${seed}, ${cases} image cases from ${seeds.length} seed images (${files.length} fixtures + GIF/WebP made from them), ` +
      `${listCases} list cases; hasher with ${workers} workers, timeoutMs ${timeoutMs}, watchdog ${watchdogMs} ms`,
  );

  // --- Images -------------------------------------------------------------------------------
  const byMutation = new Map<string, Tally>();
  const all = new Tally();
  const durations: number[] = [];
  const runImage = async (i: number, s: number): Promise<void> => {
    const rng = new Rng(s);
    const seedImage = rng.pick(seeds);
    const other = rng.pick(seeds);
    const mutation = i === 0 ? 'png-bomb' : rng.pick(IMAGE_MUTATIONS);
    const bytes = mutation === 'png-bomb' ? pngBomb() : mutateImage(rng, seedImage, other, mutation as never);
    const started = Date.now();
    const { outcome, failure } = await hashOutcome(hasher, bytes, watchdogMs);
    durations.push(Date.now() - started);
    const label = `${seedImage.format} ${mutation}`;
    const t = byMutation.get(mutation) ?? new Tally();
    t.add(outcome, failure, label, s);
    byMutation.set(mutation, t);
    all.add(outcome, failure, label, s);
  };
  if (only !== undefined) {
    await runImage(1, only);
  } else if (!replaying) {
    // Keep the pool busy: as many cases in flight as workers, plus one.
    let next = 0;
    await Promise.all(
      Array.from({ length: workers + 1 }, async () => {
        while (next < cases) {
          const i = next++;
          await runImage(i, caseSeed(seed, i));
        }
      }),
    );
  }
  const imageSeconds = (Date.now() - t0) / 1000;
  const rssAfterImages = sampler.peak;

  // --- Lists --------------------------------------------------------------------------------
  const dir = mkdtempSync(join(tmpdir(), 'hashgate-fuzz-'));
  const manifest = manifestSeed();
  const lists = new Map<string, Tally>();
  const listAll = new Tally();
  const t1 = Date.now();
  const listRuns: { s: number; kind: (typeof LIST_KINDS)[number] }[] =
    onlyList !== undefined
      ? [{ s: onlyList, kind: arg('kind', 'ndjson') as (typeof LIST_KINDS)[number] }]
      : replaying
        ? []
        : Array.from({ length: listCases }, (_, i) => ({
            s: caseSeed(seed + 0x51, i),
            kind: LIST_KINDS[i % LIST_KINDS.length]!,
          }));
  for (const { s, kind } of listRuns) {
    const rng = new Rng(s);
    const mutation = rng.pick(LIST_MUTATIONS);
    const { outcome, failure } = await listOutcome(rng, kind, mutation, dir, manifest, watchdogMs);
    const t = lists.get(kind) ?? new Tally();
    t.add(outcome, failure, `list ${kind} ${mutation}`, s);
    lists.set(kind, t);
    listAll.add(outcome, failure, `list ${kind} ${mutation}`, s);
  }
  const listSeconds = (Date.now() - t1) / 1000;
  sampler.stop();
  const stats = hasher.stats();
  await hasher.close();
  rmSync(dir, { recursive: true, force: true });

  // --- Report -------------------------------------------------------------------------------
  durations.sort((a, b) => a - b);
  const q = (p: number): number =>
    durations[Math.min(durations.length - 1, Math.floor(p * durations.length))] ?? 0;
  console.log('');
  console.log(
    `images: ${durations.length} cases in ${imageSeconds.toFixed(1)} s; per case p50 ${q(0.5)} ms, p99 ${q(0.99)} ms, max ${q(1)} ms; ` +
      `workers replaced ${stats.replacedWorkers}`,
  );
  printTable([
    ['outcome (images)', 'cases', 'share'],
    ...all.rows().map(([k, n]) => [k, String(n), `${((100 * n) / durations.length).toFixed(1)}%`]),
  ]);
  console.log('');
  const outcomes = all.rows().map(([k]) => k);
  const shortName = (o: string): string => o.replace('pdq=', 'p:').replace('blockhash=', 'b:');
  printTable([
    ['mutation', ...outcomes.map(shortName)],
    ...[...byMutation.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([m, t]) => [m, ...outcomes.map((o) => String(t.counts.get(o) ?? 0))]),
  ]);
  console.log('');
  console.log(`lists: ${listRuns.length} cases in ${listSeconds.toFixed(1)} s`);
  const listOutcomes = listAll.rows().map(([k]) => k);
  printTable([
    ['outcome (lists)', ...[...lists.keys()]],
    ...listOutcomes.map((o) => [o, ...[...lists.values()].map((t) => String(t.counts.get(o) ?? 0))]),
  ]);
  const samples = sampler.samples;
  const firstFifth = Math.max(0, ...samples.filter((x) => x.t < samples.at(-1)!.t / 5).map((x) => x.rss));
  console.log('');
  console.log(
    `memory (RSS of the process, main thread and workers): peak ${mib(sampler.peak)}; peak during the images ${mib(rssAfterImages)}; ` +
      `peak in the first fifth ${mib(firstFifth)}; at the end ${mib(samples.at(-1)?.rss ?? 0)}`,
  );
  const failures = [...all.failures, ...listAll.failures];
  const bounded = sampler.peak <= 1536 * 1024 * 1024;
  console.log('');
  console.log(
    `${failures.length === 0 ? 'ok  ' : 'FAIL'} every case ended in a defined outcome within the watchdog`,
  );
  for (const f of failures.slice(0, 20)) {
    const replay = f.label.startsWith('list ')
      ? `--only-list ${f.caseSeed} --kind ${f.label.split(' ')[1]}`
      : `--only ${f.caseSeed}`;
    console.log(`     ${f.label}: ${f.outcome} (replay: ${replay})`);
  }
  console.log(`${bounded ? 'ok  ' : 'FAIL'} memory bounded: peak ${mib(sampler.peak)} <= 1.5 GiB`);
  process.exit(failures.length === 0 && bounded ? 0 : 1);
}

void main();
