/**
 * Owns `hashgate check`: a one-off check of one file against one list — a published list folder,
 * a list URL, or a local hash file — printing `allow` or `match` with the list's name and version,
 * never a hash or an entry id (ids may be derived from hashes).
 */

import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { isHashgateError } from '../errors';
import { getHashType } from '../hashing/hash-types';
import { createHasher } from '../hashing/hasher';
import type { ComputedHash, HashOutcome } from '../hashing/outcome';
import { createHashTypeResolver, type DropCounts } from '../lists/entries';
import { ListErrorCodes, listError } from '../lists/errors';
import { LOCAL_LIST_FORMATS, type LocalListFormat, readLocalList } from '../lists/formats';
import { defaultFetch, realTimers } from '../lists/http';
import { parsePublicKey, type TrustedKey } from '../lists/keys';
import {
  createDirectoryReader,
  createHttpReader,
  type ListReader,
  loadVersion,
  verifyManifest,
} from '../lists/load';
import { readPublishedList } from '../lists/publisher';
import { isUrl } from '../lists/verify';
import { buildMatchIndexSync, type MatchIndex } from '../matching/match-index';
import { DEFAULT_THRESHOLDS } from '../options';
import type { ListSnapshot } from '../snapshot';

/** Exit codes of `hashgate check`. */
export const CHECK_EXIT = { allow: 0, error: 1, usage: 2, match: 3 } as const;

/** Options of `hashgate check` as commander parses them. */
export interface CheckOptions {
  /** A published list folder, a list URL, or a local hash file. */
  list: string;
  /** Trusted public keys: files (PEM) or raw base64. */
  key?: string[];
  /** `type=distance` overrides of the perceptual thresholds. */
  threshold?: string[];
  /** Only these categories of the list count. */
  category?: string[];
  /** Format of a local hash file. */
  format?: string;
  /** Hash type of a plain-text hash file. */
  type?: string;
  allowInsecureHttp?: boolean;
  json?: boolean;
}

/** Where the command writes; injectable for tests. */
export interface CheckIo {
  stdout(text: string): void;
  stderr(text: string): void;
}

const defaultIo: CheckIo = {
  stdout: (t) => process.stdout.write(t.endsWith('\n') ? t : `${t}\n`),
  stderr: (t) => process.stderr.write(t.endsWith('\n') ? t : `${t}\n`),
};

/** One match, described without the entry's hash or id. */
interface CheckMatch {
  readonly type: string;
  readonly distance: number;
  readonly variant?: string;
  readonly category: string;
}

interface LoadedList {
  readonly snapshot: ListSnapshot;
  readonly dropped: DropCounts;
  /** Key id whose signature verified, or null when no signature was checked. */
  readonly keyId: string | null;
  readonly source: 'url' | 'folder' | 'file';
}

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

async function readTrustedKeys(values: readonly string[]): Promise<TrustedKey[]> {
  return Promise.all(
    values.map(async (v) => {
      const isFile = await stat(v).then(
        (s) => s.isFile(),
        () => false,
      );
      return parsePublicKey(isFile ? await readFile(v, 'utf8') : v);
    }),
  );
}

function parseThresholds(values: readonly string[] | undefined): Record<string, number> {
  const out: Record<string, number> = { ...DEFAULT_THRESHOLDS };
  for (const v of values ?? []) {
    const m = /^([a-z0-9_]+)=(\d{1,2})$/.exec(v.trim());
    const type = m ? getHashType(m[1]!) : undefined;
    if (!m || !type || type.kind !== 'perceptual' || Number(m[2]) > 63) {
      throw listError(
        ListErrorCodes.SOURCE_READ_FAILED,
        `Expected --threshold <perceptual type>=<distance 0-63>, such as pdq=31, but received "${v}"`,
      );
    }
    out[m[1]!] = Number(m[2]);
  }
  return out;
}

function localFormat(path: string, o: CheckOptions): LocalListFormat {
  if (o.format) {
    if (!LOCAL_LIST_FORMATS.includes(o.format as LocalListFormat)) {
      throw listError(
        ListErrorCodes.SOURCE_READ_FAILED,
        `Expected --format ${LOCAL_LIST_FORMATS.join(', ')} but received "${o.format}"`,
      );
    }
    return o.format as LocalListFormat;
  }
  const name = path.toLowerCase().replace(/\.gz$/, '');
  if (name.endsWith('.ndjson') || name.endsWith('.jsonl')) return 'ndjson';
  if (name.endsWith('.csv')) return 'threatexchange-csv';
  return o.type ? 'text' : 'threatexchange';
}

/** Reads and verifies a published version through `reader` (the same steps the list sync takes). */
async function loadPublished(reader: ListReader, trusted: readonly TrustedKey[]): Promise<LoadedList> {
  const m = await reader.readManifest(null);
  if (m.notModified)
    throw listError(ListErrorCodes.HTTP_STATUS, 'Unexpected 304 for an unconditional request');
  const { manifest, keyId } = verifyManifest(m.manifestBytes, m.signatureBytes, trusted);
  const loaded = await loadVersion({ reader, manifest, base: null, resolveType: createHashTypeResolver() });
  return { snapshot: loaded.snapshot, dropped: loaded.dropped, keyId, source: 'url' };
}

/** Loads the list named by `--list`: a URL (keys required), a published folder, or a local hash file. */
async function loadList(o: CheckOptions, io: CheckIo): Promise<LoadedList> {
  const trusted = await readTrustedKeys(o.key ?? []);
  if (isUrl(o.list)) {
    if (trusted.length === 0)
      throw listError(ListErrorCodes.KEY_INVALID, 'A list URL needs --key <public key of its publisher>');
    const temp = await mkdtemp(join(tmpdir(), 'hashgate-check-'));
    try {
      const reader = createHttpReader(o.list, {
        http: {
          fetch: defaultFetch,
          timers: realTimers,
          requestTimeoutMs: 30_000,
          allowInsecureHttp: o.allowInsecureHttp === true,
        },
        maxBytes: 512 * 1024 * 1024,
        tempDir: temp,
      });
      return await loadPublished(reader, trusted);
    } finally {
      await rm(temp, { recursive: true, force: true });
    }
  }
  const info = await stat(o.list).catch((err: unknown) => {
    throw listError(ListErrorCodes.SOURCE_READ_FAILED, 'The --list folder or file could not be read', err);
  });
  if (info.isDirectory()) {
    if (trusted.length > 0)
      return { ...(await loadPublished(createDirectoryReader(o.list), trusted)), source: 'folder' };
    const published = await readPublishedList(o.list);
    if (!published)
      throw listError(ListErrorCodes.SOURCE_READ_FAILED, 'The --list folder holds no published list');
    io.stderr('hashgate check: the signature was not checked (no --key)');
    return { snapshot: published.snapshot, dropped: {}, keyId: null, source: 'folder' };
  }
  const { snapshot, dropped } = await readLocalList(
    o.list,
    { list: 'file', version: 0, createdAt: '' },
    {
      format: localFormat(o.list, o),
      resolveType: createHashTypeResolver(),
      ...(o.type ? { hashType: o.type } : {}),
    },
  );
  return { snapshot, dropped, keyId: null, source: 'file' };
}

/** Every match of the file's hashes in `index`: exact lookups, and perceptual queries of all variants. */
function findMatches(
  index: MatchIndex,
  hashes: readonly ComputedHash[],
  thresholds: Readonly<Record<string, number>>,
): CheckMatch[] {
  const out: CheckMatch[] = [];
  for (const h of hashes) {
    const type = getHashType(h.type);
    if (!type) continue;
    const bytes = new Uint8Array(Buffer.from(h.hex, 'hex'));
    if (type.kind === 'exact') {
      for (const ref of index.lookupExact(h.type, bytes)) {
        const e = index.resolve(h.type, ref);
        if (e) out.push({ type: h.type, distance: 0, category: e.category });
      }
      continue;
    }
    const radius = thresholds[h.type] ?? 0;
    const variants = h.variants
      ? Object.entries(h.variants).map(([variant, hex]) => ({
          variant,
          hash: new Uint8Array(Buffer.from(hex, 'hex')),
        }))
      : [{ variant: 'orig', hash: bytes }];
    for (const m of index.matchVariants(h.type, variants, radius)) {
      const e = index.resolve(h.type, m.ref);
      if (e) out.push({ type: h.type, distance: m.distance, variant: m.variant, category: e.category });
    }
  }
  // Closest first; one line per hash type and variant is enough to say why.
  return out.sort((a, b) => a.distance - b.distance || a.type.localeCompare(b.type));
}

function describeMatch(m: CheckMatch): string {
  if (m.distance === 0 && !m.variant) return `${m.type} exact`;
  return `${m.type} distance ${m.distance}${m.variant && m.variant !== 'orig' ? ` (${m.variant})` : ''}`;
}

function listLabel(l: LoadedList): string {
  return l.source === 'file' ? 'the list file' : `list ${l.snapshot.list} version ${l.snapshot.version}`;
}

/**
 * Runs `hashgate check` and resolves with the exit code: 0 allow, 3 match, 1 error. Nothing it
 * prints contains a hash of the file or of the list.
 */
export async function runCheck(file: string, o: CheckOptions, io: CheckIo = defaultIo): Promise<number> {
  let hasher: ReturnType<typeof createHasher> | undefined;
  try {
    const thresholds = parseThresholds(o.threshold);
    const fileInfo = await stat(file).catch((err: unknown) => {
      throw listError(ListErrorCodes.SOURCE_READ_FAILED, `Could not read ${file}`, err);
    });
    if (!fileInfo.isFile()) throw listError(ListErrorCodes.SOURCE_READ_FAILED, `${file} is not a file`);
    const list = await loadList(o, io);
    // One file: hash it on this thread (no worker start-up), with all 8 PDQ variants.
    hasher = createHasher({ workers: 0, pdq: { dihedral: true } });
    const outcome: HashOutcome = await hasher.hash({ path: file });
    const index = buildMatchIndexSync([
      o.category && o.category.length > 0
        ? { snapshot: list.snapshot, categories: o.category }
        : list.snapshot,
    ]);
    const matches = findMatches(index, outcome.hashes, thresholds);
    const entries = index.stats.entries;
    const unavailable = outcome.unavailable.filter((u) => u.reason !== 'disabled');

    if (o.json) {
      io.stdout(
        JSON.stringify({
          file,
          result: matches.length > 0 ? 'match' : 'allow',
          list: {
            name: list.source === 'file' ? null : list.snapshot.list,
            version: list.source === 'file' ? null : list.snapshot.version,
            entries,
            signatureKeyId: list.keyId,
          },
          matches,
          unavailable: unavailable.map((u) => ({ type: u.type, reason: u.reason })),
        }),
      );
    } else {
      for (const u of unavailable) io.stderr(`hashgate check: no ${u.type} hash: ${u.reason} (${u.detail})`);
      if (matches.length > 0) {
        const seen = new Set<string>();
        const why = matches
          .map(describeMatch)
          .filter((d) => !seen.has(d) && seen.add(d))
          .join(', ');
        io.stdout(`match: ${file} is on ${listLabel(list)}: ${why}`);
      } else {
        io.stdout(`allow: ${file} is not on ${listLabel(list)} (${entries} entries checked)`);
      }
    }
    return matches.length > 0 ? CHECK_EXIT.match : CHECK_EXIT.allow;
  } catch (err) {
    const code = isHashgateError(err) ? err.code : ListErrorCodes.INTERNAL;
    const message = isHashgateError(err) ? err.message : `Unexpected ${(err as Error)?.name ?? 'error'}`;
    io.stderr(`hashgate check: ${code}: ${message}`);
    return CHECK_EXIT.error;
  } finally {
    await hasher?.close();
  }
}

/** Adds `check` to the program. */
export function registerCheckCommand(program: Command, io: CheckIo = defaultIo): void {
  program
    .command('check')
    .description(
      'check one file against one list (folder, URL or hash file): allow or match, no hashes shown',
    )
    .argument('<file>', 'the file to check')
    .requiredOption(
      '--list <list>',
      'a published list folder, the URL of a published list (or of its manifest), or a local hash file',
    )
    .option(
      '--key <key>',
      'trusted public key of the list publisher: a PEM file or raw base64 (repeatable; required for a URL)',
      collect,
    )
    .option(
      '--threshold <type=distance>',
      `largest perceptual distance that matches, per type (repeatable; default pdq=${DEFAULT_THRESHOLDS.pdq}, blockhash=${DEFAULT_THRESHOLDS.blockhash})`,
      collect,
    )
    .option('--category <name>', 'only entries of this category count (repeatable; default all)', collect)
    .option(
      '--format <format>',
      `format of a local hash file: ${LOCAL_LIST_FORMATS.join(', ')} (default: by extension)`,
    )
    .option('--type <hashType>', 'hash type of a plain-text hash file (md5, sha1, sha256, pdq, blockhash)')
    .option('--allow-insecure-http', 'allow plain http to a list host that is not loopback')
    .option('--json', 'print one JSON object: result, list name and version, match types and distances')
    .addHelpText(
      'after',
      `
The file is hashed like an upload (MD5, SHA-1, SHA-256, PDQ with its 8 rotations and
mirrorings, blockhash) and matched against the list. A list folder or URL is verified like
hashgate's list sync does it (signature by a trusted key, every file's size and SHA-256);
a folder without --key is read without checking its signature. The output names the list and
the hash types and distances that matched, never a hash or an entry.

Exit codes:
  0  allow: the file is not on the list
  1  error: unreadable file or list, bad key or signature, network error
  2  bad usage
  3  match: the file is on the list

Examples:
  hashgate check upload.jpg --list ./public/my-list --key my-list.pub
  hashgate check upload.jpg --list https://lists.example.org/hotline/ --key ed25519:Jt9m...=
  hashgate check upload.jpg --list known.txt --threshold pdq=20
`,
    )
    .action(async (file: string, options: CheckOptions) => {
      process.exitCode = await runCheck(file, options, io);
    });
}
