/**
 * `hashgate check` against a real published list: from its folder, over HTTP from hashgate's list
 * server, and from a local hash file. The output names the list but never a hash or an entry.
 */

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import sharp from 'sharp';
import {
  CHECK_EXIT,
  type CheckOptions,
  registerCheckCommand,
  runCheck,
} from '../../../src/cli/check-command';
import { createHasher } from '../../../src/hashing/hasher';
import { SnapshotBuilder } from '../../../src/lists/entries';
import { generateListKeyPair, parsePrivateKey } from '../../../src/lists/keys';
import { type ListServer, startListServer } from '../../../src/lists/list-server';
import { publishListVersion } from '../../../src/lists/publisher';
import { syntheticImage } from '../../helpers/images';

const HASH_LIKE = /[0-9a-f]{32,}/i;

interface Captured {
  code: number;
  out: string;
  err: string;
}

async function check(file: string, options: CheckOptions): Promise<Captured> {
  let out = '';
  let err = '';
  const code = await runCheck(file, options, {
    stdout: (t) => {
      out += `${t}\n`;
    },
    stderr: (t) => {
      err += `${t}\n`;
    },
  });
  return { code, out, err };
}

describe('hashgate check', () => {
  let dir: string;
  let listDir: string;
  let server: ListServer;
  let publicKeyPem: string;
  let publicKeyBase64: string;
  const files: Record<string, string> = {};

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hashgate-check-'));
    const known = await syntheticImage(640, 480, 'jpeg', 11);
    const images: Record<string, Buffer> = {
      known,
      unrelated: await syntheticImage(640, 480, 'jpeg', 37),
      rotated: await sharp(known).rotate(90).jpeg({ quality: 70 }).toBuffer(),
      text: Buffer.from('not an image\n'),
    };
    for (const [name, bytes] of Object.entries(images)) {
      files[name] = join(dir, `${name}.bin`);
      writeFileSync(files[name]!, bytes);
    }
    const hasher = createHasher({ workers: 0, pdq: { dihedral: false } });
    const outcome = await hasher.hash({ bytes: known });
    await hasher.close();
    const builder = new SnapshotBuilder();
    const lines: string[] = [];
    for (const h of outcome.hashes) {
      if (h.type !== 'md5' && h.type !== 'pdq') continue;
      builder.addUntrusted({ id: `case-17:${h.type}`, type: h.type, hash: h.hex, category: 'known' });
      lines.push(`${h.type} ${h.hex}`);
    }
    writeFileSync(join(dir, 'known.txt'), `${lines.join('\n')}\n`);
    const pair = generateListKeyPair();
    publicKeyPem = pair.publicKeyPem;
    publicKeyBase64 = pair.publicKeyBase64;
    writeFileSync(join(dir, 'list.pub'), pair.publicKeyPem);
    listDir = join(dir, 'public', 'own');
    await publishListVersion({
      dir: listDir,
      name: 'own',
      entries: builder.build('own', 0, ''),
      keys: [parsePrivateKey(pair.privateKeyPem)],
    });
    server = await startListServer({ root: join(dir, 'public') });
  });

  afterAll(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('exits 0 with "allow" for a file that is not on the list', async () => {
    const r = await check(files.unrelated!, { list: listDir, key: [join(dir, 'list.pub')] });
    expect(r.code).toBe(CHECK_EXIT.allow);
    expect(r.out).toMatch(/^allow: .* is not on list own version 1 \(2 entries checked\)\n$/);
  });

  it('exits 3 with the list name and version for a listed file, and prints neither hashes nor entry ids', async () => {
    const r = await check(files.known!, { list: listDir, key: [join(dir, 'list.pub')] });
    expect(r.code).toBe(CHECK_EXIT.match);
    expect(r.out).toContain('match: ');
    expect(r.out).toContain('is on list own version 1: md5 exact, pdq distance 0');
    expect(r.out + r.err).not.toMatch(HASH_LIKE);
    expect(r.out + r.err).not.toContain('case-17');
  });

  it('matches a rotated, re-encoded copy by PDQ and names the rotation', async () => {
    const r = await check(files.rotated!, { list: listDir, key: [publicKeyBase64] });
    expect(r.code).toBe(CHECK_EXIT.match);
    expect(r.out).toMatch(/pdq distance \d+ \(rot\d+\)/);
    expect(r.out).not.toContain('md5');
  });

  it('verifies a list URL against the publisher key', async () => {
    const r = await check(files.known!, { list: `${server.url}own/`, key: [join(dir, 'list.pub')] });
    expect(r.code).toBe(CHECK_EXIT.match);
    expect(r.out).toContain('list own version 1');
    const other = await check(files.unrelated!, {
      list: `${server.url}own/manifest.json`,
      key: [publicKeyPem],
    });
    expect(other.code).toBe(CHECK_EXIT.allow);
  });

  it('refuses a list URL without --key', async () => {
    const r = await check(files.known!, { list: `${server.url}own/` });
    expect(r.code).toBe(CHECK_EXIT.error);
    expect(r.err).toContain('ERR_HASHGATE_LIST_KEY_INVALID');
  });

  it('fails with exit 1 when the list is not signed by the given key', async () => {
    const stranger = generateListKeyPair().publicKeyBase64;
    for (const list of [listDir, `${server.url}own/`]) {
      const r = await check(files.known!, { list, key: [stranger] });
      expect(r.code).toBe(CHECK_EXIT.error);
      expect(r.err).toContain('ERR_HASHGATE_LIST_SIGNATURE_INVALID');
      expect(r.out).toBe('');
    }
  });

  it('reads a list folder without a key, saying that the signature was not checked', async () => {
    const r = await check(files.known!, { list: listDir });
    expect(r.code).toBe(CHECK_EXIT.match);
    expect(r.err).toContain('the signature was not checked');
  });

  it('checks against a local hash file in the python-threatexchange format', async () => {
    const r = await check(files.rotated!, { list: join(dir, 'known.txt') });
    expect(r.code).toBe(CHECK_EXIT.match);
    expect(r.out).toContain('is on the list file: pdq distance');
  });

  it('honours --threshold and --category', async () => {
    const strict = await check(files.rotated!, { list: listDir, threshold: ['pdq=0'] });
    expect(strict.code).toBe(CHECK_EXIT.allow);
    const other = await check(files.known!, { list: listDir, category: ['something-else'] });
    expect(other.code).toBe(CHECK_EXIT.allow);
    const bad = await check(files.known!, { list: listDir, threshold: ['md5=3'] });
    expect(bad.code).toBe(CHECK_EXIT.error);
  });

  it('still checks the exact hashes of a file that is not an image, and says why there is no perceptual hash', async () => {
    const r = await check(files.text!, { list: listDir, key: [publicKeyPem] });
    expect(r.code).toBe(CHECK_EXIT.allow);
    expect(r.err).toContain('no pdq hash: not-an-image');
  });

  it('prints one JSON object with --json', async () => {
    const r = await check(files.known!, { list: listDir, key: [publicKeyPem], json: true });
    expect(r.code).toBe(CHECK_EXIT.match);
    const o = JSON.parse(r.out) as Record<string, unknown>;
    expect(o).toMatchObject({
      result: 'match',
      list: { name: 'own', version: 1, entries: 2 },
      matches: [
        { type: 'md5', distance: 0, category: 'known' },
        { type: 'pdq', distance: 0, variant: 'orig', category: 'known' },
      ],
    });
    expect(r.out).not.toMatch(HASH_LIKE);
  });

  it('exits 1 for a missing file or list', async () => {
    expect((await check(join(dir, 'missing.jpg'), { list: listDir })).code).toBe(CHECK_EXIT.error);
    expect((await check(files.known!, { list: join(dir, 'no-such-list') })).code).toBe(CHECK_EXIT.error);
  });

  it('has complete help: every option described, exit codes and examples', async () => {
    const program = new Command('hashgate').exitOverride();
    registerCheckCommand(program);
    const cmd = program.commands.find((c) => c.name() === 'check')!;
    let help = '';
    cmd.configureOutput({ writeOut: (s) => (help += s), writeErr: (s) => (help += s) });
    await expect(program.parseAsync(['check', '--help'], { from: 'user' })).rejects.toMatchObject({
      exitCode: 0,
    });
    for (const o of cmd.options) expect(o.description.length).toBeGreaterThan(10);
    for (const s of [
      '--list <list>',
      '--key <key>',
      '--threshold',
      '--category',
      '--format',
      '--type',
      '--allow-insecure-http',
      '--json',
      'Exit codes:',
      '3  match',
      'Examples:',
    ]) {
      expect(help).toContain(s);
    }
  });
});
