/**
 * What a failing incident store or evidence folder must not lose: incidents of blocked uploads,
 * their evidence and the ledger records of accepted uploads. Real SQLite stores and real files;
 * the only stand-in is a wrapper that makes chosen store methods fail.
 */

import { createHash, randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEvidenceKeyRing, type EvidenceKeyRing } from '../../../src/evidence/keys';
import { createEvidenceVault } from '../../../src/evidence/vault';
import { createHashgate, type Hashgate } from '../../../src/hashgate';
import { createPostgresStore } from '../../../src/incidents/postgres-store';
import { createSqliteStore } from '../../../src/incidents/sqlite-store';
import type { IncidentStore } from '../../../src/incidents/store';
import { silentLogger } from '../../../src/observability/logger';
import { describePostgres, dropSchemas, freshSchema } from '../incidents/postgres';

const IMAGES = join(__dirname, '../../fixtures/images');
const known = readFileSync(join(IMAGES, 'misc-images__wee.jpg'));
const unknown = readFileSync(join(IMAGES, 'misc-images__small.jpg'));

type Method = 'createIncident' | 'addToLedger' | 'attachEvidence';

/** A real store whose chosen methods fail the next `n` calls (Infinity: until `recover()`). */
interface FailingStore {
  store: IncidentStore;
  fail(method: Method, n: number): void;
  recover(): void;
  calls: Record<Method, number>;
}

function failing(real: IncidentStore): FailingStore {
  const left: Record<Method, number> = { createIncident: 0, addToLedger: 0, attachEvidence: 0 };
  const calls: Record<Method, number> = { createIncident: 0, addToLedger: 0, attachEvidence: 0 };
  const store = new Proxy(real, {
    get(target, prop) {
      const value = Reflect.get(target, prop) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        if (prop in left) {
          const m = prop as Method;
          calls[m]++;
          if (left[m] > 0) {
            left[m]--;
            return Promise.reject(
              Object.assign(new Error('The incident store could not write (ECONNREFUSED)'), {
                code: 'ERR_HASHGATE_STORE_FAILED',
              }),
            );
          }
        }
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return {
    store,
    calls,
    fail(method, n) {
      left[method] = n;
    },
    recover() {
      for (const m of Object.keys(left) as Method[]) left[m] = 0;
    },
  };
}

async function waitFor(check: () => Promise<boolean> | boolean, timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 100));
  }
}

interface Bed {
  dir: string;
  dataDir: string;
  evidenceDir: string;
  keys: EvidenceKeyRing;
  real: IncidentStore;
  open(store: IncidentStore): Hashgate;
}

const beds: Bed[] = [];
const gates: Hashgate[] = [];

async function bed(makeStore?: () => Promise<IncidentStore>): Promise<Bed> {
  const dir = mkdtempSync(join(tmpdir(), 'hashgate-durable-'));
  const md5 = createHash('md5').update(known).digest('hex');
  writeFileSync(join(dir, 'list.txt'), `md5 ${md5}\n`);
  const keys = createEvidenceKeyRing({ current: { id: 'k1', key: randomBytes(32).toString('base64') } });
  const real = makeStore
    ? await makeStore()
    : await createSqliteStore({ path: join(dir, 'incidents.sqlite') });
  const b: Bed = {
    dir,
    dataDir: join(dir, 'data'),
    evidenceDir: join(dir, 'evidence'),
    keys,
    real,
    open(store) {
      const gate = createHashgate({
        lists: [{ name: 'known', file: join(dir, 'list.txt'), format: 'threatexchange' }],
        dataDir: b.dataDir,
        store,
        logger: silentLogger,
        evidence: { dir: b.evidenceDir, keys },
        hashing: { workers: 0 },
      });
      gates.push(gate);
      return gate;
    },
  };
  beds.push(b);
  return b;
}

/** A ready gate over a store whose `method` fails the next `n` calls. */
async function gateFailing(method: Method, n: number): Promise<{ b: Bed; f: FailingStore; gate: Hashgate }> {
  const b = await bed();
  const f = failing(b.real);
  const gate = b.open(f.store);
  await gate.ready();
  f.fail(method, n);
  return { b, f, gate };
}

afterEach(async () => {
  for (const g of gates.splice(0)) await g.close();
  for (const b of beds.splice(0)) {
    await b.real.close();
    rmSync(b.dir, { recursive: true, force: true });
  }
});

/** Makes the evidence folder unwritable by putting a file where it should be; returns the undo. */
function breakFolder(path: string): () => void {
  const away = `${path}.away`;
  if (existsSync(path)) renameSync(path, away);
  else mkdirSync(away, { recursive: true });
  writeFileSync(path, 'not a folder');
  return () => {
    rmSync(path);
    renameSync(away, path);
  };
}

function spooled(b: Bed, kind: string): string[] {
  const dir = join(b.dataDir, 'spool', kind);
  return existsSync(dir) ? readdirSync(dir).filter((n) => !n.startsWith('.')) : [];
}

describe('a blocked upload while the incident store fails', () => {
  test('an incident whose first writes fail is recorded by the brief retry before the answer', async () => {
    const { b, gate } = await gateFailing('createIncident', 2);
    const r = await gate.scan([{ bytes: known }]);
    expect(r.outcome).toBe('block');
    expect(r.incidentIds).toHaveLength(1);
    const incident = await b.real.getIncident(r.incidentIds[0]!);
    expect(incident?.action).toBe('block');
    expect(incident?.evidence?.id).toBe(r.incidentIds[0]);
    expect(gate.status().pending.incidents.incidents).toBe(0);
  });

  test('an incident the store keeps refusing is blocked, spooled with its id, and lands once the store recovers', async () => {
    const { b, f, gate } = await gateFailing('createIncident', Number.POSITIVE_INFINITY);
    const r = await gate.scan([{ bytes: known }]);
    expect(r.outcome).toBe('block');
    expect(r.incidentIds).toHaveLength(1);
    const id = r.incidentIds[0]!;
    expect(await b.real.getIncident(id)).toBeUndefined();
    expect(gate.status().pending.incidents.incidents).toBe(1);
    expect(gate.status().pending.incidents.lastIncidentError).toBe('ERR_HASHGATE_STORE_FAILED');
    expect(spooled(b, 'incidents')).toEqual([`${id}.json`]);
    const metrics = await gate.metrics!.getSingleMetricAsString('hashgate_pending_writes');
    expect(metrics).toContain('hashgate_pending_writes{kind="incident"} 1');

    f.recover();
    await waitFor(async () => (await b.real.getIncident(id)) !== undefined);
    const incident = await b.real.getIncident(id);
    expect(incident?.evidence?.id).toBe(id);
    await waitFor(() => gate.status().pending.incidents.incidents === 0);
    expect(spooled(b, 'incidents')).toEqual([]);
  });

  test('a replay whose write landed before a failed answer takes the duplicate refusal as landed', async () => {
    const { b, f, gate } = await gateFailing('createIncident', Number.POSITIVE_INFINITY);
    const r = await gate.scan([{ bytes: known }]);
    const id = r.incidentIds[0]!;
    // The store took the incident behind hashgate's back (a commit whose answer was lost).
    const spool = JSON.parse(readFileSync(join(b.dataDir, 'spool', 'incidents', `${id}.json`), 'utf8'));
    await b.real.createIncident(spool.incident);
    f.recover();
    // A replay pass removes the spool file first and recounts what is pending when it ends.
    await waitFor(() => gate.status().pending.incidents.incidents === 0);
    expect(spooled(b, 'incidents')).toEqual([]);
    expect(await b.real.listIncidents()).toHaveLength(1);
  });

  test('an upload is blocked even when neither the store nor the spool can take its incident', async () => {
    const { b, gate } = await gateFailing('createIncident', Number.POSITIVE_INFINITY);
    mkdirSync(join(b.dataDir, 'spool'), { recursive: true });
    writeFileSync(join(b.dataDir, 'spool', 'incidents'), 'not a folder');
    const r = await gate.scan([{ bytes: known }]);
    expect(r.outcome).toBe('block');
    expect(r.incidentIds).toEqual([]);
  });
});

describe('evidence while the evidence folder cannot be written', () => {
  test('the sealed evidence waits encrypted in the spool and is attached once the folder is back', async () => {
    const b = await bed();
    const gate = b.open(b.real);
    await gate.ready();
    const restore = breakFolder(b.evidenceDir);
    const r = await gate.scan([{ bytes: known, originalName: 'a.jpg' }]);
    expect(r.outcome).toBe('block');
    const id = r.incidentIds[0]!;
    const recorded = await b.real.getIncident(id);
    expect(recorded).toBeDefined();
    expect(recorded?.evidence).toBeNull();
    const status = gate.status().pending.incidents;
    expect(status.evidence).toBe(1);
    expect(status.lastEvidenceError).toBe('ERR_HASHGATE_EVIDENCE_IO');
    const [file] = spooled(b, 'evidence');
    expect(file).toBe(`${id}.hgev`);
    const sealed = readFileSync(join(b.dataDir, 'spool', 'evidence', file!));
    expect(sealed.includes(known.subarray(64, 128))).toBe(false);

    restore();
    await waitFor(async () => (await b.real.getIncident(id))?.evidence != null);
    const vault = createEvidenceVault({ dir: b.evidenceDir, keys: b.keys });
    const opened = await vault.read(id);
    expect(Buffer.from(opened.bytes).equals(known)).toBe(true);
    await waitFor(() => gate.status().pending.incidents.evidence === 0);
    expect(spooled(b, 'evidence')).toEqual([]);
    expect(gate.status().pending.incidents.lastEvidenceError).toBeNull();
  });
});

describe('the ledger while its writes fail', () => {
  test('a failed ledger batch is kept and retried until it lands', async () => {
    const { b, f, gate } = await gateFailing('addToLedger', 1);
    const r = await gate.scan([{ bytes: unknown, contentRef: 'uploads/a' }]);
    expect(r.outcome).toBe('allow');
    await waitFor(() => f.calls.addToLedger >= 1);
    await waitFor(async () => (await b.real.getLedgerRecords([1, 2, 3])).length === 1);
    const [record] = await b.real.getLedgerRecords([1, 2, 3]);
    expect(record?.reference).toBe('uploads/a');
    expect(gate.status().pending.ledger.records).toBe(0);
    expect(gate.status().pending.ledger.lastError).toBeNull();
  });

  test('a record that lands after a list update missed it is re-checked against that list', async () => {
    const { b, f, gate } = await gateFailing('addToLedger', Number.POSITIVE_INFINITY);
    const r = await gate.scan([{ bytes: unknown, contentRef: 'uploads/late' }]);
    expect(r.outcome).toBe('allow');
    await waitFor(() => gate.status().pending.ledger.records === 1);
    // the list gains the accepted upload while its ledger record is still waiting
    const before = gate.status().lists[0]?.version;
    const md5 = (buf: Buffer): string => createHash('md5').update(buf).digest('hex');
    writeFileSync(join(b.dir, 'list.txt'), `md5 ${md5(known)}\nmd5 ${md5(unknown)}\n`);
    await gate.refreshLists();
    await waitFor(() => gate.status().lists[0]?.version !== before);
    expect((await b.real.listIncidents()).filter((i) => i.action === 'takedown')).toEqual([]);
    f.recover();
    await waitFor(async () => (await b.real.listIncidents()).some((i) => i.action === 'takedown'));
    const [takedown] = (await b.real.listIncidents()).filter((i) => i.action === 'takedown');
    expect(takedown?.ledger?.reference).toBe('uploads/late');
  });

  test('close() spools the batches the ledger still refuses', async () => {
    const { b, gate } = await gateFailing('addToLedger', Number.POSITIVE_INFINITY);
    await gate.scan([{ bytes: unknown, contentRef: 'uploads/a' }]);
    await waitFor(() => gate.status().pending.ledger.records === 1);
    await gate.close();
    expect(spooled(b, 'ledger')).toHaveLength(1);
    expect(await b.real.getLedgerRecords([1])).toEqual([]);
  });
});

describe('a restart', () => {
  test('replays spooled incidents, evidence and ledger batches into a working store', async () => {
    const b = await bed();
    const f = failing(b.real);
    const first = b.open(f.store);
    await first.ready();
    f.fail('createIncident', Number.POSITIVE_INFINITY);
    f.fail('addToLedger', Number.POSITIVE_INFINITY);
    const restore = breakFolder(b.evidenceDir);
    const blocked = await first.scan([{ bytes: known }]);
    const accepted = await first.scan([{ bytes: unknown, contentRef: 'uploads/b' }]);
    expect(blocked.outcome).toBe('block');
    expect(accepted.outcome).toBe('allow');
    const id = blocked.incidentIds[0]!;
    await first.close();
    expect(spooled(b, 'incidents')).toEqual([`${id}.json`]);
    expect(spooled(b, 'evidence')).toEqual([`${id}.hgev`]);
    expect(spooled(b, 'ledger')).toHaveLength(1);
    expect(await b.real.getIncident(id)).toBeUndefined();

    restore();
    const second = b.open(b.real);
    await second.ready();
    const incident = await b.real.getIncident(id);
    expect(incident?.action).toBe('block');
    expect(incident?.evidence?.id).toBe(id);
    const opened = await createEvidenceVault({ dir: b.evidenceDir, keys: b.keys }).read(id);
    expect(Buffer.from(opened.bytes).equals(known)).toBe(true);
    const ledger = await b.real.getLedgerRecords([1, 2, 3]);
    expect(ledger.map((l) => l.reference)).toEqual(['uploads/b']);
    expect(spooled(b, 'incidents')).toEqual([]);
    expect(spooled(b, 'evidence')).toEqual([]);
    expect(spooled(b, 'ledger')).toEqual([]);
    expect(second.status().pending).toEqual({
      incidents: { incidents: 0, evidence: 0, lastIncidentError: null, lastEvidenceError: null },
      ledger: { records: 0, spooledBatches: 0, lastError: null },
    });
  });
});

describePostgres('on PostgreSQL', (pool) => {
  const schemas: string[] = [];
  afterAll(async () => {
    await dropSchemas(pool(), schemas);
  });
  const postgres = (): Promise<IncidentStore> => {
    const schema = freshSchema();
    schemas.push(schema);
    return createPostgresStore({ pool: pool(), schema });
  };

  test('an incident and a ledger batch the store refused land once it is back; a landed duplicate is dropped', async () => {
    const b = await bed(postgres);
    const f = failing(b.real);
    const gate = b.open(f.store);
    await gate.ready();
    f.fail('createIncident', Number.POSITIVE_INFINITY);
    f.fail('addToLedger', Number.POSITIVE_INFINITY);
    const first = await gate.scan([{ bytes: known }]);
    const second = await gate.scan([{ bytes: Buffer.concat([known]), originalName: 'again.jpg' }]);
    const accepted = await gate.scan([{ bytes: unknown, contentRef: 'uploads/pg' }]);
    expect(first.outcome).toBe('block');
    expect(second.outcome).toBe('block');
    expect(accepted.outcome).toBe('allow');
    // the second incident's commit landed but its answer was lost
    const id = second.incidentIds[0]!;
    const item = JSON.parse(readFileSync(join(b.dataDir, 'spool', 'incidents', `${id}.json`), 'utf8'));
    await b.real.createIncident(item.incident);
    f.recover();
    await waitFor(() => spooled(b, 'incidents').length === 0 && gate.status().pending.ledger.records === 0);
    const ids = (await b.real.listIncidents()).map((i) => i.id).sort();
    expect(ids).toEqual([first.incidentIds[0]!, id].sort());
    expect((await b.real.getIncident(first.incidentIds[0]!))?.evidence?.id).toBe(first.incidentIds[0]);
    const ledger = await b.real.getLedgerRecords([1, 2, 3]);
    expect(ledger.map((l) => l.reference)).toEqual(['uploads/pg']);
  });
});
