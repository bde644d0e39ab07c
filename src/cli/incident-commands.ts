/** Owns the incident commands of the `hashgate` CLI: `hashgate audit verify` and `hashgate evidence export`. */

import { existsSync } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import type { Command } from 'commander';
import { evidenceKeyRingFromEnv } from '../evidence/keys';
import { accessEvidence, createEvidenceVault } from '../evidence/vault';
import { IncidentErrorCodes, incidentError } from '../incidents/errors';
import { createPostgresStore } from '../incidents/postgres-store';
import { createSqliteStore } from '../incidents/sqlite-store';
import type { IncidentStore } from '../incidents/store';

/** Where the commands write, and the environment they read; injectable for tests. */
export interface IncidentCommandsContext {
  readonly stdout?: NodeJS.WritableStream;
  readonly stderr?: NodeJS.WritableStream;
  readonly env?: NodeJS.ProcessEnv;
}

interface StoreFlags {
  db?: string;
  schema?: string;
}

function storeOptions(cmd: Command): Command {
  return cmd
    .option(
      '--db <path-or-url>',
      'SQLite file or postgres:// URL of the incident store (default: $HASHGATE_DB)',
    )
    .option('--schema <name>', 'PostgreSQL schema (default: $HASHGATE_DB_SCHEMA or hashgate)');
}

async function openStore(flags: StoreFlags, env: NodeJS.ProcessEnv): Promise<IncidentStore> {
  const db = flags.db ?? env.HASHGATE_DB;
  if (!db) {
    throw incidentError(IncidentErrorCodes.INVALID_INPUT, 'Name the incident store with --db or HASHGATE_DB');
  }
  if (/^postgres(ql)?:\/\//.test(db)) {
    return createPostgresStore({
      connectionString: db,
      schema: flags.schema ?? env.HASHGATE_DB_SCHEMA ?? 'hashgate',
    });
  }
  // a mistyped path must not quietly create (and verify) an empty database
  if (!existsSync(db))
    throw incidentError(IncidentErrorCodes.STORE_FAILED, 'There is no incident database at the given path');
  return createSqliteStore({ path: db });
}

function defaultActor(): string {
  try {
    return `cli:${userInfo().username}`;
  } catch {
    return 'cli';
  }
}

/** Writes a file that must not exist yet, atomically and readable only by its owner. */
async function writeNewFile(path: string, bytes: Uint8Array): Promise<void> {
  if (existsSync(path))
    throw incidentError(IncidentErrorCodes.EVIDENCE_IO, 'The output file exists; choose another --out');
  const temp = join(dirname(path), `.hashgate-export-${process.pid}-${Date.now()}.tmp`);
  const fh = await open(temp, 'wx', 0o600);
  try {
    await fh.writeFile(bytes);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await rename(temp, path);
  } catch (err) {
    await unlink(temp).catch(() => undefined);
    throw incidentError(IncidentErrorCodes.EVIDENCE_IO, 'Could not write the output file', err);
  }
}

/**
 * Adds `hashgate audit verify` and `hashgate evidence export <incident> --out FILE` to the program.
 * Both find the store with `--db` (a SQLite file or a `postgres://` URL) or `HASHGATE_DB`.
 * `audit verify` prints the result and fails with `ERR_HASHGATE_AUDIT_CHAIN_BROKEN` at the first
 * bad record. `evidence export` needs the evidence key (`HASHGATE_EVIDENCE_KEY`, or the old key in
 * `HASHGATE_EVIDENCE_PREVIOUS_KEYS`), records an `evidence.exported` audit record first, then
 * writes the original bytes to a new file with mode 0600. Nothing is printed about hashes.
 */
export function registerIncidentCommands(program: Command, context: IncidentCommandsContext = {}): void {
  const out = context.stdout ?? process.stdout;
  const env = context.env ?? process.env;

  const audit = program.command('audit').description('the hash-chained audit log of the incident store');
  storeOptions(
    audit
      .command('verify')
      .description('re-hash the audit chain and report the first edited, deleted or reordered record'),
  ).action(async (flags: StoreFlags) => {
    const store = await openStore(flags, env);
    try {
      const result = await store.verifyAuditChain();
      if (result.ok) {
        out.write(`audit chain ok: ${result.records} records, head ${result.head.hash.slice(0, 16)}\n`);
        return;
      }
      out.write(`audit chain BROKEN at record ${result.position} (${result.problem}): ${result.message}\n`);
      out.write(`records 1 to ${result.records} verified\n`);
      throw incidentError(
        IncidentErrorCodes.AUDIT_CHAIN_BROKEN,
        `The audit chain is broken at record ${result.position} (${result.problem})`,
      );
    } finally {
      await store.close();
    }
  });

  const evidence = program.command('evidence').description('encrypted evidence of incidents');
  storeOptions(
    evidence
      .command('export <incident>')
      .description('decrypt the evidence of an incident to a new file (needs the key; audited)')
      .requiredOption('--out <file>', 'file to write the original bytes to (must not exist)')
      .option('--evidence-dir <dir>', 'evidence folder (default: $HASHGATE_EVIDENCE_DIR)')
      .option('--actor <name>', 'who exports, for the audit log (default: cli:<user>)')
      .option('--reason <text>', 'why, for the audit log'),
  ).action(
    async (
      incidentId: string,
      flags: StoreFlags & { out: string; evidenceDir?: string; actor?: string; reason?: string },
    ) => {
      const dir = flags.evidenceDir ?? env.HASHGATE_EVIDENCE_DIR;
      if (!dir) {
        throw incidentError(
          IncidentErrorCodes.INVALID_INPUT,
          'Name the evidence folder with --evidence-dir or HASHGATE_EVIDENCE_DIR',
        );
      }
      const keys = evidenceKeyRingFromEnv(env);
      if (keys.ids().length === 0) {
        throw incidentError(
          IncidentErrorCodes.EVIDENCE_KEY_INVALID,
          'Exporting evidence needs its key: set HASHGATE_EVIDENCE_KEY (and HASHGATE_EVIDENCE_PREVIOUS_KEYS for older keys)',
        );
      }
      const vault = createEvidenceVault({ dir, keys });
      const store = await openStore(flags, env);
      try {
        const incident = await store.getIncident(incidentId);
        if (!incident?.evidence) {
          throw incidentError(
            IncidentErrorCodes.NOT_FOUND,
            `Incident ${incidentId} is unknown or has no evidence`,
          );
        }
        // refuse a key mismatch before an audit record says the evidence was exported
        const header = await vault.inspect(incidentId);
        if (!header)
          throw incidentError(IncidentErrorCodes.NOT_FOUND, `No evidence file for incident ${incidentId}`);
        if (!keys.get(header.keyId)) {
          throw incidentError(
            IncidentErrorCodes.EVIDENCE_KEY_UNKNOWN,
            `The evidence was encrypted with key ${header.keyId}, which is not in the key ring`,
          );
        }
        if (existsSync(flags.out))
          throw incidentError(IncidentErrorCodes.EVIDENCE_IO, 'The output file exists; choose another --out');
        const opened = await accessEvidence({
          store,
          vault,
          incidentId,
          actor: flags.actor ?? defaultActor(),
          kind: 'exported',
          reason: flags.reason ?? 'exported with hashgate evidence export',
        });
        await writeNewFile(flags.out, opened.bytes);
        out.write(`exported the evidence of ${incidentId} (${opened.bytes.length} bytes) to ${flags.out}\n`);
      } finally {
        await store.close();
      }
    },
  );
}
