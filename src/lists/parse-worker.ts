/**
 * Owns the worker-thread entry of a list parse: it receives a parse job (verified local files, and
 * the base version's columns in shared memory for a delta chain) as `workerData` and posts back
 * the new version's columns in shared memory.
 */

import { parentPort, workerData } from 'node:worker_threads';
import { type ParseJob, workerMain } from './parse-job';

if (parentPort) {
  const port = parentPort;
  void workerMain(workerData as ParseJob, (reply) => port.postMessage(reply));
}
