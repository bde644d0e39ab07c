import { pdqMedian } from '../../../src/hashing/pdq-dct';

/** What the median was before: the value a sort leaves at index 127. */
function sortedMedian(values: Float32Array): number {
  return Float32Array.from(values).sort()[127]!;
}

function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe('pdqMedian', () => {
  const random = seeded(7);
  const cases: [string, () => Float32Array][] = [
    ['spread values', () => Float32Array.from({ length: 256 }, () => (random() - 0.5) * 4000)],
    ['few distinct values', () => Float32Array.from({ length: 256 }, () => Math.floor(random() * 3) - 1)],
    ['all equal', () => new Float32Array(256).fill(2.5)],
    ['ascending', () => Float32Array.from({ length: 256 }, (_, i) => i)],
    ['descending', () => Float32Array.from({ length: 256 }, (_, i) => 256 - i)],
    [
      'zeros of both signs',
      () => Float32Array.from({ length: 256 }, (_, i) => (i % 2 ? -0 : 0) + (i > 200 ? 1 : 0)),
    ],
    ['one outlier', () => Float32Array.from({ length: 256 }, (_, i) => (i === 0 ? 1e30 : random()))],
  ];
  for (const [name, make] of cases) {
    it(`is the value a sort leaves at index 127, with ${name}`, () => {
      for (let round = 0; round < 20; round++) {
        const values = make();
        const before = Float32Array.from(values);
        const scratch = new Float32Array(256);
        const median = pdqMedian(values, scratch);
        // Equal as a number (a zero's sign cannot change a comparison with it).
        expect(median === sortedMedian(values)).toBe(true);
        expect(values).toEqual(before);
        // The same bits are set against either value.
        expect(values.map((v) => (v > median ? 1 : 0))).toEqual(
          values.map((v) => (v > sortedMedian(values) ? 1 : 0)),
        );
      }
    });
  }
});
