/** Shared test helpers for the incident store: a fake clock and benign stand-in incidents. */

import { createHash, randomBytes } from 'node:crypto';
import type { ComputedHash } from '../../../src/hashing/outcome';
import type { NewIncident, NewLedgerRecord } from '../../../src/incidents/types';

/** A clock tests move by hand. */
export interface FakeClock {
  now(): number;
  advance(ms: number): void;
  set(ms: number): void;
}

/** 2025-03-01T12:00:00Z. */
export const T0 = Date.UTC(2025, 2, 1, 12, 0, 0);

export function fakeClock(start = T0): FakeClock {
  let t = start;
  return {
    now: () => t,
    advance: (ms) => {
      t += ms;
    },
    set: (ms) => {
      t = ms;
    },
  };
}

/** A PDQ-like hex with exactly 128 of 256 bits set (not degenerate). */
export function balancedHex256(seed = randomBytes(32)): string {
  const bits: number[] = [];
  for (let i = 0; i < 256; i++) bits.push(i < 128 ? 1 : 0);
  // Fisher-Yates driven by the seed bytes
  let s = createHash('sha256').update(seed).digest();
  let k = 0;
  for (let i = 255; i > 0; i--) {
    if (k + 2 > s.length) {
      s = createHash('sha256').update(s).digest();
      k = 0;
    }
    const j = s.readUInt16BE(k) % (i + 1);
    k += 2;
    [bits[i], bits[j]] = [bits[j]!, bits[i]!];
  }
  const out = Buffer.alloc(32);
  for (let i = 0; i < 256; i++) if (bits[i]) out[i >> 3]! |= 0x80 >> (i & 7);
  return out.toString('hex');
}

/** Exact hashes of some benign stand-in bytes. */
export function exactHashesOf(bytes: Buffer): ComputedHash[] {
  return (['md5', 'sha1', 'sha256'] as const).map((type) => ({
    type,
    hex: createHash(type).update(bytes).digest('hex'),
    provenance: { algorithm: type },
  }));
}

/** A benign stand-in incident: random bytes' hashes, one exact and one PDQ match. */
export function sampleIncident(overrides: Partial<NewIncident> = {}): NewIncident {
  const bytes = randomBytes(64);
  const pdq = balancedHex256();
  return {
    route: 'POST /avatars',
    requestId: `req-${randomBytes(4).toString('hex')}`,
    uploader: { userId: 'user-42', ip: '203.0.113.7', port: 51234, userAgent: 'test-agent/1.0' },
    file: { originalName: 'holiday.jpg', declaredType: 'image/jpeg', sniffedType: 'jpeg', size: 64 },
    hashes: [
      ...exactHashesOf(bytes),
      {
        type: 'pdq',
        hex: pdq,
        provenance: {
          algorithm: 'pdq',
          convention: 'fullres',
          quality: 93,
          decoder: 'test',
          width: 8,
          height: 8,
        },
      },
    ],
    matches: [
      {
        list: 'stand-in-list',
        listVersion: 7,
        entryId: 'e-1',
        category: 'test',
        hashType: 'md5',
        distance: 0,
        variant: null,
        quality: null,
      },
      {
        list: 'own-list',
        listVersion: 2,
        entryId: 'e-9',
        category: 'default',
        hashType: 'pdq',
        distance: 12,
        variant: 'rot90',
        quality: 93,
      },
    ],
    action: 'block',
    ...overrides,
  };
}

/** A benign ledger record with a PDQ hash (and optional variants). */
export function sampleLedgerRecord(
  reference: string,
  pdqHex = balancedHex256(),
  bytes = randomBytes(32),
): NewLedgerRecord {
  return {
    reference,
    route: 'POST /photos',
    uploader: { userId: 'user-7', ip: '198.51.100.4', port: 40000 },
    file: { originalName: 'cat.jpg', sniffedType: 'jpeg', size: bytes.length },
    hashes: [
      ...exactHashesOf(bytes),
      { type: 'pdq', hex: pdqHex, provenance: { algorithm: 'pdq', quality: 88 } },
    ],
  };
}
