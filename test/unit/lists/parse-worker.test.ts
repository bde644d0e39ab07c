/*
 * The worker path runs the compiled build: a worker thread cannot load the TypeScript sources
 * ts-jest runs, so these tests load the parse job module from dist/ (which `npm test` builds first
 * with `npm run build`), where the worker script sits next to it.
 */

import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { Yielder } from '../../../src/cooperative';
import { createHashTypeResolver } from '../../../src/lists/entries';
import { entryIdAt } from '../../../src/lists/entry-ids';
import { ListErrorCodes } from '../../../src/lists/errors';
import type * as ParseJobModule from '../../../src/lists/parse-job';
import { type ParseJob, runParseJob, toPortable } from '../../../src/lists/parse-job';
import type { ListSnapshot } from '../../../src/snapshot';
import {
  hashSet,
  makeEntries,
  randomMd5,
  randomPdq,
  tempDir,
  toSnapshot,
} from '../../integration/lists/helpers';

const DIST = join(__dirname, '../../../dist/lists');

function loadCompiled(): typeof ParseJobModule {
  if (!existsSync(join(DIST, 'parse-worker.js'))) {
    throw new Error('dist/lists is missing: run `npm run build` before these tests (`npm test` does)');
  }
  return require(join(DIST, 'parse-job.js')) as typeof ParseJobModule;
}

const dist = loadCompiled();

/** Everything a test can compare: hashes, ids, categories and labels by type. */
function contents(s: ListSnapshot): unknown {
  const types: Record<string, unknown> = {};
  for (const [name, t] of s.byType) {
    types[name] = Array.from({ length: t.count }, (_, i) => [
      entryIdAt(t, i),
      Buffer.from(t.hashes.subarray(i * t.hashBytes, (i + 1) * t.hashBytes)).toString('hex'),
      s.categories[t.categories[i]!],
      t.labels.get(i) ?? null,
    ]);
  }
  return { list: s.list, version: s.version, types };
}

describe('parsing list files in a worker thread', () => {
  let dir: { path: string; cleanup(): Promise<void> };
  beforeEach(async () => {
    dir = await tempDir();
  });
  afterEach(() => dir.cleanup());

  const lines = [
    `{"id":"plain","type":"md5","hash":"${randomMd5()}"}`,
    `{"id":"ünïcode","type":"PDQ","hash":"${randomPdq().toUpperCase()}"}`,
    `{"id":"labelled","type":"md5","hash":"${randomMd5()}","category":"terror","labels":["a","b c"]}`,
    `{"id":"zero","type":"pdq","hash":"${'0'.repeat(64)}"}`,
    `{"id":"plain","type":"md5","hash":"${randomMd5()}"}`,
    'not json',
  ];

  function job(path: string, extra: Partial<ParseJob> = {}): ParseJob {
    return {
      list: 'l',
      version: 4,
      createdAt: '2026-01-01T00:00:00.000Z',
      kind: 'snapshot',
      files: [{ path, compression: 'gzip' }],
      base: null,
      expectedCounts: { md5: 2, pdq: 1 },
      ...extra,
    };
  }

  it('gives the same snapshot and drop counts as parsing on the calling thread', async () => {
    const path = join(dir.path, 'snapshot.ndjson.gz');
    await writeFile(path, gzipSync(lines.join('\n')));
    const inWorker = await dist.runParseJobInWorker(job(path));
    const inThread = await runParseJob(job(path), createHashTypeResolver(), new Yielder(), false);
    expect(contents(inWorker.snapshot)).toEqual(contents(inThread.snapshot));
    expect(inWorker.dropped).toEqual({ 'invalid-json': 1, degenerate: 1, 'duplicate-id': 1 });
    expect(inWorker.dropped).toEqual(inThread.dropped);
    // The columns come back in shared memory, ready for an index build without a copy.
    const buffer = inWorker.snapshot.byType.get('md5')!.hashes.buffer;
    expect(Object.prototype.toString.call(buffer)).toBe('[object SharedArrayBuffer]');
  });

  it('applies a delta chain to a base version', async () => {
    const base = toSnapshot(makeEntries(6, 'a'), 'l');
    const path = join(dir.path, 'delta.ndjson.gz');
    await writeFile(
      path,
      gzipSync(
        [`{"op":"remove","id":"a1"}`, `{"op":"add","id":"n1","type":"md5","hash":"${randomMd5()}"}`].join(
          '\n',
        ),
      ),
    );
    const deltas = job(path, { kind: 'deltas', base: toPortable(base) });
    const inWorker = await dist.runParseJobInWorker(deltas);
    const inThread = await runParseJob(deltas, createHashTypeResolver(), new Yielder(), false);
    expect(contents(inWorker.snapshot)).toEqual(contents(inThread.snapshot));
    expect(hashSet(inWorker.snapshot).size).toBe(6);
  });

  it('reports a corrupt file with its list error code', async () => {
    const path = join(dir.path, 'broken.ndjson.gz');
    await writeFile(path, Buffer.from('this is not gzip'));
    await expect(dist.runParseJobInWorker(job(path))).rejects.toMatchObject({
      code: ListErrorCodes.FILE_INVALID,
    });
  });
});
