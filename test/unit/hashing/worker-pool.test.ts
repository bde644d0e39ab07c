import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { PoolJobError, WorkerPool } from '../../../src/hashing/worker-pool';
import { FIXTURES } from '../../helpers/vectors';

type Req = { do: string; value?: unknown; ms?: number; bytes?: Uint8Array };
type Inspected = { length: number; shared: boolean; sum: number };

function checksum(b: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < b.length; i++) sum = (sum * 31 + b[i]!) >>> 0;
  return sum;
}
const SCRIPT = join(FIXTURES, 'workers/misbehaving-worker.js');
const COMPILED_POOL = resolve(__dirname, '../../../dist/hashing/worker-pool.js');

/** Runs `code` in a fresh Node process (with the compiled pool as `WorkerPool`) and returns its output. */
async function runNode(code: string): Promise<{ stdout: string; ms: number }> {
  const started = Date.now();
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['-e', `const { WorkerPool } = require(${JSON.stringify(COMPILED_POOL)});\n${code}`],
    { timeout: 20_000 },
  );
  return { stdout, ms: Date.now() - started };
}

describe('worker pool', () => {
  let pool: WorkerPool<Req, unknown>;
  afterEach(async () => {
    await pool.close();
  });

  it('runs jobs and returns their results', async () => {
    pool = new WorkerPool(SCRIPT, { size: 2 });
    const results = await Promise.all([1, 2, 3, 4, 5].map((value) => pool.run({ do: 'echo', value })));
    expect(results).toEqual([1, 2, 3, 4, 5]);
  });

  it('replaces a worker that throws, fails only its job, and keeps serving', async () => {
    pool = new WorkerPool(SCRIPT, { size: 1 });
    const failed = pool.run({ do: 'throw' });
    const after = pool.run({ do: 'echo', value: 'still here' });
    await expect(failed).rejects.toMatchObject({
      failure: 'worker-failed',
      code: 'ERR_HASHGATE_WORKER_FAILED',
    });
    await expect(after).resolves.toBe('still here');
    expect(pool.replacedWorkers).toBe(1);
  });

  it('replaces a worker that exits', async () => {
    pool = new WorkerPool(SCRIPT, { size: 1 });
    await expect(pool.run({ do: 'exit' })).rejects.toBeInstanceOf(PoolJobError);
    await expect(pool.run({ do: 'echo', value: 7 })).resolves.toBe(7);
  });

  it('terminates a job that runs past the time limit and replaces its worker', async () => {
    // The limit also covers the replacement worker's start-up, which a loaded machine slows down.
    pool = new WorkerPool(SCRIPT, { size: 1, jobTimeoutMs: 2_000 });
    await expect(pool.run({ do: 'hang' })).rejects.toMatchObject({ failure: 'timed-out' });
    await expect(pool.run({ do: 'echo', value: 'ok' })).resolves.toBe('ok');
    expect(pool.replacedWorkers).toBe(1);
  });

  it('counts running jobs and keeps the process alive only while one runs', async () => {
    pool = new WorkerPool(SCRIPT, { size: 2 });
    const jobs = [pool.run({ do: 'slow-echo', value: 1, ms: 100 }), pool.run({ do: 'echo', value: 2 })];
    expect(pool.running).toBe(2);
    await Promise.all(jobs);
    expect(pool.running).toBe(0);

    // Nothing but the pool's job keeps this process alive: it must wait for the answer.
    const busy = await runNode(
      `const pool = new WorkerPool(${JSON.stringify(SCRIPT)}, { size: 1 });
       pool.run({ do: 'slow-echo', value: 'answered', ms: 300 }).then((v) => console.log(v));`,
    );
    expect(busy.stdout.trim()).toBe('answered');
    // An idle pool that nobody closed does not hold the process open (its watchdog is unreferenced).
    const idle = await runNode(
      `const pool = new WorkerPool(${JSON.stringify(SCRIPT)}, { size: 1, jobTimeoutMs: 60_000 });
       pool.run({ do: 'echo', value: 'done' }).then((v) => console.log(v));`,
    );
    expect(idle.stdout.trim()).toBe('done');
    expect(idle.ms).toBeLessThan(15_000);
  });

  it('refuses work at once when the queue is full', async () => {
    pool = new WorkerPool(SCRIPT, { size: 1, maxQueue: 1 });
    const running = pool.run({ do: 'slow-echo', value: 1, ms: 200 });
    const queued = pool.run({ do: 'echo', value: 2 });
    await expect(pool.run({ do: 'echo', value: 3 })).rejects.toMatchObject({ failure: 'overloaded' });
    await expect(Promise.all([running, queued])).resolves.toEqual([1, 2]);
  });

  it('fails running and queued jobs when closed, and refuses new ones', async () => {
    pool = new WorkerPool(SCRIPT, { size: 1 });
    const running = expect(pool.run({ do: 'slow-echo', value: 1, ms: 5_000 })).rejects.toMatchObject({
      failure: 'closed',
      code: 'ERR_HASHGATE_POOL_CLOSED',
    });
    const queued = expect(pool.run({ do: 'echo', value: 2 })).rejects.toMatchObject({ failure: 'closed' });
    await pool.close();
    await running;
    await queued;
    await expect(pool.run({ do: 'echo', value: 3 })).rejects.toMatchObject({ failure: 'closed' });
  });

  describe('jobs with input bytes', () => {
    it("copies the bytes into the worker's shared input buffer and leaves the caller's alone", async () => {
      pool = new WorkerPool(SCRIPT, { size: 1 });
      const bytes = randomBytes(300_001).subarray(1);
      const result = (await pool.runWithInput(bytes, (copy) => ({
        do: 'inspect',
        bytes: copy,
      }))) as Inspected;
      expect(result).toEqual({ length: 300_000, shared: true, sum: checksum(bytes) });
      expect(bytes.byteLength).toBe(300_000); // not detached
    });

    it('copies the bytes only when a worker takes the job, one job after another', async () => {
      pool = new WorkerPool(SCRIPT, { size: 1 });
      const built: number[] = [];
      const inputs = [1, 2, 3].map((n) => randomBytes(1000 * n));
      const jobs = inputs.map((bytes, i) =>
        pool.runWithInput(bytes, (copy) => {
          built.push(i);
          return { do: 'inspect', bytes: copy, ms: 50 };
        }),
      );
      // The first job runs; the two waiting ones hold no copy yet.
      expect(built).toEqual([0]);
      expect(pool.queued).toBe(2);
      const results = (await Promise.all(jobs)) as Inspected[];
      expect(built).toEqual([0, 1, 2]);
      // Each job read its own bytes, though all went through the one worker's buffer.
      expect(results.map((r) => r.sum)).toEqual(inputs.map(checksum));
      expect(results.map((r) => r.length)).toEqual([1000, 2000, 3000]);
    });

    it('sends bytes over inputBytes as a fresh copy, transferred', async () => {
      pool = new WorkerPool(SCRIPT, { size: 1, inputBytes: 100_000 });
      const bytes = randomBytes(100_001);
      const result = (await pool.runWithInput(bytes, (copy) => ({
        do: 'inspect',
        bytes: copy,
      }))) as Inspected;
      expect(result).toEqual({ length: 100_001, shared: false, sum: checksum(bytes) });
      expect(bytes.byteLength).toBe(100_001);
      const small = randomBytes(100_000);
      await expect(pool.runWithInput(small, (copy) => ({ do: 'inspect', bytes: copy }))).resolves.toEqual({
        length: 100_000,
        shared: true,
        sum: checksum(small),
      });
    });

    it("reuses a worker's input buffer, and gives a replacement worker a new one", async () => {
      pool = new WorkerPool(SCRIPT, { size: 1, jobTimeoutMs: 2_000 });
      const buffers: ArrayBufferLike[] = [];
      const inspect = (copy: Uint8Array): Req => {
        buffers.push(copy.buffer);
        return { do: 'inspect', bytes: copy };
      };
      const first = randomBytes(5000);
      await pool.runWithInput(first, inspect);
      await pool.runWithInput(randomBytes(6000), inspect);
      expect(buffers[1]).toBe(buffers[0]);
      // The hanging worker keeps its buffer (it could still read it) until it is terminated.
      await expect(
        pool.runWithInput(first, (copy) => {
          buffers.push(copy.buffer);
          return { do: 'hang' };
        }),
      ).rejects.toMatchObject({ failure: 'timed-out' });
      expect(buffers[2]).toBe(buffers[0]);
      const next = randomBytes(5000);
      await expect(pool.runWithInput(next, inspect)).resolves.toEqual({
        length: 5000,
        shared: true,
        sum: checksum(next),
      });
      expect(buffers[3]).toBeInstanceOf(SharedArrayBuffer);
      expect(buffers[3]).not.toBe(buffers[0]);
      expect(pool.replacedWorkers).toBe(1);
    });

    it('keeps the worker of a job whose build calls into the pool', async () => {
      pool = new WorkerPool(SCRIPT, { size: 1 });
      let inner: Promise<unknown> | undefined;
      const outer = pool.runWithInput(randomBytes(10), (copy) => {
        inner = pool.run({ do: 'echo', value: 'inner' });
        return { do: 'inspect', bytes: copy };
      });
      await expect(outer).resolves.toMatchObject({ length: 10 });
      await expect(inner).resolves.toBe('inner');
      expect(pool.running).toBe(0);

      const closing = pool.runWithInput(randomBytes(10), (copy) => {
        void pool.close();
        return { do: 'inspect', bytes: copy };
      });
      await expect(closing).rejects.toMatchObject({ failure: 'closed' });
      expect(pool.running).toBe(0);
    });

    it('fails only the job whose bytes cannot be handed over, whether it starts at once or from the queue', async () => {
      pool = new WorkerPool(SCRIPT, { size: 1 });
      const refused = (): never => {
        throw new RangeError('Array buffer allocation failed');
      };
      // Started at once, on an idle worker.
      await expect(pool.runWithInput(randomBytes(10), refused)).rejects.toMatchObject({
        failure: 'worker-failed',
        code: 'ERR_HASHGATE_WORKER_FAILED',
      });
      // Started from the queue when the running job answers (inside the worker's message handler).
      const input = randomBytes(100);
      const running = pool.runWithInput(input, (copy) => ({ do: 'inspect', bytes: copy, ms: 100 }));
      const failing = pool.runWithInput(input, refused);
      const after = pool.runWithInput(input, (copy) => ({ do: 'inspect', bytes: copy }));
      await expect(running).resolves.toMatchObject({ sum: checksum(input) });
      await expect(failing).rejects.toMatchObject({ failure: 'worker-failed' });
      await expect(after).resolves.toMatchObject({ sum: checksum(input) });
      expect(pool.running).toBe(0);
      expect(pool.replacedWorkers).toBe(0);
    });

    it('counts waiting input jobs against the queue limit and fails them when closed', async () => {
      pool = new WorkerPool(SCRIPT, { size: 1, maxQueue: 1 });
      const input = randomBytes(10);
      const running = pool.runWithInput(input, (copy) => ({ do: 'inspect', bytes: copy, ms: 200 }));
      const queued = pool.runWithInput(input, (copy) => ({ do: 'inspect', bytes: copy }));
      await expect(
        pool.runWithInput(input, (copy) => ({ do: 'inspect', bytes: copy })),
      ).rejects.toMatchObject({
        failure: 'overloaded',
      });
      const closing = pool.close();
      await expect(running).rejects.toMatchObject({ failure: 'closed' });
      await expect(queued).rejects.toMatchObject({ failure: 'closed' });
      await closing;
    });
  });

  it('transfers a buffer listed for transfer instead of copying it', async () => {
    pool = new WorkerPool(SCRIPT, { size: 1 });
    const bytes = new Uint8Array(1024);
    await expect(pool.run({ do: 'length', bytes }, [bytes.buffer])).resolves.toBe(1024);
    expect(bytes.byteLength).toBe(0); // detached here: it moved to the worker
  });
});
