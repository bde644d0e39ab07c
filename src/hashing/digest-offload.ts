/**
 * Owns digesting in-memory uploads off the event loop. The bytes are copied into one of a few
 * reused shared-memory slots, and one worker thread (digest-worker.ts) digests them there. Copying
 * into memory that is already mapped costs a small fraction of a digest, where a fresh copy per
 * upload would pay a page fault per 4 KiB. When every slot is busy, a buffer waits for one (the
 * worker digests one buffer at a time anyway), up to a bound in bytes. Whenever the offload cannot
 * take a buffer, the digest is computed on the calling thread instead. That covers a buffer too
 * small to be worth the hop, more bytes waiting than the bound, a worker that failed, stalled or
 * was closed. A digest is never skipped.
 */

import * as crypto from 'node:crypto';
import { createHash } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { copyBytes, SLICE_BYTES, slotBytesFor, yieldToEventLoop } from '../cooperative';

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
  /**
   * The same while the worker has nothing to do (at least `minBytes`). Waking a thread that
   * sleeps costs the calling thread several times what a message to a busy one costs: on a
   * virtual machine, 0.06 to 0.1 ms, the time SHA-256 takes for 100 to 180 KB.
   */
  readonly minBytesIdle: number;
  /** Buffers over this many bytes are digested on the calling thread; also the largest slot. */
  readonly maxBytes: number;
  /** Shared-memory slots, so digests in flight at once; more wait for a slot. */
  readonly slots: number;
  /**
   * Bytes that may wait for a slot; a buffer that would take the waiting bytes over this is
   * digested on the calling thread (the worker is behind: the calling thread helps).
   */
  readonly maxWaitingBytes: number;
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

/** A digest asked for: its bytes, and who waits for the answer. */
interface Job {
  readonly bytes: Uint8Array;
  readonly algorithms: readonly DigestAlgorithm[];
  readonly resolve: (digests: Digests | PromiseLike<Digests>) => void;
}

/** A job the worker has. */
interface Pending extends Job {
  /** The slot the bytes were copied into; none for bytes already in shared memory. */
  readonly slot: Slot | undefined;
  readonly startedAt: number;
}

/** See the module comment. One instance per hasher; `close()` it with the hasher. */
export class DigestOffload {
  readonly #script: string;
  readonly #options: DigestOffloadOptions;
  readonly #slots: Slot[] = [];
  readonly #pending = new Map<number, Pending>();
  /** Jobs waiting for a free slot, oldest first, and their bytes in all. */
  #waiting: Job[] = [];
  #waitingBytes = 0;
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

  /** Digests waiting for a free slot. */
  get waiting(): number {
    return this.#waiting.length;
  }

  /**
   * The digests of `bytes`. Bytes in shared memory ({@link isShared}) of at least `minBytes`
   * (`minBytesIdle` while the worker has nothing to do) are read by the worker where they are,
   * whatever their size; others from that size to `maxBytes` are copied into a slot first, when
   * one is free, or wait for one. Never rejects: whatever goes wrong with the worker, the digests
   * are computed on the calling thread (over 1 MiB, in slices that yield). `bytes` must not change
   * until the promise settles.
   */
  digest(bytes: Uint8Array, algorithms: readonly DigestAlgorithm[]): Promise<Digests> {
    const { minBytes, minBytesIdle, maxBytes, maxWaitingBytes } = this.#options;
    const length = bytes.byteLength;
    const shared = isShared(bytes);
    const usable =
      !this.#closed &&
      this.#failures < MAX_WORKER_FAILURES &&
      length >= (this.#pending.size > 0 ? minBytes : Math.max(minBytes, minBytesIdle)) &&
      (shared || length <= maxBytes);
    const worker = usable ? this.#ensureWorker() : undefined;
    if (!worker) return digestsOnCallingThread(bytes, algorithms);
    return new Promise<Digests>((resolve) => {
      const job: Job = { bytes, algorithms, resolve };
      if (shared) this.#post(worker, job, undefined);
      else {
        const slot = this.#takeSlot(worker, length);
        if (slot) this.#post(worker, job, slot);
        else if (this.#waitingBytes + length <= maxWaitingBytes) {
          this.#waiting.push(job);
          this.#waitingBytes += length;
        } else resolve(digestsOnCallingThread(bytes, algorithms));
      }
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

  /** Hands `job` to the worker: copied into `slot`, or where it lies when it is in shared memory. */
  #post(worker: Worker, job: Job, slot: Slot | undefined): void {
    const { bytes } = job;
    if (slot) copyBytes(slot.view, bytes);
    const id = this.#nextId++;
    this.#pending.set(id, { ...job, slot, startedAt: Date.now() });
    if (this.#pending.size === 1) worker.ref();
    this.#watch();
    const mask = digestBits(job.algorithms);
    worker.postMessage(
      (slot
        ? [id, slot.index, bytes.byteLength, mask]
        : {
            id,
            memory: bytes.buffer as SharedArrayBuffer,
            offset: bytes.byteOffset,
            length: bytes.byteLength,
            algorithms: mask,
          }) satisfies DigestMessage,
    );
  }

  /** Hands waiting jobs to the worker while slots are free. */
  #drain(): void {
    const worker = this.#worker;
    while (worker && this.#waiting.length > 0) {
      const next = this.#waiting[0]!;
      const slot = this.#takeSlot(worker, next.bytes.byteLength);
      if (!slot) return;
      this.#waiting.shift();
      this.#waitingBytes -= next.bytes.byteLength;
      this.#post(worker, next, slot);
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
    if (job.slot) {
      job.slot.busy = false;
      this.#drain();
    }
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

  /**
   * Answers every job here: those the worker had (at most one a slot, as before the queue), and
   * then the waiting ones one after another, each in slices with a turn of the event loop before
   * each, so that up to `maxWaitingBytes` of them never hold the event loop at once.
   */
  #settleHere(): void {
    const pending = [...this.#pending.values()];
    const waiting = this.#waiting;
    for (const job of pending) if (job.slot) job.slot.busy = false;
    this.#pending.clear();
    this.#waiting = [];
    this.#waitingBytes = 0;
    if (this.#watchdog) clearTimeout(this.#watchdog);
    this.#watchdog = undefined;
    for (const job of pending) job.resolve(digestsOnCallingThread(job.bytes, job.algorithms));
    void (async () => {
      for (const job of waiting) {
        const digests = digestsInSlices(job.bytes, job.algorithms);
        job.resolve(digests);
        await digests.catch(() => undefined);
      }
    })();
  }
}
