import { isId, isIncidentId, newId, newIncidentId, newLedgerId } from '../../../src/incidents/ids';

describe('ids', () => {
  it('makes well-formed random ids of every kind, all different', () => {
    const ids = new Set<string>();
    for (const kind of ['inc', 'evt', 'alw', 'led'] as const) {
      for (let i = 0; i < 2000; i++) {
        const id = newId(kind);
        expect(isId(kind, id)).toBe(true);
        ids.add(id);
      }
    }
    expect(ids.size).toBe(8000);
    expect(isIncidentId(newIncidentId())).toBe(true);
    expect(isIncidentId(newId('led'))).toBe(false);
  });

  it('uses every base32 character in the random part', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) for (const c of newIncidentId().slice(4)) seen.add(c);
    expect(seen.size).toBe(32);
  });

  it('starts ledger ids with their time, so that they sort in the order they were made', () => {
    const times = [0, 1, 31, 32, 1_700_000_000_000, 1_700_000_000_001, 1_800_000_000_000, 2 ** 49];
    const ids = times.map((t) => newLedgerId(t));
    for (const id of ids) expect(isId('led', id)).toBe(true);
    expect([...ids].sort()).toEqual(ids);
    // the same millisecond: distinct ids, time part equal
    const a = newLedgerId(1_800_000_000_000);
    const b = newLedgerId(1_800_000_000_000);
    expect(a).not.toBe(b);
    expect(a.slice(0, 14)).toBe(b.slice(0, 14));
    expect(a.slice(0, 14)).toBe(ids[6]!.slice(0, 14));
  });
});
