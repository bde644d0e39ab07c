/** Owns `hashgate hash`: every hash of every file given, as text, JSON lines or python-threatexchange lines. */

import type { Command } from 'commander';
import { isHashgateError } from '../errors';
import { createHasher } from '../hashing/hasher';
import { DIHEDRAL_VARIANTS, type HashOutcome } from '../hashing/outcome';
import { ProgressBar } from './progress';
import { expandInputs } from './walk';

/** Exit codes of `hashgate hash`. */
export const HASH_EXIT = { ok: 0, unreadable: 1, usage: 2 } as const;

interface HashCommandOptions {
  json?: boolean;
  format?: string;
  dihedral?: boolean;
  convention?: string;
  blockhashMethod?: string;
  minQuality?: string;
  workers?: string;
}

/** Where the command writes; injectable for tests. */
export interface CliIo {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WriteStream;
}

function textBlock(path: string, o: HashOutcome, dihedral: boolean): string {
  const lines = [path];
  for (const h of o.hashes) {
    const p = h.provenance;
    const about: string[] = [];
    if (p.quality !== undefined) about.push(`quality ${p.quality}`);
    if (p.convention) about.push(p.convention);
    if (h.type === 'blockhash') about.push(p.algorithm.replace(/^blockhash-/, ''));
    if (p.width !== undefined) about.push(`${p.width}x${p.height}`);
    if (p.smallImage) about.push('small image');
    if (p.region?.kind === 'trimmed') about.push('trimmed content (inside a border or letterbox)');
    lines.push(`  ${h.type.padEnd(16)}${h.hex}${about.length ? `  ${about.join(', ')}` : ''}`);
    if (dihedral && h.variants) {
      for (const v of DIHEDRAL_VARIANTS.slice(1)) lines.push(`  ${`pdq:${v}`.padEnd(16)}${h.variants[v]}`);
    }
  }
  for (const u of o.unavailable) {
    if (u.reason !== 'disabled') lines.push(`  ${u.type.padEnd(16)}unavailable: ${u.reason} (${u.detail})`);
  }
  return `${lines.join('\n')}\n`;
}

function threatexchangeLines(o: HashOutcome, dihedral: boolean): string {
  const pdq = o.hashes.find((h) => h.type === 'pdq');
  if (!pdq) return '';
  const values = dihedral && pdq.variants ? DIHEDRAL_VARIANTS.map((v) => pdq.variants![v]) : [pdq.hex];
  return values.map((hex) => `pdq ${hex}\n`).join('');
}

function jsonLine(path: string, o: HashOutcome, dihedral: boolean): string {
  const hashes = o.hashes.map((h) => (dihedral || !h.variants ? h : { ...h, variants: undefined }));
  return `${JSON.stringify({ file: path, size: o.size, format: o.format, image: o.image, hashes, unavailable: o.unavailable })}\n`;
}

/**
 * Runs `hashgate hash` and resolves with the exit code. Files are hashed concurrently (as many
 * as there are workers) and printed in the order given.
 */
export async function runHash(
  inputs: readonly string[],
  options: HashCommandOptions,
  io: CliIo,
): Promise<number> {
  const format = options.json ? 'json' : (options.format ?? 'text');
  if (!['text', 'json', 'threatexchange'].includes(format)) {
    io.stderr.write(`hashgate hash: --format must be text, json or threatexchange, not '${format}'\n`);
    return HASH_EXIT.usage;
  }
  const dihedral = options.dihedral === true;
  let hasher: ReturnType<typeof createHasher>;
  try {
    hasher = createHasher({
      ...(options.workers !== undefined ? { workers: Number(options.workers) } : {}),
      pdq: {
        dihedral: true,
        ...(options.convention !== undefined ? { convention: options.convention as 'fullres' } : {}),
        ...(options.minQuality !== undefined ? { minQuality: Number(options.minQuality) } : {}),
      },
      blockhash:
        options.blockhashMethod !== undefined ? { method: options.blockhashMethod as 'precise' } : {},
    });
  } catch (err) {
    io.stderr.write(`hashgate hash: ${isHashgateError(err) ? err.message : String(err)}\n`);
    return HASH_EXIT.usage;
  }

  let exit: number = HASH_EXIT.ok;
  try {
    const { files, problems } = await expandInputs(inputs);
    for (const p of problems) {
      io.stderr.write(`hashgate hash: ${p.path}: ${p.reason}\n`);
      exit = HASH_EXIT.unreadable;
    }
    const progress = new ProgressBar(io.stderr, files.length);
    const window = Math.max(1, hasher.config.workers * 2);
    const pending: Promise<HashOutcome | Error>[] = [];
    let next = 0;
    const launch = (): void => {
      const file = files[next++];
      if (file !== undefined) pending.push(hasher.hash({ path: file }).catch((err: Error) => err));
    };
    for (let i = 0; i < window; i++) launch();
    for (let i = 0; i < files.length; i++) {
      const outcome = await pending[i]!;
      launch();
      progress.tick();
      const file = files[i]!;
      if (outcome instanceof Error) {
        io.stderr.write(
          `hashgate hash: ${file}: ${isHashgateError(outcome) ? outcome.message : 'could not be hashed'}\n`,
        );
        exit = HASH_EXIT.unreadable;
        continue;
      }
      if (format === 'json') io.stdout.write(jsonLine(file, outcome, dihedral));
      else if (format === 'threatexchange') io.stdout.write(threatexchangeLines(outcome, dihedral));
      else io.stdout.write(textBlock(file, outcome, dihedral));
    }
    progress.finish();
  } finally {
    await hasher.close();
  }
  return exit;
}

/** Adds `hash` to the program. */
export function registerHashCommand(program: Command, io: CliIo): void {
  program
    .command('hash')
    .description('print every hash (md5, sha1, sha256, pdq, blockhash) of files and folders')
    .argument('<paths...>', 'files or folders (folders are read recursively, hidden entries skipped)')
    .option('--json', 'one JSON object per file (JSON lines), with provenance and reasons')
    .option(
      '--format <format>',
      'text, json or threatexchange (`pdq <hex>` lines for python-threatexchange)',
      'text',
    )
    .option('--dihedral', 'also print the 7 rotated and mirrored PDQ variants')
    .option('--convention <name>', 'PDQ convention: fullres (interoperable) or cli512', 'fullres')
    .option('--blockhash-method <method>', 'precise or quick', 'precise')
    .option('--min-quality <n>', 'PDQ hashes under this quality are reported unavailable', '50')
    .option('--workers <n>', 'worker threads (default: the number of cores)')
    .addHelpText(
      'after',
      `
Exit codes:
  0  every file was read (files that are not images still get their exact hashes;
     a perceptual hash that could not be made is shown with its reason)
  1  some input could not be read (missing, unreadable)
  2  bad usage

Examples:
  hashgate hash photo.jpg
  hashgate hash --json uploads/ > hashes.jsonl
  hashgate hash --format threatexchange --dihedral known/ > list.txt
`,
    )
    .action(async (paths: string[], options: HashCommandOptions) => {
      process.exitCode = await runHash(paths, options, io);
    });
}
