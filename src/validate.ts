/** Owns the small validators that every options parser uses, so that all bad options read alike. */

import { invalidOption } from './errors';

/** A whole number within [min, max], or the default when undefined. */
export function integerOption(
  name: string,
  value: unknown,
  fallback: number,
  min = 0,
  max = Number.MAX_SAFE_INTEGER,
): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `at least ${min}` : `from ${min} to ${max}`;
    throw invalidOption(name, `a whole number ${range}`, value);
  }
  return value;
}

/** A boolean, or the default when undefined. */
export function booleanOption(name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw invalidOption(name, 'true or false', value);
  return value;
}

/** One of a fixed set of strings, or the default when undefined. */
export function enumOption<T extends string>(
  name: string,
  value: unknown,
  allowed: readonly T[],
  fallback: T,
): T {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw invalidOption(name, `one of ${allowed.map((a) => `'${a}'`).join(', ')}`, value);
  }
  return value as T;
}

/** A plain object (or undefined, which gives an empty object). */
export function objectOption(name: string, value: unknown): Record<string, unknown> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw invalidOption(name, 'an object', value);
  return value as Record<string, unknown>;
}

/** Throws when an options object has keys the parser does not know (a typo should never be silently ignored). */
export function rejectUnknownKeys(
  name: string,
  value: Record<string, unknown>,
  known: readonly string[],
): void {
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) {
      throw invalidOption(
        `${name}.${key}`,
        `one of the known options (${known.join(', ')})`,
        key,
        'Check the spelling',
      );
    }
  }
}
