/**
 * Owns exports: the incidents of a period as JSON or CSV (safe to open in a spreadsheet), and the
 * per-incident report package with the fields a hotline report needs. Every export is recorded in
 * the audit log; evidence is included only on explicit request, with the key.
 */

import { accessEvidence, type EvidenceVault } from '../evidence/vault';
import { requireActor } from './audit-chain';
import { IncidentErrorCodes, incidentError } from './errors';
import { listNames } from './records';
import type { IncidentStore } from './store';
import { toMs } from './time';
import type { Incident, ReviewState } from './types';

/** Options of {@link exportIncidents}. */
export interface ExportIncidentsOptions {
  store: IncidentStore;
  /** Start of the period (inclusive). */
  from: Date | number;
  /** End of the period (exclusive). */
  to: Date | number;
  format: 'json' | 'csv';
  /** Who exports (audited). */
  actor: string;
  /** Only these states. @default every state */
  states?: readonly ReviewState[];
}

/** Columns of the CSV export, in order. */
export const CSV_COLUMNS = [
  'id',
  'occurred_at_utc',
  'local_time',
  'time_zone',
  'source',
  'route',
  'request_id',
  'uploader_id',
  'ip',
  'port',
  'user_agent',
  'original_name',
  'declared_type',
  'sniffed_type',
  'size',
  'md5',
  'sha1',
  'sha256',
  'pdq',
  'action',
  'dry_run',
  'state',
  'report_reference',
  'lists',
  'categories',
  'evidence',
  'legal_hold_until',
] as const;

/**
 * One CSV cell: quoted, quotes doubled, and a leading `=`, `+`, `-`, `@`, tab or carriage return
 * prefixed with `'` so that a spreadsheet never reads uploader-controlled text (file names, user
 * agents) as a formula.
 */
export function csvCell(value: unknown): string {
  let s = value === null || value === undefined ? '' : String(value);
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return `"${s.replace(/"/g, '""')}"`;
}

function hashOf(i: Incident, type: string): string {
  return i.hashes.find((h) => h.type === type)?.hex ?? '';
}

function csvRow(i: Incident): string {
  const cells: unknown[] = [
    i.id,
    i.occurredAt,
    i.localTime,
    i.timeZone,
    i.source,
    i.route,
    i.requestId,
    i.uploader.userId,
    i.uploader.ip,
    i.uploader.port,
    i.uploader.userAgent,
    i.file.originalName,
    i.file.declaredType,
    i.file.sniffedType,
    i.file.size,
    hashOf(i, 'md5'),
    hashOf(i, 'sha1'),
    hashOf(i, 'sha256'),
    hashOf(i, 'pdq'),
    i.action,
    i.dryRun,
    i.state,
    i.reportReference,
    listNames(i.matches).join(' '),
    [...new Set(i.matches.map((m) => m.category))].sort().join(' '),
    i.evidence ? (i.evidence.deletedAt ? 'deleted' : 'stored') : 'none',
    i.legalHoldUntil,
  ];
  return cells.map(csvCell).join(',');
}

async function* incidentsOf(
  store: IncidentStore,
  from: number,
  to: number,
  states: readonly ReviewState[] | undefined,
): AsyncGenerator<Incident> {
  let after: { occurredAt: string; id: string } | undefined;
  for (;;) {
    const page = await store.listIncidents({
      from,
      to,
      ...(states ? { states } : {}),
      limit: 500,
      ...(after ? { after } : {}),
    });
    yield* page;
    if (page.length < 500) return;
    const last = page[page.length - 1]!;
    after = { occurredAt: last.occurredAt, id: last.id };
  }
}

/**
 * Exports the incidents that occurred in `[from, to)` as JSON (`{ format, exportedAt, from, to,
 * incidents }`) or CSV (header row, then one row per incident; CRLF line ends). Appends an
 * `export.incidents` audit record with the period, format and count.
 */
export async function exportIncidents(options: ExportIncidentsOptions): Promise<string> {
  requireActor(options?.actor);
  const from = toMs(options.from);
  const to = toMs(options.to);
  if (!Number.isFinite(from) || !Number.isFinite(to) || to < from) {
    throw incidentError(IncidentErrorCodes.INVALID_INPUT, 'An export needs a period: `from` before `to`');
  }
  if (options.format !== 'json' && options.format !== 'csv') {
    throw incidentError(IncidentErrorCodes.INVALID_INPUT, "`format` is 'json' or 'csv'");
  }
  const incidents: Incident[] = [];
  for await (const i of incidentsOf(options.store, from, to, options.states)) incidents.push(i);
  const exportedAt = new Date().toISOString();
  let out: string;
  if (options.format === 'json') {
    out = `${JSON.stringify(
      {
        format: 'hashgate-incidents',
        version: 1,
        exportedAt,
        from: new Date(from).toISOString(),
        to: new Date(to).toISOString(),
        incidents,
      },
      null,
      2,
    )}\n`;
  } else {
    out = `${[CSV_COLUMNS.map(csvCell).join(','), ...incidents.map(csvRow)].join('\r\n')}\r\n`;
  }
  await options.store.appendAudit({
    type: 'export.incidents',
    actor: options.actor,
    details: {
      format: options.format,
      from: new Date(from).toISOString(),
      to: new Date(to).toISOString(),
      count: incidents.length,
    },
  });
  return out;
}

/** The per-incident report package: what a report to a hotline (NCMEC, IWF, EOKM) needs. */
export interface ReportPackage {
  readonly format: 'hashgate-report-package';
  readonly version: 1;
  readonly generatedAt: string;
  readonly generatedBy: string;
  readonly incident: {
    readonly id: string;
    readonly source: Incident['source'];
    /** UTC. */
    readonly occurredAt: string;
    /** Local time with offset, e.g. `2025-03-01T13:00:00.000+01:00`. */
    readonly localTime: string;
    readonly timeZone: string;
    readonly route: string | null;
    readonly requestId: string | null;
    readonly action: Incident['action'];
    readonly state: ReviewState;
    readonly reportReference: string | null;
    /** For re-check incidents: the host's reference to where the content is stored. */
    readonly storageReference: string | null;
    readonly history: Incident['history'];
  };
  readonly uploader: Incident['uploader'];
  readonly file: Incident['file'] & {
    readonly md5: string | null;
    readonly sha1: string | null;
    readonly sha256: string | null;
  };
  /** Every hash with how it was made. */
  readonly hashes: Incident['hashes'];
  /** Whether a person at the platform viewed the file. */
  readonly viewedByPerson: boolean;
  /** Names of the lists that matched. */
  readonly lists: readonly string[];
  readonly matches: Incident['matches'];
  /** The evidence: only described unless it was requested with the key. */
  readonly evidence:
    | null
    | {
        readonly included: false;
        readonly keyId: string;
        readonly storedAt: string;
        readonly deleted: boolean;
      }
    | {
        readonly included: true;
        readonly keyId: string;
        readonly storedAt: string;
        readonly metadata: Readonly<Record<string, unknown>>;
        readonly encoding: 'base64';
        readonly data: string;
      };
}

/** Options of {@link buildReportPackage}. */
export interface ReportPackageOptions {
  store: IncidentStore;
  incidentId: string;
  /** Who builds it (audited). */
  actor: string;
  /** Include the decrypted original: pass the vault (whose key ring holds the evidence key). */
  includeEvidence?: { readonly vault: EvidenceVault; readonly reason?: string };
}

/**
 * Builds the report package of one incident (JSON-ready). Appends `export.report`; with
 * `includeEvidence` the evidence is decrypted (an `evidence.exported` record is written first)
 * and embedded as base64. Throws `ERR_HASHGATE_INCIDENT_NOT_FOUND` for an unknown incident.
 */
export async function buildReportPackage(options: ReportPackageOptions): Promise<ReportPackage> {
  requireActor(options?.actor);
  const { store, incidentId, actor } = options;
  const i = await store.getIncident(incidentId);
  if (!i) throw incidentError(IncidentErrorCodes.NOT_FOUND, `No incident with id ${incidentId}`);
  let evidence: ReportPackage['evidence'] = null;
  if (i.evidence) {
    if (options.includeEvidence) {
      const opened = await accessEvidence({
        store,
        vault: options.includeEvidence.vault,
        incidentId,
        actor,
        kind: 'exported',
        reason: options.includeEvidence.reason ?? 'report package',
      });
      evidence = {
        included: true,
        keyId: i.evidence.keyId,
        storedAt: i.evidence.storedAt,
        metadata: opened.metadata,
        encoding: 'base64',
        data: opened.bytes.toString('base64'),
      };
    } else {
      evidence = {
        included: false,
        keyId: i.evidence.keyId,
        storedAt: i.evidence.storedAt,
        deleted: i.evidence.deletedAt !== null,
      };
    }
  }
  const hex = (type: string): string | null => i.hashes.find((h) => h.type === type)?.hex ?? null;
  const pkg: ReportPackage = {
    format: 'hashgate-report-package',
    version: 1,
    generatedAt: new Date().toISOString(),
    generatedBy: actor,
    incident: {
      id: i.id,
      source: i.source,
      occurredAt: i.occurredAt,
      localTime: i.localTime,
      timeZone: i.timeZone,
      route: i.route,
      requestId: i.requestId,
      action: i.action,
      state: i.state,
      reportReference: i.reportReference,
      storageReference: i.ledger?.reference ?? null,
      history: i.history,
    },
    uploader: i.uploader,
    file: { ...i.file, md5: hex('md5'), sha1: hex('sha1'), sha256: hex('sha256') },
    hashes: i.hashes,
    viewedByPerson: i.evidenceViewed,
    lists: listNames(i.matches),
    matches: i.matches,
    evidence,
  };
  await store.appendAudit({
    type: 'export.report',
    actor,
    incidentId,
    details: { evidenceIncluded: evidence?.included === true },
  });
  return pkg;
}
