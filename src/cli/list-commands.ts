/**
 * Owns the list commands of the `hashgate` CLI: `keygen`, `list build`, `list add`,
 * `list remove`, `list verify` and `list serve`. Output shows counts, never hashes.
 */

import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { isHashgateError } from '../errors';
import { hashTypes } from '../hashing/hash-types';
import { createHasher } from '../hashing/hasher';
import type { ComputedHash } from '../hashing/outcome';
import { DECODABLE_FORMATS, readFileHead, sniffFormat } from '../hashing/sniff';
import { cropHashes, derivedEntryId, derivedEntryLabel, parseDerivedEntryId } from '../lists/augment';
import { createHashTypeResolver, DEFAULT_CATEGORY, type DropCounts, SnapshotBuilder } from '../lists/entries';
import { ListErrorCodes, listError } from '../lists/errors';
import {
  addHashLine,
  deriveEntryId,
  LOCAL_LIST_FORMATS,
  type LocalListFormat,
  parseLocalFile,
} from '../lists/formats';
import {
  generateListKeyPair,
  parsePrivateKey,
  parsePublicKey,
  type SigningKey,
  type TrustedKey,
} from '../lists/keys';
import { type ListServer, startListServer } from '../lists/list-server';
import { publishListVersion, readPublishedList } from '../lists/publisher';
import { verifyPublishedList } from '../lists/verify';
import type { ListSnapshot } from '../snapshot';
import { ProgressBar } from './progress';

/** Where the list commands write (injectable for tests). */
export interface ListCommandIo {
  stdout(text: string): void;
  stderr(text: string): void;
  /** Called when `list serve` is listening (tests use it to close the server). */
  onServerStarted?(server: ListServer): void;
}

const defaultIo: ListCommandIo = {
  stdout: (t) => process.stdout.write(t.endsWith('\n') ? t : `${t}\n`),
  stderr: (t) => process.stderr.write(t.endsWith('\n') ? t : `${t}\n`),
};

/** Exit code: the command failed (bad arguments, unreadable input, I/O or network error). */
export const EXIT_FAILURE = 1;
/** Exit code: `list verify` found the list invalid (signature, file hash or size, manifest). */
export const EXIT_INVALID_LIST = 2;

const EXIT_HELP = `
Exit codes:
  0  success
  1  failure: bad arguments, unreadable input, I/O or network error`;
const VERIFY_EXIT_HELP = `${EXIT_HELP}
  2  the list is invalid: bad signature, untrusted key, wrong file hash or size, bad manifest`;

const INLINE_HASH = /^([a-z0-9_]+):([0-9a-fA-F]+)$/;
const ENVELOPE_CODES = new Set<string>([
  ListErrorCodes.MANIFEST_INVALID,
  ListErrorCodes.SIGNATURE_INVALID,
  ListErrorCodes.FILE_HASH_MISMATCH,
  ListErrorCodes.FILE_SIZE_MISMATCH,
  ListErrorCodes.TRUNCATED,
  ListErrorCodes.FILE_INVALID,
  ListErrorCodes.NAME_MISMATCH,
]);

interface InputOptions {
  format: string;
  type?: string;
  category?: string;
  /** Hash types taken from image inputs. */
  imageHashes?: string;
  /** `crops`: also index the hashes of crops of every image input (build and add only). */
  augment?: string;
}

/** Values of `--augment`. */
const AUGMENT_KINDS = ['none', 'crops'] as const;

/** Hash types a list built from images carries by default. */
const DEFAULT_IMAGE_HASHES = 'md5,sha1,sha256,pdq,blockhash';

async function isImage(path: string): Promise<boolean> {
  return DECODABLE_FORMATS.has(sniffFormat((await readFileHead(path)).head));
}

/** What adding image inputs produced. */
interface ImageCounts {
  hashed: number;
  withoutPerceptual: number;
  /** Entries derived from an image's own entries: its trimmed content and, with `--augment crops`, its crops. */
  derived: number;
}

/**
 * Adds the hashes of one image: the whole image's as entries of their own (ids derived from the
 * hash, as for hash files), and hashes of a region of it (the trimmed content of a framed image,
 * crops with `--augment crops`) as entries whose ids derive from the whole image's entry of the
 * same type, labelled `augmented:...`, so that a match on them names the original entry.
 * Region hashes are only added when the whole image's entry was new (not a duplicate).
 */
function addImageHashes(
  hashes: readonly ComputedHash[],
  builder: SnapshotBuilder,
  wanted: ReadonlySet<string>,
  o: InputOptions,
  resolveType: ReturnType<typeof createHashTypeResolver>,
): number {
  const sources = new Map<string, string>();
  let derived = 0;
  for (const h of hashes) {
    if (!wanted.has(h.type) || h.provenance.region) continue;
    const type = resolveType(h.type);
    if (!type) continue;
    const parsed = type.validate(h.hex);
    const id = parsed.ok ? deriveEntryId(type, parsed.bytes) : undefined;
    if (addHashLine(builder, resolveType, h.type, h.hex, o.category) && id) sources.set(h.type, id);
  }
  for (const h of hashes) {
    const region = h.provenance.region;
    if (!region || !wanted.has(h.type)) continue;
    const source = sources.get(h.type);
    if (!source) continue;
    const derivation =
      region.kind === 'crop'
        ? { kind: 'crop' as const, name: region.name ?? 'unnamed' }
        : { kind: 'trimmed' as const };
    if (
      builder.addHex(derivedEntryId(source, derivation), h.type, h.hex, o.category, [
        derivedEntryLabel(derivation),
      ])
    )
      derived++;
  }
  return derived;
}

/**
 * Hashes image files with the hashing engine and adds the chosen hash types of each to `builder`.
 * An image that yields no perceptual hash (flat, too small) still contributes its exact hashes.
 */
async function addImages(
  images: readonly string[],
  builder: SnapshotBuilder,
  o: InputOptions,
  resolveType: ReturnType<typeof createHashTypeResolver>,
  stderr: NodeJS.WriteStream,
): Promise<ImageCounts> {
  const wanted = new Set(
    (o.imageHashes ?? DEFAULT_IMAGE_HASHES).split(',').map((t) => t.trim().toLowerCase()),
  );
  for (const t of wanted) {
    if (!hashTypes[t as keyof typeof hashTypes]) {
      throw listError(ListErrorCodes.UNSUPPORTED_INPUT, `Unknown hash type in --image-hashes: ${t}`);
    }
  }
  const augment = o.augment === 'crops';
  const hasher = createHasher({ pdq: { dihedral: false } });
  const progress = new ProgressBar(stderr, images.length);
  let withoutPerceptual = 0;
  let derived = 0;
  try {
    const window = Math.max(1, hasher.config.workers * 2);
    const pending = images.slice(0, window).map((path) => hasher.hash({ path }));
    for (let i = 0; i < images.length; i++) {
      const outcome = await pending[i]!;
      const next = images[i + window];
      if (next !== undefined) pending.push(hasher.hash({ path: next }));
      const perceptual = outcome.hashes.some((h) => h.type === 'pdq' || h.type === 'blockhash');
      if (!perceptual) withoutPerceptual++;
      // Crops are hashed on this thread while the workers hash the next images.
      const crops = augment && perceptual ? await cropHashes({ path: images[i]! }, hasher.config) : [];
      progress.tick();
      derived += addImageHashes([...outcome.hashes, ...crops], builder, wanted, o, resolveType);
    }
  } finally {
    progress.finish();
    await hasher.close();
  }
  return { hashed: images.length, withoutPerceptual, derived };
}

function formatDropped(dropped: DropCounts): string {
  const parts = Object.entries(dropped).map(([reason, n]) => `${reason} ${n}`);
  return parts.length ? parts.join(', ') : 'none';
}

function formatCounts(counts: Record<string, number>): string {
  const parts = Object.entries(counts).map(([k, n]) => `${k} ${n}`);
  return parts.length ? parts.join(', ') : 'none';
}

function formatFor(path: string, o: InputOptions): LocalListFormat {
  if (o.format !== 'auto') return o.format as LocalListFormat;
  const name = path.toLowerCase().replace(/\.gz$/, '');
  if (name.endsWith('.ndjson') || name.endsWith('.jsonl')) return 'ndjson';
  if (name.endsWith('.csv')) return 'threatexchange-csv';
  return o.type ? 'text' : 'threatexchange';
}

async function listFiles(path: string): Promise<string[]> {
  const info = await stat(path);
  if (!info.isDirectory()) return [path];
  const out: string[] = [];
  for (const name of (await readdir(path)).sort()) {
    if (name.startsWith('.')) continue;
    out.push(...(await listFiles(join(path, name))));
  }
  return out;
}

/** Reads every input (hash files, folders of them, inline `type:hex` arguments) into `builder`. */
async function readInputs(
  inputs: readonly string[],
  builder: SnapshotBuilder,
  o: InputOptions,
  io: ListCommandIo,
): Promise<void> {
  const resolveType = createHashTypeResolver();
  const images: string[] = [];
  if (o.augment !== undefined && !(AUGMENT_KINDS as readonly string[]).includes(o.augment)) {
    throw listError(
      ListErrorCodes.UNSUPPORTED_INPUT,
      `Unknown --augment value; use ${AUGMENT_KINDS.join(' or ')}`,
    );
  }
  if (o.format !== 'auto' && !LOCAL_LIST_FORMATS.includes(o.format as LocalListFormat)) {
    throw listError(
      ListErrorCodes.SOURCE_READ_FAILED,
      `Unknown input format; use auto or ${LOCAL_LIST_FORMATS.join(', ')}`,
    );
  }
  for (const input of inputs) {
    const exists = await stat(input).then(
      () => true,
      () => false,
    );
    const inline = INLINE_HASH.exec(input);
    if (!exists && inline) {
      addHashLine(builder, resolveType, inline[1]!, inline[2]!, o.category);
      continue;
    }
    if (!exists) {
      // The argument is not echoed: it may be a mistyped hash.
      throw listError(
        ListErrorCodes.SOURCE_READ_FAILED,
        `Input ${inputs.indexOf(input) + 1} is neither a readable file or folder nor a type:hex hash`,
      );
    }
    for (const file of await listFiles(input)) {
      // The bytes decide what a file is, not its name.
      if (await isImage(file)) {
        images.push(file);
        continue;
      }
      await parseLocalFile(file, builder, {
        format: formatFor(file, o),
        resolveType,
        ...(o.type ? { hashType: o.type } : {}),
        ...(o.category ? { category: o.category } : {}),
      });
    }
  }
  if (images.length > 0) {
    const { hashed, withoutPerceptual, derived } = await addImages(
      images,
      builder,
      o,
      resolveType,
      process.stderr,
    );
    io.stderr(
      `hashed ${hashed} image${hashed === 1 ? '' : 's'}${withoutPerceptual ? ` (${withoutPerceptual} without a perceptual hash: too small, flat or undecodable)` : ''}${derived ? `; ${derived} derived entr${derived === 1 ? 'y' : 'ies'} (trimmed content${o.augment === 'crops' ? ' and crops' : ''})` : ''}`,
    );
  }
}

async function readSigningKeys(paths: readonly string[] | undefined): Promise<SigningKey[]> {
  if (!paths || paths.length === 0)
    throw listError(ListErrorCodes.KEY_INVALID, 'Expected at least one --key <private key file>');
  return Promise.all(paths.map(async (p) => parsePrivateKey(await readFile(p, 'utf8'))));
}

async function readTrustedKeys(values: readonly string[] | undefined): Promise<TrustedKey[]> {
  if (!values || values.length === 0)
    throw listError(ListErrorCodes.KEY_INVALID, 'Expected at least one --key <public key>');
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

/** Copies every row of `snapshot` into `builder` (for add/remove), skipping rows `skip` says to. */
function copyRows(
  snapshot: ListSnapshot,
  builder: SnapshotBuilder,
  skip: (id: string, key: string) => boolean,
): number {
  let skipped = 0;
  for (const [name, t] of snapshot.byType) {
    const type = hashTypes[name as keyof typeof hashTypes];
    if (!type) continue;
    for (let i = 0; i < t.count; i++) {
      const id = t.ids[i]!;
      const off = i * t.hashBytes;
      const key = `${name}:${Buffer.from(t.hashes.buffer, t.hashes.byteOffset + off, t.hashBytes).toString('hex')}`;
      if (skip(id, key)) {
        skipped++;
        continue;
      }
      builder.addBytes(
        id,
        type,
        t.hashes,
        off,
        snapshot.categories[t.categories[i]!] ?? DEFAULT_CATEGORY,
        t.labels.get(i),
      );
    }
  }
  return skipped;
}

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

function addInputOptions(cmd: Command): Command {
  return cmd
    .option('--format <format>', `input format: auto, ${LOCAL_LIST_FORMATS.join(', ')}`, 'auto')
    .option('--type <hashType>', 'hash type of plain-text inputs (md5, sha1, sha256, pdq, blockhash)')
    .option('--category <category>', 'category of entries that have none')
    .option(
      '--image-hashes <types>',
      'hash types taken from image inputs (images are hashed with the hashing engine)',
      DEFAULT_IMAGE_HASHES,
    );
}

/**
 * Registers `keygen` and `list build|add|remove|verify|serve` on `program`. Failures go through
 * commander's `error()` with the exit codes documented in each command's help (so
 * `program.exitOverride()` turns them into exceptions in tests).
 */
export function registerListCommands(program: Command, io: ListCommandIo = defaultIo): void {
  const fail = (cmd: Command, err: unknown, invalidExit = EXIT_FAILURE): never => {
    const sys = err as NodeJS.ErrnoException;
    // File-system errors name a path the user gave (never list contents); anything else unknown is a bug.
    const message = isHashgateError(err)
      ? err.message
      : typeof sys?.syscall === 'string'
        ? sys.message
        : `Unexpected ${(err as Error)?.name ?? 'error'}`;
    const code: string = isHashgateError(err)
      ? err.code
      : typeof sys?.syscall === 'string'
        ? ListErrorCodes.SOURCE_READ_FAILED
        : ListErrorCodes.INTERNAL;
    const exitCode = ENVELOPE_CODES.has(code) ? invalidExit : EXIT_FAILURE;
    return cmd.error(`${code}: ${message}`, { exitCode, code });
  };

  program
    .command('keygen')
    .description('generate an Ed25519 key pair for signing lists')
    .option('--out <prefix>', 'write <prefix>.key (private, mode 0600) and <prefix>.pub', 'hashgate-list')
    .option('--force', 'overwrite existing key files')
    .addHelpText('after', EXIT_HELP)
    .action(async (opts: { out: string; force?: boolean }, cmd: Command) => {
      try {
        const pair = generateListKeyPair();
        const flag = opts.force ? 'w' : 'wx';
        await writeFile(`${opts.out}.key`, pair.privateKeyPem, { mode: 0o600, flag });
        await writeFile(`${opts.out}.pub`, pair.publicKeyPem, { mode: 0o644, flag });
        io.stdout(`key id: ${pair.keyId}`);
        io.stdout(`public key (base64): ${pair.publicKeyBase64}`);
        io.stdout(`wrote ${opts.out}.key (keep it secret) and ${opts.out}.pub`);
      } catch (err) {
        fail(cmd, err);
      }
    });

  const list = program.command('list').description('build, change, verify and serve signed hash lists');

  addInputOptions(
    list
      .command('build')
      .description('publish a new version of a list from images and hash files (replaces all entries)')
      .argument('<inputs...>', 'images, hash files, folders of them, or inline type:hex hashes')
      .requiredOption('--name <name>', 'list name')
      .requiredOption('--out <dir>', 'directory of the published list')
      .option('--key <file>', 'private key file (repeat to sign with two keys during a rotation)', collect)
      .option('--no-gzip', 'write plain .ndjson files instead of .ndjson.gz')
      .option(
        '--augment <kind>',
        "crops: also index the PDQ hashes of 6 crops of every image input, as entries derived from the image's own (see docs/detection.md)",
        'none',
      )
      .option('--strict', 'fail when any input entry is invalid'),
  )
    .addHelpText('after', EXIT_HELP)
    .action(
      async (
        inputs: string[],
        opts: InputOptions & { name: string; out: string; key?: string[]; gzip: boolean; strict?: boolean },
        cmd: Command,
      ) => {
        try {
          const keys = await readSigningKeys(opts.key);
          const builder = new SnapshotBuilder();
          await readInputs(inputs, builder, opts, io);
          const dropped = builder.dropped;
          if (opts.strict && Object.keys(dropped).length > 0) {
            throw listError(
              ListErrorCodes.PUBLISH_FAILED,
              `Invalid input entries (--strict): ${formatDropped(dropped)}`,
            );
          }
          const r = await publishListVersion({
            dir: opts.out,
            name: opts.name,
            entries: builder.build(opts.name, 0, ''),
            keys,
            gzip: opts.gzip,
          });
          io.stdout(
            `published ${r.manifest.name} version ${r.manifest.version}: ${r.manifest.snapshot.entries} entries (${formatCounts({ ...r.manifest.counts })})`,
          );
          if (r.delta)
            io.stdout(
              `delta from version ${r.previousVersion}: ${r.delta.adds} added, ${r.delta.removes} removed`,
            );
          io.stdout(`dropped input entries: ${formatDropped(dropped)}`);
        } catch (err) {
          fail(cmd, err);
        }
      },
    );

  addInputOptions(
    list
      .command('add')
      .description('publish a new version with entries added (a delta from the current version)')
      .argument('<inputs...>', 'images, hash files, folders of them, or inline type:hex hashes')
      .requiredOption('--dir <dir>', 'directory of the published list')
      .option('--key <file>', 'private key file (repeatable)', collect)
      .option(
        '--augment <kind>',
        "crops: also index the PDQ hashes of 6 crops of every image input, as entries derived from the image's own (see docs/detection.md)",
        'none',
      )
      .option('--no-gzip', 'write plain .ndjson files'),
  )
    .addHelpText('after', EXIT_HELP)
    .action(
      async (
        inputs: string[],
        opts: InputOptions & { dir: string; key?: string[]; gzip: boolean },
        cmd: Command,
      ) => {
        try {
          const keys = await readSigningKeys(opts.key);
          const current = await readPublishedList(opts.dir);
          if (!current)
            throw listError(
              ListErrorCodes.PUBLISH_FAILED,
              'No list in that directory; use `list build` first',
            );
          const builder = new SnapshotBuilder({ expectedCounts: current.manifest.counts });
          copyRows(current.snapshot, builder, () => false);
          const before = builder.size;
          await readInputs(inputs, builder, opts, io);
          const name = current.manifest.name;
          const r = await publishListVersion({
            dir: opts.dir,
            name,
            entries: builder.build(name, 0, ''),
            keys,
            gzip: opts.gzip,
          });
          io.stdout(
            `published ${name} version ${r.manifest.version}: ${builder.size - before} added, ${r.manifest.snapshot.entries} entries`,
          );
          io.stdout(`dropped input entries: ${formatDropped(builder.dropped)}`);
        } catch (err) {
          fail(cmd, err);
        }
      },
    );

  addInputOptions(
    list
      .command('remove')
      .description('publish a new version with entries removed (tombstones in a delta)')
      .argument('[inputs...]', 'hash files or inline type:hex hashes whose entries are removed')
      .requiredOption('--dir <dir>', 'directory of the published list')
      .option('--id <id>', 'entry id to remove (repeatable)', collect)
      .option('--key <file>', 'private key file (repeatable)', collect)
      .option('--no-gzip', 'write plain .ndjson files'),
  )
    .addHelpText('after', EXIT_HELP)
    .action(
      async (
        inputs: string[],
        opts: InputOptions & { dir: string; id?: string[]; key?: string[]; gzip: boolean },
        cmd: Command,
      ) => {
        try {
          const keys = await readSigningKeys(opts.key);
          const current = await readPublishedList(opts.dir);
          if (!current) throw listError(ListErrorCodes.PUBLISH_FAILED, 'No list in that directory');
          const victims = new SnapshotBuilder();
          await readInputs(inputs, victims, opts, io);
          const byKey = new Set<string>();
          const victimSnap = victims.build('remove', 0, '');
          for (const [name, t] of victimSnap.byType) {
            for (let i = 0; i < t.count; i++) {
              byKey.add(
                `${name}:${Buffer.from(t.hashes.buffer, t.hashes.byteOffset + i * t.hashBytes, t.hashBytes).toString('hex')}`,
              );
            }
          }
          const ids = new Set(opts.id ?? []);
          // Entries derived from a removed entry (its trimmed content, its crops) go with it.
          copyRows(current.snapshot, new SnapshotBuilder(), (id, key) => {
            if (byKey.has(key)) ids.add(id);
            return true;
          });
          const gone = (id: string): boolean => {
            const derived = parseDerivedEntryId(id);
            return ids.has(id) || (derived !== undefined && ids.has(derived.sourceId));
          };
          const builder = new SnapshotBuilder({ expectedCounts: current.manifest.counts });
          const removed = copyRows(current.snapshot, builder, (id, key) => gone(id) || byKey.has(key));
          const name = current.manifest.name;
          const r = await publishListVersion({
            dir: opts.dir,
            name,
            entries: builder.build(name, 0, ''),
            keys,
            gzip: opts.gzip,
          });
          io.stdout(
            `published ${name} version ${r.manifest.version}: ${removed} removed, ${r.manifest.snapshot.entries} entries`,
          );
        } catch (err) {
          fail(cmd, err);
        }
      },
    );

  list
    .command('verify')
    .description('verify a published list (directory or URL) as a client would')
    .argument('<location>', 'list directory, or URL of the manifest or its folder')
    .option('--key <key>', 'trusted public key: a file (PEM) or raw base64 (repeatable)', collect)
    .option('--allow-insecure-http', 'allow plain http to a host that is not loopback')
    .option('--json', 'print the report as JSON')
    .addHelpText('after', VERIFY_EXIT_HELP)
    .action(
      async (
        location: string,
        opts: { key?: string[]; allowInsecureHttp?: boolean; json?: boolean },
        cmd: Command,
      ) => {
        try {
          const trusted = await readTrustedKeys(opts.key);
          const r = await verifyPublishedList(location, {
            trusted,
            allowInsecureHttp: opts.allowInsecureHttp === true,
          });
          if (opts.json) {
            io.stdout(
              JSON.stringify({
                name: r.manifest.name,
                version: r.manifest.version,
                createdAt: r.manifest.createdAt,
                keyId: r.keyId,
                entries: r.entries,
                dropped: r.dropped,
                deltasVerified: r.deltasVerified,
              }),
            );
            return;
          }
          io.stdout(
            `ok: ${r.manifest.name} version ${r.manifest.version} (created ${r.manifest.createdAt}), signed by key ${r.keyId}`,
          );
          io.stdout(
            `entries: ${r.entries.total} (${formatCounts(r.entries.byType)}); categories: ${formatCounts(r.entries.byCategory)}`,
          );
          io.stdout(`dropped entries: ${formatDropped(r.dropped)}; deltas verified: ${r.deltasVerified}`);
        } catch (err) {
          fail(cmd, err, EXIT_INVALID_LIST);
        }
      },
    );

  list
    .command('serve')
    .description('serve a list directory over HTTP (ETag, 304, gzip) for development or self-publishing')
    .argument('<dir>', 'directory to serve')
    .option('--port <port>', 'port to listen on', '8080')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .addHelpText('after', EXIT_HELP)
    .action(async (dir: string, opts: { port: string; host: string }, cmd: Command) => {
      try {
        const port = Number(opts.port);
        if (!Number.isInteger(port) || port < 0 || port > 65535) {
          throw listError(ListErrorCodes.SOURCE_READ_FAILED, 'Expected a port from 0 to 65535');
        }
        if (!(await stat(dir)).isDirectory())
          throw listError(ListErrorCodes.SOURCE_READ_FAILED, 'Not a directory');
        const server = await startListServer({ root: dir, port, host: opts.host });
        io.stdout(`serving ${dir} at ${server.url} (Ctrl-C to stop)`);
        const stop = (): void => {
          void server.close();
        };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
        server.server.once('close', () => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
        });
        io.onServerStarted?.(server);
      } catch (err) {
        fail(cmd, err);
      }
    });
}
