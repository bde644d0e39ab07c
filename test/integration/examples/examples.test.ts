/**
 * The examples are part of the published surface: they type-check against the built package and
 * each one starts, answers and stops. PostgreSQL (127.0.0.1:5432, trust, database `test`) backs the
 * multi-instance example; without it that test says why and passes, except in CI.
 */

import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { Pool } from 'pg';
import { createSqliteStore } from '../../../src/incidents/sqlite-store';
import { freshSchema, PG_CONFIG, probePostgres } from '../incidents/postgres';

const ROOT = resolve(__dirname, '../../..');
const EXAMPLES = join(ROOT, 'examples');
const ON_LIST = join(EXAMPLES, 'demo/images/on-list');
const NOT_ON_LIST = join(EXAMPLES, 'demo/images/not-on-list');
const LISTENING = /listening on (http:\/\/\S+?)\/?(?:\s|$)/;
/** Hex runs as long as an MD5 or longer: no example may print a hash of an upload or a list. */
const HASH_LIKE = /\b[0-9a-f]{32,}\b/i;

interface Running {
  /** Base URL from the "listening on" line, or null when the example exited 0 without listening. */
  readonly url: string | null;
  output(): string;
  stop(): Promise<void>;
}

const running = new Set<Running>();

/** Environment for an example: this process's, minus hashgate settings that would change its behaviour. */
function exampleEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: '0', ...extra };
  for (const k of Object.keys(env)) {
    if (k.startsWith('HASHGATE_') && !(k in extra)) delete env[k];
  }
  return env;
}

function waitForExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((ok) => {
    const t = setTimeout(() => ok(false), ms);
    child.once('exit', () => {
      clearTimeout(t);
      ok(true);
    });
  });
}

/**
 * Starts `node <script>` and resolves when it prints a "listening on <url>" line (or exits 0
 * without one). Rejects with the example's output when it fails or takes longer than `timeoutMs`.
 */
function startExample(
  script: string,
  options: { cwd: string; env?: Record<string, string>; timeoutMs?: number },
): Promise<Running> {
  const child = spawn(process.execPath, [join(EXAMPLES, script)], {
    cwd: options.cwd,
    env: exampleEnv(options.env ?? {}),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString('utf8');
  });
  child.stderr?.on('data', (d: Buffer) => {
    out += d.toString('utf8');
  });
  const handle = (url: string | null): Running => {
    const r: Running = {
      url,
      output: () => out,
      async stop() {
        running.delete(r);
        child.kill('SIGTERM');
        if (!(await waitForExit(child, 10_000))) {
          child.kill('SIGKILL');
          await waitForExit(child, 5_000);
        }
      },
    };
    running.add(r);
    return r;
  };
  return new Promise((ok, fail) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      fail(
        new Error(
          `${script} printed no "listening on" line within ${options.timeoutMs ?? 60_000} ms:\n${out}`,
        ),
      );
    }, options.timeoutMs ?? 60_000);
    const onData = (): void => {
      const m = LISTENING.exec(out);
      if (!m) return;
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      ok(handle(m[1]!));
    };
    child.stdout?.on('data', onData);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (LISTENING.test(out)) return;
      if (code === 0) ok(handle(null));
      else fail(new Error(`${script} exited (${signal ?? code}) before listening:\n${out}`));
    });
  });
}

/** POSTs files as multipart form data; resolves with the status and the body. */
async function upload(
  url: string,
  field: string,
  paths: readonly string[],
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  const form = new FormData();
  for (const p of paths) form.append(field, new Blob([readFileSync(p)]), basename(p));
  const res = await fetch(url, { method: 'POST', body: form, headers });
  return { status: res.status, body: await res.text() };
}

let work: string;
beforeAll(() => {
  if (!existsSync(join(ROOT, 'dist/index.js'))) {
    throw new Error('The examples import the built package: run `npm run build` first (`npm test` does)');
  }
  work = mkdtempSync(join(tmpdir(), 'hashgate-examples-'));
});
afterEach(async () => {
  await Promise.all([...running].map((r) => r.stop()));
});
afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

/** A fresh working folder for one example (its ./var goes there). */
function cwdFor(name: string): string {
  const dir = join(work, name);
  rmSync(dir, { recursive: true, force: true });
  return mkdtempSync(`${dir}-`);
}

describe('examples', () => {
  it('type-check against the built package', () => {
    const tsc = require.resolve('typescript/bin/tsc');
    const r = spawnSync(process.execPath, [tsc, '-p', join(EXAMPLES, 'tsconfig.json')], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(`${r.stdout}${r.stderr}`).toBe('');
    expect(r.status).toBe(0);
  }, 150_000);

  it('demo: builds and serves its signed list, blocks listed pictures and altered copies, accepts others', async () => {
    const cwd = cwdFor('demo');
    const demoDir = join(cwd, 'var-demo');
    const app = await startExample('demo/server.mjs', {
      cwd,
      env: { HASHGATE_DEMO_DIR: demoDir },
      timeoutMs: 90_000,
    });
    const base = app.url!;
    const out = app.output();
    expect(out).toContain('on the demo list (blocked, 451)');
    expect(out).toContain('not on the list (accepted)');
    expect(out).not.toMatch(HASH_LIKE);
    const password = /console password for admin \(shown once, new at every start\): (\S+)/.exec(out)?.[1];
    expect(password).toBeDefined();

    // keys made at first start are readable by their owner only
    for (const k of ['evidence.key', 'list-signing.key'])
      expect(statSync(join(demoDir, 'keys', k)).mode & 0o777).toBe(0o600);

    const page = await fetch(`${base}/`);
    const html = await page.text();
    expect(page.status).toBe(200);
    expect(html).toContain('multiple');
    expect(html).not.toContain('<script');
    expect(page.headers.get('content-security-policy')).toContain("default-src 'none'");

    const tryDir = join(demoDir, 'try');
    const altered = readdirSync(tryDir).map((n) => join(tryDir, n));
    expect(altered.map((p) => basename(p)).sort()).toEqual([
      'lighthouse-reencoded.jpg',
      'lighthouse-resized.jpg',
      'lighthouse-rotated.png',
    ]);
    for (const file of [join(ON_LIST, 'balloons.jpg'), ...altered]) {
      const r = await upload(`${base}/upload`, 'files', [file]);
      expect({ file: basename(file), status: r.status }).toEqual({ file: basename(file), status: 451 });
    }
    const several = readdirSync(NOT_ON_LIST).map((n) => join(NOT_ON_LIST, n));
    const accepted = await upload(`${base}/upload`, 'files', several);
    expect(accepted.status).toBe(200);
    // one listed picture among accepted ones refuses the whole upload, with a page for browsers
    const mixed = await upload(`${base}/upload`, 'files', [...several, join(ON_LIST, 'mountains.jpg')], {
      accept: 'text/html',
    });
    expect(mixed.status).toBe(451);
    expect(mixed.body).toContain('This upload cannot be accepted.');
    expect(mixed.body).not.toContain('mountains');

    const ready = await fetch(`${base}/ready`);
    expect(ready.status).toBe(200);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toContain('hashgate_files_scanned_total{outcome="block"} 5');
    expect(metrics).toContain('hashgate_list_version{list="demo"} 1');
    // the printed password signs in to the review console, which lists the incidents
    const form = await fetch(`${base}/console/login`);
    const token = /name="_login" value="([^"]+)"/.exec(await form.text())?.[1];
    const loginCookie = (form.headers.get('set-cookie') ?? '').split(';')[0]!;
    const signIn = await fetch(`${base}/console/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: loginCookie },
      body: new URLSearchParams({ user: 'admin', password: password!, _login: token! }).toString(),
    });
    expect(signIn.status).toBe(303);
    const session = (signIn.headers.get('set-cookie') ?? '').split(';')[0]!;
    const incidents = await (
      await fetch(`${base}/console/incidents`, { headers: { cookie: session } })
    ).text();
    expect(incidents.match(/inc_[0-9a-z]{24}/g)?.length).toBeGreaterThanOrEqual(1);
    // every blocked picture is kept as encrypted evidence
    const evidence = join(demoDir, 'hashgate', 'evidence');
    const kept = readdirSync(evidence, { recursive: true }).filter((n) => String(n).endsWith('.hgev'));
    expect(kept).toHaveLength(5);
    await app.stop();

    // a second start reuses the keys and the published list
    const again = await startExample('demo/server.mjs', { cwd, env: { HASHGATE_DEMO_DIR: demoDir } });
    expect(again.output()).not.toContain('just published');
    expect(again.output()).not.toContain('first start');
    expect((await upload(`${again.url}/upload`, 'files', [join(ON_LIST, 'city-night.jpg')])).status).toBe(
      451,
    );
  }, 180_000);

  it('minimal-memory: refuses a listed picture and accepts another', async () => {
    const app = await startExample('minimal-memory/server.mjs', { cwd: cwdFor('minimal') });
    expect((await upload(`${app.url}/upload`, 'file', [join(ON_LIST, 'lighthouse.jpg')])).status).toBe(451);
    const ok = await upload(`${app.url}/upload`, 'file', [join(NOT_ON_LIST, 'forest.jpg')]);
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body)).toEqual({ accepted: 'forest.jpg', outcome: 'allow' });
  }, 90_000);

  it('disk-storage: stores accepted uploads and never writes a refused request to the uploads folder', async () => {
    const cwd = cwdFor('disk');
    const uploads = join(cwd, 'var/uploads');
    const app = await startExample('disk-storage/server.mjs', {
      cwd,
      env: { HASHGATE_EVIDENCE_KEY: randomBytes(32).toString('base64') },
    });
    const refused = await upload(
      `${app.url}/photos`,
      'photos',
      [join(NOT_ON_LIST, 'forest.jpg'), join(ON_LIST, 'mountains.jpg')],
      { 'x-user-id': 'user-42' },
    );
    expect(refused.status).toBe(451);
    expect(readdirSync(uploads)).toEqual([]);
    // the incident names the uploader the route's options gave, and the file is kept as evidence
    const store = await createSqliteStore({ path: join(cwd, 'var/hashgate/incidents.sqlite') });
    const [incident] = await store.listIncidents();
    await store.close();
    expect(incident?.uploader.userId).toBe('user-42');
    expect(incident?.evidence).not.toBeNull();
    const stored = await upload(`${app.url}/photos`, 'photos', [
      join(NOT_ON_LIST, 'forest.jpg'),
      join(NOT_ON_LIST, 'desert.jpg'),
    ]);
    expect(stored.status).toBe(201);
    expect(readdirSync(uploads)).toHaveLength(2);
    expect(app.output()).not.toContain('no evidence key');
  }, 90_000);

  it('custom-store: the wrapped store records the incident and announces it', async () => {
    const app = await startExample('custom-store/server.mjs', { cwd: cwdFor('custom') });
    expect(app.output()).toContain('store: sqlite+hook');
    const r = await upload(`${app.url}/upload`, 'file', [join(ON_LIST, 'mountains.jpg')]);
    expect(r.status).toBe(451);
    const reference = (JSON.parse(r.body) as { error: { reference: string } }).error.reference;
    expect(app.output()).toContain(`new incident ${reference}: action block`);
  }, 90_000);

  it('publish-your-own-list: publishes, verifies, serves and syncs a signed list', async () => {
    const cwd = cwdFor('publish');
    const app = await startExample('publish-your-own-list/publish.mjs', { cwd, env: { LIST_PORT: '0' } });
    const out = app.output();
    expect(out).toContain('published my-list version 1: 12 entries from 4 pictures');
    expect(out).toContain('a hashgate client synced my-list version 1 (12 entries)');
    expect(out).not.toMatch(HASH_LIKE);
    const manifest = await fetch(`${app.url}/my-list/manifest.json`);
    expect(manifest.status).toBe(200);
    expect(statSync(join(cwd, 'var/my-list/keys/my-list.key')).mode & 0o777).toBe(0o600);
  }, 90_000);

  const pg = probePostgres();
  if (pg.ok) {
    it('postgres-multi-instance: two instances share one PostgreSQL store', async () => {
      const schema = freshSchema();
      const databaseUrl = `postgres://${PG_CONFIG.user}@${PG_CONFIG.host}:${PG_CONFIG.port}/${PG_CONFIG.database}`;
      const cwd = cwdFor('postgres');
      const env = {
        DATABASE_URL: databaseUrl,
        HASHGATE_DB_SCHEMA: schema,
        HASHGATE_EVIDENCE_KEY: randomBytes(32).toString('base64'),
      };
      const pool = new Pool(PG_CONFIG);
      try {
        // both start at once: the schema is created by one and found by the other
        const [a, b] = await Promise.all([
          startExample('postgres-multi-instance/server.mjs', { cwd, env: { ...env, INSTANCE: 'a' } }),
          startExample('postgres-multi-instance/server.mjs', { cwd, env: { ...env, INSTANCE: 'b' } }),
        ]);
        expect((await upload(`${a!.url}/upload`, 'file', [join(ON_LIST, 'lighthouse.jpg')])).status).toBe(
          451,
        );
        expect((await upload(`${b!.url}/upload`, 'file', [join(ON_LIST, 'mountains.jpg')])).status).toBe(451);
        const ok = await upload(`${b!.url}/upload`, 'file', [join(NOT_ON_LIST, 'desert.jpg')]);
        expect(JSON.parse(ok.body)).toEqual({ instance: 'b', outcome: 'allow' });
        const rows = await pool.query(`SELECT count(*)::int AS n FROM "${schema}".incidents`);
        expect(rows.rows[0]).toEqual({ n: 2 });
        // both instances wrote evidence into the one shared folder
        const evidence = join(cwd, 'var/shared-evidence');
        expect(
          readdirSync(evidence, { recursive: true }).filter((n) => String(n).endsWith('.hgev')),
        ).toHaveLength(2);
      } finally {
        await Promise.all([...running].map((r) => r.stop()));
        await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        await pool.end();
      }
    }, 120_000);
  } else if (process.env.CI === 'true') {
    it('postgres-multi-instance needs PostgreSQL in CI', () => {
      throw new Error(`${pg.reason}; CI must run the PostgreSQL example`);
    });
  } else {
    it('postgres-multi-instance did not run: PostgreSQL is not reachable', () => {
      console.warn(
        `postgres-multi-instance example: not run. ${pg.reason}. Start PostgreSQL on 127.0.0.1:5432 to run it.`,
      );
    });
  }
});
