import { cropPixels, pdqSource, toRgba } from '../../../src/hashing/pixels';

describe('cropPixels', () => {
  it('copies the RGBA pixels of a box', () => {
    const data = new Uint8Array(4 * 3 * 4).map((_, i) => i);
    const out = cropPixels(
      { width: 4, height: 3, channels: 4, data },
      { left: 1, top: 1, width: 2, height: 2 },
    );
    expect([...out]).toEqual([20, 21, 22, 23, 24, 25, 26, 27, 36, 37, 38, 39, 40, 41, 42, 43]);
  });

  it('copies the RGB pixels of a box', () => {
    const data = new Uint8Array(4 * 3 * 3).map((_, i) => i);
    const out = cropPixels(
      { width: 4, height: 3, channels: 3, data },
      { left: 1, top: 1, width: 2, height: 2 },
    );
    expect([...out]).toEqual([15, 16, 17, 18, 19, 20, 27, 28, 29, 30, 31, 32]);
  });

  it('copies the grey pixels of a box', () => {
    const data = new Uint8Array(4 * 3).map((_, i) => i);
    const out = cropPixels(
      { width: 4, height: 3, channels: 1, data },
      { left: 2, top: 0, width: 2, height: 3 },
    );
    expect([...out]).toEqual([2, 3, 6, 7, 10, 11]);
  });
});

describe('toRgba', () => {
  it('replicates grey to R, G and B with an opaque alpha', () => {
    const out = toRgba({ width: 2, height: 1, channels: 1, data: Uint8Array.from([7, 200]) });
    expect([...out]).toEqual([7, 7, 7, 255, 200, 200, 200, 255]);
  });

  it('keeps the alpha of grey with alpha', () => {
    const out = toRgba({ width: 2, height: 1, channels: 2, data: Uint8Array.from([7, 0, 200, 9]) });
    expect([...out]).toEqual([7, 7, 7, 0, 200, 200, 200, 9]);
  });

  it('adds an opaque alpha to RGB', () => {
    const out = toRgba({ width: 2, height: 1, channels: 3, data: Uint8Array.from([1, 2, 3, 4, 5, 6]) });
    expect([...out]).toEqual([1, 2, 3, 255, 4, 5, 6, 255]);
  });

  it('returns RGBA data as it is', () => {
    const data = Uint8Array.from([1, 2, 3, 4]);
    expect(toRgba({ width: 1, height: 1, channels: 4, data })).toBe(data);
  });
});

describe('pdqSource', () => {
  it('hands colour pixels to PDQ as they are', () => {
    const data = Uint8Array.from([1, 2, 3, 4, 5, 6]);
    expect(pdqSource({ width: 2, height: 1, channels: 3, data })).toEqual({
      width: 2,
      height: 1,
      channels: 3,
      data,
    });
  });

  it('hands grey samples to PDQ as they are', () => {
    const data = Uint8Array.from([7, 0, 200, 9]);
    expect(pdqSource({ width: 2, height: 1, channels: 2, data, grey: true }).data).toBe(data);
  });

  it('copies the grey value out of a greyscale image decoded through RGB', () => {
    const data = Uint8Array.from([7, 7, 7, 255, 200, 200, 200, 0]);
    const source = pdqSource({ width: 2, height: 1, channels: 4, data, grey: true });
    expect(source.channels).toBe(1);
    expect([...source.data]).toEqual([7, 200]);
  });
});
