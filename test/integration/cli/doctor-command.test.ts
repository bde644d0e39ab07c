/**
 * `hashgate doctor` over real configurations: a list served by hashgate's list server, SQLite
 * stores on disk, JSON and JavaScript configuration files. Nothing it prints is a hash or a key.
 */

import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Command } from 'commander';
import {
  DOCTOR_EXIT,
  type DoctorOptions,
  diagnose,
  registerDoctorCommand,
  runDoctor,
} from '../../../src/cli/doctor-command';
import { createSqliteStore } from '../../../src/incidents/sqlite-store';
import { SnapshotBuilder } from '../../../src/lists/entries';
import { generateListKeyPair, parsePrivateKey } from '../../../src/lists/keys';
import { type ListServer, startListServer } from '../../../src/lists/list-server';
import { publishListVersion } from '../../../src/lists/publisher';

const ROOT = resolve(__dirname, '../../..');
const EVIDENCE_KEY = randomBytes(32).toString('base64');

async function doctor(
  options: DoctorOptions,
  env: NodeJS.ProcessEnv = { HASHGATE_EVIDENCE_KEY: EVIDENCE_KEY },
): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runDoctor(options, {
    stdout: (t) => {
      out += `${t}\n`;
    },
    stderr: (t) => {
      err += `${t}\n`;
    },
    env,
  });
  return { code, out, err };
}

describe('hashgate doctor', () => {
  let dir: string;
  let server: ListServer;
  let publicKeyPem: string;
  let listUrl: string;

  const writeJson = (name: string, value: unknown): string => {
    const path = join(dir, name);
    writeFileSync(path, JSON.stringify(value));
    return path;
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hashgate-doctor-'));
    const pair = generateListKeyPair();
    publicKeyPem = pair.publicKeyPem;
    const b = new SnapshotBuilder();
    b.addUntrusted({ id: 'a', type: 'md5', hash: randomBytes(16).toString('hex') });
    b.addUntrusted({ id: 'b', type: 'pdq', hash: randomBytes(32).toString('hex') });
    await publishListVersion({
      dir: join(dir, 'public', 'hotline'),
      name: 'hotline',
      entries: b.build('hotline', 0, ''),
      keys: [parsePrivateKey(pair.privateKeyPem)],
    });
    server = await startListServer({ root: join(dir, 'public') });
    listUrl = `${server.url}hotline/`;
    writeFileSync(join(dir, 'local.txt'), `md5 ${randomBytes(16).toString('hex')}\nnot a line\n`);
  });

  afterAll(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('passes a good configuration: list reachable and signed, folders writable, evidence key set, hashing works', async () => {
    const config = writeJson('good.json', {
      lists: [{ name: 'hotline', url: listUrl, publicKeys: [publicKeyPem] }],
      dataDir: join(dir, 'data-good'),
    });
    const r = await doctor({ config });
    expect(r.code).toBe(DOCTOR_EXIT.ok);
    expect(r.out).toContain('ok    list hotline: ');
    expect(r.out).toContain('reachable, signature valid (key ');
    expect(r.out).toContain('version 1');
    expect(r.out).toContain('ok    evidence key: key fp-');
    expect(r.out).toMatch(/ok {4}hashing: .*pdq/);
    expect(r.out).toContain('no problems found');
    expect(r.out).not.toMatch(/[0-9a-f]{32,}/i);
    expect(r.out).not.toContain(EVIDENCE_KEY);
  }, 30_000);

  it('fails for a wrong key, a wrong list name and an unreachable list, without printing URL credentials', async () => {
    const config = writeJson('bad-lists.json', {
      lists: [
        { name: 'hotline', url: listUrl, publicKeys: [generateListKeyPair().publicKeyPem] },
        { name: 'other-name', url: listUrl, publicKeys: [publicKeyPem] },
        { name: 'down', url: 'http://user:s3cret@127.0.0.1:1/list/?token=t0ken', publicKeys: [publicKeyPem] },
      ],
      dataDir: join(dir, 'data-bad'),
    });
    const r = await doctor({ config, hashing: false });
    expect(r.code).toBe(DOCTOR_EXIT.problems);
    expect(r.out).toContain('FAIL  list hotline: ');
    expect(r.out).toContain('ERR_HASHGATE_LIST_SIGNATURE_INVALID');
    expect(r.out).toContain('publishes list "hotline", not "other-name"');
    expect(r.out).toContain('FAIL  list down: http://127.0.0.1:1/list/: ERR_HASHGATE_LIST_FETCH_FAILED');
    expect(r.out).not.toContain('s3cret');
    expect(r.out).not.toContain('t0ken');
    expect(r.out).toContain('3 problems found');
  }, 30_000);

  it('fails when no evidence key is set, and warns when evidence is off', async () => {
    const config = writeJson('no-key.json', {
      lists: [{ name: 'local', file: join(dir, 'local.txt') }],
      dataDir: join(dir, 'data-nokey'),
    });
    const missing = await doctor({ config, hashing: false }, {});
    expect(missing.code).toBe(DOCTOR_EXIT.problems);
    expect(missing.out).toContain('FAIL  evidence key: no current evidence key: set HASHGATE_EVIDENCE_KEY');
    const malformed = await doctor({ config, hashing: false }, { HASHGATE_EVIDENCE_KEY: 'c2hvcnQ=' });
    expect(malformed.out).toContain('FAIL  evidence key: ERR_HASHGATE_EVIDENCE_KEY_INVALID');
    const off = writeJson('off.json', {
      lists: [{ name: 'local', file: join(dir, 'local.txt') }],
      dataDir: join(dir, 'data-off'),
      evidence: false,
    });
    const r = await doctor({ config: off, hashing: false }, {});
    expect(r.code).toBe(DOCTOR_EXIT.ok);
    expect(r.out).toContain('warn  evidence: evidence is off');
    // the local file has a line it drops: a warning, not a failure
    expect(r.out).toMatch(/warn {2}list local: file .* readable \(threatexchange\), 1 entries; dropped: /);
  });

  it('reports invalid options with the options message and stops there', async () => {
    const r = await doctor({ config: writeJson('invalid.json', { lists: [{ name: 'x' }], dataDir: dir }) });
    expect(r.code).toBe(DOCTOR_EXIT.problems);
    expect(r.out).toContain(
      'FAIL  options: ERR_HASHGATE_INVALID_OPTION: Expected exactly one of `url` or `file`',
    );
    expect(r.out).toContain('1 problem found');
  });

  it('opens an existing SQLite store, and appends one audit record with --write-test', async () => {
    const dataDir = join(dir, 'data-sqlite');
    const seed = await createSqliteStore({ path: join(dataDir, 'incidents.sqlite') });
    await seed.close();
    const config = writeJson('sqlite.json', {
      lists: [{ name: 'local', file: join(dir, 'local.txt') }],
      dataDir,
    });
    const r = await doctor({ config, hashing: false });
    expect(r.out).toMatch(
      /ok {4}store: SQLite .*incidents\.sqlite: open and writable, audit log at record 0/,
    );
    const w = await doctor({ config, hashing: false, writeTest: true });
    expect(w.out).toContain('a write succeeded');
    const store = await createSqliteStore({ path: join(dataDir, 'incidents.sqlite') });
    const audit = await store.readAudit();
    await store.close();
    expect(audit.map((a) => a.type)).toEqual(['doctor.write_test']);
  });

  it('fails when the data folder cannot be created', async () => {
    writeFileSync(join(dir, 'a-file'), 'x');
    const config = writeJson('unwritable.json', {
      lists: [{ name: 'local', file: join(dir, 'local.txt') }],
      dataDir: join(dir, 'a-file', 'data'),
    });
    const r = await doctor({ config, hashing: false });
    expect(r.code).toBe(DOCTOR_EXIT.problems);
    expect(r.out).toContain('FAIL  data folder: ');
    expect(r.out).toContain('cannot be created');
  });

  it('loads a CommonJS module exporting an async function that builds the options', async () => {
    const path = join(dir, 'hashgate.config.cjs');
    writeFileSync(
      path,
      `module.exports = async () => ({ lists: [{ name: 'hotline', url: ${JSON.stringify(listUrl)}, publicKeys: [${JSON.stringify(publicKeyPem)}] }], dataDir: ${JSON.stringify(join(dir, 'data-cjs'))}, evidence: false });\n`,
    );
    const r = await doctor({ config: path, hashing: false, json: true });
    expect(r.code).toBe(DOCTOR_EXIT.ok);
    const o = JSON.parse(r.out) as { ok: boolean; checks: { check: string; status: string }[] };
    expect(o.ok).toBe(true);
    expect(o.checks.map((c) => c.check)).toEqual([
      'options',
      'list hotline',
      'data folder',
      'store',
      'evidence',
    ]);
  });

  it('loads an ES module configuration (built CLI)', () => {
    const mjs = join(dir, 'hashgate.config.mjs');
    mkdirSync(join(dir, 'esm'), { recursive: true });
    writeFileSync(
      mjs,
      `export default { lists: [{ name: 'local', file: ${JSON.stringify(join(dir, 'local.txt'))} }], dataDir: ${JSON.stringify(join(dir, 'esm'))}, evidence: false };\n`,
    );
    const script = `
      const { Command } = require('commander');
      const { registerDoctorCommand } = require(${JSON.stringify(join(ROOT, 'dist/cli/doctor-command.js'))});
      const p = new Command('hashgate');
      registerDoctorCommand(p);
      p.parseAsync(['doctor', '--config', ${JSON.stringify(mjs)}, '--no-hashing'], { from: 'user' });`;
    const r = spawnSync(process.execPath, ['-e', script], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
    expect(r.stdout).toContain('ok    options: valid: 1 list(s)');
    expect(r.status).toBe(DOCTOR_EXIT.ok);
  });

  it('fails for a configuration file it cannot load, without quoting it', async () => {
    const broken = join(dir, 'broken.json');
    writeFileSync(broken, '{ "lists": [ "postgres://user:secret@db/x"');
    const r = await doctor({ config: broken });
    expect(r.code).toBe(DOCTOR_EXIT.problems);
    expect(r.err).toContain('is not valid JSON');
    expect(r.err).not.toContain('secret');
    expect((await doctor({ config: join(dir, 'missing.json') })).code).toBe(DOCTOR_EXIT.problems);
    expect((await doctor({ config: join(dir, 'local.txt') })).err).toContain(
      'Expected a .json, .js, .cjs or .mjs',
    );
  });

  it('diagnose() never throws, whatever it is given', async () => {
    for (const raw of [null, 42, 'x', { lists: 'no' }, { lists: [], dataDir: 7 }]) {
      const checks = await diagnose(raw, { hashing: false });
      expect(checks[0]).toMatchObject({ check: 'options', status: 'fail' });
    }
  });

  it('has complete help: every option described, each check explained, exit codes and examples', async () => {
    const program = new Command('hashgate').exitOverride();
    registerDoctorCommand(program);
    const cmd = program.commands.find((c) => c.name() === 'doctor')!;
    let help = '';
    cmd.configureOutput({ writeOut: (s) => (help += s), writeErr: (s) => (help += s) });
    await expect(program.parseAsync(['doctor', '--help'], { from: 'user' })).rejects.toMatchObject({
      exitCode: 0,
    });
    for (const o of cmd.options) expect(o.description.length).toBeGreaterThan(10);
    for (const s of [
      '--config <file>',
      '--write-test',
      '--no-hashing',
      '--timeout <ms>',
      '--json',
      'evidence key',
      'Exit codes:',
      'Examples:',
    ]) {
      expect(help).toContain(s);
    }
  });
});
