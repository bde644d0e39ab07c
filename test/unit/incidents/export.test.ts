import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEvidenceKeyRing } from '../../../src/evidence/keys';
import { createEvidenceVault } from '../../../src/evidence/vault';
import { buildReportPackage, CSV_COLUMNS, csvCell, exportIncidents } from '../../../src/incidents/export';
import { newIncidentId } from '../../../src/incidents/ids';
import { createSqliteStore } from '../../../src/incidents/sqlite-store';
import type { IncidentStore } from '../../../src/incidents/store';
import { fakeClock, sampleIncident, T0 } from './helpers';

/** Splits one CSV line of quoted cells (the export quotes every cell). */
function cells(line: string): string[] {
  return [...line.matchAll(/"((?:[^"]|"")*)"/g)].map((m) => m[1]!.replace(/""/g, '"'));
}

describe('exports', () => {
  let dir: string;
  let store: IncidentStore;
  const clock = fakeClock();

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hashgate-export-'));
    store = await createSqliteStore({
      path: join(dir, 'incidents.db'),
      now: clock.now,
      timeZone: 'Europe/Amsterdam',
    });
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('neutralises spreadsheet formulas in CSV cells', () => {
    expect(csvCell('=HYPERLINK("http://x")')).toBe(`"'=HYPERLINK(""http://x"")"`);
    for (const lead of ['+', '-', '@', '\t', '\r']) expect(csvCell(`${lead}1`)).toBe(`"'${lead}1"`);
    expect(csvCell('plain, "quoted"')).toBe('"plain, ""quoted"""');
    expect(csvCell(null)).toBe('""');
    expect(csvCell(42)).toBe('"42"');
  });

  it('exports the incidents of a period as CSV, injection-safe, and audits the export', async () => {
    await store.createIncident(sampleIncident({ occurredAt: T0 - 10_000 }));
    const evil = await store.createIncident(
      sampleIncident({
        occurredAt: T0,
        file: { originalName: '=cmd|"/c calc"!A1.jpg', size: 10 },
        uploader: { userAgent: '@SUM(1+1)', userId: '+31 6 1234' },
      }),
    );
    await store.createIncident(sampleIncident({ occurredAt: T0 + 10_000 }));
    const csv = await exportIncidents({ store, from: T0 - 1, to: T0 + 1, format: 'csv', actor: 'rev-a' });
    const lines = csv.split('\r\n');
    expect(lines).toHaveLength(3);
    expect(lines[2]).toBe('');
    expect(cells(lines[0]!)).toEqual([...CSV_COLUMNS]);
    const row = Object.fromEntries(CSV_COLUMNS.map((c, k) => [c, cells(lines[1]!)[k]]));
    expect(row).toMatchObject({
      id: evil.id,
      occurred_at_utc: '2025-03-01T12:00:00.000Z',
      local_time: '2025-03-01T13:00:00.000+01:00',
      time_zone: 'Europe/Amsterdam',
      original_name: `'=cmd|"/c calc"!A1.jpg`,
      user_agent: "'@SUM(1+1)",
      uploader_id: "'+31 6 1234",
      md5: evil.hashes.find((h) => h.type === 'md5')!.hex,
      lists: 'own-list stand-in-list',
      state: 'new',
    });
    for (const line of lines.slice(0, 2))
      for (const cell of cells(line)) expect(cell).not.toMatch(/^[=+\-@\t\r]/);
    const audit = (await store.readAudit()).pop();
    expect(audit).toMatchObject({
      type: 'export.incidents',
      actor: 'rev-a',
      details: { format: 'csv', count: 1 },
    });
  });

  it('exports the incidents of a period as JSON, page after page', async () => {
    for (let k = 0; k < 620; k++) await store.createIncident(sampleIncident({ occurredAt: T0 + k }));
    const json = JSON.parse(
      await exportIncidents({ store, from: T0, to: T0 + 600, format: 'json', actor: 'rev-a' }),
    );
    expect(json).toMatchObject({
      format: 'hashgate-incidents',
      version: 1,
      from: '2025-03-01T12:00:00.000Z',
    });
    expect(json.incidents).toHaveLength(600);
    expect(new Set(json.incidents.map((i: { id: string }) => i.id)).size).toBe(600);
    expect(json.incidents[0].hashes).toHaveLength(4);
  });

  it('builds a report package with what a hotline needs, without evidence unless asked', async () => {
    const keys = createEvidenceKeyRing({ current: { id: 'k1', key: randomBytes(32) } });
    const vault = createEvidenceVault({ dir: join(dir, 'evidence'), keys });
    const id = newIncidentId();
    const bytes = randomBytes(200);
    const evidence = await vault.put(
      id,
      { bytes },
      { originalName: 'holiday.jpg', declaredType: 'image/jpeg' },
    );
    const incident = await store.createIncident(sampleIncident({ id, evidence }));
    await store.transition(id, { to: 'confirmed', actor: 'rev-a', reason: 'matches' });

    const pkg = await buildReportPackage({ store, incidentId: id, actor: 'rev-a' });
    expect(pkg).toMatchObject({
      format: 'hashgate-report-package',
      incident: {
        id,
        occurredAt: '2025-03-01T12:00:00.000Z',
        localTime: '2025-03-01T13:00:00.000+01:00',
        timeZone: 'Europe/Amsterdam',
        state: 'confirmed',
      },
      uploader: { userId: 'user-42', ip: '203.0.113.7', port: 51234, userAgent: 'test-agent/1.0' },
      file: {
        originalName: 'holiday.jpg',
        md5: incident.hashes.find((h) => h.type === 'md5')!.hex,
        sha1: incident.hashes.find((h) => h.type === 'sha1')!.hex,
      },
      viewedByPerson: false,
      lists: ['own-list', 'stand-in-list'],
      evidence: { included: false, keyId: 'k1', deleted: false },
    });
    expect(JSON.stringify(pkg)).not.toContain(bytes.toString('base64'));

    await store.recordEvidenceAccess(id, { actor: 'rev-a', kind: 'viewed' });
    const full = await buildReportPackage({
      store,
      incidentId: id,
      actor: 'rev-b',
      includeEvidence: { vault },
    });
    expect(full.viewedByPerson).toBe(true);
    expect(full.evidence).toMatchObject({
      included: true,
      encoding: 'base64',
      data: bytes.toString('base64'),
      metadata: { originalName: 'holiday.jpg' },
    });
    const types = (await store.readAudit()).map((r) => r.type);
    expect(types.slice(-4)).toEqual([
      'export.report',
      'evidence.viewed',
      'evidence.exported',
      'export.report',
    ]);
    await expect(
      buildReportPackage({ store, incidentId: 'inc_000000000000000000000000', actor: 'x' }),
    ).rejects.toMatchObject({
      code: 'ERR_HASHGATE_INCIDENT_NOT_FOUND',
    });
  });
});
