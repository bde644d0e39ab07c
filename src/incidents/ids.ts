/**
 * Owns the opaque ids of incidents, events, allowlist entries and ledger records: random, never
 * sequential; a ledger record's id starts with its time, so that ids are written in order.
 */

import { randomFillSync } from 'node:crypto';

/** Crockford's base32 alphabet (no i, l, o, u), lower case: easy to read out and type. */
const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';

/** Random bytes drawn from the system's generator 4 KiB at a time (one call per id cost more than the id). */
const pool = Buffer.alloc(4096);
let poolAt = pool.length;

function takeRandom(n: number): Buffer {
  if (poolAt + n > pool.length) {
    randomFillSync(pool);
    poolAt = 0;
  }
  const out = pool.subarray(poolAt, poolAt + n);
  poolAt += n;
  return out;
}

/** Base32 of `count` random characters (5 bits each). */
function randomChars(count: number): string {
  return base32(takeRandom(Math.ceil((count * 5) / 8))).slice(0, count);
}

/** Base32 of bytes, 5 bits a character, the last character padded with zero bits. */
function base32(bytes: Uint8Array): string {
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
  if (bits > 0) out += ALPHABET[(acc << (5 - bits)) & 31];
  return out;
}

/** Base32 of 15 random bytes (120 bits) in 24 characters. */
function randomPart(): string {
  return randomChars(24);
}

/** Prefixes of the id kinds. */
export type IdKind = 'inc' | 'evt' | 'alw' | 'led';

const ID_PATTERN = /^(inc|evt|alw|led)_[0-9a-hjkmnp-tv-z]{24}$/;

/** A new random id of a kind, e.g. `inc_7k2m9x4q8r1t5v3w6y0zabcd`. */
export function newId(kind: IdKind): string {
  return `${kind}_${randomPart()}`;
}

/**
 * A new ledger record id: `led_`, the time in milliseconds in 10 base32 characters (50 bits),
 * then 70 random bits in 14. A ledger record is written for every accepted upload, and ids in time
 * order go to the end of the id index: random ones landed on a random page each, which made a
 * record three times as costly to write once the ledger held 100,000 records. A ledger id is
 * never shown to an uploader, and the record holds its time anyway.
 */
export function newLedgerId(nowMs: number): string {
  let time = '';
  let t = Math.max(0, Math.floor(nowMs));
  for (let i = 0; i < 10; i++) {
    time = ALPHABET[t % 32] + time;
    t = Math.floor(t / 32);
  }
  return `led_${time}${randomChars(14)}`;
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
