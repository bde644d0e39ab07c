/**
 * Owns the cache of finished scans, keyed by the upload's SHA-256 and the match index generation:
 * a repeated upload is decided again from the cached hashes and matches without decoding, and a
 * list update (a new generation) never serves a result computed against older lists. Policy
 * (actions, dry-run, the allowlist) is applied after the cache, so a reviewer's decision takes
 * effect at once.
 */

import { LRUCache } from 'lru-cache';
import type { HashOutcome } from './hashing/outcome';
import type { MatchRecord } from './policy/decide';

/** What a finished scan leaves for the next upload of the same bytes. */
export interface CachedScan {
  readonly outcome: HashOutcome;
  /** Matches against the index of `generation`, before policy. */
  readonly matches: readonly MatchRecord[];
}

/** Options of the verdict cache. */
export interface VerdictCacheOptions {
  /** Most scans kept. `0` turns the cache off. @default 10_000 */
  readonly max: number;
  /** How long a scan is kept, in milliseconds. @default 3_600_000 (one hour) */
  readonly ttlMs: number;
}

/** Cache of finished scans (see module comment). */
export class VerdictCache {
  readonly #lru: LRUCache<string, CachedScan> | undefined;
  #hits = 0;
  #misses = 0;

  constructor(options: VerdictCacheOptions) {
    this.#lru =
      options.max > 0
        ? new LRUCache<string, CachedScan>({ max: options.max, ttl: options.ttlMs })
        : undefined;
  }

  /** The cached scan of these bytes against index `generation`, if any. */
  get(sha256: string, generation: number): CachedScan | undefined {
    const hit = this.#lru?.get(`${generation}:${sha256}`);
    if (hit) this.#hits++;
    else this.#misses++;
    return hit;
  }

  /** Keeps a finished scan. Scans that did not finish (overload, timeouts) must not be cached. */
  set(sha256: string, generation: number, scan: CachedScan): void {
    this.#lru?.set(`${generation}:${sha256}`, scan);
  }

  /** Drops everything (for example when thresholds change). */
  clear(): void {
    this.#lru?.clear();
  }

  /** Hit and miss counts since creation, and the number of scans held. */
  get stats(): { hits: number; misses: number; size: number } {
    return { hits: this.#hits, misses: this.#misses, size: this.#lru?.size ?? 0 };
  }
}
