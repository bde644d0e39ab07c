/**
 * Owns the local spool: what hashgate could not hand to the incident store or the evidence vault
 * (incidents, ledger batches, sealed evidence) waits here, one file per item, until a replay
 * lands it. Each file is written atomically (temporary file, fsync, rename, fsync of the folder)
 * with mode 0600 in folders of mode 0700, so a crash leaves either no item or a whole one.
 */

import { mkdir, readdir, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { fsyncDir, writeFileAtomic } from '../lists/atomic-file';

/** The kinds of items a spool holds, one folder each. */
export type SpoolKind = 'incidents' | 'evidence' | 'ledger';

/** A folder of items that wait for the store or the vault. */
export interface Spool {
  /** The spool folder. */
  readonly dir: string;
  /** Writes an item atomically; resolves once it is durable. Replaces an item of the same name. */
  write(kind: SpoolKind, name: string, data: string | Uint8Array): Promise<void>;
  /** Names of the items of a kind, oldest name first (temporary files left by a crash are skipped). */
  list(kind: SpoolKind): Promise<string[]>;
  /** The bytes of an item, or undefined when it is gone. */
  read(kind: SpoolKind, name: string): Promise<Buffer | undefined>;
  /** Removes an item (no error when it is gone already). */
  remove(kind: SpoolKind, name: string): Promise<void>;
}

const TEMP_MARK = '.tmp-';

/**
 * Creates a spool over `dir` (created with mode 0700 on the first write). Item names are chosen
 * by the caller from ids and times: letters, digits, `.`, `_` and `-` only.
 *
 * @example
 * const spool = createSpool(join(dataDir, 'spool'));
 * await spool.write('incidents', `${id}.json`, JSON.stringify(incident));
 */
export function createSpool(dir: string): Spool {
  const folderOf = (kind: SpoolKind): string => join(dir, kind);
  const checkName = (name: string): void => {
    if (!/^[A-Za-z0-9_-][A-Za-z0-9._-]*$/.test(name) || name.includes(TEMP_MARK))
      throw new Error(`Invalid spool item name ${JSON.stringify(name)}`);
  };

  return Object.freeze({
    dir,

    async write(kind: SpoolKind, name: string, data: string | Uint8Array): Promise<void> {
      checkName(name);
      const folder = folderOf(kind);
      await mkdir(folder, { recursive: true, mode: 0o700 });
      await writeFileAtomic(join(folder, name), (w) => w.write(data), { mode: 0o600 });
      // writeFileAtomic fsyncs the kind's folder; the spool folder holds that folder's entry
      await fsyncDir(dir);
    },

    async list(kind: SpoolKind): Promise<string[]> {
      try {
        return (await readdir(folderOf(kind))).filter((n) => !n.startsWith('.')).sort();
      } catch (err) {
        if ((err as { code?: string }).code === 'ENOENT') return [];
        throw err;
      }
    },

    async read(kind: SpoolKind, name: string): Promise<Buffer | undefined> {
      checkName(name);
      try {
        return await readFile(join(folderOf(kind), name));
      } catch (err) {
        if ((err as { code?: string }).code === 'ENOENT') return undefined;
        throw err;
      }
    },

    async remove(kind: SpoolKind, name: string): Promise<void> {
      checkName(name);
      try {
        await unlink(join(folderOf(kind), name));
      } catch (err) {
        if ((err as { code?: string }).code === 'ENOENT') return;
        throw err;
      }
      await fsyncDir(folderOf(kind));
    },
  });
}
