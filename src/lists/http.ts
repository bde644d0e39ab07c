/**
 * Owns HTTP for list sync: the injectable `fetch` shape, the https rule (loopback excepted),
 * conditional manifest requests, and downloads that enforce a byte limit, an idle timeout, the
 * manifest's size and SHA-256 while streaming.
 */

import { createHash, randomBytes } from 'node:crypto';
import { open, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { ListErrorCodes, listError } from './errors';

/** The subset of a fetch `Response` the sync uses (the global `fetch` satisfies it). */
export interface FetchResponseLike {
  readonly status: number;
  /** Final URL after redirects (empty or absent when unknown). */
  readonly url?: string;
  readonly headers: { get(name: string): string | null };
  readonly body: AsyncIterable<Uint8Array> | null;
}

/** Request options the sync passes to `fetch`. */
export interface FetchInitLike {
  method: 'GET';
  headers: Record<string, string>;
  signal: AbortSignal;
  redirect: 'follow';
}

/** An injectable `fetch` (the global one by default). */
export type FetchLike = (url: string, init: FetchInitLike) => Promise<FetchResponseLike>;

/** Timer functions, injectable so that tests control time. */
export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** The real timers. Handles are unref'd so that a pending refresh never keeps a process alive. */
export const realTimers: Timers = {
  setTimeout(fn, ms) {
    const t = setTimeout(fn, ms);
    t.unref?.();
    return t;
  },
  clearTimeout(handle) {
    clearTimeout(handle as NodeJS.Timeout);
  },
};

/** The global fetch as a {@link FetchLike}. */
export const defaultFetch: FetchLike = (url, init) =>
  fetch(url, init) as unknown as Promise<FetchResponseLike>;

/** True for `localhost`, `*.localhost`, 127.0.0.0/8 and ::1. */
export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost') || h === '::1') return true;
  if (/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h)) return true;
  return /^::ffff:127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/** Throws `ERR_HASHGATE_LIST_INSECURE_URL` unless `url` is https, or http to a loopback host, or insecure http is allowed. */
export function assertUrlAllowed(url: URL, allowInsecureHttp: boolean): void {
  if (url.protocol === 'https:') return;
  if (url.protocol === 'http:' && (allowInsecureHttp || isLoopbackHost(url.hostname))) return;
  throw listError(
    ListErrorCodes.INSECURE_URL,
    `Expected an https URL for the list (plain http only for loopback hosts or with allowInsecureHttp) but received ${url.protocol}//${url.host}`,
  );
}

/** Settings shared by every request of one list. */
export interface HttpSettings {
  fetch: FetchLike;
  timers: Timers;
  /** Longest wait for response headers, and between two body chunks. */
  requestTimeoutMs: number;
  allowInsecureHttp: boolean;
  /** Aborts everything in flight (the sync was stopped). */
  signal?: AbortSignal;
}

interface Exchange {
  response: FetchResponseLike;
  /** Restarts the idle timer (call on every body chunk). */
  touch(): void;
  /** Maps an error thrown while reading the body to a list error. */
  bodyError(err: unknown, what: string): Error;
  done(): void;
}

async function request(
  url: string,
  headers: Record<string, string>,
  s: HttpSettings,
  what: string,
): Promise<Exchange> {
  const target = new URL(url);
  assertUrlAllowed(target, s.allowInsecureHttp);
  const ac = new AbortController();
  let timedOut = false;
  let handle: unknown;
  const arm = (): void => {
    if (handle !== undefined) s.timers.clearTimeout(handle);
    handle = s.timers.setTimeout(() => {
      timedOut = true;
      ac.abort();
    }, s.requestTimeoutMs);
  };
  const onStop = (): void => ac.abort();
  s.signal?.addEventListener('abort', onStop, { once: true });
  const done = (): void => {
    if (handle !== undefined) s.timers.clearTimeout(handle);
    handle = undefined;
    s.signal?.removeEventListener('abort', onStop);
  };
  const mapError = (
    err: unknown,
    fallback: string,
    code: (typeof ListErrorCodes)[keyof typeof ListErrorCodes],
  ): Error => {
    if (timedOut)
      return listError(
        ListErrorCodes.TIMEOUT,
        `Timed out after ${s.requestTimeoutMs} ms waiting for the ${what}`,
      );
    if (s.signal?.aborted)
      return listError(ListErrorCodes.ABORTED, `The list sync was stopped while fetching the ${what}`);
    if ((err as { code?: string } | null)?.code?.startsWith('ERR_HASHGATE_')) return err as Error;
    return listError(code, fallback, err);
  };
  arm();
  if (s.signal?.aborted) ac.abort();
  let response: FetchResponseLike;
  try {
    response = await s.fetch(url, { method: 'GET', headers, signal: ac.signal, redirect: 'follow' });
  } catch (err) {
    done();
    throw mapError(err, `Could not fetch the ${what} from ${target.host}`, ListErrorCodes.FETCH_FAILED);
  }
  if (response.url) {
    try {
      assertUrlAllowed(new URL(response.url), s.allowInsecureHttp);
    } catch (err) {
      done();
      await cancelBody(response);
      throw err;
    }
  }
  arm();
  return {
    response,
    touch: arm,
    bodyError: (err, w) =>
      mapError(err, `The ${w} body was cut off (connection closed mid-body)`, ListErrorCodes.TRUNCATED),
    done,
  };
}

async function cancelBody(response: FetchResponseLike): Promise<void> {
  const body = response.body as (AsyncIterable<Uint8Array> & { cancel?: () => Promise<void> }) | null;
  try {
    await body?.cancel?.();
  } catch {
    // The body is being thrown away; an error while cancelling it changes nothing.
  }
}

function checkStatus(response: FetchResponseLike, what: string): void {
  if (response.status === 200) return;
  throw listError(
    ListErrorCodes.HTTP_STATUS,
    `The list server answered HTTP ${response.status} for the ${what}`,
  );
}

function checkContentLength(response: FetchResponseLike, maxBytes: number, what: string): void {
  const len = Number(response.headers.get('content-length'));
  if (!response.headers.get('content-encoding') && Number.isFinite(len) && len > maxBytes) {
    throw listError(
      ListErrorCodes.TOO_LARGE,
      `The ${what} is ${len} bytes, more than the limit of ${maxBytes}`,
    );
  }
}

/** Result of {@link fetchSmall}. */
export type SmallFetchResult =
  | { notModified: true }
  | { notModified: false; body: Buffer; etag: string | null };

/**
 * GETs a small document (manifest, signature) into memory, with `If-None-Match` when `etag` is
 * given, refusing more than `maxBytes`.
 */
export async function fetchSmall(
  url: string,
  options: { etag?: string | null; maxBytes: number; what: string },
  s: HttpSettings,
): Promise<SmallFetchResult> {
  const headers: Record<string, string> = { accept: 'application/json, */*' };
  if (options.etag) headers['if-none-match'] = options.etag;
  const ex = await request(url, headers, s, options.what);
  try {
    if (options.etag && ex.response.status === 304) {
      await cancelBody(ex.response);
      return { notModified: true };
    }
    checkStatus(ex.response, options.what);
    checkContentLength(ex.response, options.maxBytes, options.what);
    const chunks: Buffer[] = [];
    let total = 0;
    try {
      for await (const chunk of ex.response.body ?? []) {
        ex.touch();
        total += chunk.byteLength;
        if (total > options.maxBytes) {
          throw listError(
            ListErrorCodes.TOO_LARGE,
            `The ${options.what} is larger than the limit of ${options.maxBytes} bytes`,
          );
        }
        chunks.push(Buffer.from(chunk));
      }
    } catch (err) {
      throw ex.bodyError(err, options.what);
    }
    return { notModified: false, body: Buffer.concat(chunks), etag: ex.response.headers.get('etag') };
  } catch (err) {
    await cancelBody(ex.response);
    throw err;
  } finally {
    ex.done();
  }
}

/** What a download must match. */
export interface ExpectedFile {
  /** Size in bytes the manifest declares. */
  size: number;
  /** SHA-256 hex the manifest pins. */
  sha256: string;
}

/**
 * Downloads `url` into a new temporary file in `dir`, checking while streaming that it does not
 * exceed `maxBytes` or the expected size, then that its size and SHA-256 are exactly the
 * expected ones. Returns the file's path; the caller deletes it. Nothing is parsed before the
 * bytes are verified.
 */
export async function downloadVerified(
  url: string,
  expected: ExpectedFile,
  options: { dir: string; maxBytes: number; what: string; prefix?: string },
  s: HttpSettings,
): Promise<string> {
  if (expected.size > options.maxBytes) {
    throw listError(
      ListErrorCodes.TOO_LARGE,
      `The ${options.what} is ${expected.size} bytes, more than the limit of ${options.maxBytes} (maxBytes)`,
    );
  }
  const ex = await request(url, { accept: '*/*' }, s, options.what);
  const path = join(
    options.dir,
    `${options.prefix ?? '.download-'}${process.pid}-${randomBytes(6).toString('hex')}`,
  );
  let ok = false;
  try {
    checkStatus(ex.response, options.what);
    checkContentLength(ex.response, options.maxBytes, options.what);
    const fh = await open(path, 'wx', 0o600);
    const hash = createHash('sha256');
    let total = 0;
    try {
      try {
        for await (const chunk of ex.response.body ?? []) {
          ex.touch();
          total += chunk.byteLength;
          if (total > options.maxBytes) {
            throw listError(
              ListErrorCodes.TOO_LARGE,
              `The ${options.what} is larger than the limit of ${options.maxBytes} bytes`,
            );
          }
          if (total > expected.size) {
            throw listError(
              ListErrorCodes.FILE_SIZE_MISMATCH,
              `The ${options.what} is larger than the ${expected.size} bytes the manifest declares`,
            );
          }
          hash.update(chunk);
          await fh.write(chunk);
        }
      } catch (err) {
        throw ex.bodyError(err, options.what);
      }
    } finally {
      await fh.close();
    }
    if (total < expected.size) {
      throw listError(
        ListErrorCodes.TRUNCATED,
        `The ${options.what} ended after ${total} of the ${expected.size} bytes the manifest declares`,
      );
    }
    if (hash.digest('hex') !== expected.sha256) {
      throw listError(
        ListErrorCodes.FILE_HASH_MISMATCH,
        `The ${options.what} does not have the SHA-256 the manifest pins`,
      );
    }
    ok = true;
    return path;
  } catch (err) {
    await cancelBody(ex.response);
    throw err;
  } finally {
    ex.done();
    if (!ok) await unlink(path).catch(() => undefined);
  }
}
