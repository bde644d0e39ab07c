import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { type ListServer, startListServer } from '../../../src/lists/list-server';
import { tempDir } from './helpers';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

function get(
  server: ListServer,
  path: string,
  headers: Record<string, string> = {},
  method = 'GET',
): Promise<Reply> {
  return new Promise((ok, fail) => {
    const req = request({ host: '127.0.0.1', port: server.port, path, method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        ok({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      );
    });
    req.on('error', fail);
    req.end();
  });
}

describe('list server', () => {
  let root: { path: string; cleanup(): Promise<void> };
  let outside: { path: string; cleanup(): Promise<void> };
  let server: ListServer;
  const manifest = JSON.stringify({ format: 'hashgate-list', padding: 'x'.repeat(1000) });

  beforeAll(async () => {
    root = await tempDir();
    outside = await tempDir();
    await writeFile(join(root.path, 'manifest.json'), manifest);
    await writeFile(join(root.path, 'snapshot-1.ndjson.gz'), Buffer.from([0x1f, 0x8b, 1, 2, 3]));
    await writeFile(join(root.path, 'small.ndjson'), '{}\n');
    await writeFile(join(root.path, '.private.key'), 'secret');
    await mkdir(join(root.path, 'sub'));
    await writeFile(join(outside.path, 'secret.txt'), 'outside');
    await symlink(join(outside.path, 'secret.txt'), join(root.path, 'link.txt'));
    server = await startListServer({ root: root.path });
  });

  afterAll(async () => {
    await server.close();
    await root.cleanup();
    await outside.cleanup();
  });

  it('serves files with content types and a strong ETag', async () => {
    const r = await get(server, '/manifest.json');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(r.headers.etag).toMatch(/^"[0-9a-f-]+"$/);
    expect(r.headers['content-length']).toBe(String(manifest.length));
    expect(r.body.toString()).toBe(manifest);
    expect((await get(server, '/snapshot-1.ndjson.gz')).headers['content-type']).toBe('application/gzip');
    expect((await get(server, '/small.ndjson')).headers['content-type']).toBe(
      'application/x-ndjson; charset=utf-8',
    );
  });

  it('gives a rewritten small file of the same size a new ETag, however soon it was rewritten', async () => {
    const path = join(root.path, 'same-size.json');
    await writeFile(path, '{"version":1}');
    const first = await get(server, '/same-size.json');
    await writeFile(path, '{"version":2}');
    const r = await get(server, '/same-size.json', { 'if-none-match': first.headers.etag as string });
    expect(r.status).toBe(200);
    expect(r.body.toString()).toBe('{"version":2}');
  });

  it('answers 304 to a matching If-None-Match', async () => {
    const first = await get(server, '/manifest.json');
    const etag = first.headers.etag as string;
    const r = await get(server, '/manifest.json', { 'if-none-match': `"other", ${etag}` });
    expect(r.status).toBe(304);
    expect(r.body.length).toBe(0);
    expect(r.headers.etag).toBe(etag);
    expect((await get(server, '/manifest.json', { 'if-none-match': '"other"' })).status).toBe(200);
  });

  it('gzips compressible files when the client accepts it, never .gz files', async () => {
    const r = await get(server, '/manifest.json', { 'accept-encoding': 'br, gzip' });
    expect(r.headers['content-encoding']).toBe('gzip');
    expect(r.headers.vary).toBe('Accept-Encoding');
    expect(r.headers.etag).toMatch(/-gz"$/);
    expect(gunzipSync(r.body).toString()).toBe(manifest);
    const again = await get(server, '/manifest.json', {
      'accept-encoding': 'gzip',
      'if-none-match': r.headers.etag as string,
    });
    expect(again.status).toBe(304);
    expect(
      (await get(server, '/manifest.json', { 'accept-encoding': 'gzip;q=0' })).headers['content-encoding'],
    ).toBeUndefined();
    const gz = await get(server, '/snapshot-1.ndjson.gz', { 'accept-encoding': 'gzip' });
    expect(gz.headers['content-encoding']).toBeUndefined();
    expect(gz.body).toEqual(Buffer.from([0x1f, 0x8b, 1, 2, 3]));
  });

  it('answers HEAD without a body and refuses other methods', async () => {
    const head = await get(server, '/manifest.json', {}, 'HEAD');
    expect(head.status).toBe(200);
    expect(head.body.length).toBe(0);
    const post = await get(server, '/manifest.json', {}, 'POST');
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe('GET, HEAD');
  });

  it.each([
    '/../' + 'etc/passwd',
    '/%2e%2e/%2e%2e/etc/passwd',
    '/sub/..%2f..%2fetc%2fpasswd',
    '/.private.key',
    '/link.txt',
    '/sub',
    '/',
    '/missing.json',
    '/%00manifest.json',
    '/sub%5c..%5cmanifest.json',
  ])('does not serve %s', async (path) => {
    const r = await get(server, path);
    expect([400, 404]).toContain(r.status);
    expect(r.body.toString()).not.toContain('outside');
    expect(r.body.toString()).not.toContain('secret');
  });
});
