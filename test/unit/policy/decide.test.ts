import {
  type DecisionInput,
  decide,
  type ListPolicy,
  type MatchRecord,
  NO_ALLOWLIST_HIT,
} from '../../../src/policy/decide';

const policy = (name: string, over: Partial<ListPolicy> = {}): ListPolicy => ({
  name,
  action: 'block',
  thresholds: { pdq: 31, blockhash: 20 },
  dryRun: false,
  ...over,
});

const match = (list: string, over: Partial<MatchRecord> = {}): MatchRecord => ({
  list,
  listVersion: 1,
  entryId: 'e1',
  category: 'default',
  labels: [],
  type: 'sha256',
  distance: 0,
  ...over,
});

function input(over: Partial<DecisionInput> = {}): DecisionInput {
  return {
    matches: [],
    policies: new Map([
      ['hotline', policy('hotline')],
      ['own', policy('own', { action: 'review' })],
      ['watch', policy('watch', { action: 'log' })],
      ['trial', policy('trial', { dryRun: true })],
    ]),
    allowlist: NO_ALLOWLIST_HIT,
    lists: { ready: true, fresh: true },
    unavailable: [],
    ...over,
  };
}

describe('decide', () => {
  it('allows a file that matches nothing', () => {
    expect(decide(input())).toMatchObject({ outcome: 'allow', matches: [] });
  });

  it('blocks an exact match on a block list', () => {
    expect(decide(input({ matches: [match('hotline')] }))).toMatchObject({
      outcome: 'block',
      action: 'block',
    });
  });

  it('counts a perceptual match only within the list threshold', () => {
    const near = match('hotline', { type: 'pdq', distance: 31 });
    const far = match('hotline', { type: 'pdq', distance: 32 });
    expect(decide(input({ matches: [near] })).outcome).toBe('block');
    expect(decide(input({ matches: [far] })).outcome).toBe('allow');
  });

  it('ignores a perceptual match of a type the list has no threshold for', () => {
    expect(decide(input({ matches: [match('hotline', { type: 'photodna', distance: 3 })] })).outcome).toBe(
      'allow',
    );
  });

  it('takes the strongest action when several lists match', () => {
    const d = decide(input({ matches: [match('watch'), match('own'), match('hotline')] }));
    expect(d.outcome).toBe('block');
    expect(d.matches.map((m) => m.list)).toEqual(['hotline', 'own', 'watch']);
  });

  it('flags a review match for a person', () => {
    expect(decide(input({ matches: [match('own')] })).outcome).toBe('review');
  });

  it('allows a log match but keeps it', () => {
    const d = decide(input({ matches: [match('watch')] }));
    expect(d).toMatchObject({ outcome: 'allow', action: 'log' });
    expect(d.matches).toHaveLength(1);
  });

  it('records a dry-run match without acting on it', () => {
    const d = decide(input({ matches: [match('trial')] }));
    expect(d.outcome).toBe('allow');
    expect(d.dryRunMatches).toHaveLength(1);
    expect(d.matches).toHaveLength(0);
  });

  it('lets an exact allowlist hit win over every list', () => {
    const d = decide(
      input({ matches: [match('hotline')], allowlist: { exact: true, perceptualTypes: new Set() } }),
    );
    expect(d.outcome).toBe('allow');
    expect(d.allowlistedMatches).toHaveLength(1);
  });

  it('lets a perceptual allowlist hit suppress only matches of its type', () => {
    const allowlist = { exact: false, perceptualTypes: new Set(['pdq']) };
    const pdqOnly = decide(input({ matches: [match('hotline', { type: 'pdq', distance: 4 })], allowlist }));
    expect(pdqOnly.outcome).toBe('allow');
    const withExact = decide(
      input({ matches: [match('hotline', { type: 'pdq', distance: 4 }), match('hotline')], allowlist }),
    );
    expect(withExact.outcome).toBe('block');
  });

  it('ignores matches on lists it has no policy for', () => {
    expect(decide(input({ matches: [match('unknown')] })).outcome).toBe('allow');
  });

  it('never reports a file clean when no list is loaded', () => {
    expect(decide(input({ lists: { ready: false, fresh: false } }))).toMatchObject({
      outcome: 'unscanned',
      unscannedReason: 'lists-not-ready',
    });
  });

  it('never reports a file clean when the lists are stale', () => {
    expect(decide(input({ lists: { ready: true, fresh: false } }))).toMatchObject({
      outcome: 'unscanned',
      unscannedReason: 'lists-stale',
    });
  });

  it('still blocks a match found in stale lists', () => {
    expect(decide(input({ matches: [match('hotline')], lists: { ready: true, fresh: false } })).outcome).toBe(
      'block',
    );
  });

  it('never reports a file clean when its perceptual scan did not finish', () => {
    for (const reason of ['overloaded', 'timed-out', 'worker-failed'] as const) {
      const d = decide(input({ unavailable: [{ type: 'pdq', reason, detail: '' }] }));
      expect(d).toMatchObject({ outcome: 'unscanned', unscannedReason: reason });
    }
  });

  it('allows a file whose content has no perceptual hash, after its exact hashes were checked', () => {
    for (const reason of [
      'not-an-image',
      'unsupported-format',
      'too-small',
      'low-quality',
      'undecodable',
    ] as const) {
      expect(decide(input({ unavailable: [{ type: 'pdq', reason, detail: '' }] })).outcome).toBe('allow');
    }
  });

  it('blocks an exact match even when the perceptual scan did not finish', () => {
    const d = decide(
      input({
        matches: [match('hotline')],
        unavailable: [{ type: 'pdq', reason: 'overloaded', detail: '' }],
      }),
    );
    expect(d.outcome).toBe('block');
  });
});
