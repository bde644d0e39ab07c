/**
 * Owns `gate.storage(inner)`: a multer storage engine that wraps the host's own (disk, S3, anything
 * implementing multer's engine interface). It computes the exact hashes while the upload streams
 * in, keeps the bytes in memory (or spools a large upload to a private temporary file), scans, and
 * hands the file to the inner engine only when it may be stored — so a blocked upload never
 * reaches the host's storage. Temporary files are removed on every path.
 */

import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { ExactHasher, type ExactHashes } from '../hashing/exact';
import type { HashSource } from '../hashing/perceptual';

/** The multer storage engine interface (see multer's StorageEngine.md). */
export interface StorageEngineLike {
  // Method syntax on purpose: parameters are compared both ways, so multer's own engine type
  // (express Request, Express.Multer.File) fits here and this type fits multer's `storage` option.
  _handleFile(req: object, file: object, cb: (error?: unknown, info?: object) => void): void;
  _removeFile(req: object, file: object, cb: (error: Error | null) => void): void;
}

/** What the wrapper asks the core for each streamed file. */
export type StreamedScan<R> = (
  source: HashSource,
  meta: { fieldname: string; originalname: string; mimetype: string; size: number },
  exact: ExactHashes,
  req: unknown,
) => Promise<{ store: boolean; result: R }>;

/** Options of {@link createScanningStorage}. */
export interface ScanningStorageOptions {
  /** Uploads larger than this are spooled to a temporary file instead of memory, in bytes. @default 8 MiB */
  readonly spoolThresholdBytes?: number;
  /** Folder for spooled uploads. @default the system's temporary folder */
  readonly spoolDir?: string;
}

/** Property a file gets from the wrapper: the scan result, and whether the inner engine stored it. */
export const SCAN_RESULT = 'hashgate';
const STORED_BY_INNER = Symbol('hashgate.storedByInner');

interface Spool {
  chunks: Buffer[];
  bytes: number;
  path?: string;
  out?: WriteStream;
}

async function removeQuietly(path: string | undefined): Promise<void> {
  if (!path) return;
  await unlink(path).catch(() => undefined);
}

/**
 * Wraps `inner` so that every file is scanned before it is stored. `scan` decides; when it says
 * `store: false` the inner engine never sees the file, and the file gets only the scan result
 * under {@link SCAN_RESULT}.
 */
export function createScanningStorage<R>(
  inner: StorageEngineLike,
  scan: StreamedScan<R>,
  options: ScanningStorageOptions = {},
): StorageEngineLike {
  const threshold = options.spoolThresholdBytes ?? 8 * 1024 * 1024;
  const spoolDir = options.spoolDir ?? tmpdir();

  return {
    _handleFile(req, multerFile, cb) {
      const file = multerFile as Record<string, unknown>;
      const stream = file.stream as Readable;
      const hasher = new ExactHasher();
      const spool: Spool = { chunks: [], bytes: 0 };
      let failed = false;
      let truncated = false;

      const fail = (err: unknown): void => {
        if (failed) return;
        failed = true;
        stream.unpipe?.();
        stream.resume(); // drain, so multer can finish the request
        spool.out?.destroy();
        void removeQuietly(spool.path).then(() => cb(err));
      };

      // multer's size limit truncates the stream and then fails the whole request
      stream.on('limit', () => {
        truncated = true;
      });
      stream.on('error', fail);
      stream.on('data', (chunk: Buffer) => {
        if (failed) return;
        hasher.update(chunk);
        spool.bytes += chunk.length;
        if (spool.out) {
          if (!spool.out.write(chunk)) {
            stream.pause();
            spool.out.once('drain', () => stream.resume());
          }
          return;
        }
        spool.chunks.push(chunk);
        if (spool.bytes > threshold) {
          spool.path = join(spoolDir, `hashgate-spool-${randomBytes(12).toString('hex')}`);
          spool.out = createWriteStream(spool.path, { mode: 0o600, flags: 'wx' });
          spool.out.on('error', fail);
          for (const c of spool.chunks) spool.out.write(c);
          spool.chunks = [];
        }
      });
      stream.on('end', () => {
        if (failed) return;
        if (truncated) {
          fail(new Error('upload truncated at the size limit'));
          return;
        }
        const finish = async (): Promise<void> => {
          if (spool.out)
            await new Promise<void>((resolve, reject) =>
              spool.out!.end((err?: Error | null) => (err ? reject(err) : resolve())),
            );
          const source: HashSource = spool.path
            ? { path: spool.path }
            : { bytes: Buffer.concat(spool.chunks) };
          const meta = {
            fieldname: String(file.fieldname),
            originalname: String(file.originalname),
            mimetype: String(file.mimetype),
            size: spool.bytes,
          };
          const { store, result } = await scan(source, meta, hasher.digest(), req);
          if (!store) {
            await removeQuietly(spool.path);
            cb(null, { size: spool.bytes, [SCAN_RESULT]: result });
            return;
          }
          const replay = 'bytes' in source ? Readable.from([source.bytes]) : createReadStream(source.path);
          const forInner = { ...file, stream: replay };
          inner._handleFile(req, forInner, (err, info) => {
            void removeQuietly(spool.path).then(() => {
              if (err) cb(err);
              else cb(null, { ...info, [SCAN_RESULT]: result, [STORED_BY_INNER]: true });
            });
          });
        };
        finish().catch(fail);
      });
    },

    _removeFile(req, file, cb) {
      if (storedByInner(file)) {
        inner._removeFile(req, file, cb);
      } else {
        cb(null);
      }
    },
  };
}

/** Whether the inner engine stored this file (so it must be removed through it when the request is refused). */
export function storedByInner(file: object): boolean {
  return (file as Record<symbol, unknown>)[STORED_BY_INNER] === true;
}
