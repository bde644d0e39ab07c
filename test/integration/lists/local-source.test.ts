import { rm, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ListErrorCodes } from '../../../src/lists/errors';
import { createListSync, type ListUpdate } from '../../../src/lists/list-sync';
import { hashSet, manualTimers, randomMd5, randomPdq, tempDir, until } from './helpers';

describe('local file lists', () => {
  let dir: { path: string; cleanup(): Promise<void> };
  beforeEach(async () => {
    dir = await tempDir();
  });
  afterEach(() => dir.cleanup());

  it('loads the file at start and re-reads it when it changes', async () => {
    const path = join(dir.path, 'own.txt');
    const a = randomPdq();
    const b = randomPdq();
    await writeFile(path, `pdq ${a}\n`);
    await utimes(path, new Date(1_700_000_000_000), new Date(1_700_000_000_000));
    const timers = manualTimers();
    const updates: ListUpdate[] = [];
    const sync = createListSync({
      name: 'own',
      source: { file: path, format: 'threatexchange', category: 'own-incidents' },
      timers,
      jitter: 0,
      pollIntervalMs: 1000,
      onUpdate: (u) => void updates.push(u),
    });
    const status = await sync.start();
    expect(status.version).toBe(1_700_000_000_000);
    expect(status.loadedFrom).toBe('file');
    expect(status.entries.byCategory).toEqual({ 'own-incidents': 1 });
    expect(timers.pending().map((t) => t.ms)).toEqual([1000]);

    // Unchanged: no update.
    timers.fire(1000);
    await until(() => timers.pending().length === 1 && sync.status().lastCheckAt !== status.lastCheckAt);
    expect(updates).toHaveLength(1);

    await writeFile(path, `pdq ${a}\npdq ${b}\nurl https://example.org\n`);
    await utimes(path, new Date(1_700_000_005_000), new Date(1_700_000_005_000));
    timers.fire(1000);
    await until(() => updates.length === 2);
    const u = updates[1]!;
    expect(u.snapshot.version).toBe(1_700_000_005_000);
    expect(hashSet(u.snapshot)).toEqual(new Set([`pdq:${a}`, `pdq:${b}`]));
    expect(u.added && hashSet({ ...u.snapshot, byType: u.added })).toEqual(new Set([`pdq:${b}`]));
    expect(sync.status().dropped).toEqual({ 'unsupported-type': 1 });
    await sync.stop();
  });

  it('keeps the last good list when the file disappears', async () => {
    const path = join(dir.path, 'list.txt');
    await writeFile(path, `${randomMd5()}\n`);
    const timers = manualTimers();
    const sync = createListSync({
      name: 'l',
      source: { file: path, format: 'text', hashType: 'md5' },
      timers,
      jitter: 0,
    });
    await sync.start();
    await rm(path);
    const status = await sync.refresh();
    expect(status.version).not.toBeNull();
    expect(status.entries.total).toBe(1);
    expect(status.lastError?.code).toBe(ListErrorCodes.SOURCE_READ_FAILED);
    await sync.stop();
  });

  it('validates the options of a local list', () => {
    expect(() => createListSync({ name: 'l', source: { file: 'x', format: 'text' } })).toThrow(/hashType/);
    expect(() => createListSync({ name: 'l', source: { file: 'x', format: 'csv' as never } })).toThrow(
      /format/,
    );
    expect(() =>
      createListSync({ name: 'l', source: { file: 'x', format: 'text', hashType: 'crc32' } }),
    ).toThrow(/hashType/);
  });
});
