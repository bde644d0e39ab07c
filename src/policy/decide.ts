/**
 * Owns the decision for one file: from its hashes, the list matches found for them, each list's
 * policy, the allowlist and the state of the lists, it decides `allow`, `block`, `review` or
 * `unscanned`. Pure: no I/O, no clock, no index; the caller supplies everything.
 */

import type { DihedralVariant, UnavailableHash } from '../hashing/outcome';

/** What a list asks for when one of its entries matches. */
export type ListAction = 'block' | 'review' | 'log';

/** The decision for one file. */
export type FileOutcome = 'allow' | 'block' | 'review' | 'unscanned';

/**
 * Why a file is `unscanned`:
 * - `lists-not-ready`: no list has been loaded yet
 * - `lists-stale`: the lists are older than `maxStalenessMs` and nothing matched
 * - `overloaded`, `timed-out`, `worker-failed`: the perceptual scan did not run to its end
 * - `scan-failed`: the scan failed for another reason (the error is logged without content)
 */
export type UnscannedReason =
  | 'lists-not-ready'
  | 'lists-stale'
  | 'overloaded'
  | 'timed-out'
  | 'worker-failed'
  | 'scan-failed';

/** A list's policy, as the decision needs it. */
export interface ListPolicy {
  readonly name: string;
  readonly action: ListAction;
  /** Largest distance that counts as a match, per perceptual hash type. */
  readonly thresholds: Readonly<Record<string, number>>;
  /** Matches are recorded but never block or flag for review. */
  readonly dryRun: boolean;
}

/** One list entry that one of the file's hashes matched. */
export interface MatchRecord {
  readonly list: string;
  readonly listVersion: number;
  readonly entryId: string;
  readonly category: string;
  readonly labels: readonly string[];
  /** Hash type that matched. */
  readonly type: string;
  /** 0 for exact types; Hamming distance for perceptual ones. */
  readonly distance: number;
  /** For PDQ queried with dihedral variants: which variant of the upload matched. */
  readonly variant?: DihedralVariant;
  /** PDQ quality of the upload's hash. */
  readonly quality?: number;
  /** The match is on the hash of the upload's content inside a border or letterbox (see docs/detection.md). */
  readonly trimmed?: true;
}

/** What the allowlist says about the file's hashes. */
export interface AllowlistHit {
  /** One of the file's exact hashes is allowlisted: the same file was reviewed as a false positive. */
  readonly exact: boolean;
  /** Perceptual hash types for which the file is close to an allowlisted hash. */
  readonly perceptualTypes: ReadonlySet<string>;
}

/** No allowlist entry applies. */
export const NO_ALLOWLIST_HIT: AllowlistHit = Object.freeze({
  exact: false,
  perceptualTypes: new Set<string>(),
});

/** Everything the decision for one file depends on. */
export interface DecisionInput {
  /** Matches found for the file's hashes, before policy (every list, every type). */
  readonly matches: readonly MatchRecord[];
  /** Policies of the lists, by name. A match on an unknown list is ignored. */
  readonly policies: ReadonlyMap<string, ListPolicy>;
  readonly allowlist: AllowlistHit;
  /** Whether any list is loaded, and whether the loaded lists are within `maxStalenessMs`. */
  readonly lists: { readonly ready: boolean; readonly fresh: boolean };
  /** Perceptual hashes that were not computed, with their reasons. */
  readonly unavailable: readonly UnavailableHash[];
}

/** The decision for one file. */
export interface Decision {
  readonly outcome: FileOutcome;
  /** Set when the outcome is `unscanned`. */
  readonly unscannedReason?: UnscannedReason;
  /** Matches that took effect (not dry-run, not allowlisted), strongest action first. */
  readonly matches: readonly MatchRecord[];
  /** Matches on dry-run lists: recorded, never acted on. */
  readonly dryRunMatches: readonly MatchRecord[];
  /** Matches suppressed by the allowlist. */
  readonly allowlistedMatches: readonly MatchRecord[];
  /** The strongest action among `matches` (`log` when only log lists matched), or undefined. */
  readonly action?: ListAction;
}

const ACTION_RANK: Readonly<Record<ListAction, number>> = { block: 3, review: 2, log: 1 };

/** Perceptual failures that mean the scan did not finish, as opposed to content that has no perceptual hash. */
export const OPERATIONAL_FAILURES: ReadonlySet<string> = new Set([
  'overloaded',
  'timed-out',
  'worker-failed',
]);

function withinThreshold(m: MatchRecord, policy: ListPolicy): boolean {
  if (m.distance === 0) return true;
  const limit = policy.thresholds[m.type];
  return limit !== undefined && m.distance <= limit;
}

/**
 * Decides what happens to one file.
 *
 * Rules, in order:
 * 1. Matches beyond their list's threshold, or on lists without a policy, do not count.
 * 2. The allowlist wins over every list: an exact allowlist hit suppresses every match; a
 *    perceptual hit suppresses the matches of that hash type.
 * 3. Dry-run lists are recorded apart and never act.
 * 4. The strongest remaining action decides: `block` > `review` > `log` (a `log` match allows the
 *    file but is recorded).
 * 5. With no match: no list loaded gives `unscanned` (`lists-not-ready`); a perceptual scan that
 *    did not finish gives `unscanned` with its reason; stale lists give `unscanned`
 *    (`lists-stale`). A match is acted on even when the lists are stale or the perceptual scan
 *    failed, because a match is never less true for it.
 */
export function decide(input: DecisionInput): Decision {
  const effective: MatchRecord[] = [];
  const dryRun: MatchRecord[] = [];
  const allowlisted: MatchRecord[] = [];
  for (const m of input.matches) {
    const policy = input.policies.get(m.list);
    if (!policy || !withinThreshold(m, policy)) continue;
    if (input.allowlist.exact || input.allowlist.perceptualTypes.has(m.type)) allowlisted.push(m);
    else if (policy.dryRun) dryRun.push(m);
    else effective.push(m);
  }
  const rank = (m: MatchRecord): number => ACTION_RANK[input.policies.get(m.list)!.action];
  effective.sort((a, b) => rank(b) - rank(a) || a.distance - b.distance);
  const strongest = effective[0];
  const base = { matches: effective, dryRunMatches: dryRun, allowlistedMatches: allowlisted };

  if (strongest) {
    const action = input.policies.get(strongest.list)!.action;
    return { ...base, action, outcome: action === 'log' ? 'allow' : action };
  }
  if (!input.lists.ready) return { ...base, outcome: 'unscanned', unscannedReason: 'lists-not-ready' };
  const failed = input.unavailable.find((u) => OPERATIONAL_FAILURES.has(u.reason));
  if (failed) return { ...base, outcome: 'unscanned', unscannedReason: failed.reason as UnscannedReason };
  if (!input.lists.fresh) return { ...base, outcome: 'unscanned', unscannedReason: 'lists-stale' };
  return { ...base, outcome: 'allow' };
}
