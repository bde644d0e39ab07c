/** Owns the review state machine: which transitions exist, what each one needs, and which hashes a dismissal allowlists. */

import { requireActor } from './audit-chain';
import { IncidentErrorCodes, incidentError } from './errors';
import type { Incident, ReviewState, TransitionRequest } from './types';

/** The transitions the review workflow allows; `reported` and `dismissed` are final. */
export const REVIEW_TRANSITIONS: Readonly<Record<ReviewState, readonly ReviewState[]>> = Object.freeze({
  new: Object.freeze(['confirmed', 'dismissed'] as ReviewState[]),
  confirmed: Object.freeze(['reported', 'dismissed'] as ReviewState[]),
  reported: Object.freeze([] as ReviewState[]),
  dismissed: Object.freeze([] as ReviewState[]),
});

/** True when the workflow allows moving from `from` to `to`. */
export function canTransition(from: ReviewState, to: ReviewState): boolean {
  return REVIEW_TRANSITIONS[from].includes(to);
}

/** A transition request after validation. */
export interface CheckedTransition {
  readonly to: ReviewState;
  readonly actor: string;
  readonly reason: string;
  readonly reportReference: string | null;
  /** Hash types to allowlist (only for `dismissed`), or null for none. */
  readonly allowlistTypes: readonly string[] | null;
}

const STATES = new Set<string>(['new', 'confirmed', 'reported', 'dismissed']);

/** Validates the shape of a transition request (not yet against the incident's state). */
export function checkTransitionRequest(request: TransitionRequest): CheckedTransition {
  if (typeof request !== 'object' || request === null) {
    throw incidentError(
      IncidentErrorCodes.INVALID_INPUT,
      'A transition needs an object `{ to, actor, reason }`',
    );
  }
  if (typeof request.to !== 'string' || !STATES.has(request.to)) {
    throw incidentError(
      IncidentErrorCodes.INVALID_INPUT,
      "A transition's `to` is one of 'confirmed', 'reported' or 'dismissed'",
    );
  }
  requireActor(request.actor);
  if (
    typeof request.reason !== 'string' ||
    request.reason.trim().length === 0 ||
    request.reason.length > 2000
  ) {
    throw incidentError(
      IncidentErrorCodes.INVALID_INPUT,
      'Every transition needs a `reason`: a non-empty string of at most 2000 characters',
    );
  }
  let reportReference: string | null = null;
  if (request.to === 'reported') {
    const ref = request.reportReference;
    if (typeof ref !== 'string' || ref.trim().length === 0 || ref.length > 200) {
      throw incidentError(
        IncidentErrorCodes.INVALID_INPUT,
        "Marking an incident reported needs the report's `reportReference` (at most 200 characters)",
      );
    }
    reportReference = ref.trim();
  } else if (request.reportReference !== undefined) {
    throw incidentError(
      IncidentErrorCodes.INVALID_INPUT,
      'Only a `reported` transition takes a `reportReference`',
    );
  }
  let allowlistTypes: string[] | null = null;
  const allow = request.allowlist;
  if (allow !== undefined && allow !== false) {
    if (request.to !== 'dismissed') {
      throw incidentError(
        IncidentErrorCodes.INVALID_INPUT,
        'Only a `dismissed` transition can add to the allowlist',
      );
    }
    if (allow === true) allowlistTypes = [];
    else if (typeof allow === 'object' && allow !== null) {
      if (allow.types === undefined) allowlistTypes = [];
      else if (
        Array.isArray(allow.types) &&
        allow.types.every((t) => typeof t === 'string' && t.length > 0)
      ) {
        allowlistTypes = [...new Set(allow.types)];
        if (allowlistTypes.length === 0) {
          throw incidentError(
            IncidentErrorCodes.INVALID_INPUT,
            '`allowlist.types` names at least one hash type',
          );
        }
      } else {
        throw incidentError(
          IncidentErrorCodes.INVALID_INPUT,
          '`allowlist.types` is an array of hash type names',
        );
      }
    } else {
      throw incidentError(IncidentErrorCodes.INVALID_INPUT, '`allowlist` is true or `{ types }`');
    }
  }
  return {
    to: request.to,
    actor: request.actor,
    reason: request.reason.trim(),
    reportReference,
    allowlistTypes,
  };
}

/** Throws `ERR_HASHGATE_INCIDENT_INVALID_TRANSITION` unless the incident can move as requested. */
export function assertTransition(incidentId: string, from: ReviewState, to: ReviewState): void {
  if (!canTransition(from, to)) {
    const allowed = REVIEW_TRANSITIONS[from];
    const hint = allowed.length
      ? `from '${from}' it can move to ${allowed.map((s) => `'${s}'`).join(' or ')}`
      : `'${from}' is final`;
    throw incidentError(
      IncidentErrorCodes.INVALID_TRANSITION,
      `Incident ${incidentId} cannot move from '${from}' to '${to}': ${hint}`,
    );
  }
}

/**
 * The hashes a dismissal allowlists: for each requested type (by default every type that
 * matched), the incident's own hashes of that type — the whole image's and, for a framed upload,
 * its trimmed content's, so that a copy in another frame is not flagged again. Empty when the
 * incident has none of them.
 */
export function allowlistCandidates(
  incident: Pick<Incident, 'hashes' | 'matches'>,
  types: readonly string[],
): { type: string; hex: string }[] {
  const wanted = types.length > 0 ? types : [...new Set(incident.matches.map((m) => m.hashType))];
  const out: { type: string; hex: string }[] = [];
  for (const type of wanted) {
    const seen = new Set<string>();
    for (const hash of incident.hashes) {
      if (hash.type !== type || seen.has(hash.hex)) continue;
      seen.add(hash.hex);
      out.push({ type, hex: hash.hex });
    }
  }
  return out;
}

/** Legal hold until after a report: the later of an existing hold and `at + holdMs`. */
export function holdAfterReport(existingMs: number | null, atMs: number, holdMs: number): number {
  return Math.max(existingMs ?? 0, atMs + holdMs);
}

/** Validates a lift request's reason (required, like every transition's) and returns it trimmed. */
export function checkLiftReason(reason: unknown): string {
  if (typeof reason !== 'string' || reason.trim().length === 0 || reason.length > 2000) {
    throw incidentError(
      IncidentErrorCodes.INVALID_INPUT,
      'Lifting a legal hold needs a `reason`: a non-empty string of at most 2000 characters',
    );
  }
  return reason.trim();
}

/**
 * The legal hold after lifting: none, or for a `reported` incident the minimum its report imposes
 * (`reportedAt + reportHoldMs`), never earlier. Throws `ERR_HASHGATE_EVIDENCE_HELD` when a reported
 * incident's hold is already no later than that minimum, and `ERR_HASHGATE_INCIDENT_INVALID_INPUT`
 * when any other incident has no hold: a lift that changes nothing is refused, not recorded.
 */
export function holdAfterLift(
  incident: {
    readonly id: string;
    readonly state: ReviewState;
    readonly stateChangedAtMs: number;
    readonly legalHoldUntilMs: number | null;
  },
  reportHoldMs: number,
): number | null {
  const current = incident.legalHoldUntilMs;
  if (incident.state !== 'reported') {
    if (current === null) {
      throw incidentError(
        IncidentErrorCodes.INVALID_INPUT,
        `Incident ${incident.id} has no legal hold to lift`,
      );
    }
    return null;
  }
  // `reported` is final, so the last state change is the report
  const minimum = incident.stateChangedAtMs + reportHoldMs;
  if (current === null || current <= minimum) {
    throw incidentError(
      IncidentErrorCodes.EVIDENCE_HELD,
      `Incident ${incident.id} was reported: its evidence is held until ${new Date(minimum).toISOString()} at least, and that hold cannot be lifted`,
    );
  }
  return minimum;
}
