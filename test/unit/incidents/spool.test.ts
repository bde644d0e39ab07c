import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSpool } from '../../../src/incidents/spool';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'hashgate-spool-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('spool', () => {
  test('an item written is listed, read back and removed', async () => {
    const spool = createSpool(join(dir, 'spool'));
    await spool.write('incidents', 'b.json', '{"b":1}');
    await spool.write('incidents', 'a.json', Buffer.from('{"a":1}'));
    expect(await spool.list('incidents')).toEqual(['a.json', 'b.json']);
    expect((await spool.read('incidents', 'a.json'))?.toString()).toBe('{"a":1}');
    await spool.remove('incidents', 'a.json');
    await spool.remove('incidents', 'a.json');
    expect(await spool.list('incidents')).toEqual(['b.json']);
    expect(await spool.read('incidents', 'a.json')).toBeUndefined();
  });

  test('folders are private to the user and files are readable by the user only', async () => {
    const spool = createSpool(join(dir, 'spool'));
    await spool.write('evidence', 'x.hgev', Buffer.from([1, 2, 3]));
    expect(statSync(join(dir, 'spool', 'evidence')).mode & 0o777).toBe(0o700);
    expect(statSync(join(dir, 'spool', 'evidence', 'x.hgev')).mode & 0o777).toBe(0o600);
  });

  test('a kind never written lists nothing', async () => {
    expect(await createSpool(join(dir, 'none')).list('ledger')).toEqual([]);
  });

  test('an item replaces an earlier one of the same name and leaves no temporary file', async () => {
    const spool = createSpool(join(dir, 'spool'));
    await spool.write('incidents', 'a.json', 'one');
    await spool.write('incidents', 'a.json', 'two');
    expect((await spool.read('incidents', 'a.json'))?.toString()).toBe('two');
    expect(readdirSync(join(dir, 'spool', 'incidents'))).toEqual(['a.json']);
  });

  test('temporary files a crash left behind are not listed', async () => {
    const spool = createSpool(join(dir, 'spool'));
    await spool.write('ledger', 'a.json', '{}');
    writeFileSync(join(dir, 'spool', 'ledger', '.b.json.tmp-0123'), 'half');
    expect(await spool.list('ledger')).toEqual(['a.json']);
  });

  test('names that could leave the folder are refused', async () => {
    const spool = createSpool(join(dir, 'spool'));
    await expect(spool.write('incidents', '../x', 'y')).rejects.toThrow('Invalid spool item name');
    await expect(spool.read('incidents', '.hidden')).rejects.toThrow('Invalid spool item name');
  });

  test('a write into a folder that is a file fails and keeps nothing', async () => {
    writeFileSync(join(dir, 'spool'), 'not a folder');
    await expect(createSpool(join(dir, 'spool')).write('incidents', 'a.json', '{}')).rejects.toThrow();
  });
});
