import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { hammingBytes } from '../../../src/hashing/hamming';
import { createHasher, type Hasher } from '../../../src/hashing/hasher';
import type { ComputedHash, HashOutcome } from '../../../src/hashing/outcome';
import { createLedger, type TakedownRequest } from '../../../src/incidents/ledger';
import { createSqliteStore } from '../../../src/incidents/sqlite-store';
import type { IncidentStore } from '../../../src/incidents/store';
import type { ListSnapshot, TypedEntries } from '../../../src/snapshot';
import { syntheticImage } from '../../helpers/images';
import { balancedHex256, fakeClock, sampleLedgerRecord } from './helpers';

/** A list snapshot holding only the given new entries. */
function addedEntries(version: number, entries: { type: string; hex: string; id: string }[]): ListSnapshot {
  const byType = new Map<string, TypedEntries>();
  for (const type of [...new Set(entries.map((e) => e.type))]) {
    const mine = entries.filter((e) => e.type === type);
    const hashBytes = mine[0]!.hex.length / 2;
    const hashes = new Uint8Array(mine.length * hashBytes);
    for (const [i, e] of mine.entries()) hashes.set(Buffer.from(e.hex, 'hex'), i * hashBytes);
    byType.set(type, {
      type,
      count: mine.length,
      hashBytes,
      hashes,
      ids: mine.map((e) => e.id),
      categories: new Uint16Array(mine.length),
      labels: new Map(),
    });
  }
  return {
    list: 'stand-in-list',
    version,
    createdAt: new Date().toISOString(),
    categories: ['test-category'],
    byType,
  };
}

function hashesOf(o: HashOutcome): ComputedHash[] {
  return o.hashes.filter((h) => h.type !== 'blockhash');
}

describe('ledger re-check', () => {
  let dir: string;
  let store: IncidentStore;
  let hasher: Hasher;
  const clock = fakeClock();

  beforeAll(() => {
    hasher = createHasher({ workers: 0, blockhash: false });
  });
  afterAll(async () => hasher.close());

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hashgate-ledger-'));
    store = await createSqliteStore({ path: join(dir, 'incidents.db'), now: clock.now });
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('finds accepted uploads after a list update adds their hash: exact, re-encoded and rotated copies', async () => {
    // benign synthetic images stand in for known content
    const known = await syntheticImage(640, 480, 'jpeg', 3);
    const reencoded = await sharp(known).jpeg({ quality: 35 }).toBuffer();
    const rotated = await sharp(known).rotate(90).jpeg({ quality: 70 }).toBuffer();
    const unrelated = await syntheticImage(640, 480, 'jpeg', 11);
    const [hKnown, hReencoded, hRotated, hUnrelated] = await Promise.all(
      [known, reencoded, rotated, unrelated].map((bytes) => hasher.hash({ bytes })),
    );
    const pdqOf = (o: HashOutcome) => o.hashes.find((h) => h.type === 'pdq')!;
    expect(
      hammingBytes(Buffer.from(pdqOf(hKnown!).hex, 'hex'), Buffer.from(pdqOf(hReencoded!).hex, 'hex')),
    ).toBeLessThanOrEqual(31);
    expect(pdqOf(hReencoded!).hex).not.toBe(pdqOf(hKnown!).hex);

    const takedowns: TakedownRequest[] = [];
    const ledger = createLedger({ store, onTakedown: (r) => void takedowns.push(r) });
    const records = await ledger.record([
      {
        reference: 'bucket/exact-copy',
        file: { originalName: 'a.jpg', size: known.length },
        hashes: hashesOf(hKnown!),
      },
      { reference: 'bucket/reencoded', hashes: hashesOf(hReencoded!) },
      { reference: 'bucket/rotated', hashes: hashesOf(hRotated!) },
      { reference: 'bucket/unrelated', hashes: hashesOf(hUnrelated!) },
    ]);
    // an update adding the MD5 and the PDQ hash of the known image
    const md5 = hKnown!.hashes.find((h) => h.type === 'md5')!.hex;
    const report = await ledger.recheck(
      addedEntries(8, [
        { type: 'md5', hex: md5, id: 'entry-md5' },
        { type: 'pdq', hex: pdqOf(hKnown!).hex, id: 'entry-pdq' },
      ]),
    );
    expect(report).toMatchObject({
      list: 'stand-in-list',
      version: 8,
      entries: 2,
      scanned: 4,
      matched: 3,
      alreadyRaised: 0,
      allowlisted: 0,
    });
    expect(report.incidents).toHaveLength(3);
    expect(takedowns.map((t) => t.reference).sort()).toEqual([
      'bucket/exact-copy',
      'bucket/reencoded',
      'bucket/rotated',
    ]);
    expect(takedowns[0]).toEqual({
      incidentId: report.incidents[0],
      reference: 'bucket/exact-copy',
      ledgerId: records[0]!.id,
      lists: ['stand-in-list'],
    });

    const incidents = await Promise.all(report.incidents.map((id) => store.getIncident(id)));
    const exact = incidents.find((i) => i!.ledger!.reference === 'bucket/exact-copy')!;
    expect(exact).toMatchObject({
      source: 'recheck',
      action: 'takedown',
      state: 'new',
      file: { originalName: 'a.jpg' },
    });
    expect(
      exact.matches.map((m) => [m.hashType, m.entryId, m.distance, m.category, m.listVersion]).sort(),
    ).toEqual([
      ['md5', 'entry-md5', 0, 'test-category', 8],
      ['pdq', 'entry-pdq', 0, 'test-category', 8],
    ]);
    const re = incidents.find((i) => i!.ledger!.reference === 'bucket/reencoded')!;
    expect(re.matches).toHaveLength(1);
    expect(re.matches[0]).toMatchObject({ hashType: 'pdq', variant: 'orig' });
    expect(re.matches[0]!.distance).toBeGreaterThan(0);
    expect(re.matches[0]!.quality).toBeGreaterThanOrEqual(50);
    const rot = incidents.find((i) => i!.ledger!.reference === 'bucket/rotated')!;
    expect(rot.matches[0]!.variant).not.toBe('orig');
    expect((await store.getLedgerRecords([records[3]!.seq]))[0]!.incidentId).toBeNull();

    // the same update again raises nothing new
    const again = await ledger.recheck(addedEntries(8, [{ type: 'md5', hex: md5, id: 'entry-md5' }]));
    expect(again).toMatchObject({ matched: 1, alreadyRaised: 1, incidents: [] });
    const audit = await store.readAudit();
    expect(audit.filter((r) => r.type === 'ledger.rechecked').map((r) => r.details.incidents)).toEqual([
      3, 0,
    ]);
    expect((await store.verifyAuditChain()).ok).toBe(true);
  });

  it('skips allowlisted uploads and counts takedown callbacks that fail', async () => {
    const a = sampleLedgerRecord('ref-a');
    const b = sampleLedgerRecord('ref-b');
    const ledger = createLedger({
      store,
      onTakedown: () => {
        throw new Error('storage is down');
      },
    });
    await ledger.record([a, b]);
    // a false positive confirmed earlier: ref-a's sha256 is allowlisted
    const fp = await store.createIncident({
      file: { size: 1 },
      hashes: a.hashes,
      matches: [],
      action: 'log',
    });
    await store.transition(fp.id, {
      to: 'dismissed',
      actor: 'rev-a',
      reason: 'fp',
      allowlist: { types: ['sha256'] },
    });
    const md5 = (r: typeof a) => r.hashes.find((h) => h.type === 'md5')!.hex;
    const report = await ledger.recheck(
      addedEntries(2, [
        { type: 'md5', hex: md5(a), id: 'x' },
        { type: 'md5', hex: md5(b), id: 'y' },
      ]),
    );
    expect(report).toMatchObject({ matched: 2, allowlisted: 1, takedownFailures: 1 });
    expect(report.incidents).toHaveLength(1);
  });

  it('reaches every upload of the same bytes, including copies recorded with their SHA-256 only', async () => {
    const bytes = randomBytes(48);
    const full = sampleLedgerRecord('bucket/first-copy', balancedHex256(), bytes);
    const sha256 = full.hashes.find((h) => h.type === 'sha256')!;
    const copy = { ...sampleLedgerRecord('bucket/second-copy', balancedHex256(), bytes), hashes: [sha256] };
    const other = sampleLedgerRecord('bucket/other');
    const takedowns: string[] = [];
    const ledger = createLedger({ store, onTakedown: (r) => void takedowns.push(r.reference) });
    await ledger.record([full, other]);
    await ledger.record([copy]);
    const pdq = full.hashes.find((h) => h.type === 'pdq')!.hex;
    const report = await ledger.recheck(addedEntries(4, [{ type: 'pdq', hex: pdq, id: 'entry-pdq' }]));
    expect(report).toMatchObject({ matched: 2, alreadyRaised: 0 });
    expect(takedowns.sort()).toEqual(['bucket/first-copy', 'bucket/second-copy']);
    const incidents = await Promise.all(report.incidents.map((id) => store.getIncident(id)));
    const second = incidents.find((i) => i!.ledger!.reference === 'bucket/second-copy')!;
    // the copy's incident names the match and carries every hash the first upload recorded
    expect(second.matches.map((m) => [m.hashType, m.entryId, m.quality])).toEqual([['pdq', 'entry-pdq', 88]]);
    expect(second.hashes.map((h) => h.type).sort()).toEqual(['md5', 'pdq', 'sha1', 'sha256']);
    // a copy matched directly by its SHA-256 reaches the first upload the same way
    const again = await ledger.recheck(
      addedEntries(5, [{ type: 'sha256', hex: sha256.hex, id: 'entry-sha' }]),
    );
    expect(again).toMatchObject({ matched: 2, alreadyRaised: 2, incidents: [] });
  });

  it('checks only the records of a seq range when given one', async () => {
    const pdq = balancedHex256();
    const bytes = randomBytes(40);
    const ledger = createLedger({ store });
    const stored = await ledger.record([
      sampleLedgerRecord('before', pdq),
      sampleLedgerRecord('inside', pdq),
      sampleLedgerRecord('inside-exact', balancedHex256(), bytes),
      sampleLedgerRecord('after', pdq, bytes),
    ]);
    const md5 = stored[2]!.hashes.find((h) => h.type === 'md5')!.hex;
    const report = await ledger.recheck(
      addedEntries(6, [
        { type: 'pdq', hex: pdq, id: 'entry-pdq' },
        { type: 'md5', hex: md5, id: 'entry-md5' },
      ]),
      { fromSeq: stored[1]!.seq, toSeq: stored[2]!.seq },
    );
    const raised = await Promise.all(report.incidents.map((id) => store.getIncident(id)));
    // 'after' holds the same bytes as 'inside-exact': another copy of matched content is reached too
    expect(raised.map((i) => i!.ledger!.reference).sort()).toEqual(['after', 'inside', 'inside-exact']);
    await expect(ledger.recheck(addedEntries(7, []), { fromSeq: 5, toSeq: 2 })).rejects.toThrow(
      'recheck(range)',
    );
  });

  it('finds exactly the records a linear scan finds, at the threshold and not beyond', async () => {
    const entries = Array.from({ length: 50 }, (_, i) => ({
      type: 'pdq',
      hex: balancedHex256(),
      id: `p${i}`,
    }));
    const flip = (hex: string, bits: number): string => {
      const b = Buffer.from(hex, 'hex');
      const positions = new Set<number>();
      while (positions.size < bits) positions.add(randomBytes(1)[0]!);
      for (const p of positions) b[p >> 3]! ^= 0x80 >> (p & 7);
      return b.toString('hex');
    };
    const planted = [
      flip(entries[3]!.hex, 31),
      flip(entries[9]!.hex, 32),
      flip(entries[20]!.hex, 0),
      flip(entries[41]!.hex, 17),
    ];
    const recs = [...planted.map((hex, i) => sampleLedgerRecord(`planted-${i}`, hex))];
    for (let k = 0; k < 400; k++) recs.push(sampleLedgerRecord(`noise-${k}`));
    const ledger = createLedger({ store, pageSize: 64 });
    const stored = await ledger.record(recs);
    const report = await ledger.recheck(addedEntries(3, entries));
    const expected = stored.filter((r) => {
      const h = Buffer.from(r.hashes.find((x) => x.type === 'pdq')!.hex, 'hex');
      return entries.some((e) => hammingBytes(h, Buffer.from(e.hex, 'hex')) <= 31);
    });
    expect(report.scanned).toBe(404);
    expect(report.matched).toBe(expected.length);
    const raised = await Promise.all(report.incidents.map((id) => store.getIncident(id)));
    expect(raised.map((i) => i!.ledger!.reference).sort()).toEqual(expected.map((r) => r.reference).sort());
    expect(raised.map((i) => i!.ledger!.reference)).toEqual(
      expect.arrayContaining(['planted-0', 'planted-2', 'planted-3']),
    );
    expect(raised.map((i) => i!.ledger!.reference)).not.toContain('planted-1');
  });

  it('uses the thresholds it is given', async () => {
    const entry = balancedHex256();
    const b = Buffer.from(entry, 'hex');
    b[0]! ^= 0xff; // 8 bits apart
    const ledger = createLedger({ store, thresholds: { pdq: 7 } });
    await ledger.record([sampleLedgerRecord('near', b.toString('hex'))]);
    expect((await ledger.recheck(addedEntries(1, [{ type: 'pdq', hex: entry, id: 'e' }]))).matched).toBe(0);
    const wider = createLedger({ store, thresholds: { pdq: 8 } });
    expect((await wider.recheck(addedEntries(2, [{ type: 'pdq', hex: entry, id: 'e' }]))).matched).toBe(1);
    // beyond 31 bits the general match index does the work
    const far = Buffer.from(entry, 'hex');
    for (let k = 0; k < 5; k++) far[k]! ^= 0xff; // 40 bits apart
    await createLedger({ store }).record([sampleLedgerRecord('far', far.toString('hex'))]);
    const widest = await createLedger({ store, thresholds: { pdq: 40 } }).recheck(
      addedEntries(3, [{ type: 'pdq', hex: entry, id: 'e' }]),
    );
    expect(widest).toMatchObject({ matched: 2, alreadyRaised: 1 });
    expect(widest.incidents).toHaveLength(1);
    expect(() => createLedger({ store, thresholds: { pdq: 300 } })).toThrow(
      'Expected a whole number from 0 to 256 for `ledger.thresholds.pdq` but received 300',
    );
  });
});
