import { randomBytes } from 'node:crypto';
import { SharedSlots, slotBytesFor } from '../../../src/hashing/shared-slots';

describe('SharedSlots', () => {
  it('copies the bytes into shared memory, exactly as long as they are', () => {
    const slots = new SharedSlots(2, 1 << 20);
    const bytes = randomBytes(100_003).subarray(3);
    const slot = slots.take(bytes)!;
    expect(slot.view.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(slot.view.byteLength).toBe(bytes.length);
    expect(Buffer.from(slot.view).equals(bytes)).toBe(true);
    expect(slots.inUse).toBe(1);
    slot.release();
    slot.release();
    expect(slots.inUse).toBe(0);
  });

  it('reuses a released slot, the smallest that holds the bytes', () => {
    const slots = new SharedSlots(2, 1 << 20);
    const small = slots.take(randomBytes(1000))!;
    const large = slots.take(randomBytes(300_000))!;
    expect(small.view.buffer.byteLength).toBe(64 * 1024);
    expect(large.view.buffer.byteLength).toBe(512 * 1024);
    const smallMemory = small.view.buffer;
    small.release();
    large.release();
    expect(slots.take(randomBytes(2000))!.view.buffer).toBe(smallMemory);
  });

  it('makes no more than its count, and grows a free slot that is too small', () => {
    const slots = new SharedSlots(2, 1 << 20);
    const a = slots.take(randomBytes(10))!;
    const b = slots.take(randomBytes(10))!;
    expect(slots.take(randomBytes(10))).toBeUndefined();
    a.release();
    const grown = slots.take(randomBytes(200_000))!;
    expect(grown.view.buffer.byteLength).toBe(256 * 1024);
    expect(grown.view.buffer).not.toBe(a.view.buffer);
    expect(slots.inUse).toBe(2);
    b.release();
    grown.release();
  });

  it('refuses bytes larger than a slot may be', () => {
    const slots = new SharedSlots(2, 100_000);
    expect(slots.take(new Uint8Array(100_001))).toBeUndefined();
    expect(slots.take(new Uint8Array(100_000))!.view.buffer.byteLength).toBe(100_000);
    expect(slotBytesFor(1, 1 << 20)).toBe(64 * 1024);
    expect(slotBytesFor(64 * 1024 + 1, 1 << 20)).toBe(128 * 1024);
  });
});
