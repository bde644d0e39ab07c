/**
 * PDQ through hashgate's own decoder (sharp) on the reference's original test files: Meta's rule of
 * thumb for a correct port is distance <= 10 to the reference for images of quality >= 80.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { hashTypes } from '../../../src/hashing/hash-types';
import { createHasher, type Hasher } from '../../../src/hashing/hasher';
import { FIXTURES, requireSharedVectors } from '../../helpers/vectors';

interface Expected {
  key: string; // e.g. bridge-mods__aaa-orig
  hex: string;
  quality: number;
}

function expectedByKey(): Map<string, Expected> {
  const csv = readFileSync(join(FIXTURES, 'pdq/expected-decoded-png.csv'), 'utf8')
    .trim()
    .split('\n')
    .slice(1);
  const out = new Map<string, Expected>();
  for (const line of csv) {
    const [pngPath, , , hex, quality] = line.split(',');
    const key = pngPath!.replace(/^decoded-png\//, '').replace(/\.png$/, '');
    out.set(key, { key, hex: hex!, quality: Number(quality) });
  }
  return out;
}

async function distances(
  hasher: Hasher,
  files: { key: string; path: string }[],
  expected: Map<string, Expected>,
) {
  const rows: { key: string; distance: number; quality: number }[] = [];
  for (const { key, path } of files) {
    const want = expected.get(key);
    if (!want) continue;
    const outcome = await hasher.hash({ path });
    const pdq = outcome.hashes.find((h) => h.type === 'pdq');
    const distance = pdq
      ? hashTypes.pdq.distance(hashTypes.pdq.parse(pdq.hex), hashTypes.pdq.parse(want.hex))
      : Number.NaN;
    rows.push({ key, distance, quality: want.quality });
  }
  return rows;
}

function report(label: string, rows: { key: string; distance: number; quality: number }[]): void {
  const hist = new Map<string, number>();
  for (const r of rows) {
    const bucket = Number.isNaN(r.distance)
      ? 'no hash'
      : r.distance === 0
        ? '0'
        : r.distance <= 2
          ? '1-2'
          : r.distance <= 5
            ? '3-5'
            : r.distance <= 10
              ? '6-10'
              : '>10';
    hist.set(bucket, (hist.get(bucket) ?? 0) + 1);
  }
  const order = ['0', '1-2', '3-5', '6-10', '>10', 'no hash'];
  console.log(
    `${label}: PDQ distance to the reference over ${rows.length} files: ${order
      .filter((b) => hist.has(b))
      .map((b) => `${b}: ${hist.get(b)}`)
      .join(', ')}`,
  );
}

describe('PDQ on the original files through sharp', () => {
  let hasher: Hasher;
  const expected = expectedByKey();
  beforeAll(() => {
    hasher = createHasher({ workers: 0, pdq: { minQuality: 0 } });
  });
  afterAll(() => hasher.close());

  it('is within distance 10 of the reference for the fixture images of quality >= 80', async () => {
    const files = readdirSync(join(FIXTURES, 'images')).map((f) => ({
      key: f.replace(/\.[a-z]+$/, ''),
      path: join(FIXTURES, 'images', f),
    }));
    const rows = await distances(hasher, files, expected);
    report('fixtures', rows);
    expect(rows.length).toBeGreaterThanOrEqual(15);
    for (const r of rows.filter((x) => x.quality >= 80))
      expect({ key: r.key, distance: r.distance <= 10 }).toEqual({ key: r.key, distance: true });
  });

  it('is within distance 10 of the reference for every original of quality >= 80 when the shared vectors are present', async () => {
    const dir = requireSharedVectors('PDQ originals full set');
    if (!dir) return;
    const root = join(dir, 'pdq/images');
    const files: { key: string; path: string }[] = [];
    const walk = (rel: string): void => {
      for (const name of readdirSync(join(root, rel), { withFileTypes: true })) {
        const r = rel ? `${rel}/${name.name}` : name.name;
        if (name.isDirectory()) walk(r);
        else if (/\.(jpe?g|png|webp)$/i.test(name.name))
          files.push({ key: r.replace(/\//g, '__').replace(/\.[a-z]+$/i, ''), path: join(root, r) });
      }
    };
    walk('');
    expect(existsSync(root)).toBe(true);
    const rows = await distances(hasher, files, expected);
    report('shared vectors', rows);
    expect(rows.length).toBeGreaterThanOrEqual(40);
    const far = rows.filter((r) => r.quality >= 80 && !(r.distance <= 10));
    expect(far).toEqual([]);
  });
});
