/**
 * A few hundred seeded fuzz cases for CI (the thousands are `npm run bench:fuzz`): mutated
 * fixture images through the real hasher and worker pool, mutated list files through the real
 * parsers. Each case must end in a defined outcome — hashes, an unavailable reason or a stable
 * error code — within the watchdog. Set HASHGATE_FUZZ_SEED to explore other seeds; a failure
 * names the case seed, which `npm run bench:fuzz -- --only <seed>` (or `--only-list <seed> --kind
 * <kind>`) replays.
 */

import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
  type SeedImage,
  seedImages,
  validListText,
} from '../../bench/lib/ops-fuzz';
import { createHasher, type Hasher } from '../../src/hashing/hasher';
import { createHashTypeResolver } from '../../src/lists/entries';
import { readLocalList } from '../../src/lists/formats';

const SEED = Number(process.env.HASHGATE_FUZZ_SEED ?? 20_261_128);
const IMAGE_CASES = 160;
const LIST_CASES_PER_KIND = 40;
const WATCHDOG_MS = 20_000;

const fixtures = join(__dirname, '../fixtures/images');

describe('fuzzing the decode-and-hash path', () => {
  let hasher: Hasher;
  let seeds: SeedImage[];
  beforeAll(async () => {
    // The small fixtures keep the run short; the larger ones are covered by bench:fuzz.
    const files = readdirSync(fixtures)
      .filter((f) => /\.(jpe?g|png)$/i.test(f))
      .sort()
      .map((f) => ({ name: f, bytes: readFileSync(join(fixtures, f)) }))
      .filter((f) => f.bytes.length < 150_000);
    seeds = await seedImages(files);
    hasher = createHasher({ workers: 2, timeoutMs: 5_000, maxPixels: 50_000_000 });
  });
  afterAll(() => hasher.close());

  it('gives every mutated image a defined outcome within the time limit', async () => {
    const failures: string[] = [];
    const seen = new Set<string>();
    let next = 0;
    await Promise.all(
      Array.from({ length: 3 }, async () => {
        while (next < IMAGE_CASES) {
          const s = caseSeed(SEED, next++);
          const rng = new Rng(s);
          const seed = rng.pick(seeds);
          const mutation = rng.pick(IMAGE_MUTATIONS);
          const bytes = mutateImage(rng, seed, rng.pick(seeds), mutation);
          const { outcome, failure } = await hashOutcome(hasher, bytes, WATCHDOG_MS);
          seen.add(outcome);
          if (failure) failures.push(`${seed.format} ${mutation}: ${outcome} (case seed ${s})`);
        }
      }),
    );
    expect(failures).toEqual([]);
    // The mutations reach past the sniffer and the decoder: some still hash, some do not decode.
    expect(seen).toContain('pdq=ok blockhash=ok');
    expect(seen).toContain('pdq=undecodable blockhash=undecodable');
  });

  it('refuses a decompression bomb by its pixel limit without decoding it', async () => {
    const { outcome } = await hashOutcome(hasher, pngBomb(), WATCHDOG_MS);
    expect(outcome).toBe('pdq=too-large blockhash=too-large');
  });
});

describe('fuzzing the list parsers', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'hashgate-fuzz-test-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each(['ndjson', 'text', 'threatexchange', 'threatexchange-csv'] as const)(
    'reads an unmutated %s list with nothing dropped but what the format itself drops',
    async (kind) => {
      const rng = new Rng(SEED);
      const path = join(dir, `clean.${kind}`);
      writeFileSync(path, validListText(rng, kind));
      const { snapshot, dropped } = await readLocalList(
        path,
        { list: 'clean', version: 1, createdAt: new Date(0).toISOString() },
        {
          format: kind,
          resolveType: createHashTypeResolver(),
          ...(kind === 'text' ? { hashType: 'md5' } : {}),
        },
      );
      expect([...snapshot.byType.values()].reduce((n, t) => n + t.count, 0)).toBeGreaterThan(0);
      // threatexchange lists name signal types hashgate does not enforce (url) and negative opinions.
      const allowed = ['unsupported-type', 'negative-opinion', 'duplicate-hash', 'degenerate'];
      expect(Object.keys(dropped).filter((r) => !allowed.includes(r))).toEqual([]);
    },
  );

  it.each(LIST_KINDS)(
    'gives every mutated %s file a defined outcome: parsed with drops counted, or refused with a stable code',
    async (kind) => {
      const manifest = manifestSeed();
      const failures: string[] = [];
      for (let i = 0; i < LIST_CASES_PER_KIND; i++) {
        const s = caseSeed(SEED + LIST_KINDS.indexOf(kind), i);
        const rng = new Rng(s);
        const mutation = rng.pick(LIST_MUTATIONS);
        const { outcome, failure } = await listOutcome(rng, kind, mutation, dir, manifest, WATCHDOG_MS);
        if (failure) failures.push(`${kind} ${mutation}: ${outcome} (case seed ${s})`);
      }
      expect(failures).toEqual([]);
    },
  );
});
