/**
 * Owns `hashgate doctor`: it loads a `createHashgate()` configuration (JSON or a JavaScript module)
 * and checks what hashgate needs before it serves — the options, every list (reachable, signature
 * valid under the configured keys, name as configured), the data folder, the incident store, the
 * evidence key and the hashing engine — printing one line a check and never a hash or a key.
 */

import { randomBytes } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { access, mkdtemp, readFile, rmdir, stat, unlink, writeFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { dirname, extname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Command } from 'commander';
import sharp from 'sharp';
import { isHashgateError } from '../errors';
import { type EvidenceKeyRing, evidenceKeyRingFromEnv } from '../evidence/keys';
import { createHasher } from '../hashing/hasher';
import { createSqliteStore } from '../incidents/sqlite-store';
import type { IncidentStore } from '../incidents/store';
import { createHashTypeResolver, type DropCounts } from '../lists/entries';
import { readLocalList } from '../lists/formats';
import { parsePublicKey } from '../lists/keys';
import { verifyPublishedList } from '../lists/verify';
import { type Config, type ListConfig, parseOptions } from '../options';

/** Exit codes of `hashgate doctor`. */
export const DOCTOR_EXIT = { ok: 0, problems: 1, usage: 2 } as const;

/** Options of `hashgate doctor` as commander parses them. */
export interface DoctorOptions {
  /** A JSON file or a JavaScript module (`.js`, `.cjs`, `.mjs`) exporting the options. */
  config: string;
  /** Append one audit record to prove the store takes writes. */
  writeTest?: boolean;
  /** Skip the hashing engine check. */
  hashing?: boolean;
  /** Time limit for each list request, in milliseconds. */
  timeout?: string;
  json?: boolean;
}

/** Where the command writes and the environment it reads; injectable for tests. */
export interface DoctorIo {
  stdout(text: string): void;
  stderr(text: string): void;
  env?: NodeJS.ProcessEnv;
}

const defaultIo: DoctorIo = {
  stdout: (t) => process.stdout.write(t.endsWith('\n') ? t : `${t}\n`),
  stderr: (t) => process.stderr.write(t.endsWith('\n') ? t : `${t}\n`),
};

/** The result of one check. */
export interface DoctorCheck {
  readonly check: string;
  readonly status: 'ok' | 'warn' | 'fail';
  readonly message: string;
}

class ConfigLoadError extends Error {}

// TypeScript compiles `import()` to `require()` for CommonJS output; an ES module config needs the
// real dynamic import.
const importModule = new Function('specifier', 'return import(specifier)') as (s: string) => Promise<unknown>;

/**
 * Reads the options from a JSON file or a JavaScript module. A module may export the options
 * object (`module.exports =` or `export default`) or a function, possibly async, returning it —
 * the way to build a store (`createPostgresStore`) or an evidence key ring in the configuration.
 */
export async function loadConfigFile(path: string): Promise<unknown> {
  const abs = resolve(path);
  const ext = extname(abs).toLowerCase();
  await stat(abs).catch(() => {
    throw new ConfigLoadError(`Cannot read the configuration file ${path}`);
  });
  let value: unknown;
  if (ext === '.json') {
    try {
      value = JSON.parse(await readFile(abs, 'utf8'));
    } catch {
      // The parser's message quotes the file; a configuration may hold secrets.
      throw new ConfigLoadError(`${path} is not valid JSON`);
    }
    return value;
  }
  if (ext === '.mjs') value = await importModule(pathToFileURL(abs).href);
  else if (ext === '.js' || ext === '.cjs') {
    try {
      value = require(abs);
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code !== 'ERR_REQUIRE_ESM' && code !== 'ERR_REQUIRE_ASYNC_MODULE') throw err;
      value = await importModule(pathToFileURL(abs).href);
    }
  } else {
    throw new ConfigLoadError(`Expected a .json, .js, .cjs or .mjs configuration file but received ${path}`);
  }
  if (value && typeof value === 'object' && 'default' in value)
    value = (value as { default: unknown }).default;
  if (typeof value === 'function') value = await (value as () => unknown)();
  return value;
}

function errorText(err: unknown): string {
  if (isHashgateError(err)) return `${err.code}: ${err.message}`;
  const sys = err as NodeJS.ErrnoException;
  if (typeof sys?.code === 'string') return sys.code;
  return err instanceof Error ? err.message : String(err);
}

/** A URL as it may be printed: without credentials, query or fragment. */
function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}`;
  } catch {
    return '(invalid URL)';
  }
}

function formatDropped(dropped: DropCounts): string {
  const parts = Object.entries(dropped).map(([reason, n]) => `${reason} ${n}`);
  return parts.join(', ');
}

/**
 * Whether the process can write in `dir`: a file is created and removed there; when `dir` does not
 * exist, its nearest existing parent must be writable (hashgate creates the rest). Nothing is
 * created that stays.
 */
async function writableDir(dir: string): Promise<{ ok: boolean; exists: boolean; detail: string }> {
  const info = await stat(dir).catch(() => null);
  if (info) {
    if (!info.isDirectory()) return { ok: false, exists: true, detail: 'is not a folder' };
    const probe = join(dir, `.hashgate-doctor-${process.pid}-${randomBytes(4).toString('hex')}`);
    try {
      await writeFile(probe, '', { flag: 'wx', mode: 0o600 });
      await unlink(probe);
      return { ok: true, exists: true, detail: 'writable' };
    } catch (err) {
      return { ok: false, exists: true, detail: `not writable (${errorText(err)})` };
    }
  }
  let parent = dirname(dir);
  for (;;) {
    const p = await stat(parent).catch(() => null);
    if (p) {
      if (!p.isDirectory())
        return { ok: false, exists: false, detail: `cannot be created (${parent} is a file)` };
      // Create and remove a folder where hashgate would create its own: a real test, even for root.
      try {
        await rmdir(await mkdtemp(join(parent, '.hashgate-doctor-')));
        return { ok: true, exists: false, detail: 'will be created at first start' };
      } catch (err) {
        return { ok: false, exists: false, detail: `cannot be created in ${parent} (${errorText(err)})` };
      }
    }
    const up = dirname(parent);
    if (up === parent) return { ok: false, exists: false, detail: 'cannot be created' };
    parent = up;
  }
}

async function checkList(l: ListConfig, timeoutMs: number, config: Config): Promise<DoctorCheck> {
  const check = `list ${l.name}`;
  if (l.url) {
    let trusted: ReturnType<typeof parsePublicKey>[];
    try {
      trusted = l.publicKeys.map((k) => parsePublicKey(k));
    } catch (err) {
      return { check, status: 'fail', message: `a public key is not usable: ${errorText(err)}` };
    }
    try {
      const r = await verifyPublishedList(l.url, {
        trusted,
        allowInsecureHttp: l.allowInsecureHttp,
        requestTimeoutMs: timeoutMs,
        ...(config.fetch ? { fetch: config.fetch } : {}),
      });
      if (r.manifest.name !== l.name) {
        return {
          check,
          status: 'fail',
          message: `${safeUrl(l.url)} publishes list "${r.manifest.name}", not "${l.name}" (the sync would refuse it)`,
        };
      }
      const dropped = formatDropped(r.dropped);
      return {
        check,
        status: dropped ? 'warn' : 'ok',
        message: `${safeUrl(l.url)} reachable, signature valid (key ${r.keyId} of ${trusted.length} trusted), version ${r.manifest.version} of ${r.manifest.createdAt}, ${r.entries.total} entries${dropped ? `; entries clients drop: ${dropped}` : ''}`,
      };
    } catch (err) {
      return { check, status: 'fail', message: `${safeUrl(l.url)}: ${errorText(err)}` };
    }
  }
  try {
    const { snapshot, dropped } = await readLocalList(
      l.file!,
      { list: l.name, version: 0, createdAt: '' },
      {
        format: l.format ?? 'threatexchange',
        resolveType: createHashTypeResolver(),
        ...(l.hashType ? { hashType: l.hashType } : {}),
      },
    );
    let entries = 0;
    for (const t of snapshot.byType.values()) entries += t.count;
    const d = formatDropped(dropped);
    return {
      check,
      status: entries === 0 || d ? 'warn' : 'ok',
      message: `file ${l.file} readable (${l.format ?? 'threatexchange'}), ${entries} entries${d ? `; dropped: ${d}` : ''}`,
    };
  } catch (err) {
    return { check, status: 'fail', message: `file ${l.file}: ${errorText(err)}` };
  }
}

function actorName(): string {
  try {
    return `cli:${userInfo().username}`;
  } catch {
    return 'cli';
  }
}

async function checkStore(config: Config, writeTest: boolean): Promise<DoctorCheck[]> {
  const out: DoctorCheck[] = [];
  let store: IncidentStore | undefined;
  let opened = false;
  try {
    if (config.store) {
      store = config.store;
    } else {
      const path = join(config.dataDir, 'incidents.sqlite');
      const exists = await stat(path).then(
        () => true,
        () => false,
      );
      if (!exists) {
        const dir = await writableDir(config.dataDir);
        out.push({
          check: 'store',
          status: dir.ok ? 'ok' : 'fail',
          message: `SQLite ${path} does not exist yet; ${config.dataDir} ${dir.detail}`,
        });
        return out;
      }
      try {
        await access(path, fsConstants.R_OK | fsConstants.W_OK);
      } catch {
        out.push({ check: 'store', status: 'fail', message: `SQLite ${path} is not writable by this user` });
        return out;
      }
      store = await createSqliteStore({ path });
      opened = true;
    }
    const head = await store.auditHead();
    const where = config.store ? `store ${store.kind}` : `SQLite ${join(config.dataDir, 'incidents.sqlite')}`;
    if (writeTest) {
      await store.appendAudit({ type: 'doctor.write_test', actor: actorName(), details: {} });
      out.push({
        check: 'store',
        status: 'ok',
        message: `${where}: open, audit log at record ${head.seq}, a write succeeded (one doctor.write_test audit record)`,
      });
    } else {
      out.push({
        check: 'store',
        status: config.store ? 'warn' : 'ok',
        message: config.store
          ? `${where}: reachable, audit log at record ${head.seq}; writes not tested (--write-test appends one audit record)`
          : `${where}: open and writable, audit log at record ${head.seq}`,
      });
    }
  } catch (err) {
    out.push({ check: 'store', status: 'fail', message: errorText(err) });
  } finally {
    // The doctor ends here: close a store the configuration created too, or its pool keeps the process alive.
    if (store && (opened || config.store)) await store.close().catch(() => undefined);
  }
  return out;
}

async function checkEvidence(config: Config, env: NodeJS.ProcessEnv): Promise<DoctorCheck[]> {
  if (config.evidence === false) {
    return [
      {
        check: 'evidence',
        status: 'warn',
        message: 'evidence is off (evidence: false): blocked uploads are not preserved for reports',
      },
    ];
  }
  const out: DoctorCheck[] = [];
  let keys: EvidenceKeyRing;
  try {
    keys = config.evidence.keys ?? evidenceKeyRingFromEnv(env);
  } catch (err) {
    return [{ check: 'evidence key', status: 'fail', message: errorText(err) }];
  }
  const from = config.evidence.keys ? 'the configuration' : 'the environment';
  if (!keys.current) {
    out.push({
      check: 'evidence key',
      status: 'fail',
      message:
        'no current evidence key: set HASHGATE_EVIDENCE_KEY to base64 of 32 random bytes (openssl rand -base64 32); without it blocked uploads are recorded but not preserved',
    });
  } else {
    const older = keys.ids().length - 1;
    out.push({
      check: 'evidence key',
      status: 'ok',
      message: `key ${keys.current.id} set from ${from}${older > 0 ? `, ${older} older key(s) for reading` : ''}`,
    });
  }
  const dir = await writableDir(config.evidence.dir);
  out.push({
    check: 'evidence folder',
    status: dir.ok ? 'ok' : 'fail',
    message: `${config.evidence.dir} ${dir.detail}`,
  });
  return out;
}

/** A small image with enough structure for a PDQ hash, made in memory. */
async function probeImage(): Promise<Buffer> {
  const side = 96;
  const px = Buffer.alloc(side * side * 3);
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      const o = (y * side + x) * 3;
      px[o] = 128 + Math.round(100 * Math.sin(x / 7) * Math.cos(y / 11));
      px[o + 1] = (x * 3 + y) & 0xff;
      px[o + 2] = (x - side / 2) ** 2 + (y - side / 3) ** 2 < 400 ? 230 : 40;
    }
  }
  return sharp(px, { raw: { width: side, height: side, channels: 3 } })
    .png()
    .toBuffer();
}

async function checkHashing(config: Config): Promise<DoctorCheck> {
  const hasher = createHasher({ ...config.hashing, workers: Math.min(1, config.hashing.workers) });
  try {
    const outcome = await hasher.hash({ bytes: await probeImage() });
    const broken = outcome.unavailable.find((u) =>
      ['worker-failed', 'timed-out', 'undecodable', 'overloaded', 'unsupported-format'].includes(u.reason),
    );
    if (broken)
      return {
        check: 'hashing',
        status: 'fail',
        message: `${broken.type}: ${broken.reason} (${broken.detail})`,
      };
    const made = outcome.hashes.map((h) => h.type).join(', ');
    const decoder = outcome.hashes.find((h) => h.provenance.decoder)?.provenance.decoder;
    return {
      check: 'hashing',
      status: 'ok',
      message: `${config.hashing.workers} worker(s) configured; a test image gave ${made}${decoder ? ` (${decoder})` : ''}`,
    };
  } catch (err) {
    return { check: 'hashing', status: 'fail', message: errorText(err) };
  } finally {
    await hasher.close();
  }
}

/** Runs every check of a configuration and returns the results (never throws). */
export async function diagnose(
  raw: unknown,
  o: { writeTest?: boolean; hashing?: boolean; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<DoctorCheck[]> {
  const results: DoctorCheck[] = [];
  let config: Config;
  try {
    config = parseOptions(raw);
  } catch (err) {
    return [{ check: 'options', status: 'fail', message: errorText(err) }];
  }
  results.push({
    check: 'options',
    status: config.lists.length === 0 ? 'warn' : 'ok',
    message:
      config.lists.length === 0
        ? 'valid, but no list is configured: every upload would be unscanned (lists-not-ready)'
        : `valid: ${config.lists.length} list(s), failure policy ${config.whenUnavailable}`,
  });
  for (const l of config.lists) results.push(await checkList(l, o.timeoutMs ?? 15_000, config));
  const data = await writableDir(config.dataDir);
  results.push({
    check: 'data folder',
    status: data.ok ? 'ok' : 'fail',
    message: `${config.dataDir} ${data.detail} (list copies${config.store ? '' : ', SQLite store'})`,
  });
  results.push(...(await checkStore(config, o.writeTest === true)));
  results.push(...(await checkEvidence(config, o.env ?? process.env)));
  if (o.hashing !== false) results.push(await checkHashing(config));
  return results;
}

/** Runs `hashgate doctor` and resolves with the exit code: 0 no problem (warnings allowed), 1 problems. */
export async function runDoctor(o: DoctorOptions, io: DoctorIo = defaultIo): Promise<number> {
  const timeoutMs = o.timeout === undefined ? 15_000 : Number(o.timeout);
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1) {
    io.stderr(`hashgate doctor: --timeout must be a whole number of milliseconds, not "${o.timeout}"`);
    return DOCTOR_EXIT.usage;
  }
  let raw: unknown;
  try {
    raw = await loadConfigFile(o.config);
  } catch (err) {
    const message =
      err instanceof ConfigLoadError
        ? err.message
        : `could not load ${o.config}: ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`;
    if (o.json)
      io.stdout(JSON.stringify({ ok: false, checks: [{ check: 'config', status: 'fail', message }] }));
    else io.stderr(`hashgate doctor: ${message}`);
    return DOCTOR_EXIT.problems;
  }
  const checks = await diagnose(raw, {
    writeTest: o.writeTest === true,
    hashing: o.hashing !== false,
    timeoutMs,
    ...(io.env ? { env: io.env } : {}),
  });
  const problems = checks.filter((c) => c.status === 'fail').length;
  const warnings = checks.filter((c) => c.status === 'warn').length;
  if (o.json) {
    io.stdout(JSON.stringify({ ok: problems === 0, checks }));
  } else {
    io.stdout(`hashgate doctor: ${o.config}`);
    for (const c of checks) {
      const tag = c.status === 'fail' ? 'FAIL' : c.status;
      io.stdout(`  ${tag.padEnd(5)} ${c.check}: ${c.message}`);
    }
    io.stdout(
      problems === 0
        ? `no problems found${warnings ? ` (${warnings} warning${warnings === 1 ? '' : 's'})` : ''}`
        : `${problems} problem${problems === 1 ? '' : 's'} found`,
    );
  }
  return problems === 0 ? DOCTOR_EXIT.ok : DOCTOR_EXIT.problems;
}

/** Adds `doctor` to the program. */
export function registerDoctorCommand(program: Command, io: DoctorIo = defaultIo): void {
  program
    .command('doctor')
    .description(
      'check a configuration: lists reachable and signed, keys, data folder, store, evidence key, hashing',
    )
    .requiredOption(
      '--config <file>',
      'createHashgate() options: a .json file, or a .js/.cjs/.mjs module exporting them (or a function returning them)',
    )
    .option(
      '--write-test',
      'append one doctor.write_test record to the audit log to prove the store takes writes',
    )
    .option('--no-hashing', 'skip the hashing engine check')
    .option('--timeout <ms>', 'time limit for each list request, in milliseconds', '15000')
    .option('--json', 'print one JSON object: { ok, checks: [{ check, status, message }] }')
    .addHelpText(
      'after',
      `
Checks, one line each (ok, warn or FAIL):
  options          the configuration is valid (the same validation createHashgate() does)
  list <name>      a URL list: reachable, manifest signed by a configured public key, every
                   file's size and SHA-256 right, the list name as configured; a file list: readable
  data folder      dataDir is writable (list copies, the SQLite store)
  store            the incident store opens (SQLite in dataDir, or the configuration's store);
                   --write-test also appends one audit record
  evidence key     HASHGATE_EVIDENCE_KEY (or the configuration's key ring) holds a valid current key
  evidence folder  the evidence folder is writable
  hashing          the decoder and a hashing worker hash a test image made in memory
Nothing printed contains a hash or a key; URLs are shown without credentials or query.

Exit codes:
  0  no problem found (warnings allowed)
  1  a check failed, or the configuration could not be loaded
  2  bad usage

Examples:
  hashgate doctor --config hashgate.config.json
  HASHGATE_EVIDENCE_KEY=... hashgate doctor --config ./hashgate.config.js --write-test
`,
    )
    .action(async (options: DoctorOptions) => {
      process.exitCode = await runDoctor(options, io);
    });
}
