import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cacheFilePath, readListCache, writeListCache } from '../../../src/lists/cache';
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
    const text = await readFile(path, 'utf8');
    const lines = text.split('\n');
    lines[3] = lines[3]!.replace(/"id":"[^"]+"/, '"id":"changed"');
    await writeFile(path, lines.join('\n'));
    await expect(readListCache(path, { list: 'cached', trusted, resolveType })).rejects.toMatchObject({
      code: ListErrorCodes.CACHE_INVALID,
    });
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
