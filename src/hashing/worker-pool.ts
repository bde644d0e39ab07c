/**
 * Owns a fixed pool of worker threads that run CPU-heavy jobs (decoding, perceptual hashing) off
 * the host's event loop: a bounded queue, a hard time limit per job, and replacement of any
 * worker that dies, whose job then fails with a clear error instead of crashing the host.
 */

import { existsSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { copyBytes, slotBytesFor } from '../cooperative';
import { ErrorCodes, HashgateError } from '../errors';

/** Why a job submitted to the pool did not produce a result. */
export type PoolFailure = 'overloaded' | 'timed-out' | 'worker-failed' | 'closed';

/** A job that the pool could not run to completion. `failure` says why. */
export class PoolJobError extends HashgateError {
  readonly failure: PoolFailure;
  constructor(failure: PoolFailure, message: string, options?: { cause?: unknown }) {
    super(failure === 'closed' ? ErrorCodes.POOL_CLOSED : ErrorCodes.WORKER_FAILED, message, options);
    this.name = 'PoolJobError';
    this.failure = failure;
  }
}

/** Options of {@link WorkerPool}. */
export interface WorkerPoolOptions {
  /** Number of worker threads. @default the number of CPU cores */
  readonly size?: number;
  /** Jobs that may wait for a free worker; past this, `run()` fails at once with `overloaded`. @default 1000 */
  readonly maxQueue?: number;
  /**
   * Hard limit for one job, in milliseconds; the worker running it is terminated and replaced.
   * Checked by one sweep every eighth of the limit (at most every second), so a job is stopped at
   * most that much later. @default 30000
   */
  readonly jobTimeoutMs?: number;
  /** Data passed to each worker as `workerData`. */
  readonly workerData?: unknown;
  /**
   * Largest input of {@link WorkerPool.runWithInput} copied into the worker's own reusable
   * shared buffer; a larger one is copied into a fresh buffer that is transferred. @default 4 MiB
   */
  readonly inputBytes?: number;
}

interface Job {
  /** The message, or, for a job with input bytes, what makes it from the worker's copy of them. */
  readonly message: unknown;
  readonly input?: { readonly bytes: Uint8Array; readonly build: (copy: Uint8Array) => unknown };
  readonly transfer: readonly ArrayBuffer[];
  readonly resolve: (value: unknown) => void;
  readonly reject: (err: Error) => void;
}

interface Slot {
  worker: Worker;
  job: Job | undefined;
  jobId: number;
  /** `performance.now()` when the running job started. */
  startedAt: number;
  /** The worker's input buffer for {@link WorkerPool.runWithInput}, made when first needed. */
  input: SharedArrayBuffer | undefined;
}

/**
 * Resolves a worker script that sits next to the compiled module. Under ts-jest the modules run
 * from `src/` as TypeScript, which a worker thread cannot load, so the compiled copy in `dist/`
 * (built by `npm run build`, which `npm test` runs first) is used instead.
 */
export function resolveWorkerScript(dirname: string, baseName: string): string {
  const beside = join(dirname, `${baseName}.js`);
  if (existsSync(beside)) return beside;
  const srcRoot = resolve(dirname, '..');
  const compiled = join(resolve(srcRoot, '..', 'dist'), dirname.slice(srcRoot.length), `${baseName}.js`);
  if (existsSync(compiled)) return compiled;
  throw new HashgateError(
    ErrorCodes.WORKER_FAILED,
    `The worker script ${baseName}.js was not found next to the module or in dist/; run \`npm run build\` first`,
  );
}

/**
 * A pool of worker threads running one script. Each worker handles one job at a time: it
 * receives `{ id, message }` and must answer `{ id, result }` or `{ id, error: { message } }`.
 */
export class WorkerPool<Req, Res> {
  readonly #script: string;
  readonly #size: number;
  readonly #maxQueue: number;
  readonly #jobTimeoutMs: number;
  readonly #workerData: unknown;
  readonly #inputBytes: number;
  readonly #slots: Slot[] = [];
  readonly #queue: Job[] = [];
  #nextId = 1;
  #closed = false;
  #replaced = 0;
  /**
   * The time limit's one timer: it sweeps the running jobs, and is referenced (keeping the
   * process alive, as the unreferenced workers do not) only while a job runs. One timer for the
   * pool instead of one per job, and no per-job `ref()` of a worker: both were on the path of
   * every scan (about 25 µs of it, measured).
   */
  readonly #watchdog: NodeJS.Timeout;
  #running = 0;

  constructor(script: string, options: WorkerPoolOptions = {}) {
    this.#script = script;
    this.#size = Math.max(1, options.size ?? cpus().length);
    this.#maxQueue = options.maxQueue ?? 1000;
    this.#jobTimeoutMs = options.jobTimeoutMs ?? 30_000;
    this.#workerData = options.workerData;
    this.#inputBytes = options.inputBytes ?? 4 * 1024 * 1024;
    for (let i = 0; i < this.#size; i++) this.#slots.push(this.#spawn());
    const sweepMs = Math.max(10, Math.min(1_000, Math.floor(this.#jobTimeoutMs / 8)));
    this.#watchdog = setInterval(() => this.#sweep(), sweepMs);
    this.#watchdog.unref();
  }

  /** Number of worker threads. */
  get size(): number {
    return this.#size;
  }

  /** Jobs waiting for a worker. */
  get queued(): number {
    return this.#queue.length;
  }

  /** Jobs running now. */
  get running(): number {
    return this.#running;
  }

  /** Workers replaced after a crash or a timeout since the pool started. */
  get replacedWorkers(): number {
    return this.#replaced;
  }

  /**
   * Runs one job. `transfer` lists ArrayBuffers handed to the worker without copying (they are
   * unusable here afterwards). Rejects with {@link PoolJobError} when the queue is full, the job
   * runs past its time limit, the worker dies, or the pool is closed.
   */
  run(message: Req, transfer: readonly ArrayBuffer[] = []): Promise<Res> {
    return this.#submit({ message, transfer });
  }

  /**
   * Runs one job that carries bytes, copied when a worker takes the job (not before): into that
   * worker's own reusable shared buffer (a `memcpy`; up to `inputBytes`), or into a fresh buffer
   * that is transferred; `build` makes the message from the copy. A job waiting in the queue
   * holds no copy, and the caller's bytes are never transferred, but they are read only when the
   * job starts: they must not change until the promise settles. Fails like {@link run}.
   */
  runWithInput(bytes: Uint8Array, build: (copy: Uint8Array) => Req): Promise<Res> {
    return this.#submit({ message: undefined, input: { bytes, build }, transfer: [] });
  }

  #submit(what: Pick<Job, 'message' | 'input' | 'transfer'>): Promise<Res> {
    if (this.#closed) return Promise.reject(new PoolJobError('closed', 'The worker pool is closed'));
    return new Promise<Res>((resolve, reject) => {
      const job: Job = { ...what, resolve: resolve as (v: unknown) => void, reject };
      const idle = this.#slots.find((s) => s.job === undefined);
      if (idle) {
        this.#start(idle, job); // a job that cannot be handed over is rejected there
      } else if (this.#queue.length >= this.#maxQueue) {
        reject(new PoolJobError('overloaded', `The scan queue is full (${this.#maxQueue} waiting)`));
      } else {
        this.#queue.push(job);
      }
    });
  }

  /** Stops every worker. Running and queued jobs fail with `closed`. Safe to call twice. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#watchdog);
    const err = (): PoolJobError =>
      new PoolJobError('closed', 'The worker pool was closed before the job finished');
    for (const job of this.#queue.splice(0)) job.reject(err());
    await Promise.all(
      this.#slots.map(async (slot) => {
        const job = slot.job;
        if (job) this.#finish(slot);
        job?.reject(err());
        slot.worker.removeAllListeners();
        await slot.worker.terminate();
      }),
    );
  }

  #spawn(): Slot {
    const worker = new Worker(this.#script, { workerData: this.#workerData });
    const slot: Slot = { worker, job: undefined, jobId: 0, startedAt: 0, input: undefined };
    worker.on('message', (msg: { id: number; result?: unknown; error?: { message: string } }) => {
      const job = slot.job;
      if (!job || msg.id !== slot.jobId) return;
      this.#finish(slot);
      if (msg.error)
        job.reject(new PoolJobError('worker-failed', `The scan worker failed: ${msg.error.message}`));
      else job.resolve(msg.result);
      this.#next(slot);
    });
    const onDeath = (cause: unknown): void => {
      if (this.#closed) return;
      const job = slot.job;
      if (job) this.#finish(slot);
      worker.removeAllListeners();
      job?.reject(new PoolJobError('worker-failed', 'The scan worker stopped unexpectedly', { cause }));
      this.#replace(slot);
    };
    worker.on('error', onDeath);
    worker.on('exit', (code) => onDeath(new Error(`worker exited with code ${code}`)));
    // After the listeners: adding a 'message' listener references the worker's port again. The
    // workers never hold the process open; the watchdog does while a job runs.
    worker.unref();
    return slot;
  }

  #replace(slot: Slot): void {
    const index = this.#slots.indexOf(slot);
    this.#replaced++;
    const fresh = this.#spawn();
    if (index >= 0) this.#slots[index] = fresh;
    this.#next(fresh);
  }

  /**
   * Starts `job` on the idle `slot`. When it cannot be handed over (its bytes could not be copied,
   * its message not posted), the job fails with `worker-failed` and false is returned: this runs
   * inside the workers' message handlers too, where a throw would reach the host uncaught. The
   * slot is busy before `build` runs, so a `build` that calls into the pool cannot take it.
   */
  #start(slot: Slot, job: Job): boolean {
    const id = this.#nextId++;
    slot.job = job;
    slot.jobId = id;
    slot.startedAt = performance.now();
    if (this.#running++ === 0) this.#watchdog.ref();
    try {
      let message = job.message;
      let transfer = job.transfer;
      if (job.input) {
        const { bytes, build } = job.input;
        let copy: Uint8Array;
        if (bytes.byteLength <= this.#inputBytes) {
          // A replaced worker's slot starts without a buffer: the old worker may still read its own.
          if (!slot.input || slot.input.byteLength < bytes.byteLength) {
            slot.input = new SharedArrayBuffer(slotBytesFor(bytes.byteLength, this.#inputBytes));
          }
          copy = new Uint8Array(slot.input, 0, bytes.byteLength);
          copyBytes(copy, bytes);
        } else {
          copy = new Uint8Array(bytes);
          transfer = [copy.buffer as ArrayBuffer];
        }
        message = build(copy);
        // The pool was closed meanwhile: the job is already settled.
        if (slot.job !== job) return false;
      }
      slot.worker.postMessage({ id, message }, transfer as ArrayBuffer[]);
      return true;
    } catch (cause) {
      if (slot.job === job) this.#finish(slot);
      job.reject(
        new PoolJobError('worker-failed', 'The job could not be handed to a scan worker', { cause }),
      );
      return false;
    }
  }

  /** Ends the slot's running job (the caller settles it). */
  #finish(slot: Slot): void {
    slot.job = undefined;
    if (--this.#running === 0) this.#watchdog.unref();
  }

  /** Terminates and replaces every worker whose job has run past the time limit. */
  #sweep(): void {
    const now = performance.now();
    for (const slot of [...this.#slots]) {
      const running = slot.job;
      if (!running || now - slot.startedAt <= this.#jobTimeoutMs) continue;
      this.#finish(slot);
      slot.worker.removeAllListeners();
      void slot.worker.terminate();
      running.reject(
        new PoolJobError('timed-out', `The scan ran past its time limit of ${this.#jobTimeoutMs} ms`),
      );
      this.#replace(slot);
    }
  }

  #next(slot: Slot): void {
    if (this.#closed || slot.job) return;
    for (let job = this.#queue.shift(); job && !this.#closed; job = this.#queue.shift()) {
      if (this.#start(slot, job)) return;
    }
  }
}
