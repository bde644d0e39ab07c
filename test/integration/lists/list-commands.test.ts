import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { EXIT_INVALID_LIST, registerListCommands } from '../../../src/cli/list-commands';
import { ListErrorCodes } from '../../../src/lists/errors';
import type { ListServer } from '../../../src/lists/list-server';
import { readPublishedList } from '../../../src/lists/publisher';
import { entryKeys, hashSet, randomMd5, randomPdq, startTestServer, tempDir } from './helpers';

interface Run {
  out: string;
  err: string;
  exitCode: number;
}

let servers: ListServer[] = [];

async function run(...args: string[]): Promise<Run> {
  const out: string[] = [];
  const err: string[] = [];
  const program = new Command('hashgate');
  program.exitOverride();
  program.configureOutput({ writeOut: (s) => out.push(s), writeErr: (s) => err.push(s) });
  registerListCommands(program, {
    stdout: (s) => out.push(`${s}\n`),
    stderr: (s) => err.push(`${s}\n`),
    onServerStarted: (s) => servers.push(s),
  });
  let exitCode = 0;
  try {
    await program.parseAsync(['node', 'hashgate', ...args]);
  } catch (e) {
    if (!(e instanceof CommanderError)) throw e;
    exitCode = e.exitCode;
  }
  return { out: out.join(''), err: err.join(''), exitCode };
}

describe('hashgate list commands', () => {
  let dir: { path: string; cleanup(): Promise<void> };
  let keyPrefix: string;
  let pub: string;

  beforeEach(async () => {
    dir = await tempDir();
    keyPrefix = join(dir.path, 'signing');
    const r = await run('keygen', '--out', keyPrefix);
    expect(r.exitCode).toBe(0);
    pub = `${keyPrefix}.pub`;
  });

  afterEach(async () => {
    await Promise.all(servers.map((s) => s.close()));
    servers = [];
    await dir.cleanup();
  });

  it('keygen writes a private key readable only by the owner and prints the key id', async () => {
    expect((await stat(`${keyPrefix}.key`)).mode & 0o777).toBe(0o600);
    expect(await readFile(pub, 'utf8')).toContain('BEGIN PUBLIC KEY');
    const again = await run('keygen', '--out', keyPrefix);
    expect(again.exitCode).toBe(1);
  });

  it('builds, adds, removes and verifies, printing counts but never hashes', async () => {
    const out = join(dir.path, 'pub');
    const pdq = [randomPdq(), randomPdq()];
    const md5 = [randomMd5(), randomMd5()];
    await writeFile(join(dir.path, 'te.txt'), `pdq ${pdq[0]}\npdq ${pdq[1]}\nurl https://x.example\n`);
    await writeFile(join(dir.path, 'md5.txt'), `${md5[0]}\n${md5[1]}\n`);
    const build = await run(
      'list',
      'build',
      join(dir.path, 'te.txt'),
      '--name',
      'own',
      '--out',
      out,
      '--key',
      `${keyPrefix}.key`,
    );
    expect(build.exitCode).toBe(0);
    expect(build.out).toContain('version 1: 2 entries');
    expect(build.out).toContain('unsupported-type 1');

    const add = await run(
      'list',
      'add',
      join(dir.path, 'md5.txt'),
      '--type',
      'md5',
      '--dir',
      out,
      '--key',
      `${keyPrefix}.key`,
    );
    expect(add.exitCode).toBe(0);
    expect(add.out).toContain('version 2: 2 added, 4 entries');

    const extra = randomMd5();
    const inline = await run('list', 'add', `md5:${extra}`, '--dir', out, '--key', `${keyPrefix}.key`);
    expect(inline.out).toContain('version 3: 1 added');

    const remove = await run('list', 'remove', `pdq:${pdq[0]}`, '--dir', out, '--key', `${keyPrefix}.key`);
    expect(remove.exitCode).toBe(0);
    expect(remove.out).toContain('version 4: 1 removed, 4 entries');

    const published = await readPublishedList(out);
    expect(hashSet(published!.snapshot)).toEqual(
      entryKeys([
        { id: '', type: 'pdq', hash: pdq[1]! },
        { id: '', type: 'md5', hash: md5[0]! },
        { id: '', type: 'md5', hash: md5[1]! },
        { id: '', type: 'md5', hash: extra },
      ]),
    );
    const ids = published!.snapshot.byType.get('md5')!.ids;
    const byId = await run('list', 'remove', '--id', ids[0]!, '--dir', out, '--key', `${keyPrefix}.key`);
    expect(byId.out).toContain('1 removed, 3 entries');
    expect(published!.manifest.deltas.map((d) => `${d.from}-${d.to}`)).toEqual(['3-4', '2-3', '1-2']);

    const verify = await run('list', 'verify', out, '--key', pub);
    expect(verify.exitCode).toBe(0);
    expect(verify.out).toContain('ok: own version 5');
    expect(verify.out).toContain('deltas verified: 4');
    for (const text of [build.out, add.out, remove.out, verify.out]) {
      for (const h of [...pdq, ...md5, extra]) expect(text).not.toContain(h);
    }
  });

  it('verifies over HTTP and exits 2 for an invalid list', async () => {
    const out = join(dir.path, 'pub');
    await writeFile(join(dir.path, 'in.txt'), `${randomMd5()}\n`);
    await run(
      'list',
      'build',
      join(dir.path, 'in.txt'),
      '--type',
      'md5',
      '--name',
      'own',
      '--out',
      out,
      '--key',
      `${keyPrefix}.key`,
    );
    const server = await startTestServer(out);
    try {
      const ok = await run('list', 'verify', `${server.url}manifest.json`, '--key', pub, '--json');
      expect(ok.exitCode).toBe(0);
      expect(JSON.parse(ok.out)).toMatchObject({ name: 'own', version: 1, entries: { total: 1 } });

      const other = join(dir.path, 'other');
      await run('keygen', '--out', other);
      const wrongKey = await run('list', 'verify', server.url, '--key', `${other}.pub`);
      expect(wrongKey.exitCode).toBe(EXIT_INVALID_LIST);
      expect(wrongKey.err).toContain(ListErrorCodes.SIGNATURE_INVALID);

      const snap = (await readdir(out)).find((f) => f.startsWith('snapshot-'))!;
      const bytes = await readFile(join(out, snap));
      bytes[bytes.length - 3]! ^= 0xff;
      await writeFile(join(out, snap), bytes);
      const corrupt = await run('list', 'verify', out, '--key', pub);
      expect(corrupt.exitCode).toBe(EXIT_INVALID_LIST);
      expect(corrupt.err).toContain(ListErrorCodes.FILE_HASH_MISMATCH);
    } finally {
      await server.close();
    }
  });

  it('takes only the exact hashes of an image that cannot be decoded', async () => {
    await writeFile(join(dir.path, 'photo.jpg'), Buffer.from([0xff, 0xd8, 0xff]));
    const r = await run(
      'list',
      'build',
      join(dir.path, 'photo.jpg'),
      '--name',
      'x',
      '--out',
      join(dir.path, 'o'),
      '--key',
      `${keyPrefix}.key`,
    );
    expect(r.exitCode).toBe(0);
    expect(r.err).toContain('1 without a perceptual hash');
    expect(r.out).toContain('md5 1, sha1 1, sha256 1');
  });

  it('fails with --strict when an input entry is invalid', async () => {
    await writeFile(join(dir.path, 'bad.txt'), 'not-a-hash\n');
    const r = await run(
      'list',
      'build',
      join(dir.path, 'bad.txt'),
      '--type',
      'md5',
      '--strict',
      '--name',
      'x',
      '--out',
      join(dir.path, 'o'),
      '--key',
      `${keyPrefix}.key`,
    );
    expect(r.exitCode).toBe(1);
    expect(r.err).toContain('wrong-length 1');
  });

  it('serves a list directory', async () => {
    const out = join(dir.path, 'pub');
    await writeFile(join(dir.path, 'in.txt'), `${randomMd5()}\n`);
    await run(
      'list',
      'build',
      join(dir.path, 'in.txt'),
      '--type',
      'md5',
      '--name',
      'own',
      '--out',
      out,
      '--key',
      `${keyPrefix}.key`,
    );
    const r = await run('list', 'serve', out, '--port', '0');
    expect(r.exitCode).toBe(0);
    expect(servers).toHaveLength(1);
    const res = await fetch(`${servers[0]!.url}manifest.json`);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { name: string }).name).toBe('own');
  });

  it('documents exit codes in the help of each command', async () => {
    for (const cmd of [['keygen'], ['list', 'build'], ['list', 'verify'], ['list', 'serve']]) {
      const r = await run(...cmd, '--help');
      expect(r.out).toContain('Exit codes:');
    }
  });
});
