/** Owns the request-level result of a scan, derived from its per-file results. */

import type { FileScanResult, ScanResult } from '../hashgate';
import type { FileOutcome } from './decide';

/**
 * The request-level result of per-file results: `block` when any file is blocked; `unscanned`
 * when any could not be checked (refused when the policy is `reject`); `review` when any is
 * flagged; else `allow`. Shared by `scan()` and by the middleware joining files that
 * `gate.storage()` scanned one at a time.
 */
export function summarizeScan(
  results: readonly FileScanResult[],
  whenUnavailable: 'reject' | 'allow',
): ScanResult {
  const has = (o: FileOutcome): boolean => results.some((r) => r.outcome === o);
  const outcome: FileOutcome = has('block')
    ? 'block'
    : has('unscanned')
      ? 'unscanned'
      : has('review')
        ? 'review'
        : 'allow';
  return {
    outcome,
    rejected: outcome === 'unscanned' && whenUnavailable === 'reject',
    files: results,
    incidentIds: results.flatMap((r) => (r.incidentId ? [r.incidentId] : [])),
  };
}
