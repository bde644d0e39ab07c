import { entryRefList, entryRefOrdinal, MAX_REF_LIST, packEntryRef } from '../../../src/matching/entry-ref';

describe('EntryRef', () => {
  it.each([
    [0, 0],
    [1, 42],
    [3, 2 ** 32 - 1],
    [MAX_REF_LIST, 123456789],
  ])('packs list %i and ordinal %i into one safe integer and back', (list, ordinal) => {
    const ref = packEntryRef(list, ordinal);
    expect(Number.isSafeInteger(ref)).toBe(true);
    expect(entryRefList(ref)).toBe(list);
    expect(entryRefOrdinal(ref)).toBe(ordinal);
  });

  it('orders refs by list, then by ordinal', () => {
    expect(packEntryRef(0, 2 ** 32 - 1)).toBeLessThan(packEntryRef(1, 0));
    expect(packEntryRef(1, 5)).toBeLessThan(packEntryRef(1, 6));
  });

  it.each([
    [-1, 0],
    [MAX_REF_LIST + 1, 0],
    [0, 2 ** 32],
    [0, -1],
    [0.5, 0],
  ])('refuses list %d with ordinal %d', (list, ordinal) => {
    expect(() => packEntryRef(list, ordinal)).toThrow(RangeError);
  });
});
