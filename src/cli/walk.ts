/** Owns expanding command-line inputs (files and folders) into a sorted list of files. */

import { lstat, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

/** An input that could not be expanded, with the reason (the path is the user's own argument). */
export interface WalkProblem {
  readonly path: string;
  readonly reason: string;
}

/**
 * Expands files and folders into files: folders recursively, entries sorted by name, hidden
 * entries (starting with a dot) skipped inside folders, symbolic links to folders not followed.
 */
export async function expandInputs(
  inputs: readonly string[],
): Promise<{ files: string[]; problems: WalkProblem[] }> {
  const files: string[] = [];
  const problems: WalkProblem[] = [];
  const visit = async (path: string, explicit: boolean): Promise<void> => {
    let info: Awaited<ReturnType<typeof lstat>>;
    try {
      info = await lstat(path);
    } catch (err) {
      problems.push({
        path,
        reason: (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'not found' : 'not readable',
      });
      return;
    }
    if (info.isDirectory()) {
      let names: string[];
      try {
        names = (await readdir(path)).sort();
      } catch {
        problems.push({ path, reason: 'folder not readable' });
        return;
      }
      for (const name of names) if (!name.startsWith('.')) await visit(join(path, name), false);
    } else if (info.isFile() || (explicit && info.isSymbolicLink())) {
      files.push(path);
    } else if (info.isSymbolicLink()) {
      // inside folders: follow links to files, never to folders (no loops)
      try {
        if ((await stat(path)).isFile()) files.push(path);
      } catch {
        problems.push({ path, reason: 'broken link' });
      }
    } else if (explicit) {
      problems.push({ path, reason: 'not a regular file' });
    }
  };
  for (const input of inputs) await visit(input, true);
  return { files, problems };
}
