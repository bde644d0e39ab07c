import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import Database from 'better-sqlite3';
import { Command } from 'commander';
import { registerIncidentCommands } from '../../../src/cli/incident-commands';
import { createEvidenceKeyRing } from '../../../src/evidence/keys';
import { createEvidenceVault } from '../../../src/evidence/vault';
import { newIncidentId } from '../../../src/incidents/ids';
import { createSqliteStore } from '../../../src/incidents/sqlite-store';
import { sampleIncident } from './helpers';

const KEY = randomBytes(32).toString('base64');

async function run(
  env: NodeJS.ProcessEnv,
  ...args: string[]
): Promise<{ out: string; error?: { code?: string; message: string } }> {
  const stdout = new PassThrough();
  let out = '';
  stdout.on('data', (c) => {
    out += String(c);
  });
  const program = new Command('hashgate').exitOverride();
  registerIncidentCommands(program, { stdout, env });
  try {
    await program.parseAsync(['node', 'hashgate', ...args]);
    return { out };
  } catch (err) {
    return { out, error: err as { code?: string; message: string } };
  }
}

describe('hashgate audit verify and evidence export', () => {
  let dir: string;
  let db: string;
  let evidenceDir: string;
  let incidentId: string;
  let env: NodeJS.ProcessEnv;
  const bytes = randomBytes(300);

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hashgate-cli-incidents-'));
    db = join(dir, 'incidents.db');
    evidenceDir = join(dir, 'evidence');
    env = {
      HASHGATE_DB: db,
      HASHGATE_EVIDENCE_DIR: evidenceDir,
      HASHGATE_EVIDENCE_KEY: KEY,
      HASHGATE_EVIDENCE_KEY_ID: 'k1',
    };
    const store = await createSqliteStore({ path: db });
    const vault = createEvidenceVault({
      dir: evidenceDir,
      keys: createEvidenceKeyRing({ current: { id: 'k1', key: KEY } }),
    });
    incidentId = newIncidentId();
    const evidence = await vault.put(incidentId, { bytes });
    await store.createIncident(sampleIncident({ id: incidentId, evidence }));
    await store.viewIncident(incidentId, { actor: 'rev-a' });
    await store.close();
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('reports an intact chain', async () => {
    const { out, error } = await run(env, 'audit', 'verify');
    expect(error).toBeUndefined();
    expect(out).toMatch(/^audit chain ok: 2 records, head [0-9a-f]{16}\n$/);
  });

  it('fails at the first edited record with a stable code', async () => {
    const raw = new Database(db);
    raw.exec('DROP TRIGGER audit_log_no_update');
    raw.prepare("UPDATE audit_log SET actor = 'mallory' WHERE seq = 2").run();
    raw.close();
    const { out, error } = await run(env, 'audit', 'verify', '--db', db);
    expect(out).toContain('audit chain BROKEN at record 2 (edited)');
    expect(error).toMatchObject({ code: 'ERR_HASHGATE_AUDIT_CHAIN_BROKEN' });
  });

  it('refuses a database path that does not exist instead of creating one', async () => {
    const { error } = await run(env, 'audit', 'verify', '--db', join(dir, 'typo.db'));
    expect(error).toMatchObject({ code: 'ERR_HASHGATE_STORE_FAILED' });
  });

  it('exports the evidence with the key to a new owner-only file and writes an audit record', async () => {
    const target = join(dir, 'out.bin');
    const { out, error } = await run(
      env,
      'evidence',
      'export',
      incidentId,
      '--out',
      target,
      '--actor',
      'rev-b',
      '--reason',
      'hotline',
    );
    expect(error).toBeUndefined();
    expect(out).toBe(`exported the evidence of ${incidentId} (300 bytes) to ${target}\n`);
    expect(readFileSync(target).equals(bytes)).toBe(true);
    expect(statSync(target).mode & 0o777).toBe(0o600);
    const store = await createSqliteStore({ path: db });
    const last = (await store.readAudit()).pop();
    expect(last).toMatchObject({
      type: 'evidence.exported',
      actor: 'rev-b',
      incidentId,
      details: { reason: 'hotline', keyId: 'k1' },
    });
    expect((await store.verifyAuditChain()).ok).toBe(true);
    await store.close();
    // never overwrites
    expect((await run(env, 'evidence', 'export', incidentId, '--out', target)).error).toMatchObject({
      code: 'ERR_HASHGATE_EVIDENCE_IO',
    });
  });

  it('needs the key, and writes no audit record when it is missing or wrong', async () => {
    const target = join(dir, 'out.bin');
    const noKey = { ...env, HASHGATE_EVIDENCE_KEY: undefined, HASHGATE_EVIDENCE_KEY_ID: undefined };
    expect((await run(noKey, 'evidence', 'export', incidentId, '--out', target)).error).toMatchObject({
      code: 'ERR_HASHGATE_EVIDENCE_KEY_INVALID',
    });
    const otherKey = { ...env, HASHGATE_EVIDENCE_KEY_ID: 'k2' };
    expect((await run(otherKey, 'evidence', 'export', incidentId, '--out', target)).error).toMatchObject({
      code: 'ERR_HASHGATE_EVIDENCE_KEY_UNKNOWN',
    });
    const store = await createSqliteStore({ path: db });
    expect((await store.readAudit()).map((r) => r.type)).toEqual(['incident.created', 'incident.viewed']);
    await store.close();
    expect(
      (await run(env, 'evidence', 'export', 'inc_000000000000000000000000', '--out', target)).error,
    ).toMatchObject({
      code: 'ERR_HASHGATE_INCIDENT_NOT_FOUND',
    });
  });
});
