/**
 * Owns the hashing engine's public face: `createHasher()` computes every hash of a file — the
 * exact digests of an in-memory upload on a digest thread (small ones, and all of them with
 * `workers: 0`, on the calling thread), of a file in one streamed read, decoding and perceptual
 * hashing in the worker pool — and turns every failure into an `unavailable` reason rather than
 * an exception.
 */

import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { copyToShared, SLICE_BYTES, Yielder } from '../cooperative';
import { ErrorCodes, HashgateError } from '../errors';
import {
  type DigestAlgorithm,
  DigestOffload,
  type Digests,
  digestBits,
  digestsOnCallingThread,
  isShared,
} from './digest-offload';
import { type ExactHashes, exactHashesOfFile } from './exact';
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

const ALL_DIGESTS: readonly DigestAlgorithm[] = ['md5', 'sha1', 'sha256'];

/** Longest stretch of copying a large upload into shared memory before the event loop gets a turn. */
const SHARE_SLICE_MS = 4;

/**
 * In-memory uploads from {@link OFFLOAD_MIN_BYTES} up to this size are digested on the digest
 * thread (digest-offload.ts), from a reused shared-memory slot the calling thread copies them
 * into. Larger ones are first copied into shared memory of their own, in slices that yield
 * ({@link copyToShared}): the digest thread and the hashing worker then both read that one copy.
 */
const OFFLOAD_MAX_BYTES = 4 * 1024 * 1024;
/** Under this size a digest costs less than the hop to the digest thread: about 50 µs for SHA-256. */
const OFFLOAD_MIN_BYTES = 64 * 1024;
/** The same while the digest thread sleeps: waking it costs about 0.1 ms, SHA-256 of 180 KB. */
const OFFLOAD_MIN_BYTES_IDLE = 256 * 1024;
/** Digests in flight on the digest thread at once; more wait for a slot. */
const OFFLOAD_SLOTS = 4;
/**
 * Bytes that may wait for a slot of the digest thread: about 9 ms of SHA-256 at this machine's
 * speed. Past it the calling thread digests the upload itself, rather than queue it further.
 */
const OFFLOAD_MAX_WAITING_BYTES = 16 * 1024 * 1024;
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
   * MD5, SHA-1 and SHA-256 of the original bytes: one read of a file; a buffer of 64 KiB or more
   * on the digest thread (over 4 MiB from a copy in shared memory, see {@link Hasher.share}), a
   * smaller one in one call per digest. With `workers: 0`, everything on the calling thread,
   * over 1 MiB in slices that yield. `sha256`, when the caller already has it (the cache key), is
   * reused for a buffer (a file is read once for all three anyway). The buffer must not change
   * until the promise settles.
   */
  exact(source: HashSource, sha256?: string): Promise<ExactHashes>;
  /**
   * For a caller that hands one in-memory upload to the hasher more than once (its cache key,
   * then a scan): an upload over 4 MiB is copied into shared memory, giving the event loop a turn
   * every few milliseconds, and the digest thread and the workers read that copy. Anything
   * else (smaller buffers, files, bytes already in shared memory, `workers: 0`) comes back as is.
   */
  share(source: HashSource): Promise<HashSource>;
  /** SHA-256 alone (the verdict cache's key), on the digest thread like {@link Hasher.exact}. */
  sha256(source: HashSource): Promise<string>;
  /**
   * Decodes and computes the perceptual hashes. Never rejects for bad input or an overloaded pool.
   * An in-memory buffer is read when a worker takes the job, which may be a while after the call:
   * it must not change until the promise settles.
   */
  perceptual(source: HashSource): Promise<PerceptualOutcome>;
  /**
   * Every hash of the file: the exact ones first, then the perceptual ones. The exact digests of
   * an in-memory image are computed by the worker that decodes it, while libvips decodes. Digests
   * the caller already has (`known`: the cache key's SHA-256, or all three from a storage engine
   * that digested the upload as it streamed in) are taken as they are and not computed again. The
   * buffer must not change until the promise settles.
   */
  hash(source: HashSource, known?: Partial<ExactHashes>): Promise<HashOutcome>;
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

async function sha256OfFile(path: string): Promise<string> {
  const h = createHash('sha256');
  try {
    for await (const chunk of createReadStream(path, {
      highWaterMark: SLICE_BYTES,
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
          inputBytes: OFFLOAD_MAX_BYTES,
        })
      : undefined;
  const offload =
    config.workers > 0
      ? new DigestOffload(resolveWorkerScript(__dirname, 'digest-worker'), {
          minBytes: OFFLOAD_MIN_BYTES,
          minBytesIdle: OFFLOAD_MIN_BYTES_IDLE,
          maxBytes: OFFLOAD_MAX_BYTES,
          slots: OFFLOAD_SLOTS,
          maxWaitingBytes: OFFLOAD_MAX_WAITING_BYTES,
          stallMs: OFFLOAD_STALL_MS,
        })
      : undefined;

  /** An in-memory upload as the digest thread and the workers read it best: see {@link Hasher.share}. */
  const needsSharedCopy = (bytes: Uint8Array): boolean =>
    offload !== undefined && bytes.byteLength > OFFLOAD_MAX_BYTES;
  const bytesToHand = async (bytes: Uint8Array): Promise<Uint8Array> =>
    needsSharedCopy(bytes) ? copyToShared(bytes, new Yielder(SHARE_SLICE_MS, 1)) : bytes;

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
      // copy of exactly its bytes, made when a worker takes the job: into that worker's reused
      // shared input buffer (a memcpy). A job waiting in the queue holds no copy. Bytes in shared
      // memory (an upload over 4 MiB, copied there in pieces) are read by the worker where they
      // are.
      if ('bytes' in source) {
        const job = { config, digests: digestBits(digests) };
        // Not awaited when there is nothing to copy: a turn of the microtask queue is on the path.
        const bytes = needsSharedCopy(source.bytes) ? await bytesToHand(source.bytes) : source.bytes;
        if (isShared(bytes)) return await pool!.run({ source: { bytes }, ...job });
        return await pool!.runWithInput(bytes, (copy) => ({ source: { bytes: copy }, ...job }));
      }
      return await pool!.run({ source, config });
    } catch (err) {
      return { outcome: unavailableAfter(err) };
    }
  };

  const perceptual = async (source: HashSource): Promise<PerceptualOutcome> =>
    inPool(source) ? (await runInPool(source, [])).outcome : computePerceptual(source, config);

  /** Digests of a buffer: on the digest thread (which digests small ones here itself), or here with `workers: 0`. */
  const digestBuffer = async (bytes: Uint8Array, wanted: readonly DigestAlgorithm[]): Promise<Digests> =>
    offload ? offload.digest(await bytesToHand(bytes), wanted) : digestsOnCallingThread(bytes, wanted);

  const exact = async (source: HashSource, sha256?: string): Promise<ExactHashes> => {
    if (!('bytes' in source)) return exactHashesOfFile(source.path);
    const d = await digestBuffer(
      source.bytes,
      sha256 === undefined ? ['md5', 'sha1', 'sha256'] : ['md5', 'sha1'],
    );
    return { md5: d.md5!, sha1: d.sha1!, sha256: sha256 ?? d.sha256!, size: source.bytes.byteLength };
  };

  const sha256 = async (source: HashSource): Promise<string> => {
    if (!('bytes' in source)) return sha256OfFile(source.path);
    return (await digestBuffer(source.bytes, ['sha256'])).sha256!;
  };

  return Object.freeze({
    config,
    exact,
    sha256,
    async share(source: HashSource): Promise<HashSource> {
      return 'bytes' in source ? { bytes: await bytesToHand(source.bytes) } : source;
    },
    perceptual,
    async hash(source: HashSource, known: Partial<ExactHashes> = {}): Promise<HashOutcome> {
      const wanted = ALL_DIGESTS.filter((a) => known[a] === undefined);
      let found: Digests;
      let percept: PerceptualOutcome;
      let size: number;
      if ('bytes' in source) {
        size = source.bytes.byteLength;
        if (inPool(source)) {
          // One hop: the worker digests the bytes while libvips decodes them.
          const job = await runInPool(source, wanted);
          percept = job.outcome;
          found = job.digests ?? {};
          // The worker failed: the digests are never skipped.
          if (wanted.some((a) => found[a] === undefined)) found = await digestBuffer(source.bytes, wanted);
        } else {
          // This thread settles the perceptual part (no image, too large) before it digests.
          const perceptualJob = perceptual(source);
          [found, percept] = await Promise.all([digestBuffer(source.bytes, wanted), perceptualJob]);
        }
      } else {
        // The worker reads and decodes the file while this thread streams it through the digests.
        const perceptualJob = perceptual(source);
        const [read, p] = await Promise.all([
          wanted.length > 0 || known.size === undefined ? exactHashesOfFile(source.path) : undefined,
          perceptualJob,
        ]);
        percept = p;
        found = read ?? {};
        size = known.size ?? read?.size ?? 0;
      }
      const digests: ExactHashes = {
        md5: known.md5 ?? found.md5!,
        sha1: known.sha1 ?? found.sha1!,
        sha256: known.sha256 ?? found.sha256!,
        size,
      };
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
