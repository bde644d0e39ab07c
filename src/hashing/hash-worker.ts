/** Owns the worker-thread side of the hashing pool: it receives a source and the hashing configuration, and answers with the perceptual outcome. */

import { parentPort } from 'node:worker_threads';
import sharp from 'sharp';
import type { HashingConfig } from './hasher-options';
import { computePerceptual, type HashSource } from './perceptual';

// Each worker is one of N threads sized to the cores: libvips' own thread pool and operation
// cache would multiply threads and memory per worker.
sharp.concurrency(1);
sharp.cache(false);

interface Request {
  readonly id: number;
  readonly message: { readonly source: HashSource; readonly config: HashingConfig };
}

if (!parentPort) throw new Error('hash-worker.js must run in a worker thread');
const port = parentPort;

port.on('message', (req: Request) => {
  computePerceptual(req.message.source, req.message.config).then(
    (result) => port.postMessage({ id: req.id, result }),
    (err: unknown) =>
      port.postMessage({ id: req.id, error: { message: err instanceof Error ? err.name : 'unknown error' } }),
  );
});
