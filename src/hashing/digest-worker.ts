/**
 * Owns the worker-thread side of the digest offload (digest-offload.ts): it digests bytes the
 * calling thread copied into shared memory and answers with the hex digests.
 */

import { parentPort } from 'node:worker_threads';
import { type DigestMessage, type DigestReply, digestAlgorithms, digestHex } from './digest-offload';

if (!parentPort) throw new Error('digest-worker.js must run in a worker thread');
const port = parentPort;

const slots: SharedArrayBuffer[] = [];

port.on('message', (message: DigestMessage) => {
  if (!Array.isArray(message)) {
    const { slot, memory } = message as { slot: number; memory: SharedArrayBuffer };
    slots[slot] = memory;
    return;
  }
  const [id, slot, length, algorithms] = message as readonly [number, number, number, number];
  try {
    const bytes = new Uint8Array(slots[slot]!, 0, length);
    const reply: (number | string)[] = [id];
    for (const a of digestAlgorithms(algorithms)) reply.push(digestHex(a, bytes));
    port.postMessage(reply);
  } catch {
    port.postMessage([id, null] satisfies DigestReply);
  }
});
