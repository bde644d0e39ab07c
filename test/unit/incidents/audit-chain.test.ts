import {
  assertAuditChain,
  auditRecordHash,
  GENESIS_HASH,
  sealAuditRecord,
  verifyAuditPages,
} from '../../../src/incidents/audit-chain';
import { canonicalJson } from '../../../src/incidents/canonical';
import type { AuditHead, AuditRecord } from '../../../src/incidents/types';

function chain(n: number): AuditRecord[] {
  const out: AuditRecord[] = [];
  let head: AuditHead = { seq: 0, hash: GENESIS_HASH };
  for (let k = 0; k < n; k++) {
    const r = sealAuditRecord(
      head,
      new Date(Date.UTC(2025, 0, 1, 0, 0, k)).toISOString(),
      { type: 'incident.viewed', actor: `rev-${k}` },
      { k },
    );
    out.push(r);
    head = { seq: r.seq, hash: r.hash };
  }
  return out;
}

function pages(records: readonly AuditRecord[], size = 3) {
  return async (afterSeq: number) => records.filter((r) => r.seq > afterSeq).slice(0, size);
}

const headOf = (records: readonly AuditRecord[]): AuditHead => ({
  seq: records.length,
  hash: records[records.length - 1]!.hash,
});

describe('canonical JSON', () => {
  it('sorts keys at every depth and drops undefined', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { z: null, y: 'x' }], c: undefined } })).toBe(
      '{"a":{"d":[1,{"y":"x","z":null}]},"b":1}',
    );
  });

  it('refuses values JSON cannot hold', () => {
    expect(() => canonicalJson({ n: Number.POSITIVE_INFINITY })).toThrow(TypeError);
    expect(() => canonicalJson({ d: new Date() })).toThrow(TypeError);
    expect(() => canonicalJson(1n)).toThrow(TypeError);
  });
});

describe('audit chain verification', () => {
  it('accepts an intact chain read in pages', async () => {
    const records = chain(10);
    expect(await verifyAuditPages(pages(records), headOf(records))).toEqual({
      ok: true,
      records: 10,
      head: headOf(records),
    });
    expect(await verifyAuditPages(pages([]), { seq: 0, hash: GENESIS_HASH })).toMatchObject({
      ok: true,
      records: 0,
    });
  });

  it('hashes the canonical form, so key order does not matter', () => {
    const [r] = chain(1);
    expect(auditRecordHash({ ...r!, details: { k: 0 } })).toBe(r!.hash);
    expect(auditRecordHash({ ...r!, actor: 'someone else' })).not.toBe(r!.hash);
  });

  it('finds an edited record', async () => {
    const records = chain(10);
    records[6] = { ...records[6]!, details: { k: 99 } };
    expect(await verifyAuditPages(pages(records), headOf(chain(10)))).toMatchObject({
      ok: false,
      position: 7,
      records: 6,
      problem: 'edited',
    });
  });

  it('finds a deleted record, with or without renumbering', async () => {
    const records = chain(10);
    const gap = records.filter((r) => r.seq !== 4);
    expect(await verifyAuditPages(pages(gap), headOf(records))).toMatchObject({
      ok: false,
      position: 4,
      problem: 'missing',
    });
    const renumbered = gap.map((r, k) => ({ ...r, seq: k + 1 }));
    expect(await verifyAuditPages(pages(renumbered), headOf(records))).toMatchObject({
      ok: false,
      position: 4,
      problem: 'broken-link',
    });
  });

  it('finds reordered records', async () => {
    const records = chain(10);
    const moved = records.map((r) =>
      r.seq === 3 ? { ...records[7]!, seq: 3 } : r.seq === 8 ? { ...records[2]!, seq: 8 } : r,
    );
    expect(await verifyAuditPages(pages(moved), headOf(records))).toMatchObject({
      ok: false,
      position: 3,
      records: 2,
      problem: 'broken-link',
    });
  });

  it('finds records removed from the end, and records appended without the head', async () => {
    const records = chain(10);
    expect(await verifyAuditPages(pages(records.slice(0, 8)), headOf(records))).toMatchObject({
      ok: false,
      position: 9,
      problem: 'truncated',
    });
    expect(await verifyAuditPages(pages(records), headOf(records.slice(0, 9)))).toMatchObject({
      ok: false,
      problem: 'head-mismatch',
    });
  });

  it('turns a failed verification into a stable error on request', async () => {
    const records = chain(3);
    const result = await verifyAuditPages(pages(records.slice(1)), headOf(records));
    expect(() => assertAuditChain(result)).toThrow(
      expect.objectContaining({ code: 'ERR_HASHGATE_AUDIT_CHAIN_BROKEN' }),
    );
  });
});
