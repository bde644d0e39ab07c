import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { readPublishedList } from '../../../src/lists/publisher';
import { syntheticImage } from '../../helpers/images';

const run = promisify(execFile);
const BIN = resolve(__dirname, '../../../dist/cli/main.js');

describe('hashgate list build with images', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'hashgate-listimg-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('hashes images by their bytes and publishes their hashes', async () => {
    await run(process.execPath, [BIN, 'keygen', '--out', join(dir, 'k')]);
    writeFileSync(join(dir, 'photo.bin'), await syntheticImage(320, 240, 'jpeg', 4)); // an image with no image extension
    writeFileSync(join(dir, 'other.png'), await syntheticImage(300, 200, 'png', 9));
    writeFileSync(join(dir, 'hashes.txt'), `md5 ${'ab'.repeat(16)}\n`);
    const { stderr } = await run(process.execPath, [
      BIN,
      'list',
      'build',
      join(dir, 'photo.bin'),
      join(dir, 'other.png'),
      join(dir, 'hashes.txt'),
      '--name',
      'own',
      '--out',
      join(dir, 'list'),
      '--key',
      join(dir, 'k.key'),
      '--image-hashes',
      'sha256,pdq',
    ]);
    expect(stderr).toContain('hashed 2 images');
    const published = await readPublishedList(join(dir, 'list'));
    expect(published).toBeDefined();
    const counts = Object.fromEntries([...published!.snapshot.byType].map(([t, e]) => [t, e.count]));
    expect(counts).toEqual({ md5: 1, pdq: 2, sha256: 2 });
  });
});
