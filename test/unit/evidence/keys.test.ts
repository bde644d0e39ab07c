import { randomBytes } from 'node:crypto';
import { createEvidenceKeyRing, evidenceKeyRingFromEnv } from '../../../src/evidence/keys';

const b64 = () => randomBytes(32).toString('base64');

describe('evidence key ring', () => {
  it('reads the current key, its id and previous keys from the environment', () => {
    const current = b64();
    const old = b64();
    const ring = evidenceKeyRingFromEnv({
      HASHGATE_EVIDENCE_KEY: current,
      HASHGATE_EVIDENCE_KEY_ID: '2025-03',
      HASHGATE_EVIDENCE_PREVIOUS_KEYS: ` 2024-01:${old} `,
    });
    expect(ring.current?.id).toBe('2025-03');
    expect(ring.current?.key.toString('base64')).toBe(current);
    expect(ring.ids()).toEqual(['2025-03', '2024-01']);
    expect(ring.get('2024-01')?.key.toString('base64')).toBe(old);
  });

  it('derives a stable id from the key when none is given', () => {
    const key = b64();
    const a = evidenceKeyRingFromEnv({ HASHGATE_EVIDENCE_KEY: key });
    const b = evidenceKeyRingFromEnv({ HASHGATE_EVIDENCE_KEY: key });
    expect(a.current?.id).toMatch(/^fp-[0-9a-f]{12}$/);
    expect(a.current?.id).toBe(b.current?.id);
  });

  it('is read-only without a current key', () => {
    expect(evidenceKeyRingFromEnv({}).current).toBeNull();
  });

  it('refuses keys that are not 32 bytes of base64, without echoing them', () => {
    const short = randomBytes(16).toString('base64');
    expect(() => evidenceKeyRingFromEnv({ HASHGATE_EVIDENCE_KEY: short })).toThrow(
      expect.objectContaining({
        code: 'ERR_HASHGATE_EVIDENCE_KEY_INVALID',
        message: expect.not.stringContaining(short),
      }),
    );
    expect(() => evidenceKeyRingFromEnv({ HASHGATE_EVIDENCE_KEY: 'not base64 !' })).toThrow(/not base64/);
    expect(() => evidenceKeyRingFromEnv({ HASHGATE_EVIDENCE_KEY_ID: 'x' })).toThrow(
      /HASHGATE_EVIDENCE_KEY is not/,
    );
    expect(() => evidenceKeyRingFromEnv({ HASHGATE_EVIDENCE_PREVIOUS_KEYS: 'nocolon' })).toThrow(/id:base64/);
    const k = b64();
    expect(() =>
      createEvidenceKeyRing({ current: { id: 'a', key: k }, previous: [{ id: 'a', key: b64() }] }),
    ).toThrow(/Two evidence keys/);
    expect(() => createEvidenceKeyRing({ current: { id: 'bad id!', key: k } })).toThrow(/letters, digits/);
  });
});
