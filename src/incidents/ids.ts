/** Owns the opaque ids of incidents, events, allowlist entries and ledger records: random, never sequential. */

import { randomBytes } from 'node:crypto';

/** Crockford's base32 alphabet (no i, l, o, u), lower case: easy to read out and type. */
const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';

/** Base32 of 15 random bytes (120 bits) in 24 characters. */
function randomPart(): string {
  const bytes = randomBytes(15);
  let out = '';
  let acc = 0;
  let bits = 0;
  for (const b of bytes) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += ALPHABET[(acc >>> bits) & 31];
    }
    acc &= (1 << bits) - 1;
  }
  return out;
}

/** Prefixes of the id kinds. */
export type IdKind = 'inc' | 'evt' | 'alw' | 'led';

const ID_PATTERN = /^(inc|evt|alw|led)_[0-9a-hjkmnp-tv-z]{24}$/;

/** A new random id of a kind, e.g. `inc_7k2m9x4q8r1t5v3w6y0zabcd`. */
export function newId(kind: IdKind): string {
  return `${kind}_${randomPart()}`;
}

/**
 * A new incident id: 120 random bits, so ids reveal nothing about how many incidents exist or
 * when they happened, and can be shown to the uploader.
 *
 * @example
 * const id = newIncidentId(); // 'inc_5t0y8c3j9k1m2n4p6q7r8s9v'
 * await vault.put(id, { bytes });
 * await store.createIncident({ id, ... });
 */
export function newIncidentId(): string {
  return newId('inc');
}

/** True when `value` is a well-formed id of `kind`. */
export function isId(kind: IdKind, value: unknown): value is string {
  return typeof value === 'string' && ID_PATTERN.test(value) && value.startsWith(`${kind}_`);
}

/** True when `value` is a well-formed incident id. */
export function isIncidentId(value: unknown): value is string {
  return isId('inc', value);
}
