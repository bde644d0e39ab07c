import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { syntheticImage } from '../../helpers/images';
import { FIXTURES } from '../../helpers/vectors';

const run = promisify(execFile);
const BIN = resolve(__dirname, '../../../dist/cli/main.js');

async function hashgate(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], { maxBuffer: 1 << 24 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('hashgate hash', () => {
  let dir: string;
  const photo = join(FIXTURES, 'images/bridge-mods__aaa-orig.jpg');

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hashgate-cli-'));
    mkdirSync(join(dir, 'nested/deeper'), { recursive: true });
    writeFileSync(join(dir, 'a.jpg'), await syntheticImage(200, 150, 'jpeg', 1));
    writeFileSync(join(dir, 'nested/b.png'), await syntheticImage(180, 120, 'png', 2));
    writeFileSync(join(dir, 'nested/deeper/c.txt'), 'not an image');
    writeFileSync(join(dir, '.hidden.jpg'), 'hidden');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('prints every hash of a photo as text, with the reference PDQ value', async () => {
    const { code, stdout } = await hashgate('hash', photo);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^ {2}md5 +d35c785545392755e7e4164457657269$/m);
    // PDQ of this file decoded by sharp equals the reference's full-resolution hash
    expect(stdout).toMatch(
      /^ {2}pdq +f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22 {2}quality 100, fullres, 1600x1004$/m,
    );
    expect(stdout).toMatch(/^ {2}blockhash +[0-9a-f]{64} {2}precise-16, 1600x1004$/m);
  });

  it('walks folders recursively in name order and skips hidden entries', async () => {
    const { code, stdout } = await hashgate('hash', '--json', dir);
    expect(code).toBe(0);
    const rows = stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { file: string; unavailable: { reason: string }[] });
    expect(rows.map((r) => r.file)).toEqual([
      join(dir, 'a.jpg'),
      join(dir, 'nested/b.png'),
      join(dir, 'nested/deeper/c.txt'),
    ]);
    expect(rows[2]!.unavailable.map((u) => u.reason)).toEqual(['not-an-image', 'not-an-image']);
  });

  it('prints python-threatexchange lines, all eight variants with --dihedral', async () => {
    const plain = await hashgate('hash', '--format', 'threatexchange', photo);
    expect(plain.stdout).toBe('pdq f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22\n');
    const all = await hashgate('hash', '--format', 'threatexchange', '--dihedral', photo);
    const lines = all.stdout.trim().split('\n');
    expect(lines).toHaveLength(8);
    for (const line of lines) expect(line).toMatch(/^pdq [0-9a-f]{64}$/);
  });

  it('applies the cli512 convention when asked', async () => {
    const { stdout } = await hashgate('hash', '--json', '--convention', 'cli512', photo);
    const row = JSON.parse(stdout) as {
      hashes: { type: string; hex: string; provenance: { convention: string; width: number } }[];
    };
    const pdq = row.hashes.find((h) => h.type === 'pdq')!;
    expect(pdq.provenance).toMatchObject({ convention: 'cli512', width: 512 });
    expect(pdq.hex).toBe('d8f8f0cee0f4a84f0637022a078f67f0b36e2ed596621e1d33e6339c4e9c9b22');
  });

  it('exits 1 and names a missing input, after hashing the others', async () => {
    const { code, stdout, stderr } = await hashgate('hash', photo, join(dir, 'missing.jpg'));
    expect(code).toBe(1);
    expect(stderr).toContain('missing.jpg: not found');
    expect(stdout).toContain('bridge-mods__aaa-orig.jpg');
  });

  it('exits 2 on bad usage', async () => {
    expect((await hashgate('hash', '--format', 'xml', photo)).code).toBe(2);
    expect((await hashgate('hash', '--min-quality', '500', photo)).code).toBe(2);
    expect((await hashgate('hash', '--nope', photo)).code).toBe(2);
    expect((await hashgate('hash')).code).toBe(2);
  });

  it('documents its exit codes in --help', async () => {
    const { code, stdout } = await hashgate('hash', '--help');
    expect(code).toBe(0);
    expect(stdout).toContain('Exit codes:');
  });
});
