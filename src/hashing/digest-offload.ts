/**
 * Owns digesting in-memory uploads off the event loop. The bytes are copied into one of a few
 * reused shared-memory slots, and one worker thread (digest-worker.ts) digests them there. Copying
 * into memory that is already mapped costs a small fraction of a digest, where a fresh copy per
 * upload would pay a page fault per 4 KiB. Whenever the offload cannot take a buffer, the digest is
 * computed on the calling thread instead. That covers a buffer too small to be worth the hop,
 * every slot busy, a worker that failed, stalled or was closed. A digest is never skipped.
 */

import * as crypto from 'node:crypto';
import { createHash } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { SLICE_BYTES, yieldToEventLoop } from '../cooperative';

/** The digests the offload computes. */
export type DigestAlgorithm = 'md5' | 'sha1' | 'sha256';

/** Hex digests by algorithm: those that were asked for. */
export type Digests = Partial<Record<DigestAlgorithm, string>>;

/** Bits of the algorithms in a request; the answer lists the digests in this order. */
export const DIGEST_BITS: Readonly<Record<DigestAlgorithm, number>> = { md5: 1, sha1: 2, sha256: 4 };

/**
 * Messages to the worker: a slot's shared memory (sent once, and again when the slot grows); a
 * request to digest the first `length` bytes of a slot, with the algorithms as
 * {@link DIGEST_BITS} (a small array: cloning a SharedArrayBuffer costs more); or a request to
 * digest bytes the caller already holds in shared memory of its own (a large upload).
 */
export type DigestMessage =
  | { readonly slot: number; readonly memory: SharedArrayBuffer }
  | readonly [id: number, slot: number, length: number, algorithms: number]
  | {
      readonly id: number;
      readonly memory: SharedArrayBuffer;
      readonly offset: number;
      readonly length: number;
      readonly algorithms: number;
    };

/** The answer: `[id, ...hex digests]` in the order of {@link DIGEST_BITS}, or `[id, null]` when digesting failed. */
export type DigestReply = readonly [id: number, ...digests: (string | null)[]];

/** Options of {@link DigestOffload}. */
export interface DigestOffloadOptions {
  /** Buffers under this many bytes are digested on the calling thread (the hop costs more). */
  readonly minBytes: number;
  /** Buffers over this many bytes are digested on the calling thread; also the largest slot. */
  readonly maxBytes: number;
  /** Shared-memory slots, so digests in flight at once; more are digested on the calling thread. */
  readonly slots: number;
  /** A digest with no answer after this long is computed on the calling thread, and the worker replaced. */
  readonly stallMs: number;
}

/** After this many worker failures, every digest is computed on the calling thread. */
const MAX_WORKER_FAILURES = 3;

const ALGORITHMS = Object.keys(DIGEST_BITS) as DigestAlgorithm[];

/** The bits of {@link DIGEST_BITS} for `algorithms`. */
export function digestBits(algorithms: readonly DigestAlgorithm[]): number {
  let bits = 0;
  for (const a of algorithms) bits |= DIGEST_BITS[a];
  return bits;
}

/** The algorithms whose bits are set in `bits`, in the order of {@link DIGEST_BITS}. */
export function digestAlgorithms(bits: number): DigestAlgorithm[] {
  return ALGORITHMS.filter((a) => bits & DIGEST_BITS[a]);
}

/** One digest in one call: `crypto.hash` (Node 20.12+), else a Hash object; identical digests either way. */
export const digestHex: (algorithm: DigestAlgorithm, bytes: Uint8Array) => string =
  typeof crypto.hash === 'function'
    ? (algorithm, bytes) => crypto.hash(algorithm, bytes, 'hex')
    : (algorithm, bytes) => createHash(algorithm).update(bytes).digest('hex');

/** The digests of `bytes` on the calling thread. */
export function digestsHere(bytes: Uint8Array, algorithms: readonly DigestAlgorithm[]): Digests {
  const out: Digests = {};
  for (const a of algorithms) out[a] = digestHex(a, bytes);
  return out;
}

/**
 * The digests of `bytes` on the calling thread, 1 MiB at a time with a turn of the event loop
 * before each slice (the first included: many uploads started in one tick must not each hash a
 * slice before the event loop gets one).
 */
export async function digestsInSlices(
  bytes: Uint8Array,
  algorithms: readonly DigestAlgorithm[],
): Promise<Digests> {
  const hashes = algorithms.map((a) => [a, createHash(a)] as const);
  for (let offset = 0; offset < bytes.byteLength; offset += SLICE_BYTES) {
    await yieldToEventLoop();
    const slice = bytes.subarray(offset, offset + SLICE_BYTES);
    for (const [, h] of hashes) h.update(slice);
  }
  if (bytes.byteLength === 0) await yieldToEventLoop();
  const out: Digests = {};
  for (const [a, h] of hashes) out[a] = h.digest('hex');
  return out;
}

/** The digests of `bytes` on the calling thread: in one call, or in slices when they are large. */
export function digestsOnCallingThread(
  bytes: Uint8Array,
  algorithms: readonly DigestAlgorithm[],
): Promise<Digests> {
  return bytes.byteLength > SLICE_BYTES
    ? digestsInSlices(bytes, algorithms)
    : Promise.resolve(digestsHere(bytes, algorithms));
}

/** Whether `bytes` lie in shared memory (which another thread can read without a copy). */
export function isShared(bytes: Uint8Array): boolean {
  return typeof SharedArrayBuffer === 'function' && bytes.buffer instanceof SharedArrayBuffer;
}

interface Slot {
  readonly index: number;
  view: Uint8Array;
  busy: boolean;
}

interface Pending {
  /** The slot the bytes were copied into; none for bytes already in shared memory. */
  readonly slot: Slot | undefined;
  readonly bytes: Uint8Array;
  readonly algorithms: readonly DigestAlgorithm[];
  readonly resolve: (digests: Digests | PromiseLike<Digests>) => void;
  readonly startedAt: number;
}

/** Slot sizes are powers of two from 64 KiB, so a slot is rarely re-allocated. */
function slotBytesFor(length: number, maxBytes: number): number {
  let size = 64 * 1024;
  while (size < length) size *= 2;
  return Math.min(size, maxBytes);
}

/** See the module comment. One instance per hasher; `close()` it with the hasher. */
export class DigestOffload {
  readonly #script: string;
  readonly #options: DigestOffloadOptions;
  readonly #slots: Slot[] = [];
  readonly #pending = new Map<number, Pending>();
  #worker: Worker | undefined;
  #watchdog: NodeJS.Timeout | undefined;
  #nextId = 1;
  #failures = 0;
  #closed = false;

  constructor(script: string, options: DigestOffloadOptions) {
    this.#script = script;
    this.#options = options;
  }

  /** Digests taken by the worker so far that have not been answered. */
  get inFlight(): number {
    return this.#pending.size;
  }

  /**
   * The digests of `bytes`. Bytes in shared memory ({@link isShared}) of at least `minBytes` are
   * read by the worker where they are, whatever their size; others from `minBytes` to `maxBytes`
   * are copied into a slot first. Never rejects: whatever goes wrong with the worker, the
   * digests are computed on the calling thread (over 1 MiB, in slices that yield). `bytes` must
   * not change until the promise settles.
   */
  digest(bytes: Uint8Array, algorithms: readonly DigestAlgorithm[]): Promise<Digests> {
    const { minBytes, maxBytes } = this.#options;
    const length = bytes.byteLength;
    const shared = isShared(bytes);
    const usable =
      !this.#closed &&
      this.#failures < MAX_WORKER_FAILURES &&
      length >= minBytes &&
      (shared || length <= maxBytes);
    const worker = usable ? this.#ensureWorker() : undefined;
    const slot = worker && !shared ? this.#takeSlot(worker, length) : undefined;
    if (!worker || (!shared && !slot)) return digestsOnCallingThread(bytes, algorithms);
    slot?.view.set(bytes);
    const id = this.#nextId++;
    const mask = digestBits(algorithms);
    return new Promise<Digests>((resolve) => {
      this.#pending.set(id, { slot, bytes, algorithms, resolve, startedAt: Date.now() });
      if (this.#pending.size === 1) worker.ref();
      this.#watch();
      worker.postMessage(
        (slot
          ? [id, slot.index, length, mask]
          : {
              id,
              memory: bytes.buffer as SharedArrayBuffer,
              offset: bytes.byteOffset,
              length,
              algorithms: mask,
            }) satisfies DigestMessage,
      );
    });
  }

  /** Stops the worker; digests in flight are computed on the calling thread. Safe to call twice. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const worker = this.#worker;
    this.#worker = undefined;
    this.#settleHere();
    if (worker) {
      worker.removeAllListeners();
      worker.on('error', () => {});
      await worker.terminate();
    }
  }

  #takeSlot(worker: Worker, length: number): Slot | undefined {
    const free = this.#slots.filter((s) => !s.busy);
    let slot = free.find((s) => s.view.byteLength >= length) ?? free[0];
    if (!slot && this.#slots.length < this.#options.slots) {
      slot = { index: this.#slots.length, view: new Uint8Array(0), busy: false };
      this.#slots.push(slot);
    }
    if (!slot) return undefined;
    if (slot.view.byteLength < length) {
      const memory = new SharedArrayBuffer(slotBytesFor(length, this.#options.maxBytes));
      slot.view = new Uint8Array(memory);
      worker.postMessage({ slot: slot.index, memory } satisfies DigestMessage);
    }
    slot.busy = true;
    return slot;
  }

  #ensureWorker(): Worker {
    if (this.#worker) return this.#worker;
    const worker = new Worker(this.#script);
    worker.unref();
    worker.on('message', (reply: DigestReply) => this.#answer(reply));
    worker.on('error', (err) => this.#fail(err));
    worker.on('exit', (code) => this.#fail(new Error(`the digest worker exited with code ${code}`)));
    this.#worker = worker;
    // A new worker knows no slot yet: they are sent again as they are used.
    for (const slot of this.#slots) slot.view = new Uint8Array(0);
    return worker;
  }

  #answer(reply: DigestReply): void {
    const id = reply[0];
    const job = this.#pending.get(id);
    if (!job) return;
    this.#pending.delete(id);
    if (job.slot) job.slot.busy = false;
    if (this.#pending.size === 0) this.#worker?.unref();
    if (reply[1] === null || reply[1] === undefined) {
      job.resolve(digestsOnCallingThread(job.bytes, job.algorithms));
      return;
    }
    const out: Digests = {};
    let i = 1;
    for (const a of ALGORITHMS) if (job.algorithms.includes(a)) out[a] = reply[i++] as string;
    job.resolve(out);
  }

  /** One timer for every digest in flight: the oldest unanswered after `stallMs` fails the worker. */
  #watch(): void {
    if (this.#watchdog) return;
    const oldest = this.#pending.values().next().value as Pending | undefined;
    if (!oldest) return;
    const wait = Math.max(0, oldest.startedAt + this.#options.stallMs - Date.now());
    this.#watchdog = setTimeout(() => {
      this.#watchdog = undefined;
      const first = this.#pending.values().next().value as Pending | undefined;
      if (first && Date.now() - first.startedAt >= this.#options.stallMs) {
        this.#fail(new Error('the digest worker stalled'));
      }
      this.#watch();
    }, wait);
    this.#watchdog.unref();
  }

  /** The worker failed or stalled: answer its digests here and start a new one on the next call. */
  #fail(_cause: unknown): void {
    const worker = this.#worker;
    if (!worker) return;
    this.#worker = undefined;
    this.#failures++;
    worker.removeAllListeners();
    worker.on('error', () => {});
    void worker.terminate();
    this.#settleHere();
  }

  #settleHere(): void {
    const jobs = [...this.#pending.values()];
    this.#pending.clear();
    if (this.#watchdog) clearTimeout(this.#watchdog);
    this.#watchdog = undefined;
    for (const job of jobs) {
      if (job.slot) job.slot.busy = false;
      job.resolve(digestsOnCallingThread(job.bytes, job.algorithms));
    }
  }
}
