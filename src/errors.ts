/** Owns hashgate's error class and the one message shape for bad options; the codes live in error-codes.ts. */

import { type ErrorCode, ErrorCodes } from './error-codes';

export { type ErrorCode, ErrorCodes } from './error-codes';

/**
 * The one error class hashgate throws. `code` is stable and documented in docs/errors.md.
 * Messages never contain hashes, file contents or upload paths.
 *
 * @example
 * try { parseHash('pdq', input) } catch (err) { if (isHashgateError(err)) console.log(err.code) }
 */
export class HashgateError extends Error {
  /** Stable machine-readable code, `ERR_HASHGATE_...`. */
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'HashgateError';
    this.code = code;
  }
}

/** True when `value` is a {@link HashgateError} (works across module copies by checking the code). */
export function isHashgateError(value: unknown): value is HashgateError {
  if (value instanceof HashgateError) return true;
  if (!(value instanceof Error)) return false;
  const code: unknown = (value as Error & { code?: unknown }).code;
  return typeof code === 'string' && code.startsWith('ERR_HASHGATE_');
}

/** Renders a received value for an error message without echoing long or sensitive input. */
function describeReceived(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (value === null) return 'null';
  if (typeof value === 'string')
    return value.length > 40 ? `a string of length ${value.length}` : `'${value}'`;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    return String(value);
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  return `a value of type ${typeof value}`;
}

/**
 * The one message shape for a bad option: what was expected, what was received, how to fix.
 *
 * @example
 * throw invalidOption('maxPixels', 'a positive integer', -3)
 * // Expected a positive integer for `maxPixels` but received -3
 */
export function invalidOption(
  name: string,
  expected: string,
  received: unknown,
  fix?: string,
): HashgateError {
  const tail = fix ? `. ${fix}` : '';
  return new HashgateError(
    ErrorCodes.INVALID_OPTION,
    `Expected ${expected} for \`${name}\` but received ${describeReceived(received)}${tail}`,
  );
}
