/** Owns reading the files multer left on a request, in every multer mode, and removing disk copies. */

import { unlink } from 'node:fs/promises';

/** The fields of a multer file that hashgate reads. */
export interface MulterFile {
  fieldname: string;
  originalname: string;
  mimetype: string;
  size: number;
  buffer?: Buffer;
  path?: string;
  [key: string]: unknown;
}

/**
 * Every file multer attached to a request: `single` (`req.file`), `array` and `any` (an array in
 * `req.files`) and `fields` (an object of arrays in `req.files`), in field order.
 */
export function collectMulterFiles(req: object): MulterFile[] {
  const { file, files } = req as { file?: unknown; files?: unknown };
  const out: MulterFile[] = [];
  const add = (f: unknown): void => {
    if (f && typeof f === 'object' && typeof (f as MulterFile).fieldname === 'string')
      out.push(f as MulterFile);
  };
  add(file);
  if (Array.isArray(files)) files.forEach(add);
  else if (files && typeof files === 'object') {
    for (const list of Object.values(files as Record<string, unknown>))
      if (Array.isArray(list)) list.forEach(add);
  }
  // `single` and `fields` never set both, but a host could: count each file object once
  return [...new Set(out)];
}

/** Removes the disk copies of files (multer disk storage), ignoring files already gone. */
export async function removeDiskCopies(files: readonly MulterFile[]): Promise<void> {
  await Promise.all(
    files.map(async (f) => {
      if (typeof f.path !== 'string') return;
      try {
        await unlink(f.path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }),
  );
}
