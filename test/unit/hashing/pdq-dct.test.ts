import {
  PDQ_DIHEDRAL_VARIANTS,
  type PdqDihedralVariant,
  pdqDihedralDct,
  pdqMedian,
} from '../../../src/hashing/pdq-dct';

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
      () => Float32Array.from({ length: 256 }, (_, i) => (i > 200 ? 1 : i % 2 ? -0 : 0)),
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

describe('pdqDihedralDct', () => {
  // specs/pdq.md's table, term by term.
  function byTheTable(a: Float32Array, variant: PdqDihedralVariant): Float32Array {
    const out = new Float32Array(256);
    for (let i = 0; i < 16; i++) {
      for (let j = 0; j < 16; j++) {
        const v = a[i * 16 + j]!;
        const iOdd = (i & 1) === 1;
        const jOdd = (j & 1) === 1;
        const table: Record<PdqDihedralVariant, readonly [number, number]> = {
          orig: [i * 16 + j, v],
          rot90: [j * 16 + i, jOdd ? v : -v],
          rot180: [i * 16 + j, iOdd !== jOdd ? -v : v],
          rot270: [j * 16 + i, iOdd ? v : -v],
          flipx: [i * 16 + j, iOdd ? v : -v],
          flipy: [i * 16 + j, jOdd ? v : -v],
          flipplus1: [j * 16 + i, v],
          flipminus1: [j * 16 + i, iOdd !== jOdd ? -v : v],
        };
        const [at, value] = table[variant];
        out[at] = value;
      }
    }
    return out;
  }

  it('moves and negates every term as the table says, zeros of both signs included', () => {
    const random = seeded(11);
    const dct = Float32Array.from({ length: 256 }, (_, k) =>
      k % 17 === 0 ? (k % 2 ? -0 : 0) : random() - 0.5,
    );
    for (const variant of PDQ_DIHEDRAL_VARIANTS) {
      const out = new Float32Array(256).fill(Number.NaN);
      pdqDihedralDct(dct, variant, out);
      const want = byTheTable(dct, variant);
      for (let k = 0; k < 256; k++) expect(Object.is(out[k], want[k])).toBe(true);
    }
  });
});
