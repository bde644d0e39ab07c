/** Locates the full conformance vectors beside the checkout (`../shared/vectors`), which CI always has. */

import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

/** The vectors folder, or undefined when it is not beside the checkout (and HASHGATE_VECTORS is unset). */
export function sharedVectorsDir(): string | undefined {
  const candidates = [process.env.HASHGATE_VECTORS, resolve(__dirname, '../../../shared/vectors')];
  return candidates.find((dir): dir is string => typeof dir === 'string' && existsSync(dir));
}

/**
 * For a test that needs the full vectors: returns the folder, or, when it is missing, prints why
 * the test checks nothing more and returns undefined. Under CI (`CI=true`) a missing folder fails.
 */
export function requireSharedVectors(what: string): string | undefined {
  const dir = sharedVectorsDir();
  if (dir) return dir;
  if (process.env.CI === 'true') {
    throw new Error(`${what}: ../shared/vectors is missing, and CI must run the full conformance set`);
  }
  console.warn(
    `${what}: skipped, ../shared/vectors is not beside the checkout (set HASHGATE_VECTORS to run it)`,
  );
  return undefined;
}

/** The fixtures folder of this repository. */
export const FIXTURES = resolve(__dirname, '../fixtures');
