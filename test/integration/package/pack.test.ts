/**
 * The published package as a user gets it: `npm pack`, installed into a fresh project, works from
 * CommonJS, from ES modules and from TypeScript, and its `hashgate` command runs. Installing takes
 * a while; the npm cache makes it work offline on a machine that ran `npm ci`.
 */

import { execFileSync, spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '../../..');
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const NPX = process.platform === 'win32' ? 'npx.cmd' : 'npx';
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { name: string; version: string };
const versionOf = (name: string): string =>
  (JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string })
    .version;

/** npm's environment without the variables `npm test` sets for this package (they would describe it, not the consumer). */
function npmEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const k of Object.keys(env))
    if (k.startsWith('npm_package_') || k.startsWith('npm_lifecycle_')) delete env[k];
  return env;
}

function run(cmd: string, args: readonly string[], cwd: string): { status: number | null; out: string } {
  const r = spawnSync(cmd, args, { cwd, env: npmEnv(), encoding: 'utf8', timeout: 240_000 });
  return { status: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}` };
}

let work: string;
let consumer: string;
let packedFiles: string[];

beforeAll(() => {
  if (!existsSync(join(ROOT, 'dist/index.js'))) {
    throw new Error('npm pack packs dist/: run `npm run build` first (`npm test` does)');
  }
  work = mkdtempSync(join(tmpdir(), 'hashgate-pack-'));
  const packed = JSON.parse(
    execFileSync(NPM, ['pack', '--json', '--pack-destination', work], {
      cwd: ROOT,
      env: npmEnv(),
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  ) as { filename: string; files: { path: string }[] }[];
  const tarball = join(work, packed[0]!.filename);
  packedFiles = packed[0]!.files.map((f) => f.path);

  consumer = join(work, 'consumer');
  mkdirSync(consumer);
  writeFileSync(
    join(consumer, 'package.json'),
    JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }),
  );
  // Types a TypeScript user of the middleware has; the versions this repository uses are in the npm cache.
  const install = run(
    NPM,
    [
      'install',
      '--no-audit',
      '--no-fund',
      '--prefer-offline',
      '--ignore-scripts',
      tarball,
      `@types/node@${versionOf('@types/node')}`,
      `@types/express@${versionOf('@types/express')}`,
    ],
    consumer,
  );
  if (install.status !== 0) throw new Error(`npm install of the tarball failed:\n${install.out}`);

  // Install scripts were skipped (they would compile better-sqlite3 for a minute). Its binding is
  // the one this repository built when the versions agree; otherwise it is built here.
  const binding = 'node_modules/better-sqlite3/build/Release/better_sqlite3.node';
  const theirs = JSON.parse(
    readFileSync(join(consumer, 'node_modules/better-sqlite3/package.json'), 'utf8'),
  ) as {
    version: string;
  };
  if (theirs.version === versionOf('better-sqlite3') && existsSync(join(ROOT, binding))) {
    mkdirSync(join(consumer, 'node_modules/better-sqlite3/build/Release'), { recursive: true });
    copyFileSync(join(ROOT, binding), join(consumer, binding));
  } else {
    const rebuild = run(NPM, ['rebuild', 'better-sqlite3'], consumer);
    if (rebuild.status !== 0) throw new Error(`building better-sqlite3 failed:\n${rebuild.out}`);
  }
}, 300_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

function node(file: string, source: string): { status: number | null; out: string } {
  writeFileSync(join(consumer, file), source);
  return run(process.execPath, [file], consumer);
}

describe('the npm package', () => {
  it('holds the built code with its declarations and worker scripts, the docs and the licence, and no sources or tests', () => {
    for (const f of [
      'package.json',
      'README.md',
      'LICENSE',
      'dist/index.js',
      'dist/index.d.ts',
      'dist/cli/main.js',
      'dist/hashing/hash-worker.js',
      'dist/matching/index-build-worker.js',
      'docs/list-protocol.md',
    ]) {
      expect(packedFiles).toContain(f);
    }
    const outside = packedFiles.filter(
      (f) =>
        !/^(dist|docs)\//.test(f) && !['package.json', 'README.md', 'CHANGELOG.md', 'LICENSE'].includes(f),
    );
    expect(outside).toEqual([]);
    expect(packedFiles.some((f) => f.endsWith('.test.js') || f.startsWith('dist/test/'))).toBe(false);
  });

  it('works from CommonJS: require, scan with the worker threads and the SQLite store, block a listed file', () => {
    const r = node(
      'cjs.cjs',
      `
const { createHash } = require('node:crypto');
const { writeFileSync } = require('node:fs');
const { resolve } = require('node:path');
const { createHashgate, isHashgateError, silentLogger } = require('hashgate');
const sharp = require('sharp');

const known = Buffer.from('a benign stand-in for known content');
writeFileSync('list.txt', 'md5 ' + createHash('md5').update(known).digest('hex') + '\\n');
(async () => {
  const image = await sharp({ create: { width: 64, height: 48, channels: 3, noise: { type: 'gaussian', mean: 128, sigma: 40 } } })
    .composite([{ input: Buffer.from('<svg width="64" height="48"><circle cx="20" cy="20" r="14" fill="#fff"/><rect x="36" y="0" width="28" height="48" fill="#249"/></svg>') }])
    .png().toBuffer();
  const gate = createHashgate({
    lists: [{ name: 'known', file: resolve('list.txt') }],
    dataDir: resolve('var-cjs'),
    evidence: false,
    logger: silentLogger,
    hashing: { workers: 1 },
  });
  await gate.ready();
  const blocked = await gate.scan([{ bytes: known }]);
  const allowed = await gate.scan([{ bytes: image }]);
  const store = await gate.store();
  let deep = 'reachable';
  try { require('hashgate/dist/hashgate'); } catch (e) { deep = e.code; }
  console.log(JSON.stringify({
    blocked: blocked.outcome,
    allowed: allowed.outcome,
    types: allowed.files[0].hashes.map((h) => h.type),
    store: store.kind,
    incidents: (await store.listIncidents()).length,
    guard: isHashgateError(new Error('x')),
    deep,
    version: require('hashgate/package.json').version,
  }));
  await gate.close();
})().catch((e) => { console.error(e); process.exit(1); });
`,
    );
    expect(r.status).toBe(0);
    expect(JSON.parse(r.out.trim().split('\n').pop()!)).toEqual({
      blocked: 'block',
      allowed: 'allow',
      types: ['md5', 'sha1', 'sha256', 'pdq', 'blockhash'],
      store: 'sqlite',
      incidents: 1,
      guard: false,
      deep: 'ERR_PACKAGE_PATH_NOT_EXPORTED',
      version: pkg.version,
    });
  }, 60_000);

  it('works from ES modules: named imports, the same exports as CommonJS', () => {
    const r = node(
      'esm.mjs',
      `
import { createRequire } from 'node:module';
import * as hashgate from 'hashgate';
import { createHashgate, ErrorCodes, publishListVersion } from 'hashgate';

const required = createRequire(import.meta.url)('hashgate');
const esmNames = Object.keys(hashgate).filter((k) => k !== 'default').sort();
const cjsNames = Object.keys(required).filter((k) => k !== '__esModule').sort();
const missing = cjsNames.filter((k) => !esmNames.includes(k));
let message = '';
try { createHashgate({ lists: 'none' }); } catch (e) { message = e.code; }
console.log(JSON.stringify({
  createHashgate: typeof createHashgate,
  publishListVersion: typeof publishListVersion,
  code: ErrorCodes.UPLOAD_BLOCKED,
  missing,
  count: esmNames.length,
  message,
}));
`,
    );
    expect(r.status).toBe(0);
    const o = JSON.parse(r.out.trim()) as Record<string, unknown>;
    expect(o).toMatchObject({
      createHashgate: 'function',
      publishListVersion: 'function',
      code: 'ERR_HASHGATE_UPLOAD_BLOCKED',
      missing: [],
      message: 'ERR_HASHGATE_INVALID_OPTION',
    });
    expect(o.count as number).toBeGreaterThan(50);
  }, 60_000);

  it('works from TypeScript: the types resolve, for CommonJS and for Node ES module resolution', () => {
    writeFileSync(
      join(consumer, 'app.ts'),
      `
import type { RequestHandler } from 'express';
import { createHashgate, type Hashgate, type HashgateOptions, isHashgateError, type ScanResult } from 'hashgate';

const options: HashgateOptions = { lists: [{ name: 'known', file: 'list.txt', action: 'review' }], whenUnavailable: 'reject' };
const gate: Hashgate = createHashgate(options);
const middleware: RequestHandler = gate.middleware({ route: 'POST /upload' });
const entries: number = gate.status().index.entries;
async function scan(bytes: Uint8Array): Promise<ScanResult['outcome']> {
  return (await gate.scan([{ bytes }])).outcome;
}
// @ts-expect-error an unknown option is a type error
createHashgate({ lists: [], nope: true });
// @ts-expect-error the middleware is not a number
const wrong: number = gate.middleware();
export { entries, isHashgateError, middleware, scan, wrong };
`,
    );
    const tsc = require.resolve('typescript/bin/tsc');
    for (const [module, moduleResolution] of [
      ['commonjs', 'node10'],
      ['nodenext', 'nodenext'],
    ] as const) {
      const config = join(consumer, `tsconfig.${module}.json`);
      writeFileSync(
        config,
        JSON.stringify({
          compilerOptions: {
            strict: true,
            target: 'ES2022',
            module,
            moduleResolution,
            types: ['node'],
            noEmit: true,
            skipLibCheck: true,
          },
          files: ['app.ts'],
        }),
      );
      const r = run(process.execPath, [tsc, '-p', config], consumer);
      expect({ module, out: r.out }).toEqual({ module, out: '' });
      expect(r.status).toBe(0);
    }
  }, 120_000);

  it('installs the hashgate command: npx hashgate --help and --version', () => {
    const help = run(NPX, ['--no-install', 'hashgate', '--help'], consumer);
    expect(help.status).toBe(0);
    expect(help.out).toContain('Usage: hashgate');
    for (const c of ['hash', 'keygen', 'list', 'audit', 'evidence']) expect(help.out).toContain(c);
    const version = run(NPX, ['--no-install', 'hashgate', '--version'], consumer);
    expect(version.out.trim()).toBe(pkg.version);
  }, 60_000);
});
