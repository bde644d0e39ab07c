import { randomBytes } from 'node:crypto';
import { copyBytes, copyToShared, SLICE_BYTES, slotBytesFor, Yielder } from '../../src/cooperative';
import { countEventLoopTurns } from '../helpers/event-loop';

describe('copyBytes', () => {
  const targets = {
    shared: (n: number) => new Uint8Array(new SharedArrayBuffer(n)),
    'a view into shared memory': (n: number) => new Uint8Array(new SharedArrayBuffer(n + 48), 16, n),
    'ordinary memory': (n: number) => new Uint8Array(n),
  };
  for (const [kind, make] of Object.entries(targets)) {
    it(`copies into ${kind} at an offset and touches nothing else`, () => {
      const target = make(300_011);
      target.fill(7);
      const source = randomBytes(250_003).subarray(1);
      copyBytes(target, source, 5);
      expect(Buffer.from(target.subarray(5, 5 + source.length)).equals(source)).toBe(true);
      expect(target[4]).toBe(7);
      expect(target[5 + source.length]).toBe(7);
      expect(target.subarray(5 + source.length).every((b) => b === 7)).toBe(true);
      if (target.byteOffset > 0) {
        const before = new Uint8Array(target.buffer, 0, target.byteOffset);
        expect(before.every((b) => b === 0)).toBe(true);
      }
    });

    it(`refuses a source that does not fit in ${kind}, and copies nothing`, () => {
      const target = make(100);
      expect(() => copyBytes(target, new Uint8Array(101).fill(1))).toThrow(RangeError);
      expect(() => copyBytes(target, new Uint8Array(10).fill(1), 91)).toThrow(RangeError);
      expect(target.every((b) => b === 0)).toBe(true);
      copyBytes(target, new Uint8Array(0), 100);
      copyBytes(target, new Uint8Array(10).fill(1), 90);
      expect(target.subarray(90).every((b) => b === 1)).toBe(true);
    });
  }
  it('fills shared memory with Buffer#fill (a memcpy), and ordinary memory with TypedArray#set', () => {
    const fill = jest.spyOn(Buffer.prototype, 'fill');
    try {
      copyBytes(new Uint8Array(new SharedArrayBuffer(64)), new Uint8Array(32).fill(1), 8);
      expect(fill).toHaveBeenCalledTimes(1);
      copyBytes(new Uint8Array(64), new Uint8Array(32).fill(1), 8);
      expect(fill).toHaveBeenCalledTimes(1);
    } finally {
      fill.mockRestore();
    }
  });

  it('refuses an offset that is no whole number', () => {
    for (const make of [
      (n: number) => new Uint8Array(new SharedArrayBuffer(n)),
      (n: number) => new Uint8Array(n),
    ]) {
      expect(() => copyBytes(make(10), new Uint8Array(2), 1.5)).toThrow(RangeError);
      expect(() => copyBytes(make(10), new Uint8Array(2), Number.NaN)).toThrow(RangeError);
    }
  });
});

describe('copyToShared', () => {
  it('copies a view into ordinary memory into shared memory, at sizes around the slice', async () => {
    for (const size of [0, 1, SLICE_BYTES - 1, SLICE_BYTES, SLICE_BYTES + 1, 3 * SLICE_BYTES + 17]) {
      const backing = randomBytes(size + 9);
      const view = backing.subarray(4, 4 + size);
      const copy = await copyToShared(view);
      expect(copy.buffer).toBeInstanceOf(SharedArrayBuffer);
      expect(copy.byteLength).toBe(size);
      expect(Buffer.from(copy).equals(view)).toBe(true);
    }
  });

  it('returns bytes already in shared memory as they are', async () => {
    const shared = new Uint8Array(new SharedArrayBuffer(10));
    await expect(copyToShared(shared)).resolves.toBe(shared);
  });

  it('gives the event loop turns while it copies a large buffer', async () => {
    const bytes = randomBytes(8 * SLICE_BYTES);
    // A slice of 0 ms: every slice is due, so the copy must yield after each.
    const { result, turns } = await countEventLoopTurns(() => copyToShared(bytes, new Yielder(0, 1)));
    expect(Buffer.from(result).equals(bytes)).toBe(true);
    expect(turns).toBeGreaterThanOrEqual(7);
  });
});

describe('slotBytesFor', () => {
  it('gives a power of two from 64 KiB that holds the bytes, capped at the largest size', () => {
    expect(slotBytesFor(0, 1 << 20)).toBe(64 * 1024);
    expect(slotBytesFor(1, 1 << 20)).toBe(64 * 1024);
    expect(slotBytesFor(64 * 1024, 1 << 20)).toBe(64 * 1024);
    expect(slotBytesFor(64 * 1024 + 1, 1 << 20)).toBe(128 * 1024);
    expect(slotBytesFor(300_000, 1 << 20)).toBe(512 * 1024);
    expect(slotBytesFor(900_000, 1 << 20)).toBe(1 << 20);
    expect(slotBytesFor(90_000, 100_000)).toBe(100_000);
  });
});
