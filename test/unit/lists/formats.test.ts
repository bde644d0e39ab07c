import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { hashTypes } from '../../../src/hashing/hash-types';
import { createHashTypeResolver } from '../../../src/lists/entries';
import { ListErrorCodes } from '../../../src/lists/errors';
import {
  deriveEntryId,
  type LocalListFormat,
  mapThreatExchangeCategory,
  readLocalList,
  splitCsvLine,
} from '../../../src/lists/formats';
import { hashSet, randomMd5, randomPdq, tempDir } from '../../integration/lists/helpers';

const resolveType = createHashTypeResolver();
let dir: { path: string; cleanup(): Promise<void> };

beforeAll(async () => {
  dir = await tempDir();
});
afterAll(() => dir.cleanup());

async function read(name: string, content: string | Buffer, format: LocalListFormat, hashType?: string) {
  const path = join(dir.path, name);
  await writeFile(path, content);
  return readLocalList(
    path,
    { list: 'local', version: 1, createdAt: new Date(0).toISOString() },
    { format, resolveType, ...(hashType ? { hashType } : {}) },
  );
}

describe('plain text lists', () => {
  it('reads one hash a line with the configured type, skipping comments and blank lines', async () => {
    const a = randomMd5();
    const b = randomMd5();
    const { snapshot, dropped } = await read(
      'plain.txt',
      `# known files\n${a}\r\n\n  ${b.toUpperCase()}  \nnot-a-hash\n${a}\n`,
      'text',
      'md5',
    );
    expect(hashSet(snapshot)).toEqual(new Set([`md5:${a}`, `md5:${b}`]));
    expect(dropped).toEqual({ 'wrong-length': 1, 'duplicate-hash': 1 });
    const ids = snapshot.byType.get('md5')!.ids;
    expect(ids[0]).toBe(deriveEntryId(hashTypes.md5, Buffer.from(a, 'hex')));
    expect(ids[0]).not.toContain(a);
  });

  it('reads gzip files by their .gz name', async () => {
    const a = randomPdq();
    const { snapshot } = await read('plain.txt.gz', gzipSync(`${a}\n`), 'text', 'pdq');
    expect(hashSet(snapshot)).toEqual(new Set([`pdq:${a}`]));
  });
});

describe('python-threatexchange local_file format', () => {
  it('maps signal types to hash types and drops what hashgate cannot enforce', async () => {
    const pdq = randomPdq();
    const video = randomMd5();
    const photo = randomMd5();
    const sha = randomPdq();
    const { snapshot, dropped } = await read(
      'te.txt',
      [
        `pdq ${pdq}`,
        `video_md5 ${video}`,
        `photo_md5 ${photo}`,
        `video_sha256 ${sha}`,
        'url https://example.org/x',
        `url_md5 ${randomMd5()}`,
        'raw_text hello world',
        `tmk_unknown ${randomMd5()}`,
        'pdq',
        `pdq ${'0'.repeat(64)}`,
      ].join('\n'),
      'threatexchange',
    );
    expect(hashSet(snapshot)).toEqual(
      new Set([`pdq:${pdq}`, `md5:${video}`, `md5:${photo}`, `sha256:${sha}`]),
    );
    expect(dropped).toEqual({ 'unsupported-type': 3, 'unknown-type': 1, 'invalid-entry': 1, degenerate: 1 });
  });

  it('reads bare hashes when the signal type is configured', async () => {
    const pdq = randomPdq();
    const { snapshot } = await read('te-bare.txt', `${pdq}\n`, 'threatexchange', 'pdq');
    expect(hashSet(snapshot)).toEqual(new Set([`pdq:${pdq}`]));
  });
});

describe('python-threatexchange CSV export', () => {
  it('reads columns by header name, maps opinions to categories and tags to labels', async () => {
    const pos = randomPdq();
    const seed = randomMd5();
    const neg = randomPdq();
    const csv = [
      'collab,signal_type,signal_str,category,tags',
      `Sample Signals,pdq,${pos},POSITIVE_CLASS,tag1 tag2`,
      `"Collab, with comma",video_md5,${seed},INVESTIGATION_SEED,`,
      `Sample Signals,pdq,${neg},NEGATIVE_CLASS,`,
      'Sample Signals,url,https://example.org/,POSITIVE_CLASS,',
      '"broken,pdq',
    ].join('\n');
    const { snapshot, dropped } = await read('export.csv', csv, 'threatexchange-csv');
    expect(hashSet(snapshot)).toEqual(new Set([`pdq:${pos}`, `md5:${seed}`]));
    expect([...snapshot.categories].sort()).toEqual(['investigation-seed', 'positive-class']);
    const pdq = snapshot.byType.get('pdq')!;
    expect(pdq.labels.get(0)).toEqual(['tag1', 'tag2', 'collab:Sample Signals']);
    expect(snapshot.byType.get('md5')!.labels.get(0)).toEqual(['collab:Collab, with comma']);
    expect(dropped).toEqual({ 'negative-opinion': 1, 'unsupported-type': 1, 'invalid-entry': 1 });
  });

  it('refuses a CSV without the needed header', async () => {
    await expect(read('bad.csv', 'a,b\n1,2\n', 'threatexchange-csv')).rejects.toMatchObject({
      code: ListErrorCodes.FILE_INVALID,
    });
  });

  it('splits quoted CSV fields', () => {
    expect(splitCsvLine('a,"b,c","d""e",')).toEqual(['a', 'b,c', 'd"e', '']);
    expect(splitCsvLine('"open')).toBeNull();
    expect(mapThreatExchangeCategory('NEGATIVE_CLASS')).toBeNull();
    expect(mapThreatExchangeCategory('')).toBeUndefined();
  });
});

describe('NDJSON local lists', () => {
  it('reads protocol entries without a signature', async () => {
    const h = randomMd5();
    const { snapshot } = await read(
      'local.ndjson',
      `${JSON.stringify({ id: 'a', type: 'md5', hash: h, category: 'own' })}\n`,
      'ndjson',
    );
    expect(hashSet(snapshot)).toEqual(new Set([`md5:${h}`]));
    expect(snapshot.categories).toEqual(['own']);
  });
});
