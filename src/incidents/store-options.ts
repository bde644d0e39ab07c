/** Owns the options every incident store shares, their defaults and their validation into a frozen config. */

import { invalidOption } from '../errors';
import { booleanOption, integerOption } from '../validate';
import { isValidTimeZone, serverTimeZone } from './time';

/** One day in milliseconds. */
export const DAY_MS = 86_400_000;

/** The shortest legal hold after a report: 365 days (the US REPORT Act's preservation year). */
export const MIN_REPORT_HOLD_MS = 365 * DAY_MS;

/** Options every store takes. */
export interface IncidentStoreOptions {
  /** Clock, in ms since the epoch (tests inject one). @default Date.now */
  now?: () => number;
  /** IANA time zone recorded with each incident. @default the process's zone */
  timeZone?: string;
  /**
   * Allowlist entries from a dismissal take effect only after a second, different reviewer
   * approves them (`approveAllowlistEntry`). @default false
   */
  requireSecondReviewer?: boolean;
  /**
   * Legal hold set when an incident is marked reported, in ms; at least 365 days.
   * @default 31_536_000_000 (365 days)
   */
  reportHoldMs?: number;
}

/** The validated, frozen shared config. */
export interface IncidentStoreConfig {
  readonly now: () => number;
  readonly timeZone: string;
  readonly requireSecondReviewer: boolean;
  readonly reportHoldMs: number;
}

/** Validates the shared options (`prefix` names the option object in messages). */
export function parseSharedStoreOptions(o: Record<string, unknown>, prefix: string): IncidentStoreConfig {
  const name = (k: string): string => `${prefix}.${k}`;
  if (o.now !== undefined && typeof o.now !== 'function') {
    throw invalidOption(name('now'), 'a function returning milliseconds since the epoch', o.now);
  }
  if (o.timeZone !== undefined && !isValidTimeZone(o.timeZone)) {
    throw invalidOption(name('timeZone'), 'an IANA time zone name such as `Europe/Amsterdam`', o.timeZone);
  }
  const reportHoldMs = integerOption(
    name('reportHoldMs'),
    o.reportHoldMs,
    MIN_REPORT_HOLD_MS,
    MIN_REPORT_HOLD_MS,
  );
  return {
    now: (o.now as (() => number) | undefined) ?? Date.now,
    timeZone: (o.timeZone as string | undefined) ?? serverTimeZone(),
    requireSecondReviewer: booleanOption(name('requireSecondReviewer'), o.requireSecondReviewer, false),
    reportHoldMs,
  };
}

/** Names of the shared options (for unknown-key checks). */
export const SHARED_STORE_OPTION_KEYS = ['now', 'timeZone', 'requireSecondReviewer', 'reportHoldMs'] as const;
