/**
 * Owns the build algorithm of a whole match index, as one generator over plain data: the build
 * worker runs it to completion, the main thread runs it in slices that yield to the event loop.
 */

import type { BuildPlan } from './build-input';
import { buildExactData, type ExactIndexData, exactDataArrays } from './exact-index';
import { buildHammingData, type HammingIndexData, hammingDataArrays } from './hamming-index';

/** The built typed arrays of every hash type of one index. */
export interface IndexData {
  readonly exact: readonly ExactIndexData[];
  readonly hamming: readonly HammingIndexData[];
}

/** What the build worker posts back: the data, or an error reduced to a code and a message. */
export type BuildWorkerReply =
  | { readonly ok: true; readonly data: IndexData }
  | { readonly ok: false; readonly code: string | undefined; readonly message: string };

/** Builds every hash type of a plan, yielding often; returns the data of the index. */
export function* buildIndexData(plan: BuildPlan): Generator<void, IndexData> {
  const exact: ExactIndexData[] = [];
  const hamming: HammingIndexData[] = [];
  for (const t of plan.types) {
    if (t.kind === 'exact') exact.push(yield* buildExactData(t.type, t.hashBytes, t.parts));
    else hamming.push(yield* buildHammingData(t.type, t.parts));
  }
  return { exact, hamming };
}

/** Runs a build generator without yielding (in the worker, or for small synchronous builds). */
export function runToCompletion<T>(steps: Generator<void, T>): T {
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

/** The distinct ArrayBuffers behind an index's data: the transfer list that hands them over without copying. */
export function indexTransferList(data: IndexData): ArrayBuffer[] {
  const buffers = new Set<ArrayBuffer>();
  const views = [...data.exact.flatMap(exactDataArrays), ...data.hamming.flatMap(hammingDataArrays)];
  for (const v of views) {
    if (v.buffer instanceof ArrayBuffer) buffers.add(v.buffer);
  }
  return [...buffers];
}
