/**
 * Owns the hashing engine's public face: `createHasher()` computes every hash of a file — the
 * exact digests of an in-memory upload on a digest thread (small ones, and all of them with
 * `workers: 0`, on the calling thread), of a file in one streamed read, decoding and perceptual
 * hashing in the worker pool — and turns every failure into an `unavailable` reason rather than
 * an exception.
 */

import { createHash, webcrypto } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { ErrorCodes, HashgateError } from '../errors';
import { type DigestAlgorithm, DigestOffload, type Digests, digestBits, digestHex } from './digest-offload';
import { ExactHasher, type ExactHashes, exactHashesOfFile } from './exact';
import type { HashJob, HashJobResult } from './hash-worker';
import { type HashingConfig, type HashingOptions, parseHashingOptions } from './hasher-options';
import type {
  ComputedHash,
  HashOutcome,
  PerceptualOutcome,
  UnavailableHash,
  UnavailableReason,
} from './outcome';
import { computePerceptual, type HashSource } from './perceptual';
import { DECODABLE_FORMATS, SNIFF_BYTES, sniffFormat } from './sniff';
import { PoolJobError, resolveWorkerScript, WorkerPool } from './worker-pool';

/** Bytes hashed between two yields to the event loop when digesting an in-memory upload. */
const EXACT_SLICE_BYTES = 1 << 20;

/**
 * In-memory uploads from {@link OFFLOAD_MIN_BYTES} up to this size are digested on the digest
 * thread (digest-offload.ts), from shared memory the calling thread copies them into: the copy
 * and the hand-off cost the event loop about a third of a SHA-256 (measured with SHA extensions)
 * and under a tenth of all three digests. Larger buffers have their SHA-256 from WebCrypto
 * (which copies them too, into fresh memory) and their MD5 and SHA-1 in slices that yield.
 */
const OFFLOAD_MAX_BYTES = 4 * 1024 * 1024;
/** Under this size a digest costs less than the hop to the digest thread: about 50 µs for SHA-256. */
const OFFLOAD_MIN_BYTES = 64 * 1024;
/** Digests in flight on the digest thread at once; more are computed on the calling thread. */
const OFFLOAD_SLOTS = 4;
/** A digest the digest thread has not answered by then is computed on the calling thread. */
const OFFLOAD_STALL_MS = 5_000;

/** Counters of the worker pool, for metrics and readiness. */
export interface HasherStats {
  readonly workers: number;
  readonly queued: number;
  readonly running: number;
  readonly replacedWorkers: number;
}

/** The hashing engine. Create it once, share it, and `close()` it on shutdown. */
export interface Hasher {
  /** The validated configuration. */
  readonly config: HashingConfig;
  /**
   * MD5, SHA-1 and SHA-256 of the original bytes: one read of a file; a buffer of 64 KiB to 4 MiB
   * on the digest thread, a smaller one in one call per digest, a larger one in slices that
   * yield. `sha256`, when the caller already has it (the cache key), is reused for a buffer
   * (a file is read once for all three anyway). The buffer must not change until the promise
   * settles.
   */
  exact(source: HashSource, sha256?: string): Promise<ExactHashes>;
  /** SHA-256 alone (the verdict cache's key), on the digest thread like {@link Hasher.exact}. */
  sha256(source: HashSource): Promise<string>;
  /** Decodes and computes the perceptual hashes. Never rejects for bad input or an overloaded pool. */
  perceptual(source: HashSource): Promise<PerceptualOutcome>;
  /**
   * Every hash of the file: the exact ones first, then the perceptual ones. The exact digests of
   * an in-memory image are computed by the worker that decodes it, while libvips decodes; a
   * `sha256` the caller already has (the cache key) is reused. The buffer must not change until
   * the promise settles.
   */
  hash(source: HashSource, sha256?: string): Promise<HashOutcome>;
  /** Pool counters. */
  stats(): HasherStats;
  /** Stops the worker threads. Pending perceptual jobs resolve as `unavailable` (`worker-failed`). */
  close(): Promise<void>;
}

/** Exact hashes as {@link ComputedHash} entries. */
export function exactAsComputed(exact: ExactHashes): ComputedHash[] {
  return [
    { type: 'md5', hex: exact.md5, provenance: { algorithm: 'md5' } },
    { type: 'sha1', hex: exact.sha1, provenance: { algorithm: 'sha1' } },
    { type: 'sha256', hex: exact.sha256, provenance: { algorithm: 'sha256' } },
  ];
}

async function sha256Of(source: HashSource, offload: DigestOffload | undefined): Promise<string> {
  if ('bytes' in source && source.bytes.byteLength <= OFFLOAD_MAX_BYTES) {
    return offload
      ? ((await offload.digest(source.bytes, ['sha256'])).sha256 as string)
      : digestHex('sha256', source.bytes);
  }
  if ('bytes' in source) {
    // Larger buffers: WebCrypto digests run in libuv's thread pool: the cache key costs the
    // event loop a copy of the bytes, not the hashing.
    return Buffer.from(await webcrypto.subtle.digest('SHA-256', source.bytes)).toString('hex');
  }
  const h = createHash('sha256');
  try {
    for await (const chunk of createReadStream(source.path, {
      highWaterMark: EXACT_SLICE_BYTES,
    }) as AsyncIterable<Buffer>)
      h.update(chunk);
  } catch (err) {
    throw new HashgateError(
      ErrorCodes.READ_FAILED,
      `The file could not be read (${(err as NodeJS.ErrnoException).code ?? 'unknown'})`,
      { cause: err },
    );
  }
  return h.digest('hex');
}

/** The digests of a large buffer in slices that yield; a SHA-256 the caller has is not computed again. */
async function exactOfBuffer(bytes: Uint8Array, sha256?: string): Promise<ExactHashes> {
  const hasher = new ExactHasher(sha256);
  for (let offset = 0; offset < bytes.byteLength; offset += EXACT_SLICE_BYTES) {
    // Yield before every slice, the first included: many uploads started in one tick must not
    // each hash a slice before the event loop gets a turn.
    await yieldToLoop();
    hasher.update(bytes.subarray(offset, offset + EXACT_SLICE_BYTES));
  }
  return hasher.digest();
}

function poolFailureReason(err: unknown): { reason: UnavailableReason; detail: string } {
  if (err instanceof PoolJobError) {
    switch (err.failure) {
      case 'overloaded':
        return { reason: 'overloaded', detail: 'the scan queue was full' };
      case 'timed-out':
        return { reason: 'timed-out', detail: 'hashing ran past its time limit' };
      default:
        return { reason: 'worker-failed', detail: 'the hashing worker stopped before it finished' };
    }
  }
  return { reason: 'worker-failed', detail: 'the hashing worker failed' };
}

/**
 * Creates the hashing engine.
 *
 * @example
 * const hasher = createHasher({ workers: 2 });
 * const outcome = await hasher.hash({ path: '/tmp/upload.jpg' });
 * await hasher.close();
 */
export function createHasher(options: HashingOptions = {}): Hasher {
  const config = parseHashingOptions(options);
  const pool =
    config.workers > 0
      ? new WorkerPool<HashJob, HashJobResult>(resolveWorkerScript(__dirname, 'hash-worker'), {
          size: config.workers,
          maxQueue: config.maxQueue,
          jobTimeoutMs: config.timeoutMs + 5_000,
        })
      : undefined;
  const offload =
    config.workers > 0
      ? new DigestOffload(resolveWorkerScript(__dirname, 'digest-worker'), {
          minBytes: OFFLOAD_MIN_BYTES,
          maxBytes: OFFLOAD_MAX_BYTES,
          slots: OFFLOAD_SLOTS,
          stallMs: OFFLOAD_STALL_MS,
        })
      : undefined;

  const unavailableAfter = (err: unknown): PerceptualOutcome => {
    const { reason, detail } = poolFailureReason(err);
    const unavailable: UnavailableHash[] = [];
    for (const type of ['pdq', 'blockhash'] as const) {
      unavailable.push(
        config[type]
          ? { type, reason, detail }
          : { type, reason: 'disabled', detail: `${type === 'pdq' ? 'PDQ' : 'blockhash'} is turned off` },
      );
    }
    return {
      format: 'unknown',
      hashes: [],
      unavailable,
      timings: { decodeMs: 0, pdqMs: 0, blockhashMs: 0 },
    };
  };

  // In-memory files that will not be decoded are settled on this thread, from their first bytes
  // or their size: a large video, or an image over the byte limit, is not copied to a worker
  // only to be told it is not decoded.
  const inPool = (source: HashSource): boolean =>
    pool !== undefined &&
    (!('bytes' in source) ||
      (source.bytes.byteLength <= config.maxInputBytes &&
        DECODABLE_FORMATS.has(sniffFormat(source.bytes.subarray(0, SNIFF_BYTES)))));

  /** Runs one job in the pool; never rejects: a failed job is an outcome with the reason and no digests. */
  const runInPool = async (
    source: HashSource,
    digests: readonly DigestAlgorithm[],
  ): Promise<HashJobResult> => {
    try {
      // The caller's buffer (multer's req.file.buffer) must stay usable, so the worker gets a
      // copy of exactly its bytes, transferred: one copy, where a structured clone of the view
      // would copy its whole backing store twice (serialise, then deserialise).
      if ('bytes' in source) {
        const bytes = new Uint8Array(source.bytes);
        return await pool!.run({ source: { bytes }, config, digests: digestBits(digests) }, [bytes.buffer]);
      }
      return await pool!.run({ source, config });
    } catch (err) {
      return { outcome: unavailableAfter(err) };
    }
  };

  const perceptual = async (source: HashSource): Promise<PerceptualOutcome> =>
    inPool(source) ? (await runInPool(source, [])).outcome : computePerceptual(source, config);

  const exact = async (source: HashSource, sha256?: string): Promise<ExactHashes> => {
    if (!('bytes' in source)) return exactHashesOfFile(source.path);
    const bytes = source.bytes;
    if (offload && bytes.byteLength >= OFFLOAD_MIN_BYTES && bytes.byteLength <= OFFLOAD_MAX_BYTES) {
      const d = await offload.digest(
        bytes,
        sha256 === undefined ? ['md5', 'sha1', 'sha256'] : ['md5', 'sha1'],
      );
      return { md5: d.md5!, sha1: d.sha1!, sha256: sha256 ?? d.sha256!, size: bytes.byteLength };
    }
    if (bytes.byteLength > EXACT_SLICE_BYTES) return exactOfBuffer(bytes, sha256);
    return {
      md5: digestHex('md5', bytes),
      sha1: digestHex('sha1', bytes),
      sha256: sha256 ?? digestHex('sha256', bytes),
      size: bytes.byteLength,
    };
  };

  return Object.freeze({
    config,
    exact,
    sha256: (source: HashSource) => sha256Of(source, offload),
    perceptual,
    async hash(source: HashSource, sha256?: string): Promise<HashOutcome> {
      let digests: ExactHashes;
      let percept: PerceptualOutcome;
      if ('bytes' in source && inPool(source)) {
        // One hop: the worker digests the bytes while libvips decodes them.
        const wanted: DigestAlgorithm[] = sha256 === undefined ? ['md5', 'sha1', 'sha256'] : ['md5', 'sha1'];
        const job = await runInPool(source, wanted);
        percept = job.outcome;
        const d: Digests = { ...(sha256 !== undefined ? { sha256 } : {}), ...job.digests };
        digests =
          d.md5 !== undefined && d.sha1 !== undefined && d.sha256 !== undefined
            ? { md5: d.md5, sha1: d.sha1, sha256: d.sha256, size: source.bytes.byteLength }
            : await exact(source, sha256); // the worker failed: the digests are never skipped
      } else {
        // The worker (or this thread) starts decoding before this thread digests.
        const perceptualJob = perceptual(source);
        [digests, percept] = await Promise.all([exact(source, sha256), perceptualJob]);
      }
      return { ...percept, size: digests.size, hashes: [...exactAsComputed(digests), ...percept.hashes] };
    },
    stats(): HasherStats {
      return pool
        ? {
            workers: pool.size,
            queued: pool.queued,
            running: pool.running,
            replacedWorkers: pool.replacedWorkers,
          }
        : { workers: 0, queued: 0, running: 0, replacedWorkers: 0 };
    },
    async close(): Promise<void> {
      await Promise.all([pool?.close(), offload?.close()]);
    },
  });
}
