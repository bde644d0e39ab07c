/**
 * Owns the worker-thread side of the hashing pool: it receives a source, the hashing
 * configuration and the exact digests wanted, and answers with the perceptual outcome and those
 * digests. The digests of an in-memory source are computed while libvips decodes it on libuv's
 * thread pool, so they cost the scan no time when a core is free.
 */

import { parentPort } from 'node:worker_threads';
import { type DIGEST_BITS, type Digests, digestAlgorithms, digestsHere } from './digest-offload';
import type { HashingConfig } from './hasher-options';
import type { PerceptualOutcome } from './outcome';
import { computePerceptual, type HashSource } from './perceptual';

// libvips settings (concurrency, cache) are process-wide, shared with the host's own use of
// sharp, so the worker leaves them alone.

/** One job: what to hash, how, and which exact digests (bits of {@link DIGEST_BITS}) of the bytes to add. */
export interface HashJob {
  readonly source: HashSource;
  readonly config: HashingConfig;
  readonly digests?: number;
}

/** The answer to a {@link HashJob}. `digests` is there when digests were asked for and computed. */
export interface HashJobResult {
  readonly outcome: PerceptualOutcome;
  readonly digests?: Digests;
}

interface Request {
  readonly id: number;
  readonly message: HashJob;
}

if (!parentPort) throw new Error('hash-worker.js must run in a worker thread');
const port = parentPort;

port.on('message', (req: Request) => {
  const { source, config, digests: bits = 0 } = req.message;
  // Runs until the decode is queued on libuv's thread pool; the digests are computed meanwhile.
  const job = computePerceptual(source, config);
  let digests: Digests | undefined;
  if (bits !== 0 && 'bytes' in source) {
    try {
      digests = digestsHere(source.bytes, digestAlgorithms(bits));
    } catch {
      // The calling thread computes them when they are missing from the answer.
      digests = undefined;
    }
  }
  job.then(
    (outcome) => port.postMessage({ id: req.id, result: { outcome, ...(digests ? { digests } : {}) } }),
    (err: unknown) =>
      port.postMessage({ id: req.id, error: { message: err instanceof Error ? err.name : 'unknown error' } }),
  );
});
