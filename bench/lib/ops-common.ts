/**
 * Helpers shared by the load and fault benchmarks: a seeded random source, choosing a mixed set
 * of uploads from the photo corpus, publishing a signed list of the "known" ones, starting the
 * app server in a child process, sampling its memory, multipart bodies, and counting what the
 * store and the folders hold afterwards. Nothing here prints a hash.
 */

import { type ChildProcess, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Client } from 'pg';
import { createHasher } from '../../src/hashing/hasher';
import { SnapshotBuilder } from '../../src/lists/entries';
import { generateListKeyPair, parsePrivateKey } from '../../src/lists/keys';
import { publishListVersion } from '../../src/lists/publisher';
import { seededRandom } from './ops-random';
import type { OpsServerConfig, OpsServerStats } from './ops-server';

export { arg } from './args';
export { seededRandom } from './ops-random';

/** What kind of upload a body is, for tallying answers. */
export type UploadKind = 'known' | 'unknown' | 'non-image';
/** Size class of a photo, by file size. */
export type SizeClass = 'small' | 'medium' | 'large' | 'other';

/** One prepared upload. */
export interface Upload {
  kind: UploadKind;
  size: SizeClass;
  filename: string;
  contentType: string;
  bytes: Buffer;
  /** The corpus file it came from. */
  path?: string;
}

function sizeClass(bytes: number): SizeClass {
  if (bytes < 100 * 1024) return 'small';
  if (bytes < 1024 * 1024) return 'medium';
  return 'large';
}

/**
 * Picks `perClass` photos of each size class (small < 100 KiB, medium < 1 MiB, large >= 1 MiB,
 * which are the multi-megapixel ones), marks a share of each class as known, and adds a few
 * non-images. Deterministic for a seed.
 */
export function chooseUploads(
  folder: string,
  o: { perClass: number; knownShare: number; nonImages: number; seed: number },
): { uploads: Upload[]; knownPaths: string[] } {
  const random = seededRandom(o.seed);
  const names = readdirSync(folder)
    .filter((f) => /\.(jpe?g|png)$/i.test(f) && !f.startsWith('series__'))
    .sort();
  const byClass = new Map<SizeClass, string[]>([
    ['small', []],
    ['medium', []],
    ['large', []],
  ]);
  for (const n of names) byClass.get(sizeClass(statSync(join(folder, n)).size))!.push(n);
  const uploads: Upload[] = [];
  const knownPaths: string[] = [];
  for (const [cls, list] of byClass) {
    const chosen = new Set<string>();
    while (chosen.size < Math.min(o.perClass, list.length))
      chosen.add(list[Math.floor(random() * list.length)]!);
    let i = 0;
    for (const n of [...chosen].sort()) {
      const path = join(folder, n);
      const known = i++ < Math.ceil(chosen.size * o.knownShare);
      if (known) knownPaths.push(path);
      uploads.push({
        kind: known ? 'known' : 'unknown',
        size: cls,
        path,
        filename: n.replace(/^.*__/, ''),
        contentType: /\.png$/i.test(n) ? 'image/png' : 'image/jpeg',
        bytes: readFileSync(path),
      });
    }
  }
  const nonImages: (() => { name: string; type: string; bytes: Buffer })[] = [
    () => ({
      name: 'notes.txt',
      type: 'text/plain',
      bytes: Buffer.from('plain text, not an image\n'.repeat(200)),
    }),
    () => ({
      name: 'report.pdf',
      type: 'application/pdf',
      bytes: Buffer.concat([Buffer.from('%PDF-1.4\n'), randomBytes(30_000)]),
    }),
    () => ({ name: 'noise.bin', type: 'application/octet-stream', bytes: randomBytes(200_000) }),
    () => ({
      name: 'fake.jpg',
      type: 'image/jpeg',
      bytes: Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), randomBytes(50_000)]),
    }),
  ];
  for (let i = 0; i < o.nonImages; i++) {
    const n = nonImages[i % nonImages.length]!();
    uploads.push({ kind: 'non-image', size: 'other', filename: n.name, contentType: n.type, bytes: n.bytes });
  }
  return { uploads, knownPaths };
}

/** A published, signed list of the known photos' MD5, SHA-256, PDQ and blockhash. */
export interface PublishedOpsList {
  publicKeyPem: string;
  privateKeyPem: string;
  /** Entries of version 1, to publish later versions from. */
  entries: { id: string; type: string; hash: string }[];
  /** Known photos that have a PDQ entry (so altered bytes of them still match). */
  perceptualPaths: Set<string>;
}

/** Hashes the known photos and publishes version 1 (and `extraVersions` more) of list `ops` in `dir`. */
export async function publishKnownList(
  dir: string,
  knownPaths: readonly string[],
): Promise<PublishedOpsList> {
  const pair = generateListKeyPair();
  const hasher = createHasher({ workers: 1, pdq: { dihedral: false } });
  const entries: { id: string; type: string; hash: string }[] = [];
  const perceptualPaths = new Set<string>();
  try {
    let i = 0;
    for (const p of knownPaths) {
      const outcome = await hasher.hash({ path: p });
      for (const h of outcome.hashes) {
        if (['md5', 'sha256', 'pdq', 'blockhash'].includes(h.type))
          entries.push({ id: `known-${i}:${h.type}`, type: h.type, hash: h.hex });
        if (h.type === 'pdq') perceptualPaths.add(p);
      }
      i++;
    }
  } finally {
    await hasher.close();
  }
  const list = {
    publicKeyPem: pair.publicKeyPem,
    privateKeyPem: pair.privateKeyPem,
    entries,
    perceptualPaths,
  };
  await publishVersion(dir, list, 0);
  return list;
}

/** Publishes the next version of the list, with `padding` extra random MD5 entries (to make a new version). */
export async function publishVersion(dir: string, list: PublishedOpsList, padding: number): Promise<number> {
  const builder = new SnapshotBuilder();
  for (const e of list.entries) builder.addUntrusted({ ...e, category: 'ops' });
  for (let i = 0; i < padding; i++)
    builder.addUntrusted({
      id: `pad-${i}`,
      type: 'md5',
      hash: randomBytes(16).toString('hex'),
      category: 'ops',
    });
  const r = await publishListVersion({
    dir,
    name: 'ops',
    entries: builder.build('ops', 0, ''),
    keys: [parsePrivateKey(list.privateKeyPem)],
  });
  return r.manifest.version;
}

const BOUNDARY = '----hashgateopsbench';

/** A multipart/form-data body with one file in field `files`. */
export function multipart(u: Upload, trailer?: Buffer): Buffer {
  return Buffer.concat([
    Buffer.from(
      `--${BOUNDARY}\r\nContent-Disposition: form-data; name="files"; filename="${u.filename}"\r\nContent-Type: ${u.contentType}\r\n\r\n`,
    ),
    u.bytes,
    ...(trailer ? [trailer] : []),
    Buffer.from(`\r\n--${BOUNDARY}--\r\n`),
  ]);
}

/** The content type of {@link multipart} bodies. */
export const MULTIPART_TYPE = `multipart/form-data; boundary=${BOUNDARY}`;

/** A running app server in a child process. */
export interface OpsServer {
  readonly child: ChildProcess;
  readonly base: string;
  /** The first line of the server's standard error that names an error, if any. */
  firstError(): string | undefined;
  stats(): Promise<OpsServerStats>;
  stop(): Promise<void>;
}

/** Starts `ops-server.js` with `config` and waits until it listens. */
export async function startOpsServer(
  config: OpsServerConfig,
  env: NodeJS.ProcessEnv = {},
): Promise<OpsServer> {
  const child = fork(join(__dirname, 'ops-server.js'), [JSON.stringify(config)], {
    stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
    env: { ...process.env, ...env },
  });
  // Kept, not printed: a crash's stack trace is summarised by the caller.
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => {
    stderr = (stderr + c.toString('utf8')).slice(-16_384);
  });
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve());
    child.once('exit', (code) => reject(new Error(`ops server exited with ${code}`)));
  });
  const base = `http://127.0.0.1:${config.port}`;
  return {
    child,
    base,
    firstError() {
      return stderr
        .split('\n')
        .find((l) => /^\w*Error\b|^error:/.test(l.trim()))
        ?.trim();
    },
    async stats() {
      return (await (await fetch(`${base}/stats`)).json()) as OpsServerStats;
    },
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.send('stop');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** A free-ish port in a range the other benchmarks do not use. */
export function randomPort(): number {
  return 41000 + Math.floor(Math.random() * 9000);
}

/** Resident memory of a process (main thread and its worker threads), from /proc. */
export function rssOf(pid: number): number | null {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** Samples a process's RSS every `everyMs` until stopped. */
export class RssSampler {
  readonly samples: { t: number; rss: number }[] = [];
  readonly #timer: NodeJS.Timeout;
  readonly #t0 = Date.now();
  constructor(pid: number, everyMs = 500) {
    this.#timer = setInterval(() => {
      const rss = rssOf(pid);
      if (rss !== null) this.samples.push({ t: (Date.now() - this.#t0) / 1000, rss });
    }, everyMs);
  }
  stop(): void {
    clearInterval(this.#timer);
  }
  get peak(): number {
    return Math.max(0, ...this.samples.map((s) => s.rss));
  }
  /** Peak RSS within [from, to) as fractions of `span` seconds (default: the sampled time). */
  peakBetween(from: number, to: number, span = this.samples.at(-1)?.t ?? 0): number {
    const inRange = this.samples.filter((s) => s.t >= from * span && s.t < to * span);
    return Math.max(0, ...inRange.map((s) => s.rss));
  }
}

/** Regular files under `dir` (recursively), or 0 when it does not exist. */
export function countFiles(dir: string, match?: RegExp): number {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) return 0;
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.isDirectory()) n += countFiles(join(dir, e.name), match);
    else if (!match || match.test(e.name)) n++;
  }
  return n;
}

/** Incident, evidence-reference, ledger and outbox counts of a store. */
export interface StoreCounts {
  incidents: number;
  incidentsWithEvidence: number;
  ledger: number;
  outbox: number;
  outboxDelivered: number;
  incidentIds: Set<string>;
  evidenceIds: Set<string>;
}

function countsFrom(rows: {
  incidents: { id: string; evidence: unknown }[];
  ledger: number;
  outbox: number;
  delivered: number;
}): StoreCounts {
  const withEvidence = rows.incidents.filter((r) => r.evidence !== null && r.evidence !== undefined);
  return {
    incidents: rows.incidents.length,
    incidentsWithEvidence: withEvidence.length,
    ledger: rows.ledger,
    outbox: rows.outbox,
    outboxDelivered: rows.delivered,
    incidentIds: new Set(rows.incidents.map((r) => r.id)),
    evidenceIds: new Set(withEvidence.map((r) => r.id)),
  };
}

/** Counts in the SQLite store at `path` (opened read-only). */
export function sqliteCounts(path: string): StoreCounts {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const incidents = db.prepare('SELECT id, evidence_id AS evidence FROM incidents').all() as {
      id: string;
      evidence: unknown;
    }[];
    const one = (sql: string): number => (db.prepare(sql).get() as { n: number }).n;
    return countsFrom({
      incidents,
      ledger: one('SELECT count(*) AS n FROM ledger'),
      outbox: one('SELECT count(*) AS n FROM outbox'),
      delivered: one('SELECT count(*) AS n FROM outbox WHERE delivered_at IS NOT NULL'),
    });
  } finally {
    db.close();
  }
}

/** Counts in the PostgreSQL store (schema `hashgate`). */
export async function postgresCounts(connectionString: string): Promise<StoreCounts> {
  const client = new Client({ connectionString });
  await client.connect();
  try {
    const incidents = (await client.query('SELECT id, evidence_id AS evidence FROM hashgate.incidents'))
      .rows as {
      id: string;
      evidence: unknown;
    }[];
    const one = async (sql: string): Promise<number> => Number((await client.query(sql)).rows[0].n);
    return countsFrom({
      incidents,
      ledger: await one('SELECT count(*) AS n FROM hashgate.ledger'),
      outbox: await one('SELECT count(*) AS n FROM hashgate.outbox'),
      delivered: await one('SELECT count(*) AS n FROM hashgate.outbox WHERE delivered_at IS NOT NULL'),
    });
  } finally {
    await client.end();
  }
}

/** Formats bytes as MiB with one decimal. */
export function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/** Prints a table of rows (first row is the header). */
export function printTable(rows: readonly (readonly string[])[]): void {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  for (const [n, r] of rows.entries()) {
    console.log(`| ${r.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`);
    if (n === 0) console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  }
}
