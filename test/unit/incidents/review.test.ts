import {
  allowlistCandidates,
  canTransition,
  checkTransitionRequest,
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
});
