import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cacheFilePath } from '../../../src/lists/cache';
import { ListErrorCodes } from '../../../src/lists/errors';
import { signManifest } from '../../../src/lists/keys';
import {
  createListSync,
  type ListSync,
  type ListSyncOptions,
  type ListUpdate,
} from '../../../src/lists/list-sync';
import {
  entryKeys,
  hashSet,
  makeEntries,
  manualTimers,
  newKey,
  publish,
  randomMd5,
  randomPdq,
  startTestServer,
  type TestEntry,
  type TestServer,
  tempDir,
  until,
  writeRawVersion,
} from './helpers';

const NAME = 'test-list';

describe('list sync over a real loopback server', () => {
  let listDir: { path: string; cleanup(): Promise<void> };
  let cacheDir: { path: string; cleanup(): Promise<void> };
  let server: TestServer;
  const key = newKey();
  const syncs: ListSync[] = [];

  beforeEach(async () => {
    listDir = await tempDir();
    cacheDir = await tempDir();
    server = await startTestServer(listDir.path);
  });

  afterEach(async () => {
    await Promise.all(syncs.splice(0).map((s) => s.stop()));
    await server.close();
    await listDir.cleanup();
    await cacheDir.cleanup();
  });

  function makeSync(extra: Partial<ListSyncOptions> = {}): ListSync {
    const sync = createListSync({
      name: NAME,
      source: { url: `${server.url}manifest.json` },
      publicKeys: [key.publicBase64],
      cacheDir: cacheDir.path,
      jitter: 0,
      ...extra,
    });
    syncs.push(sync);
    return sync;
  }

  it('accepts a signed list, delivers the snapshot and persists it', async () => {
    const entries = makeEntries(40);
    await publish(listDir.path, NAME, entries, [key]);
    const updates: ListUpdate[] = [];
    const sync = makeSync({ onUpdate: (u) => void updates.push(u) });
    const status = await sync.refresh();
    expect(status.version).toBe(1);
    expect(status.lastError).toBeNull();
    expect(status.entries.total).toBe(40);
    expect(status.entries.byType).toEqual({ md5: 20, pdq: 20 });
    expect(status.entries.byCategory).toEqual({ default: 40 });
    expect(status.stale).toBe(false);
    expect(status.keyId).toBe(key.signing.keyId);
    expect(updates).toHaveLength(1);
    expect(updates[0]!.previousVersion).toBeNull();
    expect(updates[0]!.added).toBeNull();
    expect(hashSet(updates[0]!.snapshot)).toEqual(entryKeys(entries));
    expect(await readdir(cacheDir.path)).toContain(`${NAME}.hglist`);
  });

  it('sends If-None-Match and treats 304 as a confirmed, unchanged list', async () => {
    await publish(listDir.path, NAME, makeEntries(4), [key]);
    let now = 1_000_000;
    const updates: ListUpdate[] = [];
    const sync = makeSync({ now: () => now, onUpdate: (u) => void updates.push(u) });
    await sync.refresh();
    now += 60_000;
    const status = await sync.refresh();
    const manifestRequests = server.requests.filter((r) => r.path === '/manifest.json');
    expect(manifestRequests).toHaveLength(2);
    expect(manifestRequests[1]!.ifNoneMatch).toBeDefined();
    expect(manifestRequests[1]!.status).toBe(304);
    expect(status.version).toBe(1);
    expect(status.lastSuccessAt).toBe(now);
    expect(updates).toHaveLength(1);
  });

  it('keeps the time of a 304 across a restart, so the restarted list is as fresh as it was', async () => {
    await publish(listDir.path, NAME, makeEntries(4), [key]);
    let now = 1_000_000;
    await makeSync({ now: () => now }).refresh();
    const saved = await readFile(cacheFilePath(cacheDir.path, NAME));
    now += 3_600_000;
    const second = makeSync({ now: () => now, timers: manualTimers() });
    await second.start();
    server.requests.length = 0;
    const confirmed = await second.refresh();
    expect(server.requests.map((r) => [r.path, r.status])).toEqual([['/manifest.json', 304]]);
    expect(confirmed.lastSuccessAt).toBe(now);
    // The persisted copy itself is not rewritten for a 304: only the small check record is.
    expect(await readFile(cacheFilePath(cacheDir.path, NAME))).toEqual(saved);

    now += 60_000;
    await server.close();
    const restarted = makeSync({ now: () => now, timers: manualTimers(), maxStalenessMs: 120_000 });
    const status = await restarted.start();
    expect(status.loadedFrom).toBe('cache');
    expect(status.lastSuccessAt).toBe(now - 60_000);
    expect(status.ageMs).toBe(60_000);
    expect(status.stale).toBe(false);
  });

  it('follows a delta chain and reports only the added hashes', async () => {
    const v1 = makeEntries(20, 'a');
    await publish(listDir.path, NAME, v1, [key]);
    const updates: ListUpdate[] = [];
    const sync = makeSync({ onUpdate: (u) => void updates.push(u) });
    await sync.refresh();

    const added2 = makeEntries(3, 'b');
    const v2 = [...v1.slice(2), ...added2];
    await publish(listDir.path, NAME, v2, [key]);
    const added3 = makeEntries(2, 'c');
    const v3 = [...v2.slice(1), ...added3];
    await publish(listDir.path, NAME, v3, [key]);

    server.requests.length = 0;
    const status = await sync.refresh();
    expect(status.version).toBe(3);
    const paths = server.requests.map((r) => r.path);
    expect(paths).toContain('/delta-1-2.ndjson.gz');
    expect(paths).toContain('/delta-2-3.ndjson.gz');
    expect(paths).not.toContain('/snapshot-3.ndjson.gz');
    const last = updates.at(-1)!;
    expect(hashSet(last.snapshot)).toEqual(entryKeys(v3));
    expect(last.previousVersion).toBe(1);
    const added = new Set<string>();
    for (const [type, t] of last.added!) {
      for (let i = 0; i < t.count; i++) {
        added.add(
          `${type}:${Buffer.from(t.hashes.subarray(i * t.hashBytes, (i + 1) * t.hashBytes)).toString('hex')}`,
        );
      }
    }
    expect(added).toEqual(entryKeys([...added2, ...added3]));
  });

  it('takes the snapshot when the client is further behind than the deltas reach', async () => {
    await publish(listDir.path, NAME, makeEntries(10, 'a'), [key], { keepDeltas: 1 });
    const sync = makeSync();
    await sync.refresh();
    await publish(listDir.path, NAME, makeEntries(12, 'b'), [key], { keepDeltas: 1 });
    const v3 = makeEntries(11, 'c');
    await publish(listDir.path, NAME, v3, [key], { keepDeltas: 1 });
    server.requests.length = 0;
    const status = await sync.refresh();
    expect(status.version).toBe(3);
    const paths = server.requests.map((r) => r.path);
    expect(paths).toContain('/snapshot-3.ndjson.gz');
    expect(paths.some((p) => p.startsWith('/delta-'))).toBe(false);
    expect(hashSet(sync.snapshot()!)).toEqual(entryKeys(v3));
  });

  describe('a bad envelope keeps the last good list and shows the error', () => {
    let sync: ListSync;
    let v1: TestEntry[];

    beforeEach(async () => {
      v1 = makeEntries(10, 'a');
      await publish(listDir.path, NAME, v1, [key]);
      sync = makeSync({ maxBytes: 64 * 1024, requestTimeoutMs: 500 });
      await sync.refresh();
      await publish(listDir.path, NAME, [...v1, ...makeEntries(5, 'b')], [key]);
    });

    async function expectKeptWithError(code: string): Promise<void> {
      const status = await sync.refresh();
      expect(status.lastError?.code).toBe(code);
      expect(status.version).toBe(1);
      expect(status.consecutiveFailures).toBe(1);
      expect(hashSet(sync.snapshot()!)).toEqual(entryKeys(v1));
      expect(status.lastError?.message).not.toMatch(/[0-9a-f]{32}/);
    }

    it('refuses a bad signature', async () => {
      const other = newKey();
      const manifest = await readFile(join(listDir.path, 'manifest.json'));
      await writeFile(join(listDir.path, 'manifest.json.sig'), signManifest(manifest, [other.signing]));
      await expectKeptWithError(ListErrorCodes.SIGNATURE_INVALID);
    });

    it('refuses a manifest changed after signing', async () => {
      const manifest = await readFile(join(listDir.path, 'manifest.json'), 'utf8');
      await writeFile(join(listDir.path, 'manifest.json'), manifest.replace('"version": 2', '"version": 3'));
      await expectKeptWithError(ListErrorCodes.SIGNATURE_INVALID);
    });

    it('refuses a file whose SHA-256 differs from the manifest', async () => {
      const path = join(listDir.path, 'delta-1-2.ndjson.gz');
      const bytes = await readFile(path);
      bytes[bytes.length - 5]! ^= 0xff;
      await writeFile(path, bytes);
      await expectKeptWithError(ListErrorCodes.FILE_HASH_MISMATCH);
    });

    it('refuses a truncated body', async () => {
      server.fault = (req, res) => {
        if (!req.url?.startsWith('/delta-')) return false;
        res.writeHead(200, { 'content-length': '5000', 'content-type': 'application/gzip' });
        res.write(Buffer.alloc(100));
        setTimeout(() => res.destroy(), 10);
        return true;
      };
      await expectKeptWithError(ListErrorCodes.TRUNCATED);
    });

    it('refuses a body that ends early without an error', async () => {
      server.fault = (req, res) => {
        if (!req.url?.startsWith('/delta-')) return false;
        res.writeHead(200, { 'content-type': 'application/gzip' });
        res.end(Buffer.alloc(10));
        return true;
      };
      await expectKeptWithError(ListErrorCodes.TRUNCATED);
    });

    it('refuses an oversize body while streaming it', async () => {
      server.fault = (req, res) => {
        if (req.url !== '/manifest.json') return false;
        res.writeHead(200, { 'content-type': 'application/json' });
        const chunk = Buffer.alloc(64 * 1024, 0x20);
        let sent = 0;
        const pump = (): void => {
          while (sent < 4 * 1024 * 1024) {
            sent += chunk.length;
            if (!res.write(chunk)) {
              res.once('drain', pump);
              return;
            }
          }
          res.end();
        };
        res.on('error', () => undefined);
        pump();
        return true;
      };
      await expectKeptWithError(ListErrorCodes.TOO_LARGE);
    });

    it('refuses a file larger than maxBytes before downloading it', async () => {
      await publish(listDir.path, NAME, makeEntries(3000, 'big'), [key], { keepDeltas: 0 });
      await expectKeptWithError(ListErrorCodes.TOO_LARGE);
    });

    it('refuses a manifest that is not JSON', async () => {
      server.fault = (req, res) => {
        if (req.url !== '/manifest.json') return false;
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end('<html>maintenance</html>');
        return true;
      };
      await expectKeptWithError(ListErrorCodes.MANIFEST_INVALID);
    });

    it('gives up on a slow server after the request timeout', async () => {
      server.fault = (req) => req.url === '/manifest.json';
      const t0 = Date.now();
      await expectKeptWithError(ListErrorCodes.TIMEOUT);
      expect(Date.now() - t0).toBeLessThan(3000);
    });

    it('refuses a version lower than the accepted one (rollback)', async () => {
      await sync.refresh();
      expect(sync.status().version).toBe(2);
      const old = await tempDir();
      try {
        await publish(old.path, NAME, makeEntries(3, 'z'), [key]);
        for (const f of ['manifest.json', 'manifest.json.sig', 'snapshot-1.ndjson.gz']) {
          await writeFile(join(listDir.path, f), await readFile(join(old.path, f)));
        }
      } finally {
        await old.cleanup();
      }
      const status = await sync.refresh();
      expect(status.lastError?.code).toBe(ListErrorCodes.ROLLBACK);
      expect(status.version).toBe(2);
    });
  });

  it('treats the same version as a no-op', async () => {
    await publish(listDir.path, NAME, makeEntries(4), [key]);
    const updates: ListUpdate[] = [];
    const sync = makeSync({ onUpdate: (u) => void updates.push(u) });
    await sync.refresh();
    // Re-sign the same manifest: new signature file, new ETag on the manifest, same version.
    const manifest = await readFile(join(listDir.path, 'manifest.json'));
    await writeFile(join(listDir.path, 'manifest.json'), Buffer.concat([manifest, Buffer.from('\n')]));
    await writeFile(
      join(listDir.path, 'manifest.json.sig'),
      signManifest(await readFile(join(listDir.path, 'manifest.json')), [key.signing]),
    );
    const status = await sync.refresh();
    expect(status.lastError).toBeNull();
    expect(status.version).toBe(1);
    expect(updates).toHaveLength(1);
  });

  it('backs off exponentially after a 500, with a cap, and recovers', async () => {
    await publish(listDir.path, NAME, makeEntries(6), [key]);
    const timers = manualTimers();
    let failures = 3;
    server.fault = (req, res) => {
      if (req.url !== '/manifest.json' || failures === 0) return false;
      failures--;
      res.writeHead(500);
      res.end();
      return true;
    };
    const sync = makeSync({
      timers,
      initialBackoffMs: 1000,
      maxBackoffMs: 1500,
      refreshIntervalMs: 60_000,
      requestTimeoutMs: 7777,
    });
    await sync.start();
    const delays: number[] = [];
    for (let i = 0; i < 4; i++) {
      const before = sync.status().lastCheckAt;
      timers.fire(i === 0 ? 0 : delays.at(-1));
      await until(() => sync.status().lastCheckAt !== before && timers.pending().some((t) => t.ms !== 7777));
      await until(() => !timers.pending().some((t) => t.ms === 7777));
      delays.push(timers.pending()[0]!.ms);
      if (i < 3) {
        expect(sync.status().lastError?.code).toBe(ListErrorCodes.HTTP_STATUS);
        expect(sync.status().version).toBeNull();
      }
    }
    expect(delays).toEqual([1000, 1500, 1500, 60_000]);
    expect(sync.status().version).toBe(1);
    expect(sync.status().lastError).toBeNull();
    expect(sync.status().consecutiveFailures).toBe(0);
  });

  it('drops corrupt entries, counts them by reason and keeps the rest', async () => {
    const good = makeEntries(4, 'g');
    const degenerate = '0'.repeat(64);
    const lines = [
      ...good.map((e) => JSON.stringify(e)),
      '{not json',
      JSON.stringify({ id: 'x1', type: 'photodna', hash: randomMd5() }),
      JSON.stringify({ id: 'x2', type: 'md5', hash: 'abc' }),
      JSON.stringify({ id: 'x3', type: 'md5', hash: 'zz'.repeat(16) }),
      JSON.stringify({ id: 'x4', type: 'pdq', hash: degenerate }),
      JSON.stringify({ id: 'g0', type: 'md5', hash: randomMd5() }),
      JSON.stringify({ id: 'x5', type: good[1]!.type, hash: good[1]!.hash.toUpperCase() }),
      JSON.stringify({ id: 'x6', type: 'md5', hash: randomMd5(), category: '\u0000bad' }),
      JSON.stringify({ type: 'md5', hash: randomMd5() }),
      JSON.stringify({ id: 'x7', type: 'md5', hash: randomMd5(), labels: 'not-an-array' }),
      JSON.stringify({ id: 'ok-upper', type: 'PDQ', hash: randomPdq().toUpperCase() }),
    ];
    await writeRawVersion(listDir.path, NAME, 1, lines, key, { pdq: 3, md5: 2 });
    const sync = makeSync();
    const status = await sync.refresh();
    expect(status.lastError).toBeNull();
    expect(status.entries.total).toBe(5);
    expect(status.dropped).toEqual({
      'invalid-json': 1,
      'unknown-type': 1,
      'wrong-length': 1,
      'not-hex': 1,
      degenerate: 1,
      'duplicate-id': 1,
      'duplicate-hash': 1,
      'invalid-category': 1,
      'invalid-id': 1,
      'invalid-labels': 1,
    });
  });

  it('serves the persisted list after a restart while the list server is down', async () => {
    const entries = makeEntries(12);
    await publish(listDir.path, NAME, entries, [key]);
    const first = makeSync();
    await first.refresh();
    await first.stop();
    await server.close();

    let fetchCalls = 0;
    const timers = manualTimers();
    const second = makeSync({
      timers,
      requestTimeoutMs: 7777,
      fetch: (url, init) => {
        fetchCalls++;
        return fetch(url, init) as never;
      },
    });
    const updates: ListUpdate[] = [];
    second.onUpdate((u) => void updates.push(u));
    const status = await second.start();
    expect(fetchCalls).toBe(0);
    expect(status.version).toBe(1);
    expect(status.loadedFrom).toBe('cache');
    expect(hashSet(second.snapshot()!)).toEqual(entryKeys(entries));
    expect(updates[0]?.origin).toBe('cache');

    const after = await second.refresh();
    expect(fetchCalls).toBe(1);
    expect(after.lastError?.code).toBe(ListErrorCodes.FETCH_FAILED);
    expect(after.version).toBe(1);
  });

  it('restarts with a conditional request using the persisted ETag', async () => {
    await publish(listDir.path, NAME, makeEntries(5), [key]);
    await makeSync().refresh();
    const second = makeSync({ timers: manualTimers() });
    await second.start();
    server.requests.length = 0;
    await second.refresh();
    expect(server.requests.map((r) => [r.path, r.status])).toEqual([['/manifest.json', 304]]);
  });

  it('keeps the previous persisted list when the process dies between the temp write and the rename', async () => {
    const v1 = makeEntries(8, 'a');
    await publish(listDir.path, NAME, v1, [key]);
    let crash = false;
    const sync = makeSync({
      atomicWriteHooks: {
        beforeRename: () => {
          if (crash) throw new Error('simulated crash before rename');
        },
      },
    });
    await sync.refresh();
    const persisted = await readFile(cacheFilePath(cacheDir.path, NAME));

    await publish(listDir.path, NAME, [...v1, ...makeEntries(4, 'b')], [key]);
    crash = true;
    const status = await sync.refresh();
    expect(status.version).toBe(2);
    expect(status.cacheError?.code).toBe(ListErrorCodes.CACHE_WRITE_FAILED);
    expect(await readFile(cacheFilePath(cacheDir.path, NAME))).toEqual(persisted);

    // A real crash would leave the temporary file behind: make one and restart.
    const leftover = join(cacheDir.path, `.${NAME}.hglist.tmp-999-deadbeef`);
    await writeFile(leftover, 'half-written');
    await writeFile(join(cacheDir.path, `.${NAME}.download-999-abc`), 'partial download');
    await writeFile(join(cacheDir.path, '.other-list.download-999-abc'), 'another list is downloading');
    await server.close();
    const restarted = makeSync({ timers: manualTimers() });
    const after = await restarted.start();
    expect(after.version).toBe(1);
    expect(hashSet(restarted.snapshot()!)).toEqual(entryKeys(v1));
    expect((await readdir(cacheDir.path)).sort()).toEqual(['.other-list.download-999-abc', `${NAME}.hglist`]);
  });

  it('ignores a corrupt persisted copy and reports it', async () => {
    await publish(listDir.path, NAME, makeEntries(8), [key]);
    await makeSync().refresh();
    const path = cacheFilePath(cacheDir.path, NAME);
    const bytes = await readFile(path);
    await writeFile(path, bytes.subarray(0, bytes.length - 40));
    const status = await makeSync({ timers: manualTimers() }).start();
    expect(status.version).toBeNull();
    expect(status.lastError?.code).toBe(ListErrorCodes.CACHE_INVALID);
    expect(status.stale).toBe(true);
  });

  it('accepts lists signed during and after a key rotation', async () => {
    const next = newKey();
    await publish(listDir.path, NAME, makeEntries(4, 'a'), [key]);
    const both = makeSync({ publicKeys: [key.publicPem, next.publicBase64] });
    const oldOnly = createListSync({
      name: NAME,
      source: { url: `${server.url}manifest.json` },
      publicKeys: [key.publicBase64],
      cacheDir: join(cacheDir.path, 'old-only'),
    });
    await mkdir(join(cacheDir.path, 'old-only'));
    syncs.push(oldOnly);
    await both.refresh();
    await oldOnly.refresh();
    await publish(listDir.path, NAME, makeEntries(5, 'b'), [key, next]);
    expect((await both.refresh()).version).toBe(2);
    expect((await oldOnly.refresh()).version).toBe(2);
    await publish(listDir.path, NAME, makeEntries(6, 'c'), [next]);
    const s = await both.refresh();
    expect(s.version).toBe(3);
    expect(s.keyId).toBe(next.signing.keyId);
    const refused = await oldOnly.refresh();
    expect(refused.version).toBe(2);
    expect(refused.lastError?.code).toBe(ListErrorCodes.SIGNATURE_INVALID);
  });

  it('passes only enabled categories to the snapshot and counts all of them', async () => {
    const csam = makeEntries(6, 'c', 'csam');
    const terror = makeEntries(4, 't', 'terror');
    const plain = makeEntries(2, 'd');
    await publish(listDir.path, NAME, [...csam, ...terror, ...plain], [key]);
    const sync = makeSync({ enabledCategories: ['csam'] });
    const status = await sync.refresh();
    expect(status.entries.byCategory).toEqual({ csam: 6, terror: 4, default: 2 });
    expect(status.enabledEntries).toBe(6);
    expect(status.enabledCategories).toEqual(['csam']);
    expect(hashSet(sync.snapshot()!)).toEqual(entryKeys(csam));
  });

  it('becomes stale when no check succeeded within maxStalenessMs', async () => {
    await publish(listDir.path, NAME, makeEntries(2), [key]);
    let now = 5_000_000;
    const sync = makeSync({ now: () => now, maxStalenessMs: 10_000 });
    await sync.refresh();
    expect(sync.status().stale).toBe(false);
    now += 10_001;
    expect(sync.status().stale).toBe(true);
    expect(sync.status().ageMs).toBe(10_001);
  });

  it('refuses a manifest of another list', async () => {
    await publish(listDir.path, 'other-list', makeEntries(2), [key]);
    const status = await makeSync().refresh();
    expect(status.lastError?.code).toBe(ListErrorCodes.NAME_MISMATCH);
  });

  it('stops without waiting for a slow server', async () => {
    await publish(listDir.path, NAME, makeEntries(2), [key]);
    server.fault = () => true;
    const sync = makeSync({ requestTimeoutMs: 60_000 });
    const pending = sync.refresh();
    await until(() => server.requests.length > 0);
    await sync.stop();
    const status = await pending;
    expect(status.lastError?.code).toBe(ListErrorCodes.ABORTED);
  });
});

describe('list sync options', () => {
  const key = newKey();

  it('requires https for hosts that are not loopback', () => {
    expect(() =>
      createListSync({
        name: 'x',
        source: { url: 'http://lists.example.org/x/manifest.json' },
        publicKeys: [key.publicBase64],
        cacheDir: '/tmp',
      }),
    ).toThrow(/https/);
    expect(() =>
      createListSync({
        name: 'x',
        source: { url: 'http://lists.example.org/x/' },
        publicKeys: [key.publicBase64],
        cacheDir: '/tmp',
        allowInsecureHttp: true,
      }),
    ).not.toThrow();
  });

  it('requires trusted keys and a cache folder for url sources', () => {
    expect(() =>
      createListSync({ name: 'x', source: { url: 'https://a.example/' }, cacheDir: '/tmp' }),
    ).toThrow(/publicKeys/);
    expect(() =>
      createListSync({ name: 'x', source: { url: 'https://a.example/' }, publicKeys: [key.publicBase64] }),
    ).toThrow(/cacheDir/);
  });

  it('refuses a list name that is not a safe file name', () => {
    expect(() =>
      createListSync({ name: '../etc', source: { file: '/x', format: 'text', hashType: 'md5' } }),
    ).toThrow(/name/);
  });
});
