import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  cacheFilePath,
  readCheckState,
  readListCache,
  writeCheckState,
  writeListCache,
} from '../../../src/lists/cache';
import { createHashTypeResolver } from '../../../src/lists/entries';
import { ListErrorCodes } from '../../../src/lists/errors';
import { parsePublicKey, signManifest } from '../../../src/lists/keys';
import { type ListManifest, serializeManifest } from '../../../src/lists/manifest';
import {
  entryKeys,
  hashSet,
  makeEntries,
  newKey,
  tempDir,
  toSnapshot,
} from '../../integration/lists/helpers';

describe('persisted list copy', () => {
  const key = newKey();
  const trusted = [parsePublicKey(key.publicBase64)];
  const resolveType = createHashTypeResolver();
  const entries = [...makeEntries(30, 'a'), ...makeEntries(5, 'c', 'terror')];
  const manifest: ListManifest = {
    format: 'hashgate-list',
    protocol: 1,
    name: 'cached',
    version: 3,
    createdAt: '2026-01-01T00:00:00.000Z',
    counts: { pdq: 18, md5: 17 },
    snapshot: {
      path: 'snapshot-3.ndjson',
      sha256: 'b'.repeat(64),
      size: 1,
      compression: 'none',
      entries: 35,
    },
    deltas: [],
  };
  const manifestBytes = serializeManifest(manifest);
  const record = {
    manifestBytes,
    signatureBytes: signManifest(manifestBytes, [key.signing]),
    etag: '"abc"',
    savedAt: 1234,
    dropped: { degenerate: 2 },
  };
  let dir: { path: string; cleanup(): Promise<void> };
  let path: string;

  beforeEach(async () => {
    dir = await tempDir();
    path = cacheFilePath(dir.path, 'cached');
    const s = toSnapshot(entries, 'cached');
    await writeListCache(path, { ...s, version: 3 }, record);
  });
  afterEach(() => dir.cleanup());

  it('round-trips entries, categories and metadata', async () => {
    const c = await readListCache(path, { list: 'cached', trusted, resolveType });
    expect(c).not.toBeNull();
    expect(hashSet(c!.snapshot)).toEqual(entryKeys(entries));
    expect(c!.snapshot.version).toBe(3);
    expect([...c!.snapshot.categories].sort()).toEqual(['default', 'terror']);
    expect(c!.etag).toBe('"abc"');
    expect(c!.savedAt).toBe(1234);
    expect(c!.dropped).toEqual({ degenerate: 2 });
    expect(c!.manifestBytes).toEqual(manifestBytes);
  });

  it('returns null when there is no copy', async () => {
    expect(
      await readListCache(join(dir.path, 'none.hglist'), { list: 'none', trusted, resolveType }),
    ).toBeNull();
  });

  it('refuses a copy whose body was changed', async () => {
    const bytes = await readFile(path);
    bytes[bytes.length - 3]! ^= 0x01;
    await writeFile(path, bytes);
    await expect(readListCache(path, { list: 'cached', trusted, resolveType })).rejects.toMatchObject({
      code: ListErrorCodes.CACHE_INVALID,
    });
  });

  it('refuses a truncated copy', async () => {
    const bytes = await readFile(path);
    await writeFile(path, bytes.subarray(0, bytes.length - 8));
    await expect(readListCache(path, { list: 'cached', trusted, resolveType })).rejects.toMatchObject({
      code: ListErrorCodes.CACHE_INVALID,
    });
  });

  it('still reads a copy in the earlier NDJSON layout (a restart right after an upgrade)', async () => {
    const legacy = [
      { id: 'x1', type: 'md5', hash: 'ab'.repeat(16) },
      { id: 'x2', type: 'pdq', hash: '5a'.repeat(32), category: 'terror' },
    ];
    const body = `${legacy.map((e) => JSON.stringify(e)).join('\n')}\n`;
    const header = JSON.stringify({
      bodySha256: createHash('sha256').update(body).digest('hex'),
      format: 'hashgate-list-cache',
      cache: 1,
      list: 'cached',
      version: 3,
      entries: 2,
      savedAt: 777,
      etag: '"old"',
      dropped: {},
      manifest: manifestBytes.toString('base64'),
      signature: record.signatureBytes.toString('base64'),
    });
    await writeFile(path, `${header}\n${body}`);
    const c = await readListCache(path, { list: 'cached', trusted, resolveType });
    expect(hashSet(c!.snapshot)).toEqual(entryKeys(legacy));
    expect(c!.savedAt).toBe(777);
    await writeFile(path, `${header}\n${body.replace('x1', 'y1')}`);
    await expect(readListCache(path, { list: 'cached', trusted, resolveType })).rejects.toMatchObject({
      code: ListErrorCodes.CACHE_INVALID,
    });
  });

  it('keeps ids, categories and labels of every entry', async () => {
    const labelled = toSnapshot(
      [
        { id: 'ünïcode id', type: 'md5', hash: 'ab'.repeat(16), category: 'terror', labels: ['x', 'y z'] },
        { id: 'plain', type: 'md5', hash: 'cd'.repeat(16) },
      ],
      'cached',
    );
    await writeListCache(path, { ...labelled, version: 3 }, record);
    const c = await readListCache(path, { list: 'cached', trusted, resolveType });
    const md5 = c!.snapshot.byType.get('md5')!;
    expect([...md5.ids]).toEqual(['ünïcode id', 'plain']);
    expect(c!.snapshot.categories[md5.categories[0]!]).toBe('terror');
    expect(md5.labels.get(0)).toEqual(['x', 'y z']);
    expect(md5.labels.has(1)).toBe(false);
  });

  it('records a check of the copy and reads it back only for that copy', async () => {
    const sha = await writeListCache(path, { ...toSnapshot(entries, 'cached'), version: 3 }, record);
    await writeCheckState(path, { version: 3, cacheSha256: sha, checkedAt: 99_000, etag: '"def"' });
    expect(await readCheckState(path, 3, sha)).toEqual({
      version: 3,
      cacheSha256: sha,
      checkedAt: 99_000,
      etag: '"def"',
    });
    expect(await readCheckState(path, 4, sha)).toBeNull();
    expect(await readCheckState(path, 3, 'f'.repeat(64))).toBeNull();
    const c = await readListCache(path, { list: 'cached', trusted, resolveType });
    expect(c!.sha256).toBe(sha);
  });

  it('refuses a copy signed by a key that is no longer trusted', async () => {
    await expect(
      readListCache(path, { list: 'cached', trusted: [parsePublicKey(newKey().publicBase64)], resolveType }),
    ).rejects.toMatchObject({ code: ListErrorCodes.CACHE_INVALID });
  });

  it('refuses a copy of another list', async () => {
    await expect(readListCache(path, { list: 'other', trusted, resolveType })).rejects.toMatchObject({
      code: ListErrorCodes.CACHE_INVALID,
    });
  });

  it('keeps the old copy when the write fails before the rename', async () => {
    const before = await readFile(path);
    await expect(
      writeListCache(path, toSnapshot(makeEntries(3, 'z'), 'cached'), record, {
        beforeRename: () => {
          throw new Error('simulated crash');
        },
      }),
    ).rejects.toThrow('simulated crash');
    expect(await readFile(path)).toEqual(before);
  });
});
