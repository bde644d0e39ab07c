/** Shared helpers of the list tests: benign synthetic hashes, temp dirs, publishing, servers, manual timers. */

import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHashTypeResolver, SnapshotBuilder } from '../../../src/lists/entries';
import type { Timers } from '../../../src/lists/http';
import { generateListKeyPair, parsePrivateKey, type SigningKey, signManifest } from '../../../src/lists/keys';
import { createListRequestHandler } from '../../../src/lists/list-server';
import { type ListManifest, serializeManifest } from '../../../src/lists/manifest';
import { publishListVersion } from '../../../src/lists/publisher';
import type { ListSnapshot } from '../../../src/snapshot';

/** A benign synthetic entry. */
export interface TestEntry {
  id: string;
  type: string;
  hash: string;
  category?: string;
  labels?: string[];
}

/** Random 256-bit perceptual hash: random bytes have weight ~128, far from degenerate. */
export function randomPdq(): string {
  return randomBytes(32).toString('hex');
}

export function randomMd5(): string {
  return randomBytes(16).toString('hex');
}

/** `n` entries alternating pdq and md5, ids prefixed by `prefix`. */
export function makeEntries(n: number, prefix = 'e', category?: string): TestEntry[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `${prefix}${i}`,
    type: i % 2 === 0 ? 'pdq' : 'md5',
    hash: i % 2 === 0 ? randomPdq() : randomMd5(),
    ...(category ? { category } : {}),
  }));
}

export function toSnapshot(entries: readonly TestEntry[], name = 'test'): ListSnapshot {
  const b = new SnapshotBuilder({ resolveType: createHashTypeResolver() });
  for (const e of entries) {
    if (!b.addUntrusted(e)) throw new Error('test entry was refused');
  }
  return b.build(name, 0, '');
}

/** Hex hashes of a snapshot, as `type:hex` strings (tests only). */
export function hashSet(snapshot: ListSnapshot): Set<string> {
  const out = new Set<string>();
  for (const [name, t] of snapshot.byType) {
    for (let i = 0; i < t.count; i++) {
      out.add(
        `${name}:${Buffer.from(t.hashes.subarray(i * t.hashBytes, (i + 1) * t.hashBytes)).toString('hex')}`,
      );
    }
  }
  return out;
}

export function entryKeys(entries: readonly TestEntry[]): Set<string> {
  return new Set(entries.map((e) => `${e.type}:${e.hash.toLowerCase()}`));
}

export async function tempDir(
  prefix = 'hashgate-lists-',
): Promise<{ path: string; cleanup(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, cleanup: () => rm(path, { recursive: true, force: true }) };
}

export interface TestKey {
  signing: SigningKey;
  publicBase64: string;
  publicPem: string;
  privatePem: string;
}

export function newKey(): TestKey {
  const pair = generateListKeyPair();
  return {
    signing: parsePrivateKey(pair.privateKeyPem),
    publicBase64: pair.publicKeyBase64,
    publicPem: pair.publicKeyPem,
    privatePem: pair.privateKeyPem,
  };
}

export async function publish(
  dir: string,
  name: string,
  entries: readonly TestEntry[],
  keys: readonly TestKey[],
  extra: { keepDeltas?: number; gzip?: boolean; version?: number } = {},
): Promise<ListManifest> {
  const r = await publishListVersion({
    dir,
    name,
    entries: toSnapshot(entries, name),
    keys: keys.map((k) => k.signing),
    ...extra,
  });
  return r.manifest;
}

/**
 * Writes a hand-made version: a plain NDJSON snapshot with exactly `lines`, its manifest and
 * signature (for corrupt-entry tests).
 */
export async function writeRawVersion(
  dir: string,
  name: string,
  version: number,
  lines: readonly string[],
  key: TestKey,
  counts: Record<string, number> = {},
): Promise<void> {
  const body = Buffer.from(lines.map((l) => `${l}\n`).join(''), 'utf8');
  const path = `snapshot-${version}.ndjson`;
  await writeFile(join(dir, path), body);
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  const manifest: ListManifest = {
    format: 'hashgate-list',
    protocol: 1,
    name,
    version,
    createdAt: new Date(0).toISOString(),
    counts,
    snapshot: {
      path,
      sha256: createHash('sha256').update(body).digest('hex'),
      size: body.length,
      compression: 'none',
      entries: total,
    },
    deltas: [],
  };
  const bytes = serializeManifest(manifest);
  await writeFile(join(dir, 'manifest.json'), bytes);
  await writeFile(join(dir, 'manifest.json.sig'), signManifest(bytes, [key.signing]));
}

/** A fault hook: return true when it answered the request itself. */
export type Fault = (req: IncomingMessage, res: ServerResponse) => boolean;

/** A real list server on loopback (port 0) whose behaviour tests can change per request. */
export interface TestServer {
  url: string;
  /** Requested paths, in order. */
  requests: Array<{ path: string; status: number; ifNoneMatch: string | undefined }>;
  fault: Fault | null;
  close(): Promise<void>;
  server: Server;
}

export async function startTestServer(root: string): Promise<TestServer> {
  const handler = createListRequestHandler(root);
  const state: TestServer = {
    url: '',
    requests: [],
    fault: null,
    server: undefined as unknown as Server,
    close: async () => undefined,
  };
  const server = createServer((req, res) => {
    const entry = {
      path: req.url ?? '',
      status: 0,
      ifNoneMatch: req.headers['if-none-match'] as string | undefined,
    };
    state.requests.push(entry);
    res.on('finish', () => {
      entry.status = res.statusCode;
    });
    if (state.fault?.(req, res)) return;
    handler(req, res);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  state.server = server;
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  state.close = () =>
    new Promise<void>((ok) => {
      server.close(() => ok());
      server.closeAllConnections();
    });
  return state;
}

/** Timers the test fires by hand. */
export interface ManualTimers extends Timers {
  /** Pending timers, oldest first. */
  pending(): Array<{ ms: number; fn: () => void }>;
  /** Fires the oldest pending timer with delay `ms` (or any delay when omitted). */
  fire(ms?: number): void;
}

export function manualTimers(): ManualTimers {
  let next = 1;
  const timers = new Map<number, { ms: number; fn: () => void }>();
  return {
    setTimeout(fn, ms) {
      const id = next++;
      timers.set(id, { ms, fn });
      return id;
    },
    clearTimeout(handle) {
      timers.delete(handle as number);
    },
    pending() {
      return [...timers.values()];
    },
    fire(ms) {
      for (const [id, t] of timers) {
        if (ms === undefined || t.ms === ms) {
          timers.delete(id);
          t.fn();
          return;
        }
      }
      throw new Error(`no pending timer${ms === undefined ? '' : ` of ${ms} ms`}`);
    },
  };
}

/** Resolves when `predicate` holds, polling on the event loop (for work started by a timer). */
export async function until(predicate: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > end) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}
