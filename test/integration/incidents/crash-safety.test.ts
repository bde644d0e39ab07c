import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { createEvidenceKeyRing } from '../../../src/evidence/keys';
import { createEvidenceVault } from '../../../src/evidence/vault';
import { createPostgresStore } from '../../../src/incidents/postgres-store';
import { createSqliteStore } from '../../../src/incidents/sqlite-store';
import type { IncidentStore } from '../../../src/incidents/store';
import { describePostgres, dropSchemas, freshSchema, PG_CONFIG } from './postgres';

const ROOT = resolve(__dirname, '../../..');
const WRITER = join(ROOT, 'test/fixtures/incidents/crash-writer.js');
const KEY = randomBytes(32).toString('base64');

/** Compiles src/ to plain CommonJS without type checking, so the child runs current code without ts-jest. */
function transpileSources(outDir: string): string {
  const src = join(ROOT, 'src');
  const walk = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
      d.isDirectory() ? walk(join(dir, d.name)) : d.name.endsWith('.ts') ? [join(dir, d.name)] : [],
    );
  for (const file of walk(src)) {
    const { outputText } = ts.transpileModule(readFileSync(file, 'utf8'), {
      compilerOptions: {
        module: ts.ModuleKind.CommonJS,
        target: ts.ScriptTarget.ES2022,
        esModuleInterop: true,
      },
      fileName: file,
    });
    const out = join(outDir, relative(src, file)).replace(/\.ts$/, '.js');
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, outputText);
  }
  return outDir;
}

interface Acks {
  created: string[];
  confirmed: string[];
}

/** Runs the writer until it has acknowledged a random number of writes, then kills it with SIGKILL at a random moment. */
function runAndKill(
  lib: string,
  kind: string,
  target: string,
  evidenceDir: string,
  acks: Acks,
): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const child: ChildProcess = spawn(process.execPath, [WRITER, lib, kind, target, evidenceDir], {
      env: {
        ...process.env,
        NODE_PATH: join(ROOT, 'node_modules'),
        HASHGATE_EVIDENCE_KEY: KEY,
        HASHGATE_EVIDENCE_KEY_ID: 'crash-key',
        CRASH_PG: JSON.stringify(PG_CONFIG),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const killAfter = randomInt(1, 12);
    let seen = 0;
    let buffer = '';
    let stderr = '';
    let killed = false;
    child.stderr!.on('data', (c) => {
      stderr += String(c);
    });
    child.stdout!.on('data', (c) => {
      buffer += String(c);
      let nl = buffer.indexOf('\n');
      while (nl >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        nl = buffer.indexOf('\n');
        const [what, id] = line.split(' ');
        if (what === 'ack') acks.created.push(id!);
        if (what === 'confirmed') acks.confirmed.push(id!);
        if (what === 'ack' && ++seen === killAfter && !killed) {
          killed = true;
          // kill at a random point of the next write: right away or a few milliseconds in
          setTimeout(() => child.kill('SIGKILL'), randomInt(0, 8));
        }
      }
    });
    child.on('exit', (code, signal) => {
      if (signal === 'SIGKILL') resolvePromise();
      else reject(new Error(`the writer exited with ${code}: ${stderr}`));
    });
  });
}

async function checkAfterCrashes(store: IncidentStore, evidenceDir: string, acks: Acks): Promise<void> {
  const vault = createEvidenceVault({
    dir: evidenceDir,
    keys: createEvidenceKeyRing({ current: { id: 'crash-key', key: KEY } }),
  });
  expect(acks.created.length).toBeGreaterThan(0);
  for (const id of acks.created) {
    const incident = await store.getIncident(id);
    expect(incident).toBeDefined();
    const events = await store.listOutbox({ incidentId: id });
    expect(events.map((e) => e.type)).toContain('incident.created');
    expect((await vault.read(id)).bytes).toHaveLength(incident!.file.size);
  }
  for (const id of acks.confirmed) {
    expect((await store.getIncident(id))!.state).toBe('confirmed');
    expect(await store.listOutbox({ incidentId: id })).toHaveLength(2);
  }
  // nothing half-written: every stored incident (acknowledged or not) is whole
  const all = await store.listIncidents({ limit: 100_000 });
  expect(all.length).toBeGreaterThanOrEqual(acks.created.length);
  for (const incident of all) {
    expect(incident.matches).toHaveLength(1);
    expect(incident.hashes).toHaveLength(1);
    expect(incident.evidence).not.toBeNull();
    const events = await store.listOutbox({ incidentId: incident.id });
    expect(events).toHaveLength(incident.history.length);
  }
  const audit = await store.readAudit({ limit: 100_000 });
  expect(audit.filter((r) => r.type === 'incident.created')).toHaveLength(all.length);
  expect(audit.filter((r) => r.type === 'incident.state_changed')).toHaveLength(
    all.filter((i) => i.state === 'confirmed').length,
  );
  expect(await store.verifyAuditChain()).toMatchObject({ ok: true });
}

describe('crash safety', () => {
  let work: string;
  let lib: string;
  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'hashgate-crash-'));
    lib = transpileSources(join(work, 'lib'));
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('SQLite: every acknowledged incident survives SIGKILL with its outbox event, and nothing is half-written', async () => {
    const db = join(work, 'sqlite', 'incidents.db');
    const evidenceDir = join(work, 'sqlite', 'evidence');
    const acks: Acks = { created: [], confirmed: [] };
    for (let round = 0; round < 6; round++) await runAndKill(lib, 'sqlite', db, evidenceDir, acks);
    const store = await createSqliteStore({ path: db });
    try {
      await checkAfterCrashes(store, evidenceDir, acks);
    } finally {
      await store.close();
    }
  });

  describePostgres('PostgreSQL', (pool) => {
    const schema = freshSchema();

    it('every acknowledged incident survives SIGKILL with its outbox event, and nothing is half-written', async () => {
      const evidenceDir = join(work, 'pg', 'evidence');
      const acks: Acks = { created: [], confirmed: [] };
      for (let round = 0; round < 4; round++) await runAndKill(lib, 'postgres', schema, evidenceDir, acks);
      const store = await createPostgresStore({ pool: pool(), schema });
      try {
        await checkAfterCrashes(store, evidenceDir, acks);
      } finally {
        await store.close();
        await dropSchemas(pool(), [schema]);
      }
    });
  });
});
