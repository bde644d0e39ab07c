/** Owns the exact hashes (MD5, SHA-1, SHA-256) of an upload's original bytes, from memory or in one streamed read. */

import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { ErrorCodes, HashgateError } from '../errors';

/** The three exact digests of one input, lower-case hex, plus its size. */
export interface ExactHashes {
  readonly md5: string;
  readonly sha1: string;
  readonly sha256: string;
  /** Number of bytes hashed. */
  readonly size: number;
}

/**
 * Incremental MD5 + SHA-1 + SHA-256 over one stream of chunks: each chunk is fed to all three
 * digests, so the input is read exactly once. Used by the multer storage engine while an upload
 * streams in.
 */
export class ExactHasher {
  readonly #md5: Hash = createHash('md5');
  readonly #sha1: Hash = createHash('sha1');
  readonly #sha256: Hash = createHash('sha256');
  #size = 0;
  #done = false;

  /** Feeds one chunk of bytes. */
  update(chunk: Uint8Array): this {
    if (this.#done) throw new Error('ExactHasher.update called after digest');
    this.#md5.update(chunk);
    this.#sha1.update(chunk);
    this.#sha256.update(chunk);
    this.#size += chunk.byteLength;
    return this;
  }

  /** Number of bytes fed so far. */
  get size(): number {
    return this.#size;
  }

  /** Finishes all three digests. May be called once. */
  digest(): ExactHashes {
    this.#done = true;
    return {
      md5: this.#md5.digest('hex'),
      sha1: this.#sha1.digest('hex'),
      sha256: this.#sha256.digest('hex'),
      size: this.#size,
    };
  }
}

/** MD5, SHA-1 and SHA-256 of a buffer. */
export function exactHashesOfBuffer(data: Uint8Array): ExactHashes {
  return new ExactHasher().update(data).digest();
}

/**
 * MD5, SHA-1 and SHA-256 of a file, read once as a stream.
 *
 * @param maxBytes - refuse (with `ERR_HASHGATE_INPUT_TOO_LARGE`) a file larger than this; the
 *   read stops as soon as the limit is passed.
 */
export async function exactHashesOfFile(
  path: string,
  maxBytes = Number.POSITIVE_INFINITY,
): Promise<ExactHashes> {
  const hasher = new ExactHasher();
  const stream = createReadStream(path, { highWaterMark: 1 << 20 });
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      hasher.update(chunk);
      if (hasher.size > maxBytes) {
        throw new HashgateError(
          ErrorCodes.INPUT_TOO_LARGE,
          `The file is larger than the limit of ${maxBytes} bytes`,
        );
      }
    }
  } catch (err) {
    if (err instanceof HashgateError) throw err;
    const code = (err as NodeJS.ErrnoException).code ?? 'unknown';
    throw new HashgateError(ErrorCodes.READ_FAILED, `The file could not be read (${code})`, { cause: err });
  } finally {
    stream.destroy();
  }
  return hasher.digest();
}
