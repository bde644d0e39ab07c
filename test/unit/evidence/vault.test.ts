import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEvidenceKeyRing } from '../../../src/evidence/keys';
import { accessEvidence, createEvidenceVault, type EvidenceVault } from '../../../src/evidence/vault';
import { newIncidentId } from '../../../src/incidents/ids';
import { createSqliteStore } from '../../../src/incidents/sqlite-store';
import type { IncidentStore } from '../../../src/incidents/store';
import { fakeClock, sampleIncident, T0 } from '../incidents/helpers';

const DAY = 86_400_000;
const keyA = randomBytes(32).toString('base64');
const keyB = randomBytes(32).toString('base64');

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => join(d.parentPath, d.name));
}

describe('evidence vault', () => {
  let dir: string;
  let vault: EvidenceVault;
  const clock = fakeClock();

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'hashgate-evidence-'));
    vault = createEvidenceVault({
      dir: join(dir, 'evidence'),
      keys: createEvidenceKeyRing({ current: { id: 'k-a', key: keyA } }),
      now: clock.now,
    });
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('encrypts the original bytes and gives them back with their metadata', async () => {
    const id = newIncidentId();
    const bytes = randomBytes(5000);
    const ref = await vault.put(id, { bytes }, { originalName: 'stand-in.jpg', sniffedType: 'jpeg' });
    expect(ref).toEqual({ id, keyId: 'k-a', size: 5000, storedAt: new Date(T0).toISOString() });
    const [file] = filesUnder(vault.dir);
    const raw = readFileSync(file!);
    expect(raw.includes(bytes.subarray(0, 32))).toBe(false);
    expect(raw.includes(Buffer.from('stand-in.jpg'))).toBe(false);
    const opened = await vault.read(id);
    expect(opened.bytes.equals(bytes)).toBe(true);
    expect(opened.metadata).toEqual({ originalName: 'stand-in.jpg', sniffedType: 'jpeg' });
    expect(opened.header).toMatchObject({
      alg: 'AES-256-GCM',
      incidentId: id,
      keyId: 'k-a',
      storedAt: ref.storedAt,
    });
    expect(Buffer.from(opened.header.nonce, 'base64')).toHaveLength(12);
  });

  it('uses a fresh nonce for every file', async () => {
    const bytes = Buffer.from('same benign bytes');
    const a = newIncidentId();
    const b = newIncidentId();
    await vault.put(a, { bytes });
    await vault.put(b, { bytes });
    expect((await vault.inspect(a))!.nonce).not.toBe((await vault.inspect(b))!.nonce);
  });

  it('stores a file given by path', async () => {
    const path = join(dir, 'upload.bin');
    writeFileSync(path, 'benign upload on disk');
    const id = newIncidentId();
    await vault.put(id, { path });
    expect((await vault.read(id)).bytes.toString()).toBe('benign upload on disk');
  });

  it('never overwrites evidence and leaves no temporary file behind', async () => {
    const id = newIncidentId();
    await vault.put(id, { bytes: Buffer.from('first') });
    await expect(vault.put(id, { bytes: Buffer.from('second') })).rejects.toMatchObject({
      code: 'ERR_HASHGATE_EVIDENCE_EXISTS',
    });
    expect((await vault.read(id)).bytes.toString()).toBe('first');
    expect(filesUnder(vault.dir).map((f) => f.split('/').pop())).toEqual([`${id}.hgev`]);
  });

  it('refuses the wrong key with a clear error', async () => {
    const id = newIncidentId();
    await vault.put(id, { bytes: Buffer.from('benign') });
    const wrong = createEvidenceVault({
      dir: vault.dir,
      keys: createEvidenceKeyRing({ current: { id: 'k-a', key: keyB } }),
    });
    await expect(wrong.read(id)).rejects.toMatchObject({
      code: 'ERR_HASHGATE_EVIDENCE_WRONG_KEY',
      message: 'The key loaded as k-a is not the key this evidence was encrypted with',
    });
    const unknown = createEvidenceVault({
      dir: vault.dir,
      keys: createEvidenceKeyRing({ current: { id: 'k-b', key: keyB } }),
    });
    await expect(unknown.read(id)).rejects.toMatchObject({
      code: 'ERR_HASHGATE_EVIDENCE_KEY_UNKNOWN',
      message: /k-a/,
    });
  });

  it('reads old evidence with its recorded key after a rotation, and writes new evidence with the new key', async () => {
    const old = newIncidentId();
    await vault.put(old, { bytes: Buffer.from('before rotation') });
    const rotated = createEvidenceVault({
      dir: vault.dir,
      keys: createEvidenceKeyRing({
        current: { id: 'k-b', key: keyB },
        previous: [{ id: 'k-a', key: keyA }],
      }),
    });
    const fresh = newIncidentId();
    expect((await rotated.put(fresh, { bytes: Buffer.from('after rotation') })).keyId).toBe('k-b');
    expect((await rotated.read(old)).bytes.toString()).toBe('before rotation');
    expect((await rotated.read(fresh)).bytes.toString()).toBe('after rotation');
  });

  it('detects a tampered evidence file', async () => {
    const id = newIncidentId();
    await vault.put(id, { bytes: randomBytes(1000) });
    const [file] = filesUnder(vault.dir);
    const original = readFileSync(file!);
    const flip = (at: number): Buffer => {
      const copy = Buffer.from(original);
      copy[at]! ^= 0x01;
      return copy;
    };
    // a bit of the ciphertext
    writeFileSync(file!, flip(original.length - 100));
    await expect(vault.read(id)).rejects.toMatchObject({ code: 'ERR_HASHGATE_EVIDENCE_TAMPERED' });
    // the tag
    writeFileSync(file!, flip(original.length - 1));
    await expect(vault.read(id)).rejects.toMatchObject({ code: 'ERR_HASHGATE_EVIDENCE_TAMPERED' });
    // the authenticated header (storedAt)
    const text = original.toString('latin1').replace('"storedAt":"2025', '"storedAt":"2024');
    writeFileSync(file!, Buffer.from(text, 'latin1'));
    await expect(vault.read(id)).rejects.toMatchObject({ code: 'ERR_HASHGATE_EVIDENCE_TAMPERED' });
    // truncated
    writeFileSync(file!, original.subarray(0, original.length - 20));
    await expect(vault.read(id)).rejects.toMatchObject({ code: 'ERR_HASHGATE_EVIDENCE_TAMPERED' });
    writeFileSync(file!, original);
    expect((await vault.read(id)).bytes).toHaveLength(1000);
  });

  it("refuses another incident's evidence file moved into place", async () => {
    const a = newIncidentId();
    const b = newIncidentId();
    await vault.put(a, { bytes: Buffer.from('a') });
    await vault.put(b, { bytes: Buffer.from('b') });
    const files = filesUnder(vault.dir);
    const fa = files.find((f) => f.endsWith(`${a}.hgev`))!;
    const fb = files.find((f) => f.endsWith(`${b}.hgev`))!;
    writeFileSync(fb, readFileSync(fa));
    await expect(vault.read(b)).rejects.toMatchObject({
      code: 'ERR_HASHGATE_EVIDENCE_TAMPERED',
      message: /another incident/,
    });
  });

  it('needs a current key to store evidence', async () => {
    const readOnly = createEvidenceVault({
      dir: vault.dir,
      keys: createEvidenceKeyRing({ previous: [{ id: 'k-a', key: keyA }] }),
    });
    await expect(readOnly.put(newIncidentId(), { bytes: Buffer.from('x') })).rejects.toMatchObject({
      code: 'ERR_HASHGATE_EVIDENCE_KEY_INVALID',
    });
  });

  describe('retention', () => {
    let store: IncidentStore;
    beforeEach(async () => {
      clock.set(T0);
      store = await createSqliteStore({ path: join(dir, 'incidents.db'), now: clock.now });
    });
    afterEach(async () => store.close());

    async function incidentWithEvidence(): Promise<string> {
      const id = newIncidentId();
      const evidence = await vault.put(id, { bytes: randomBytes(100) });
      await store.createIncident(sampleIncident({ id, evidence }));
      return id;
    }

    it('deletes old evidence of closed incidents and keeps held, open and recent evidence', async () => {
      const dismissed = await incidentWithEvidence();
      await store.transition(dismissed, { to: 'dismissed', actor: 'rev-a', reason: 'fp' });
      const reported = await incidentWithEvidence();
      await store.transition(reported, { to: 'confirmed', actor: 'rev-a', reason: 'yes' });
      await store.transition(reported, {
        to: 'reported',
        actor: 'rev-a',
        reason: 'sent',
        reportReference: 'R-9',
      });
      const held = await incidentWithEvidence();
      await store.setLegalHold(held, { actor: 'legal', until: T0 + 1000 * DAY });
      await store.transition(held, { to: 'dismissed', actor: 'rev-a', reason: 'fp' });
      const open = await incidentWithEvidence();
      clock.advance(100 * DAY);
      const recent = await incidentWithEvidence();
      await store.transition(recent, { to: 'dismissed', actor: 'rev-a', reason: 'fp' });

      const report = await vault.sweep({ store, retentionMs: 90 * DAY });
      expect(report).toEqual({ deleted: 1, missing: 0, kept: 0 });
      await expect(vault.read(dismissed)).rejects.toMatchObject({ code: 'ERR_HASHGATE_INCIDENT_NOT_FOUND' });
      for (const id of [reported, held, open, recent]) expect((await vault.read(id)).bytes).toHaveLength(100);
      expect((await store.getIncident(dismissed))!.evidence!.deletedAt).not.toBeNull();
      const deletion = (await store.readAudit()).find((r) => r.type === 'evidence.deleted');
      expect(deletion).toMatchObject({
        actor: 'retention-sweep',
        incidentId: dismissed,
        details: { reason: 'retention period of 90 days ended' },
      });

      // the report's hold lasts a year; after it (and retention) the evidence goes too, the other hold stays
      clock.advance(300 * DAY);
      expect(await vault.sweep({ store, retentionMs: 90 * DAY })).toEqual({
        deleted: 2,
        missing: 0,
        kept: 0,
      });
      expect((await vault.read(held)).bytes).toHaveLength(100);
      expect((await vault.read(open)).bytes).toHaveLength(100);
      expect((await store.verifyAuditChain()).ok).toBe(true);
    });

    it('marks evidence whose file is already gone and never touches other files', async () => {
      const id = await incidentWithEvidence();
      await store.transition(id, { to: 'dismissed', actor: 'rev-a', reason: 'fp' });
      const stray = join(vault.dir, 'operator-notes.txt');
      writeFileSync(stray, 'keep me');
      for (const f of filesUnder(vault.dir)) if (f.endsWith('.hgev')) rmSync(f);
      clock.advance(100 * DAY);
      expect(await vault.sweep({ store, retentionMs: 90 * DAY })).toEqual({
        deleted: 0,
        missing: 1,
        kept: 0,
      });
      expect(readFileSync(stray, 'utf8')).toBe('keep me');
    });

    it('records the access before handing evidence out', async () => {
      const id = await incidentWithEvidence();
      const opened = await accessEvidence({
        store,
        vault,
        incidentId: id,
        actor: 'rev-a',
        kind: 'viewed',
        reason: 'review',
      });
      expect(opened.bytes).toHaveLength(100);
      const last = (await store.readAudit()).pop();
      expect(last).toMatchObject({
        type: 'evidence.viewed',
        actor: 'rev-a',
        incidentId: id,
        details: { keyId: 'k-a', reason: 'review' },
      });
      expect((await store.getIncident(id))!.evidenceViewed).toBe(true);
    });
  });
});
