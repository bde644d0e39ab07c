import { pdqDct16, pdqQuality } from '../../../src/hashing/pdq-dct';
import { pdqJsKernels } from '../../../src/hashing/pdq-kernels';
import { pdqWasmKernels } from '../../../src/hashing/pdq-wasm';

/** A deterministic 64x64 buffer: photo-like, tiny (subnormal products), negative or flat. */
function buffer(seed: number): Float32Array {
  const b = new Float32Array(4096);
  let x = seed * 2654435761;
  const next = (): number => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return x / 2 ** 32;
  };
  const scale = [255, 1e-38, 3e4, 0][seed % 4]!;
  const offset = seed % 3 === 0 ? -0.5 : 0;
  for (let i = 0; i < 4096; i++) b[i] = (next() + offset) * scale;
  return b;
}

describe('the WebAssembly quality and DCT of the 64x64 filtered luma', () => {
  const wasm = pdqWasmKernels();
  const js = pdqJsKernels();

  it('is available here', () => {
    expect(wasm).not.toBeNull();
  });

  it('gives the bits of the JavaScript reference arithmetic for every kind of buffer', () => {
    for (let seed = 1; seed <= 200; seed++) {
      const b = buffer(seed);
      const expected = new Float32Array(256);
      pdqDct16(b, expected);
      const fromJs = new Float32Array(256);
      js.dct16(b, fromJs);
      const fromWasm = new Float32Array(256);
      wasm!.dct16(b, fromWasm);
      expect({ seed, dct: Buffer.from(fromWasm.buffer) }).toEqual({
        seed,
        dct: Buffer.from(expected.buffer),
      });
      expect({ seed, dct: Buffer.from(fromJs.buffer) }).toEqual({ seed, dct: Buffer.from(expected.buffer) });
      expect({ seed, quality: wasm!.quality(b) }).toEqual({ seed, quality: pdqQuality(b) });
    }
  });

  it('ignores what lies past the last column when it sums horizontal neighbours', () => {
    const b = new Float32Array(4096).fill(7);
    expect(wasm!.quality(b)).toBe(0);
    // a step between the last column of one row and the first of the next is no neighbour pair
    for (let r = 0; r < 64; r++) b[r * 64] = r % 2 === 0 ? 0 : 255;
    expect(wasm!.quality(b)).toBe(pdqQuality(b));
  });
});
