/** Owns the worker-thread side of the hashing pool: it receives a source and the hashing configuration, and answers with the perceptual outcome. */

import { parentPort } from 'node:worker_threads';
import type { HashingConfig } from './hasher-options';
import { computePerceptual, type HashSource } from './perceptual';

// libvips settings (concurrency, cache) are process-wide, shared with the host's own use of
// sharp, so the worker leaves them alone.

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
