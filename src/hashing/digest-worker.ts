/**
 * Owns the worker-thread side of the digest offload (digest-offload.ts): it digests bytes the
 * calling thread copied into shared memory and answers with the hex digests.
 */

import { parentPort } from 'node:worker_threads';
import { type DigestMessage, type DigestReply, digestAlgorithms, digestHex } from './digest-offload';

if (!parentPort) throw new Error('digest-worker.js must run in a worker thread');
const port = parentPort;

const slots: SharedArrayBuffer[] = [];

/** The bytes a request names: in a slot, or in the caller's own shared memory. */
type Request = { readonly id: number; readonly bytes: () => Uint8Array; readonly algorithms: number };

function requestOf(message: DigestMessage): Request | undefined {
  if (Array.isArray(message)) {
    const [id, slot, length, algorithms] = message as readonly [number, number, number, number];
    return { id, bytes: () => new Uint8Array(slots[slot]!, 0, length), algorithms };
  }
  if ('slot' in message) {
    slots[message.slot] = message.memory;
    return undefined;
  }
  const { id, memory, offset, length, algorithms } = message as Extract<DigestMessage, { id: number }>;
  return { id, bytes: () => new Uint8Array(memory, offset, length), algorithms };
}

port.on('message', (message: DigestMessage) => {
  const request = requestOf(message);
  if (!request) return;
  const { id, algorithms } = request;
  try {
    const bytes = request.bytes();
    const reply: (number | string)[] = [id];
    for (const a of digestAlgorithms(algorithms)) reply.push(digestHex(a, bytes));
    port.postMessage(reply);
  } catch {
    port.postMessage([id, null] satisfies DigestReply);
  }
});
