/**
 * Owns a fixed pool of worker threads that run CPU-heavy jobs (decoding, perceptual hashing) off
 * the host's event loop: a bounded queue, a hard time limit per job, and replacement of any
 * worker that dies, whose job then fails with a clear error instead of crashing the host.
 */

import { existsSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
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
  /** Hard limit for one job, in milliseconds; the worker running it is terminated and replaced. @default 30000 */
  readonly jobTimeoutMs?: number;
  /** Data passed to each worker as `workerData`. */
  readonly workerData?: unknown;
}

interface Job {
  readonly message: unknown;
  readonly transfer: readonly ArrayBuffer[];
  readonly resolve: (value: unknown) => void;
  readonly reject: (err: Error) => void;
}

interface Slot {
  worker: Worker;
  job: Job | undefined;
  jobId: number;
  timer: NodeJS.Timeout | undefined;
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
  readonly #slots: Slot[] = [];
  readonly #queue: Job[] = [];
  #nextId = 1;
  #closed = false;
  #replaced = 0;

  constructor(script: string, options: WorkerPoolOptions = {}) {
    this.#script = script;
    this.#size = Math.max(1, options.size ?? cpus().length);
    this.#maxQueue = options.maxQueue ?? 1000;
    this.#jobTimeoutMs = options.jobTimeoutMs ?? 30_000;
    this.#workerData = options.workerData;
    for (let i = 0; i < this.#size; i++) this.#slots.push(this.#spawn());
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
    return this.#slots.filter((s) => s.job !== undefined).length;
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
    if (this.#closed) return Promise.reject(new PoolJobError('closed', 'The worker pool is closed'));
    return new Promise<Res>((resolve, reject) => {
      const job: Job = { message, transfer, resolve: resolve as (v: unknown) => void, reject };
      const idle = this.#slots.find((s) => s.job === undefined);
      if (idle) {
        this.#start(idle, job);
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
    const err = (): PoolJobError =>
      new PoolJobError('closed', 'The worker pool was closed before the job finished');
    for (const job of this.#queue.splice(0)) job.reject(err());
    await Promise.all(
      this.#slots.map(async (slot) => {
        if (slot.timer) clearTimeout(slot.timer);
        const job = slot.job;
        slot.job = undefined;
        job?.reject(err());
        slot.worker.removeAllListeners();
        await slot.worker.terminate();
      }),
    );
  }

  #spawn(): Slot {
    const worker = new Worker(this.#script, { workerData: this.#workerData });
    worker.unref();
    const slot: Slot = { worker, job: undefined, jobId: 0, timer: undefined };
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
      this.#finish(slot);
      worker.removeAllListeners();
      job?.reject(new PoolJobError('worker-failed', 'The scan worker stopped unexpectedly', { cause }));
      this.#replace(slot);
    };
    worker.on('error', onDeath);
    worker.on('exit', (code) => onDeath(new Error(`worker exited with code ${code}`)));
    return slot;
  }

  #replace(slot: Slot): void {
    const index = this.#slots.indexOf(slot);
    this.#replaced++;
    const fresh = this.#spawn();
    if (index >= 0) this.#slots[index] = fresh;
    this.#next(fresh);
  }

  #start(slot: Slot, job: Job): void {
    slot.job = job;
    slot.worker.ref();
    const id = this.#nextId++;
    slot.jobId = id;
    slot.timer = setTimeout(() => {
      const running = slot.job;
      this.#finish(slot);
      slot.worker.removeAllListeners();
      void slot.worker.terminate();
      running?.reject(
        new PoolJobError('timed-out', `The scan ran past its time limit of ${this.#jobTimeoutMs} ms`),
      );
      this.#replace(slot);
    }, this.#jobTimeoutMs);
    slot.timer.unref();
    slot.worker.postMessage({ id, message: job.message }, job.transfer as ArrayBuffer[]);
  }

  #finish(slot: Slot): void {
    if (slot.timer) clearTimeout(slot.timer);
    slot.timer = undefined;
    slot.job = undefined;
    slot.worker.unref();
  }

  #next(slot: Slot): void {
    if (this.#closed || slot.job) return;
    const job = this.#queue.shift();
    if (job) this.#start(slot, job);
  }
}
