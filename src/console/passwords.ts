/**
 * Owns console password hashing: scrypt from node:crypto with a random salt, parameters stored
 * with the hash, and a timing-safe comparison.
 */

import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { invalidOption } from '../errors';

/** scrypt cost parameters of new hashes (N = 2^15, r = 8, p = 1: about 32 MiB and tens of ms). */
const COST = 32_768;
const BLOCK_SIZE = 8;
const PARALLEL = 1;
const KEY_LENGTH = 32;
const SALT_LENGTH = 16;

/** Shortest password the console accepts. */
export const MIN_PASSWORD_LENGTH = 12;
/** Longest password the console accepts (scrypt would take any length; a bound keeps requests small). */
export const MAX_PASSWORD_LENGTH = 1024;

const HASH_PATTERN =
  /^scrypt\$(\d{1,8})\$(\d{1,2})\$(\d{1,2})\$([A-Za-z0-9_-]{16,64})\$([A-Za-z0-9_-]{32,128})$/;

interface ParsedHash {
  readonly cost: number;
  readonly blockSize: number;
  readonly parallel: number;
  readonly salt: Buffer;
  readonly key: Buffer;
}

function derive(
  password: string,
  salt: Buffer,
  length: number,
  cost: number,
  blockSize: number,
  parallel: number,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(
      password.normalize('NFC'),
      salt,
      length,
      { N: cost, r: blockSize, p: parallel, maxmem: 256 * cost * blockSize + 1024 * 1024 },
      (err, key) => (err ? reject(err) : resolve(key)),
    );
  });
}

/** Parses a stored hash; undefined when it is not one this module wrote (or its parameters are absurd). */
export function parsePasswordHash(stored: unknown): ParsedHash | undefined {
  if (typeof stored !== 'string') return undefined;
  const m = HASH_PATTERN.exec(stored);
  if (!m) return undefined;
  const cost = Number(m[1]);
  const blockSize = Number(m[2]);
  const parallel = Number(m[3]);
  // a power of two between 2^14 and 2^20; small r and p: a hostile users file cannot make logins hang
  if (cost < 16_384 || cost > 1_048_576 || (cost & (cost - 1)) !== 0) return undefined;
  if (blockSize < 1 || blockSize > 32 || parallel < 1 || parallel > 4) return undefined;
  return {
    cost,
    blockSize,
    parallel,
    salt: Buffer.from(m[4]!, 'base64url'),
    key: Buffer.from(m[5]!, 'base64url'),
  };
}

/** Throws `ERR_HASHGATE_INVALID_OPTION` unless the password is a string of acceptable length. */
export function checkPasswordStrength(password: unknown, name = 'password'): asserts password is string {
  if (
    typeof password !== 'string' ||
    password.length < MIN_PASSWORD_LENGTH ||
    password.length > MAX_PASSWORD_LENGTH
  ) {
    throw invalidOption(
      name,
      `a password of ${MIN_PASSWORD_LENGTH} to ${MAX_PASSWORD_LENGTH} characters`,
      typeof password === 'string' ? `a string of length ${password.length}` : password,
    );
  }
}

/**
 * Hashes a console password with scrypt (random salt; the parameters are stored with the hash).
 * Use it to create the first admin, then pass the result as `users[].passwordHash`.
 *
 * @example
 * const passwordHash = await hashConsolePassword(process.env.CONSOLE_ADMIN_PASSWORD!);
 * app.use('/console', gate.console({ users: [{ name: 'alice', role: 'admin', passwordHash }] }));
 */
export async function hashConsolePassword(password: string): Promise<string> {
  checkPasswordStrength(password);
  const salt = randomBytes(SALT_LENGTH);
  const key = await derive(password, salt, KEY_LENGTH, COST, BLOCK_SIZE, PARALLEL);
  return `scrypt$${COST}$${BLOCK_SIZE}$${PARALLEL}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

let decoy: Promise<string> | undefined;

/**
 * True when `password` matches `stored`. With an unknown user or a malformed hash it still
 * derives a key against a decoy hash, so the answer takes about as long either way.
 */
export async function verifyConsolePassword(password: string, stored: string | undefined): Promise<boolean> {
  const parsed = parsePasswordHash(stored);
  if (!parsed || typeof password !== 'string' || password.length > MAX_PASSWORD_LENGTH) {
    decoy ??= hashConsolePassword(randomBytes(24).toString('base64url'));
    const d = parsePasswordHash(await decoy)!;
    await derive(
      typeof password === 'string' ? password.slice(0, MAX_PASSWORD_LENGTH) : '',
      d.salt,
      d.key.length,
      d.cost,
      d.blockSize,
      d.parallel,
    );
    return false;
  }
  const key = await derive(
    password,
    parsed.salt,
    parsed.key.length,
    parsed.cost,
    parsed.blockSize,
    parsed.parallel,
  );
  return key.length === parsed.key.length && timingSafeEqual(key, parsed.key);
}
