/**
 * Owns crash-safe file replacement: write a temporary file in the same folder, fsync it, rename
 * it over the target, fsync the folder. A crash at any point leaves either the old or the new
 * file, never a mix.
 */

import { randomBytes } from 'node:crypto';
import { type FileHandle, open, readdir, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/**
 * Fault-injection points for tests. A hook that throws behaves like a crash at that point (the
 * temporary file is removed afterwards, as a restarted process would do).
 */
export interface AtomicWriteHooks {
  /** Called after the temporary file is written and fsynced, just before the rename. */
  beforeRename?: (tempPath: string, finalPath: string) => void | Promise<void>;
}

/** Options of {@link writeFileAtomic}. */
export interface AtomicWriteOptions {
  /** File mode of the new file. @default 0o644 */
  mode?: number;
  /** Fault injection (tests). */
  hooks?: AtomicWriteHooks;
}

/** Prefix of the temporary files made for `finalPath` (hidden, in the same folder). */
export function tempPrefix(finalPath: string): string {
  return `.${basename(finalPath)}.tmp-`;
}

/** Fsyncs a directory so that a rename in it is durable; ignored where directories cannot be opened (Windows). */
export async function fsyncDir(dir: string): Promise<void> {
  let fh: FileHandle | undefined;
  try {
    fh = await open(dir, 'r');
    await fh.sync();
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code !== 'EISDIR' && code !== 'EPERM' && code !== 'EINVAL' && code !== 'EBADF') throw err;
  } finally {
    await fh?.close();
  }
}

async function writeFully(fh: FileHandle, buf: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < buf.byteLength) {
    const { bytesWritten } = await fh.write(buf, done, buf.byteLength - done, position + done);
    done += bytesWritten;
  }
}

/** What {@link writeFileAtomic} hands to its producer. */
export interface AtomicWriter {
  /** Appends a chunk (strings as UTF-8). */
  write(chunk: string | Uint8Array): Promise<void>;
  /** Overwrites bytes at an absolute position (for a header field filled in at the end). */
  writeAt(position: number, bytes: Uint8Array): Promise<void>;
}

/**
 * Replaces `finalPath` atomically with what `produce` writes. Either the whole new content is in
 * place when the promise resolves, or the previous file is untouched.
 */
export async function writeFileAtomic(
  finalPath: string,
  produce: (writer: AtomicWriter) => Promise<void>,
  options: AtomicWriteOptions = {},
): Promise<void> {
  const dir = dirname(finalPath);
  const temp = join(dir, `${tempPrefix(finalPath)}${process.pid}-${randomBytes(6).toString('hex')}`);
  const fh = await open(temp, 'wx', options.mode ?? 0o644);
  let closed = false;
  try {
    let position = 0;
    await produce({
      async write(chunk) {
        const buf = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
        await writeFully(fh, buf, position);
        position += buf.byteLength;
      },
      async writeAt(at, bytes) {
        await writeFully(fh, bytes, at);
      },
    });
    await fh.sync();
    await fh.close();
    closed = true;
    await options.hooks?.beforeRename?.(temp, finalPath);
    await rename(temp, finalPath);
  } catch (err) {
    if (!closed) await fh.close().catch(() => undefined);
    await unlink(temp).catch(() => undefined);
    throw err;
  }
  await fsyncDir(dir);
}

/** Removes temporary files left in `dir` for `finalPath` by a crashed writer. Returns how many were removed. */
export async function removeStaleTempFiles(finalPath: string): Promise<number> {
  const prefix = tempPrefix(finalPath);
  let names: string[];
  try {
    names = await readdir(dirname(finalPath));
  } catch {
    return 0;
  }
  let removed = 0;
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    await unlink(join(dirname(finalPath), name)).then(
      () => removed++,
      () => undefined,
    );
  }
  return removed;
}
