import { PERCEPTUAL_WEIGHT_RANGE } from '../../../src/hashing/hash-types';
import {
  countSnapshot,
  createHashTypeResolver,
  diffAdded,
  filterCategories,
  RowIndex,
  SnapshotBuilder,
} from '../../../src/lists/entries';
import { ListErrorCodes } from '../../../src/lists/errors';
import {
  entryKeys,
  hashSet,
  makeEntries,
  randomMd5,
  randomPdq,
  toSnapshot,
} from '../../integration/lists/helpers';

describe('SnapshotBuilder', () => {
  it('normalises hex case and white space', () => {
    const b = new SnapshotBuilder();
    const hash = randomMd5();
    expect(b.addUntrusted({ id: 'a', type: 'MD5', hash: ` ${hash.toUpperCase()} ` })).toBe(true);
    expect(hashSet(b.build('l', 1, 'now'))).toEqual(new Set([`md5:${hash}`]));
  });

  it('drops and counts each kind of bad entry', () => {
    const b = new SnapshotBuilder();
    const pdq = randomPdq();
    b.addUntrusted({ id: 'ok', type: 'pdq', hash: pdq });
    b.addUntrusted(null);
    b.addUntrusted([1]);
    b.addUntrusted({ id: '', type: 'md5', hash: randomMd5() });
    b.addUntrusted({ id: 'x'.repeat(201), type: 'md5', hash: randomMd5() });
    b.addUntrusted({ id: 'tab\there', type: 'md5', hash: randomMd5() });
    b.addUntrusted({ id: 'n', type: 7, hash: randomMd5() });
    b.addUntrusted({ id: 'u', type: 'photodna', hash: randomMd5() });
    b.addUntrusted({ id: 'l', type: 'sha1', hash: randomMd5() });
    b.addUntrusted({ id: 'h', type: 'sha256', hash: 'g'.repeat(64) });
    b.addUntrusted({ id: 'z', type: 'pdq', hash: '0'.repeat(64) });
    b.addUntrusted({ id: 'f', type: 'blockhash', hash: 'f'.repeat(64) });
    b.addUntrusted({ id: 'ok', type: 'md5', hash: randomMd5() });
    b.addUntrusted({ id: 'dup', type: 'pdq', hash: pdq.toUpperCase() });
    b.addUntrusted({ id: 'c', type: 'md5', hash: randomMd5(), category: '' });
    b.addUntrusted({ id: 'lb', type: 'md5', hash: randomMd5(), labels: [1] });
    b.addUntrusted({ id: 's', type: 'md5', hash: 12 });
    expect(b.size).toBe(1);
    expect(b.dropped).toEqual({
      'invalid-entry': 4,
      'invalid-id': 3,
      'unknown-type': 1,
      'wrong-length': 1,
      'not-hex': 1,
      degenerate: 2,
      'duplicate-id': 1,
      'duplicate-hash': 1,
      'invalid-category': 1,
      'invalid-labels': 1,
    });
  });

  it('accepts perceptual hashes inside the weight range and refuses them outside', () => {
    const [lo] = PERCEPTUAL_WEIGHT_RANGE;
    const bytes = Buffer.alloc(32);
    for (let i = 0; i < lo / 8; i++) bytes[i] = 0xff;
    const b = new SnapshotBuilder();
    expect(b.addUntrusted({ id: 'edge', type: 'pdq', hash: bytes.toString('hex') })).toBe(true);
    bytes[0] = 0x7f;
    expect(b.addUntrusted({ id: 'below', type: 'pdq', hash: bytes.toString('hex') })).toBe(false);
    expect(b.dropped).toEqual({ degenerate: 1 });
  });

  it('keeps a dropped duplicate hash from poisoning later entries', () => {
    const b = new SnapshotBuilder();
    const h = randomMd5();
    b.addUntrusted({ id: 'a', type: 'md5', hash: h });
    b.addUntrusted({ id: 'b', type: 'md5', hash: h });
    expect(b.addUntrusted({ id: 'b', type: 'md5', hash: randomMd5() })).toBe(true);
    const other = randomMd5();
    expect(b.addUntrusted({ id: 'c', type: 'md5', hash: other })).toBe(true);
    expect(b.size).toBe(3);
  });

  it('grows its tables past the expected size without losing duplicates', () => {
    const b = new SnapshotBuilder({ expectedCounts: { md5: 2 } });
    const entries = makeEntries(5000);
    for (const e of entries) b.addUntrusted(e);
    for (const e of entries) b.addUntrusted({ ...e, id: `${e.id}-again` });
    expect(b.size).toBe(5000);
    expect(b.dropped).toEqual({ 'duplicate-hash': 5000 });
  });

  it('refuses more than maxEntries', () => {
    const b = new SnapshotBuilder({ maxEntries: 2 });
    b.addUntrusted({ id: 'a', type: 'md5', hash: randomMd5() });
    b.addUntrusted({ id: 'b', type: 'md5', hash: randomMd5() });
    expect(() => b.addUntrusted({ id: 'c', type: 'md5', hash: randomMd5() })).toThrow(
      expect.objectContaining({ code: ListErrorCodes.TOO_LARGE }),
    );
  });

  it('resolves custom hash types', () => {
    const custom = {
      name: 'photodna-test',
      kind: 'exact' as const,
      bits: 64,
      validate: (hex: unknown) =>
        typeof hex === 'string' && /^[0-9a-f]{16}$/.test(hex)
          ? { ok: true as const, bytes: new Uint8Array(Buffer.from(hex, 'hex')) }
          : { ok: false as const, issue: 'not-hex' as const, message: 'no' },
      parse: () => new Uint8Array(8),
      format: (b: Uint8Array) => Buffer.from(b).toString('hex'),
      distance: () => 0,
    };
    const b = new SnapshotBuilder({ resolveType: createHashTypeResolver([custom]) });
    expect(b.addUntrusted({ id: 'p', type: 'photodna-test', hash: '0123456789abcdef' })).toBe(true);
    expect(b.build('l', 1, '').byType.get('photodna-test')?.hashBytes).toBe(8);
  });
});

describe('snapshot helpers', () => {
  it('counts entries by type and category', () => {
    const s = toSnapshot([...makeEntries(4, 'a', 'csam'), ...makeEntries(3, 'b')]);
    expect(countSnapshot(s)).toEqual({
      total: 7,
      byType: { md5: 3, pdq: 4 },
      byCategory: { csam: 4, default: 3 },
    });
  });

  it('filters categories without copying when all are enabled', async () => {
    const csam = makeEntries(5, 'a', 'csam');
    const s = toSnapshot([...csam, ...makeEntries(3, 'b', 'terror')]);
    expect(await filterCategories(s, undefined)).toBe(s);
    expect(await filterCategories(s, new Set(['csam', 'terror']))).toBe(s);
    const only = await filterCategories(s, new Set(['csam']));
    expect(hashSet(only)).toEqual(entryKeys(csam));
    expect(only.version).toBe(s.version);
    expect((await filterCategories(s, new Set(['none']))).byType.size).toBe(0);
  });

  it('finds the entries whose hash is new', async () => {
    const old = makeEntries(50, 'a');
    const fresh = makeEntries(7, 'n');
    const added = await diffAdded(toSnapshot(old), toSnapshot([...old.slice(10), ...fresh]));
    const keys = new Set<string>();
    for (const [type, t] of added) {
      for (let i = 0; i < t.count; i++) {
        keys.add(
          `${type}:${Buffer.from(t.hashes.subarray(i * t.hashBytes, (i + 1) * t.hashBytes)).toString('hex')}`,
        );
      }
    }
    expect(keys).toEqual(entryKeys(fresh));
  });

  it('RowIndex finds equal rows only', () => {
    const buf = new Uint8Array(64);
    buf.set([1, 2, 3, 4], 0);
    buf.set([1, 2, 3, 5], 4);
    const index = new RowIndex(buf, 4);
    expect(index.addRow(0)).toBe(-1);
    expect(index.addRow(1)).toBe(-1);
    expect(index.find(new Uint8Array([1, 2, 3, 5]), 0)).toBe(1);
    expect(index.find(new Uint8Array([9, 2, 3, 5]), 0)).toBe(-1);
  });
});
