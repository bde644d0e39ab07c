/**
 * Owns the worker-thread entry of an index build: it receives a build plan (hash columns in shared
 * memory) as `workerData`, runs the same build generator as the main thread to completion, and
 * transfers every built buffer back without copying.
 */

import { parentPort, workerData } from 'node:worker_threads';
import { isHashgateError } from '../errors';
import type { BuildPlan } from './build-input';
import { type BuildWorkerReply, buildIndexData, indexTransferList, runToCompletion } from './index-build';

if (parentPort) {
  const port = parentPort;
  let reply: BuildWorkerReply;
  let transfer: ArrayBuffer[] = [];
  try {
    const data = runToCompletion(buildIndexData(workerData as BuildPlan));
    reply = { ok: true, data };
    transfer = indexTransferList(data);
  } catch (err) {
    reply = {
      ok: false,
      code: isHashgateError(err) ? err.code : undefined,
      message: err instanceof Error ? err.message : String(err),
    };
  }
  port.postMessage(reply, transfer);
}
