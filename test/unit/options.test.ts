import { parseOptions } from '../../src/options';

describe('createHashgate options', () => {
  const list = { name: 'hotline', file: '/tmp/list.txt' };

  it('apply documented defaults', () => {
    const c = parseOptions({ lists: [list] });
    expect(c.whenUnavailable).toBe('reject');
    expect(c.response).toEqual({
      statusCode: 451,
      message: 'This upload cannot be accepted.',
      retryAfterSeconds: 30,
    });
    expect(c.lists[0]).toMatchObject({
      action: 'block',
      thresholds: { pdq: 31, blockhash: 7 },
      dryRun: false,
    });
    expect(c.hashing.pdq).toEqual({ convention: 'fullres', dihedral: true, minQuality: 50 });
    expect(Object.isFrozen(c)).toBe(true);
  });

  it.each([
    [{ lists: 'x' }, 'Expected an array of lists for `lists`'],
    [{ lists: [{ name: 'bad name!', file: 'f' }] }, 'lists[0].name'],
    [{ lists: [{ name: 'a' }] }, 'exactly one of `url` or `file`'],
    [{ lists: [{ name: 'a', url: 'https://l.example/a/' }] }, 'lists[0].publicKeys'],
    [{ lists: [list, list] }, 'unique list names'],
    [
      { lists: [{ ...list, thresholds: { pdq: 99 } }] },
      'Expected a whole number from 0 to 63 for `lists[0].thresholds.pdq` but received 99',
    ],
    [{ lists: [{ ...list, action: 'delete' }] }, "one of 'block', 'review', 'log'"],
    [{ lists: [list], whenUnavailable: 'maybe' }, '`whenUnavailable`'],
    [{ lists: [list], response: { statusCode: 200 } }, '`response.statusCode`'],
    [{ lists: [list], hashing: { workers: -1 } }, '`hashing.workers`'],
    [{ lists: [list], maxStaleness: 5 }, 'options.maxStaleness'],
    [{ lists: [list], store: {} }, 'an IncidentStore'],
  ])('refuse %j with a message that says what was expected', (options, message) => {
    expect(() => parseOptions(options)).toThrow(
      expect.objectContaining({
        code: 'ERR_HASHGATE_INVALID_OPTION',
        message: expect.stringContaining(message),
      }),
    );
  });
});
