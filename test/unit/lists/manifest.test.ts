import { ListErrorCodes } from '../../../src/lists/errors';
import { type ListManifest, parseManifest, planUpdate, serializeManifest } from '../../../src/lists/manifest';

const SHA = 'a'.repeat(64);

function manifest(over: Partial<Record<keyof ListManifest, unknown>> = {}): Record<string, unknown> {
  return {
    format: 'hashgate-list',
    protocol: 1,
    name: 'my-list',
    version: 5,
    createdAt: '2026-01-02T03:04:05.000Z',
    counts: { pdq: 2, md5: 1 },
    snapshot: { path: 'snapshot-5.ndjson.gz', sha256: SHA, size: 1000, compression: 'gzip', entries: 3 },
    deltas: [
      {
        path: 'delta-4-5.ndjson.gz',
        sha256: SHA,
        size: 10,
        compression: 'gzip',
        from: 4,
        to: 5,
        adds: 1,
        removes: 0,
      },
      {
        path: 'delta-3-4.ndjson.gz',
        sha256: SHA,
        size: 10,
        compression: 'gzip',
        from: 3,
        to: 4,
        adds: 1,
        removes: 0,
      },
      {
        path: 'delta-1-3.ndjson',
        sha256: SHA,
        size: 10,
        compression: 'none',
        from: 1,
        to: 3,
        adds: 1,
        removes: 1,
      },
      {
        path: 'delta-2-3.ndjson',
        sha256: SHA,
        size: 10,
        compression: 'none',
        from: 2,
        to: 3,
        adds: 1,
        removes: 1,
      },
    ],
    ...over,
  };
}

const bytes = (v: unknown): Buffer => Buffer.from(JSON.stringify(v));

describe('parseManifest', () => {
  it('parses a valid manifest and round-trips it', () => {
    const m = parseManifest(bytes(manifest()));
    expect(m.version).toBe(5);
    expect(parseManifest(serializeManifest(m))).toEqual(m);
  });

  it('ignores unknown fields', () => {
    expect(parseManifest(bytes(manifest({ publisher: 'x' } as never))).name).toBe('my-list');
  });

  it.each([
    ['not JSON', Buffer.from('<html>')],
    ['an array', bytes([])],
    ['a wrong format marker', bytes(manifest({ format: 'other' }))],
    ['a future protocol', bytes(manifest({ protocol: 2 }))],
    ['a bad name', bytes(manifest({ name: '../x' }))],
    ['version 0', bytes(manifest({ version: 0 }))],
    ['a fractional version', bytes(manifest({ version: 1.5 }))],
    ['a bad time', bytes(manifest({ createdAt: 'yesterday' }))],
    ['negative counts', bytes(manifest({ counts: { pdq: -1 } }))],
    ['counts that disagree with the snapshot', bytes(manifest({ counts: { pdq: 1 } }))],
    [
      'a path with ..',
      bytes(manifest({ snapshot: { path: '../x', sha256: SHA, size: 1, compression: 'gzip', entries: 3 } })),
    ],
    [
      'an absolute URL as path',
      bytes(
        manifest({
          snapshot: { path: 'https://evil/x', sha256: SHA, size: 1, compression: 'gzip', entries: 3 },
        }),
      ),
    ],
    [
      'an upper-case sha256',
      bytes(
        manifest({
          snapshot: { path: 's', sha256: SHA.toUpperCase(), size: 1, compression: 'gzip', entries: 3 },
        }),
      ),
    ],
    [
      'an unknown compression',
      bytes(manifest({ snapshot: { path: 's', sha256: SHA, size: 1, compression: 'br', entries: 3 } })),
    ],
    [
      'a delta beyond the version',
      bytes(
        manifest({
          deltas: [
            { path: 'd', sha256: SHA, size: 1, compression: 'none', from: 5, to: 6, adds: 0, removes: 0 },
          ],
        }),
      ),
    ],
  ])('refuses %s', (_what, input) => {
    expect(() => parseManifest(input)).toThrow(
      expect.objectContaining({ code: ListErrorCodes.MANIFEST_INVALID }),
    );
  });
});

describe('planUpdate', () => {
  const m = parseManifest(bytes(manifest()));

  it('takes the snapshot without a current version', () => {
    expect(planUpdate(m, null)).toEqual({ kind: 'snapshot' });
  });

  it('chains deltas, taking the longest step each time', () => {
    const plan = planUpdate(m, 1);
    expect(plan.kind).toBe('deltas');
    expect(plan.kind === 'deltas' && plan.deltas.map((d) => `${d.from}-${d.to}`)).toEqual([
      '1-3',
      '3-4',
      '4-5',
    ]);
  });

  it('takes the snapshot when the chain has a gap', () => {
    expect(planUpdate(m, 0)).toEqual({ kind: 'snapshot' });
  });

  it('takes the snapshot when the deltas are larger than it', () => {
    const big = parseManifest(
      bytes(
        manifest({
          snapshot: { path: 'snapshot-5.ndjson.gz', sha256: SHA, size: 15, compression: 'gzip', entries: 3 },
        }),
      ),
    );
    expect(planUpdate(big, 2)).toEqual({ kind: 'snapshot' });
  });
});
