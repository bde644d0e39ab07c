import { randomBytes } from 'node:crypto';
import {
  openEvidence,
  openEvidenceCooperatively,
  sealEvidence,
  sealEvidenceCooperatively,
} from '../../../src/evidence/format';
import { createEvidenceKeyRing } from '../../../src/evidence/keys';
import { countEventLoopTurns } from '../../helpers/event-loop';

const keys = createEvidenceKeyRing({ current: { id: 'k-a', key: randomBytes(32).toString('base64') } });
const key = keys.current!;
const AT = '2026-11-29T05:00:00.000Z';

describe('sealing evidence', () => {
  it('writes the same format in slices as in one go: both open to the bytes and their metadata', async () => {
    for (const size of [0, 1, (1 << 20) - 1, 1 << 20, (3 << 20) + 17]) {
      const bytes = randomBytes(size);
      const metadata = { originalName: 'stand-in.jpg', size };
      const sliced = await sealEvidenceCooperatively(key, 'inc_test', AT, bytes, metadata);
      const whole = sealEvidence(key, 'inc_test', AT, bytes, metadata);
      // A fresh nonce each time: the files differ, their sizes and contents do not.
      expect(sliced.length).toBe(whole.length);
      for (const sealed of [sliced, whole]) {
        for (const opened of [
          openEvidence(sealed, keys, 'inc_test'),
          await openEvidenceCooperatively(sealed, keys, 'inc_test'),
        ]) {
          expect(Buffer.from(opened.bytes).equals(bytes)).toBe(true);
          expect(opened.metadata).toEqual(metadata);
        }
      }
    }
  });

  it('gives the event loop turns while it seals a large upload', async () => {
    const bytes = randomBytes(64 * 1024 * 1024);
    const { result: sealed, turns } = await countEventLoopTurns(() =>
      sealEvidenceCooperatively(key, 'inc_test', AT, bytes, {}),
    );
    // Sealing 64 MiB takes well over one 8 ms slice anywhere; in one go it would give no turn.
    expect(turns).toBeGreaterThanOrEqual(1);
    expect(Buffer.from(openEvidence(sealed, keys, 'inc_test').bytes).equals(bytes)).toBe(true);
  });

  it('opens nothing from a tampered file or another incident, in slices as in one go', async () => {
    const bytes = randomBytes((2 << 20) + 3);
    const sealed = await sealEvidenceCooperatively(key, 'inc_test', AT, bytes, {});
    const flipped = Buffer.from(sealed);
    flipped[flipped.length - 100]! ^= 1;
    for (const [file, incident] of [
      [flipped, 'inc_test'],
      [sealed, 'inc_other'],
    ] as const) {
      expect(() => openEvidence(file, keys, incident)).toThrow(
        expect.objectContaining({ code: 'ERR_HASHGATE_EVIDENCE_TAMPERED' }),
      );
      await expect(openEvidenceCooperatively(file, keys, incident)).rejects.toMatchObject({
        code: 'ERR_HASHGATE_EVIDENCE_TAMPERED',
      });
    }
  });
});
