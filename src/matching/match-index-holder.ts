/**
 * Owns the one mutable reference to the match index in use: queries read it, a rebuild replaces it
 * with a single assignment, and a generation number tells caches that the lists changed.
 */

import type { ListSnapshot } from '../snapshot';
import {
  type BuildMatchIndexOptions,
  buildMatchIndex,
  type MatchIndex,
  type MatchIndexSource,
} from './match-index';

/** The index in use together with its generation, swapped as one object so the two always agree. */
export interface MatchIndexState {
  /** The index queries use. */
  readonly index: MatchIndex;
  /** Increments by one on every swap, starting at 1 for the first index. Verdict caches key on it. */
  readonly generation: number;
}

/**
 * Holds the current {@link MatchIndex}. Readers take `state` (or `current` and `generation`)
 * synchronously and keep using that index for the rest of their query; a swap never disturbs a
 * query in progress, and the old index stays in memory only as long as someone still uses it.
 */
export interface MatchIndexHolder {
  /** The index in use and its generation, or undefined before the first swap. */
  readonly state: MatchIndexState | undefined;
  /** The index in use, or undefined before the first swap. */
  readonly current: MatchIndex | undefined;
  /** Generation of the index in use; 0 before the first swap. */
  readonly generation: number;
  /** Puts `index` in use with one reference assignment and returns the new state. */
  swap(index: MatchIndex): MatchIndexState;
  /**
   * Builds a new index off the event loop (see `buildMatchIndex`) while the current one keeps
   * serving, then swaps it in. If a newer rebuild or swap has already taken effect when this build
   * finishes, the older result is dropped and the state in use is returned instead. On failure the
   * current index stays in use and the promise rejects.
   */
  rebuild(
    sources: readonly (ListSnapshot | MatchIndexSource)[],
    options?: BuildMatchIndexOptions,
  ): Promise<MatchIndexState>;
}

class Holder implements MatchIndexHolder {
  #state: MatchIndexState | undefined;
  /** Sequence number of the latest request (rebuild started or swap done). */
  #requested = 0;
  /** Sequence number of the request whose index is in use. */
  #applied = 0;

  get state(): MatchIndexState | undefined {
    return this.#state;
  }

  get current(): MatchIndex | undefined {
    return this.#state?.index;
  }

  get generation(): number {
    return this.#state?.generation ?? 0;
  }

  swap(index: MatchIndex): MatchIndexState {
    this.#applied = ++this.#requested;
    return this.#apply(index);
  }

  async rebuild(
    sources: readonly (ListSnapshot | MatchIndexSource)[],
    options?: BuildMatchIndexOptions,
  ): Promise<MatchIndexState> {
    const seq = ++this.#requested;
    const index = await buildMatchIndex(sources, options);
    if (seq < this.#applied && this.#state) return this.#state;
    this.#applied = seq;
    return this.#apply(index);
  }

  #apply(index: MatchIndex): MatchIndexState {
    const next: MatchIndexState = Object.freeze({ index, generation: this.generation + 1 });
    this.#state = next;
    return next;
  }
}

/**
 * Creates a {@link MatchIndexHolder}, optionally with a first index in use (generation 1).
 *
 * @example
 * const holder = createMatchIndexHolder();
 * await holder.rebuild(snapshots);            // generation 1
 * const { index, generation } = holder.state!;
 * index.matchVariants('pdq', variants, 31);
 */
export function createMatchIndexHolder(initial?: MatchIndex): MatchIndexHolder {
  const holder = new Holder();
  if (initial) holder.swap(initial);
  return holder;
}
