/**
 * Owns the static list server: serves a published list directory over node:http with ETag and
 * If-None-Match (304), gzip when the client accepts it, correct content types, and no way out of
 * the directory. For development and for a company publishing its own list; any static web
 * server or CDN works as well.
 */

import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, realpath, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, resolve, sep } from 'node:path';
import { pipeline, Readable } from 'node:stream';
import { createGzip } from 'node:zlib';

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.json': 'application/json; charset=utf-8',
  '.sig': 'application/json; charset=utf-8',
  '.ndjson': 'application/x-ndjson; charset=utf-8',
  '.jsonl': 'application/x-ndjson; charset=utf-8',
  '.gz': 'application/gzip',
  '.txt': 'text/plain; charset=utf-8',
  '.csv': 'text/csv; charset=utf-8',
};
const COMPRESSIBLE = new Set(['.json', '.sig', '.ndjson', '.jsonl', '.txt', '.csv']);
const GZIP_MIN_BYTES = 256;
/** Files up to this size get an ETag from their content rather than their size and time. */
const CONTENT_TAG_MAX_BYTES = 1024 * 1024;

/** True when the Accept-Encoding header accepts gzip (q > 0). */
function acceptsGzip(header: string | undefined): boolean {
  if (!header) return false;
  for (const part of header.split(',')) {
    const [coding, ...params] = part.trim().split(';');
    if (coding?.trim().toLowerCase() !== 'gzip' && coding?.trim() !== '*') continue;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    return q === undefined || Number(q.slice(2)) > 0;
  }
  return false;
}

/** True when an If-None-Match header matches `etag` (weak comparison, as RFC 9110 requires for it). */
function etagMatches(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  const bare = etag.replace(/^W\//, '');
  return header.split(',').some((t) => {
    const v = t.trim();
    return v === '*' || v.replace(/^W\//, '') === bare;
  });
}

function send(res: ServerResponse, status: number, text: string, extra: Record<string, string> = {}): void {
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'x-content-type-options': 'nosniff',
    ...extra,
  });
  res.end(`${text}\n`);
}

/**
 * A request handler serving the files under `root`. Paths with `..`, a segment starting with a
 * dot (hidden files such as keys or temporary files), a backslash or a NUL, and anything whose
 * real path leaves `root` (symlinks) answer 404.
 */
export function createListRequestHandler(root: string): (req: IncomingMessage, res: ServerResponse) => void {
  const rootAbs = resolve(root);
  let realRoot: Promise<string> | null = null;
  return (req, res) => {
    void (async () => {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        send(res, 405, 'Method Not Allowed', { allow: 'GET, HEAD' });
        return;
      }
      let pathname: string;
      try {
        pathname = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
      } catch {
        send(res, 400, 'Bad Request');
        return;
      }
      const segments = pathname.split('/').filter((s) => s !== '');
      if (
        segments.length === 0 ||
        pathname.includes('\0') ||
        pathname.includes('\\') ||
        segments.some((s) => s.startsWith('.'))
      ) {
        send(res, 404, 'Not Found');
        return;
      }
      realRoot ??= realpath(rootAbs);
      let file: string;
      let info: Awaited<ReturnType<typeof stat>>;
      try {
        const base = await realRoot;
        file = await realpath(resolve(rootAbs, ...segments));
        if (!file.startsWith(base + sep)) throw new Error('outside the root');
        info = await stat(file);
        if (!info.isFile()) throw new Error('not a file');
      } catch {
        send(res, 404, 'Not Found');
        return;
      }
      const ext = extname(file).toLowerCase();
      const gzip =
        COMPRESSIBLE.has(ext) && info.size >= GZIP_MIN_BYTES && acceptsGzip(req.headers['accept-encoding']);
      // Small files (the manifest and its signature) are tagged by their content: a new version
      // of the same size written within one timestamp tick must not look unchanged. Large files
      // are versioned by name and never rewritten, so size and time tag them well enough.
      let content: Buffer | null = null;
      let tag: string;
      if (info.size <= CONTENT_TAG_MAX_BYTES) {
        content = await readFile(file);
        tag = createHash('sha256').update(content).digest('hex').slice(0, 32);
      } else {
        tag = `${info.size.toString(16)}-${Math.floor(info.mtimeMs).toString(16)}`;
      }
      const etag = gzip ? `"${tag}-gz"` : `"${tag}"`;
      const headers: Record<string, string> = {
        etag,
        'last-modified': info.mtime.toUTCString(),
        'cache-control': 'no-cache',
        'x-content-type-options': 'nosniff',
      };
      if (COMPRESSIBLE.has(ext)) headers.vary = 'Accept-Encoding';
      if (etagMatches(req.headers['if-none-match'], etag)) {
        res.writeHead(304, headers);
        res.end();
        return;
      }
      headers['content-type'] = CONTENT_TYPES[ext] ?? 'application/octet-stream';
      if (gzip) headers['content-encoding'] = 'gzip';
      else headers['content-length'] = String(content ? content.length : info.size);
      res.writeHead(200, headers);
      if (req.method === 'HEAD') {
        res.end();
        return;
      }
      const body = content ? Readable.from([content]) : createReadStream(file);
      const done = (err: NodeJS.ErrnoException | null): void => {
        if (err) res.destroy();
      };
      if (gzip) pipeline(body, createGzip(), res, done);
      else pipeline(body, res, done);
    })().catch(() => {
      if (!res.headersSent) send(res, 500, 'Internal Server Error');
      else res.destroy();
    });
  };
}

/** Options of {@link startListServer}. */
export interface ListServerOptions {
  /** Directory to serve. */
  root: string;
  /** @default 0 (any free port) */
  port?: number;
  /** @default '127.0.0.1' */
  host?: string;
}

/** A running list server. */
export interface ListServer {
  /** Base URL, e.g. `http://127.0.0.1:40123/`. */
  readonly url: string;
  readonly port: number;
  readonly server: Server;
  /** Stops accepting connections and closes the open ones. */
  close(): Promise<void>;
}

/**
 * Serves `root` over HTTP until closed.
 *
 * @example
 * const server = await startListServer({ root: 'public/lists', port: 8080 })
 */
export async function startListServer(o: ListServerOptions): Promise<ListServer> {
  const server = createServer(createListRequestHandler(o.root));
  const host = o.host ?? '127.0.0.1';
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(o.port ?? 0, host, () => {
      server.off('error', fail);
      ok();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${urlHost}:${port}/`,
    port,
    server,
    close: () =>
      new Promise<void>((ok) => {
        server.close(() => ok());
        server.closeAllConnections();
      }),
  };
}
