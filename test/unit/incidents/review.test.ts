import {
  allowlistCandidates,
  canTransition,
  checkLiftReason,
  checkTransitionRequest,
  holdAfterLift,
  REVIEW_TRANSITIONS,
} from '../../../src/incidents/review';
import { REVIEW_STATES } from '../../../src/incidents/types';
import { sampleIncident } from './helpers';

describe('review state machine', () => {
  it('allows exactly new -> confirmed -> reported and dismissal from new or confirmed', () => {
    const allowed = REVIEW_STATES.flatMap((from) =>
      REVIEW_STATES.filter((to) => canTransition(from, to)).map((to) => `${from}->${to}`),
    );
    expect(allowed).toEqual([
      'new->confirmed',
      'new->dismissed',
      'confirmed->reported',
      'confirmed->dismissed',
    ]);
    expect(Object.isFrozen(REVIEW_TRANSITIONS)).toBe(true);
  });

  it('checks the request shape before the state', () => {
    expect(
      checkTransitionRequest({ to: 'reported', actor: 'a', reason: ' sent ', reportReference: ' R-1 ' }),
    ).toEqual({
      to: 'reported',
      actor: 'a',
      reason: 'sent',
      reportReference: 'R-1',
      allowlistTypes: null,
    });
    expect(() => checkTransitionRequest({ to: 'archived' as never, actor: 'a', reason: 'x' })).toThrow(/to/);
    expect(() =>
      checkTransitionRequest({ to: 'confirmed', actor: 'a', reason: 'x', reportReference: 'R' }),
    ).toThrow(/Only a `reported`/);
    expect(() =>
      checkTransitionRequest({ to: 'dismissed', actor: 'a', reason: 'x', allowlist: { types: [] } }),
    ).toThrow(/at least one/);
  });

  it('allowlists the matched types by default, or the requested ones the incident has', () => {
    const i = sampleIncident();
    expect(allowlistCandidates(i, []).map((c) => c.type)).toEqual(['md5', 'pdq']);
    expect(allowlistCandidates(i, ['sha1', 'blockhash']).map((c) => c.type)).toEqual(['sha1']);
  });

  it('allowlists both PDQ hashes of a framed upload: the whole image and its trimmed content', () => {
    const i = sampleIncident();
    const pdq = i.hashes.find((h) => h.type === 'pdq')!;
    const trimmedHex = 'f'.repeat(32) + '0'.repeat(32);
    const framed = {
      ...i,
      hashes: [
        ...i.hashes,
        {
          ...pdq,
          hex: trimmedHex,
          provenance: {
            ...pdq.provenance,
            region: { kind: 'trimmed' as const, left: 4, top: 4, width: 56, height: 40 },
          },
        },
      ],
    };
    expect(allowlistCandidates(framed, ['pdq'])).toEqual([
      { type: 'pdq', hex: pdq.hex },
      { type: 'pdq', hex: trimmedHex },
    ]);
  });
});

describe('lifting a legal hold', () => {
  const YEAR = 365 * 86_400_000;
  const base = { id: 'inc_x', stateChangedAtMs: 1000, legalHoldUntilMs: 5 * YEAR };

  it('ends the hold of an incident that was not reported, even one already past', () => {
    for (const state of ['new', 'confirmed', 'dismissed'] as const) {
      expect(holdAfterLift({ ...base, state }, YEAR)).toBeNull();
      expect(holdAfterLift({ ...base, state, legalHoldUntilMs: 1 }, YEAR)).toBeNull();
    }
    expect(() => holdAfterLift({ ...base, state: 'confirmed', legalHoldUntilMs: null }, YEAR)).toThrow(
      expect.objectContaining({ code: 'ERR_HASHGATE_INCIDENT_INVALID_INPUT' }),
    );
  });

  it('keeps a reported incident held until reportedAt + reportHoldMs and refuses to go below it', () => {
    expect(holdAfterLift({ ...base, state: 'reported' }, YEAR)).toBe(1000 + YEAR);
    for (const legalHoldUntilMs of [1000 + YEAR, 1000 + YEAR - 1, null]) {
      expect(() => holdAfterLift({ ...base, state: 'reported', legalHoldUntilMs }, YEAR)).toThrow(
        expect.objectContaining({ code: 'ERR_HASHGATE_EVIDENCE_HELD' }),
      );
    }
  });

  it('needs a reason of at most 2000 characters and trims it', () => {
    expect(checkLiftReason('  withdrawn ')).toBe('withdrawn');
    for (const r of [undefined, '', ' ', 'x'.repeat(2001), 42])
      expect(() => checkLiftReason(r)).toThrow(
        expect.objectContaining({ code: 'ERR_HASHGATE_INCIDENT_INVALID_INPUT' }),
      );
  });
});
