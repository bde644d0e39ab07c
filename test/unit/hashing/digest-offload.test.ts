import { hash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import {
  type DigestAlgorithm,
  DigestOffload,
  type DigestOffloadOptions,
} from '../../../src/hashing/digest-offload';
import { resolveWorkerScript } from '../../../src/hashing/worker-pool';
import { FIXTURES } from '../../helpers/vectors';

const SCRIPT = resolveWorkerScript(join(__dirname, '../../../src/hashing'), 'digest-worker');
const OPTIONS: DigestOffloadOptions = {
  minBytes: 1024,
  minBytesIdle: 1024,
  maxBytes: 1 << 20,
  slots: 2,
  maxWaitingBytes: 4 << 20,
  stallMs: 5_000,
};
const ALL: DigestAlgorithm[] = ['md5', 'sha1', 'sha256'];

function expected(bytes: Uint8Array, algorithms: readonly DigestAlgorithm[]): Record<string, string> {
  return Object.fromEntries(algorithms.map((a) => [a, hash(a, bytes, 'hex')]));
}

describe('digest offload', () => {
  let offload: DigestOffload;
  afterEach(async () => {
    await offload.close();
  });

  it('gives the digests of node:crypto for every size, on either side of the thresholds', async () => {
    offload = new DigestOffload(SCRIPT, OPTIONS);
    for (const size of [0, 1, 1023, 1024, 65_537, (1 << 20) - 1, 1 << 20, (1 << 20) + 1]) {
      const bytes = randomBytes(size);
      await expect(offload.digest(bytes, ALL)).resolves.toEqual(expected(bytes, ALL));
      await expect(offload.digest(bytes, ['sha256'])).resolves.toEqual(expected(bytes, ['sha256']));
      await expect(offload.digest(bytes, ['md5', 'sha1'])).resolves.toEqual(expected(bytes, ['md5', 'sha1']));
    }
  });

  it('hands buffers within the thresholds to the worker and digests the others here', async () => {
    offload = new DigestOffload(SCRIPT, OPTIONS);
    const small = offload.digest(randomBytes(1023), ['sha256']);
    expect(offload.inFlight).toBe(0);
    const large = offload.digest(randomBytes(1024), ['sha256']);
    expect(offload.inFlight).toBe(1);
    const huge = offload.digest(randomBytes((1 << 20) + 1), ['sha256']);
    expect(offload.inFlight).toBe(1);
    await Promise.all([small, large, huge]);
    expect(offload.inFlight).toBe(0);
  });

  it('keeps mid-sized buffers on the calling thread while the worker sleeps, and hands them over while it works', async () => {
    offload = new DigestOffload(SCRIPT, { ...OPTIONS, minBytesIdle: 100_000 });
    const mid = randomBytes(50_000);
    const idle = offload.digest(mid, ['sha256']);
    expect(offload.inFlight).toBe(0);
    await expect(idle).resolves.toEqual(expected(mid, ['sha256']));
    const large = offload.digest(randomBytes(100_000), ['sha256']);
    expect(offload.inFlight).toBe(1);
    const busy = offload.digest(mid, ['sha256']);
    expect(offload.inFlight).toBe(2);
    await Promise.all([large, busy]);
    await expect(busy).resolves.toEqual(expected(mid, ['sha256']));
  });

  it('digests a view into a larger buffer, not the buffer behind it', async () => {
    offload = new DigestOffload(SCRIPT, OPTIONS);
    const backing = randomBytes(200_000);
    const view = backing.subarray(12_345, 150_000);
    await expect(offload.digest(view, ALL)).resolves.toEqual(expected(view, ALL));
  });

  it('answers more digests than it has slots at once, each with its own bytes', async () => {
    offload = new DigestOffload(SCRIPT, OPTIONS);
    const inputs = Array.from({ length: 12 }, (_, i) => randomBytes(20_000 + i * 50_000));
    const results = await Promise.all(inputs.map((b) => offload.digest(b, ALL)));
    expect(results).toEqual(inputs.map((b) => expected(b, ALL)));
    expect(offload.inFlight).toBe(0);
  });

  it('queues buffers for a busy slot instead of digesting them here, up to the waiting bound', async () => {
    offload = new DigestOffload(SCRIPT, { ...OPTIONS, slots: 2, maxWaitingBytes: 350_000 });
    const inputs = Array.from({ length: 6 }, (_, i) => randomBytes(100_000 + i));
    const pending = inputs.map((b) => offload.digest(b, ['sha256', 'md5']));
    // Two in the slots, three waiting (a fourth would take the waiting bytes past 350 000), and the
    // sixth digested on this thread at once.
    expect(offload.inFlight).toBe(2);
    expect(offload.waiting).toBe(3);
    expect(await Promise.all(pending)).toEqual(inputs.map((b) => expected(b, ['sha256', 'md5'])));
    expect(offload.inFlight).toBe(0);
    expect(offload.waiting).toBe(0);
  });

  it('hands a waiting buffer to the worker as soon as a slot frees, in order, growing the slot when needed', async () => {
    offload = new DigestOffload(SCRIPT, { ...OPTIONS, slots: 2 });
    // The third buffer is larger than either slot, so the slot it gets must grow.
    const inputs = [70_000, 80_000, 900_000, 60_000, 75_000].map((n) => randomBytes(n));
    const pending = inputs.map((b) => offload.digest(b, ['sha256']));
    expect([offload.inFlight, offload.waiting]).toEqual([2, 3]);
    await pending[0];
    // The freed slot went to the next waiting buffer, not to the calling thread.
    expect([offload.inFlight, offload.waiting]).toEqual([2, 2]);
    expect(await Promise.all(pending)).toEqual(inputs.map((b) => expected(b, ['sha256'])));
  });

  it('answers buffers waiting for a slot from the calling thread when the worker stalls or is closed', async () => {
    for (const close of [false, true]) {
      offload = new DigestOffload(join(FIXTURES, 'workers/silent-digest-worker.js'), {
        ...OPTIONS,
        slots: 1,
        stallMs: close ? 60_000 : 200,
      });
      const inputs = Array.from({ length: 3 }, () => randomBytes(50_000));
      const pending = inputs.map((b) => offload.digest(b, ALL));
      expect(offload.waiting).toBe(2);
      if (close) await offload.close();
      expect(await Promise.all(pending)).toEqual(inputs.map((b) => expected(b, ALL)));
      expect(offload.waiting).toBe(0);
      await offload.close();
    }
  });

  it('answers waiting buffers one after another, each on a turn of the event loop, once the worker is gone', async () => {
    offload = new DigestOffload(join(FIXTURES, 'workers/silent-digest-worker.js'), { ...OPTIONS, slots: 1 });
    const inputs = Array.from({ length: 4 }, () => randomBytes(600_000));
    const pending = inputs.map((b) => offload.digest(b, ALL));
    expect(offload.waiting).toBe(3);
    let turn = 0;
    let counting = true;
    const tick = (): void => {
      turn++;
      if (counting) setImmediate(tick);
    };
    setImmediate(tick);
    const settledOn = pending.map((p) => p.then((digests) => ({ digests, turn })));
    await offload.close();
    const settled = await Promise.all(settledOn);
    counting = false;
    expect(settled.map((s) => s.digests)).toEqual(inputs.map((b) => expected(b, ALL)));
    // Answered here in one go, the three waiting buffers would hold the event loop for one turn.
    expect(new Set(settled.slice(1).map((s) => s.turn)).size).toBe(3);
  });

  it('grows a slot for a larger buffer after a smaller one', async () => {
    offload = new DigestOffload(SCRIPT, { ...OPTIONS, slots: 1 });
    for (const size of [70_000, 900_000, 5_000, 1 << 20]) {
      const bytes = randomBytes(size);
      await expect(offload.digest(bytes, ['sha256'])).resolves.toEqual(expected(bytes, ['sha256']));
    }
  });

  it('digests bytes in shared memory where they lie, at any size from the minimum on', async () => {
    offload = new DigestOffload(SCRIPT, OPTIONS);
    const memory = new SharedArrayBuffer(3 * 1024 * 1024 + 100);
    const all = new Uint8Array(memory);
    all.set(randomBytes(all.length));
    for (const view of [
      new Uint8Array(memory, 0, 1024),
      new Uint8Array(memory, 100, (1 << 20) + 1),
      new Uint8Array(memory, 77, 3 * 1024 * 1024),
    ]) {
      const pending = offload.digest(view, ALL);
      expect(offload.inFlight).toBe(1);
      await expect(pending).resolves.toEqual(expected(view, ALL));
    }
    // Under the minimum, the calling thread digests it in one call.
    const tiny = new Uint8Array(memory, 5, 1023);
    const pending = offload.digest(tiny, ['sha1']);
    expect(offload.inFlight).toBe(0);
    await expect(pending).resolves.toEqual(expected(tiny, ['sha1']));
  });

  it('answers shared bytes from the calling thread, in slices, when the worker dies', async () => {
    offload = new DigestOffload(join(FIXTURES, 'workers/crashing-digest-worker.js'), OPTIONS);
    const bytes = new Uint8Array(new SharedArrayBuffer(3 * 1024 * 1024 + 5));
    bytes.set(randomBytes(bytes.length));
    for (let i = 0; i < 4; i++)
      await expect(offload.digest(bytes, ALL)).resolves.toEqual(expected(bytes, ALL));
    expect(offload.inFlight).toBe(0);
  });

  it('answers from the calling thread when the worker dies, and again after it gave up on the worker', async () => {
    offload = new DigestOffload(join(FIXTURES, 'workers/crashing-digest-worker.js'), OPTIONS);
    for (let i = 0; i < 5; i++) {
      const bytes = randomBytes(50_000);
      await expect(offload.digest(bytes, ALL)).resolves.toEqual(expected(bytes, ALL));
    }
    expect(offload.inFlight).toBe(0);
  });

  it('answers from the calling thread when the worker stalls', async () => {
    offload = new DigestOffload(join(FIXTURES, 'workers/silent-digest-worker.js'), {
      ...OPTIONS,
      stallMs: 200,
    });
    const bytes = randomBytes(50_000);
    const started = Date.now();
    await expect(offload.digest(bytes, ['sha256', 'md5'])).resolves.toEqual(
      expected(bytes, ['sha256', 'md5']),
    );
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
  });

  it('answers digests in flight when closed, and digests on the calling thread afterwards', async () => {
    offload = new DigestOffload(join(FIXTURES, 'workers/silent-digest-worker.js'), OPTIONS);
    const bytes = randomBytes(50_000);
    const pending = offload.digest(bytes, ALL);
    await offload.close();
    await expect(pending).resolves.toEqual(expected(bytes, ALL));
    await expect(offload.digest(bytes, ['sha1'])).resolves.toEqual(expected(bytes, ['sha1']));
  });
});
