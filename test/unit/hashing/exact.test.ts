import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ExactHasher, exactHashesOfBuffer, exactHashesOfFile } from '../../../src/hashing/exact';

describe('exact hashes', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'hashgate-exact-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('match the published digests of "abc"', () => {
    expect(exactHashesOfBuffer(Buffer.from('abc'))).toEqual({
      md5: '900150983cd24fb0d6963f7d28e17f72',
      sha1: 'a9993e364706816aba3e25717850c26c9cd0d89d',
      sha256: 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
      size: 3,
    });
  });

  it('match the published digests of the empty input', () => {
    expect(exactHashesOfBuffer(new Uint8Array(0))).toEqual({
      md5: 'd41d8cd98f00b204e9800998ecf8427e',
      sha1: 'da39a3ee5e6b4b0d3255bfef95601890afd80709',
      sha256: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
      size: 0,
    });
  });

  it('are the same streamed from a file as computed from the buffer', async () => {
    const data = randomBytes(5 * 1024 * 1024 + 123);
    const path = join(dir, 'random.bin');
    writeFileSync(path, data);
    expect(await exactHashesOfFile(path)).toEqual(exactHashesOfBuffer(data));
  });

  it('are the same fed in uneven chunks as in one piece', () => {
    const data = randomBytes(100_000);
    const h = new ExactHasher();
    for (let i = 0; i < data.length; i += 7777) h.update(data.subarray(i, i + 7777));
    expect(h.digest()).toEqual(exactHashesOfBuffer(data));
  });

  it('stop reading a file past the byte limit with ERR_HASHGATE_INPUT_TOO_LARGE', async () => {
    const path = join(dir, 'big.bin');
    writeFileSync(path, randomBytes(3 * 1024 * 1024));
    await expect(exactHashesOfFile(path, 1024 * 1024)).rejects.toMatchObject({
      code: 'ERR_HASHGATE_INPUT_TOO_LARGE',
    });
  });

  it('report a missing file as ERR_HASHGATE_READ_FAILED without its path', async () => {
    const path = join(dir, 'secret-name-missing.jpg');
    const err = await exactHashesOfFile(path).catch((e: Error) => e);
    expect(err).toMatchObject({ code: 'ERR_HASHGATE_READ_FAILED' });
    expect((err as Error).message).not.toContain('secret-name');
  });

  it('refuse more chunks after the digest', () => {
    const h = new ExactHasher();
    h.digest();
    expect(() => h.update(Buffer.from('x'))).toThrow();
  });
});
