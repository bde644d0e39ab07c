/**
 * Owns the SQLite incident store, hashgate's embedded default: one database file in WAL mode,
 * every change with its audit record and outbox event in one immediate transaction.
 */

import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { invalidOption } from '../errors';
import { enumOption, integerOption, objectOption, rejectUnknownKeys } from '../validate';
import { requireActor, sealAuditRecord, validateAuditInput, verifyAuditPages } from './audit-chain';
import { IncidentErrorCodes, incidentError, storeFailure } from './errors';
import { isId, newId } from './ids';
import {
  creationEvent,
  type IncidentBody,
  type IncidentRowData,
  incidentFromRow,
  normalizeEvidenceRef,
  prepareIncident,
  prepareLedgerRecord,
  webhookPayload,
} from './records';
import {
  allowlistCandidates,
  assertTransition,
  checkLiftReason,
  checkTransitionRequest,
  holdAfterLift,
  holdAfterReport,
} from './review';
import { SQLITE_MIGRATIONS, SQLITE_SCHEMA_VERSION } from './sqlite-schema';
import type { AuditedAction, IncidentStore } from './store';
import {
  type IncidentStoreConfig,
  type IncidentStoreOptions,
  parseSharedStoreOptions,
  SHARED_STORE_OPTION_KEYS,
} from './store-options';
import { iso, toMs } from './time';
import type {
  AllowlistEntry,
  AllowlistStatus,
  AuditHead,
  AuditInput,
  AuditRecord,
  AuditVerification,
  EvidenceDue,
  EvidenceRef,
  Incident,
  IncidentAction,
  IncidentQuery,
  LedgerExactHit,
  LedgerPerceptualPage,
  LedgerRecord,
  NewIncident,
  NewLedgerRecord,
  OutboxEvent,
  OutboxEventType,
  OutboxSettlement,
  ReviewEvent,
  ReviewState,
  TransitionRequest,
  WebhookPayload,
} from './types';

/** Options of {@link createSqliteStore}. */
export interface SqliteStoreOptions extends IncidentStoreOptions {
  /** Path of the database file; its folder is created when missing. */
  path: string;
  /**
   * SQLite's `synchronous` setting in WAL mode. `full` fsyncs the WAL at every commit, so an
   * acknowledged incident survives a power loss, not only a process crash; `normal` is faster but
   * may lose the last commits on power loss.
   * @default 'full'
   */
  synchronous?: 'full' | 'normal';
  /** How long to wait for another process's write lock before failing, in ms. @default 5000 */
  busyTimeoutMs?: number;
}

/** The validated, frozen config of a SQLite store. */
export interface SqliteStoreConfig extends IncidentStoreConfig {
  readonly path: string;
  readonly synchronous: 'full' | 'normal';
  readonly busyTimeoutMs: number;
}

/** Validates {@link SqliteStoreOptions} into a frozen config (throws `ERR_HASHGATE_INVALID_OPTION`). */
export function parseSqliteStoreOptions(options: unknown): SqliteStoreConfig {
  const o = objectOption('sqliteStore', options);
  rejectUnknownKeys('sqliteStore', o, [...SHARED_STORE_OPTION_KEYS, 'path', 'synchronous', 'busyTimeoutMs']);
  if (typeof o.path !== 'string' || o.path.length === 0) {
    throw invalidOption('sqliteStore.path', 'the path of the database file', o.path);
  }
  return Object.freeze({
    ...parseSharedStoreOptions(o, 'sqliteStore'),
    path: o.path,
    synchronous: enumOption('sqliteStore.synchronous', o.synchronous, ['full', 'normal'] as const, 'full'),
    busyTimeoutMs: integerOption('sqliteStore.busyTimeoutMs', o.busyTimeoutMs, 5000, 0, 600_000),
  });
}

interface IncidentRow {
  id: string;
  occurred_at: number;
  time_zone: string;
  utc_offset: number;
  action: string;
  state: string;
  state_changed_at: number;
  report_reference: string | null;
  legal_hold_until: number | null;
  evidence_viewed: number;
  evidence_id: string | null;
  evidence_key_id: string | null;
  evidence_size: number | null;
  evidence_stored_at: number | null;
  evidence_deleted_at: number | null;
  body: string;
}

interface HistoryRow {
  incident_id: string;
  n: number;
  from_state: string | null;
  to_state: string;
  actor: string;
  at: number;
  reason: string;
  report_reference: string | null;
}

interface AllowlistRow {
  id: string;
  type: string;
  hex: string;
  status: string;
  reason: string;
  incident_id: string | null;
  proposed_by: string;
  proposed_at: number;
  approved_by: string | null;
  approved_at: number | null;
  revoked_by: string | null;
  revoked_at: number | null;
  revoke_reason: string | null;
}

interface AuditRow {
  seq: number;
  at: string;
  type: string;
  actor: string;
  incident_id: string | null;
  details: string;
  prev_hash: string;
  hash: string;
}

interface OutboxRow {
  seq: number;
  id: string;
  type: string;
  incident_id: string;
  created_at: number;
  payload: string;
  attempts: number;
  next_attempt_at: number;
  delivered_at: number | null;
  delivered_to: string;
  last_error: string | null;
  lease_owner: string | null;
  lease_until: number | null;
}

interface LedgerRow {
  seq: number;
  id: string;
  reference: string;
  accepted_at: number;
  body: string;
  incident_id: string | null;
}

const IN_CHUNK = 500;

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

function placeholders(n: number): string {
  return new Array(n).fill('?').join(',');
}

/** Maps stored incident columns to the shared row shape. */
function rowData(r: IncidentRow): IncidentRowData {
  return {
    id: r.id,
    occurredAtMs: r.occurred_at,
    timeZone: r.time_zone,
    utcOffsetMinutes: r.utc_offset,
    action: r.action as IncidentAction,
    state: r.state as ReviewState,
    stateChangedAtMs: r.state_changed_at,
    reportReference: r.report_reference,
    legalHoldUntilMs: r.legal_hold_until,
    evidenceViewed: r.evidence_viewed === 1,
    evidence:
      r.evidence_id === null
        ? null
        : {
            id: r.evidence_id,
            keyId: r.evidence_key_id ?? '',
            size: r.evidence_size ?? 0,
            storedAt: iso(r.evidence_stored_at ?? 0),
            deletedAt: r.evidence_deleted_at === null ? null : iso(r.evidence_deleted_at),
          },
    body: JSON.parse(r.body) as IncidentBody,
  };
}

function historyEvent(r: HistoryRow): ReviewEvent {
  return {
    from: r.from_state as ReviewState | null,
    to: r.to_state as ReviewState,
    actor: r.actor,
    at: iso(r.at),
    reason: r.reason,
    reportReference: r.report_reference,
  };
}

function allowlistEntry(r: AllowlistRow): AllowlistEntry {
  return {
    id: r.id,
    type: r.type,
    hex: r.hex,
    status: r.status as AllowlistStatus,
    reason: r.reason,
    incidentId: r.incident_id,
    proposedBy: r.proposed_by,
    proposedAt: iso(r.proposed_at),
    approvedBy: r.approved_by,
    approvedAt: r.approved_at === null ? null : iso(r.approved_at),
    revokedBy: r.revoked_by,
    revokedAt: r.revoked_at === null ? null : iso(r.revoked_at),
    revokeReason: r.revoke_reason,
  };
}

function auditRecord(r: AuditRow): AuditRecord {
  return {
    seq: r.seq,
    at: r.at,
    type: r.type,
    actor: r.actor,
    incidentId: r.incident_id,
    details: JSON.parse(r.details) as AuditRecord['details'],
    prevHash: r.prev_hash,
    hash: r.hash,
  };
}

function outboxEvent(r: OutboxRow): OutboxEvent {
  return {
    id: r.id,
    seq: r.seq,
    type: r.type as OutboxEventType,
    incidentId: r.incident_id,
    createdAt: iso(r.created_at),
    payload: JSON.parse(r.payload) as WebhookPayload,
    attempts: r.attempts,
    nextAttemptAt: iso(r.next_attempt_at),
    deliveredAt: r.delivered_at === null ? null : iso(r.delivered_at),
    deliveredTo: JSON.parse(r.delivered_to) as string[],
    lastError: r.last_error,
  };
}

function ledgerRecord(r: LedgerRow): LedgerRecord {
  const body = JSON.parse(r.body) as Pick<
    LedgerRecord,
    'route' | 'requestId' | 'uploader' | 'file' | 'hashes'
  >;
  return {
    id: r.id,
    seq: r.seq,
    reference: r.reference,
    acceptedAt: iso(r.accepted_at),
    route: body.route,
    requestId: body.requestId,
    uploader: body.uploader,
    file: body.file,
    hashes: body.hashes,
    incidentId: r.incident_id,
  };
}

function isUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

/** Applies the pending migrations in one immediate transaction (several processes may open at once). */
function migrate(db: Database.Database): void {
  db.exec(
    'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)',
  );
  const run = db.transaction(() => {
    const row = db.prepare('SELECT MAX(version) AS v FROM schema_migrations').get() as { v: number | null };
    const current = row.v ?? 0;
    if (current > SQLITE_SCHEMA_VERSION) {
      throw incidentError(
        IncidentErrorCodes.SCHEMA_TOO_NEW,
        `The incident database has schema version ${current}; this hashgate knows up to ${SQLITE_SCHEMA_VERSION}. Upgrade hashgate`,
      );
    }
    for (const m of SQLITE_MIGRATIONS) {
      if (m.version <= current) continue;
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(
        m.version,
        m.name,
        Date.now(),
      );
    }
  });
  run.immediate();
}

class SqliteIncidentStore implements IncidentStore {
  readonly kind = 'sqlite';
  readonly config: SqliteStoreConfig;
  #db: Database.Database | null;

  constructor(config: SqliteStoreConfig, db: Database.Database) {
    this.config = config;
    this.#db = db;
  }

  readonly #statements = new Map<string, Database.Statement>();

  /** A cached prepared statement (the cache is bounded: IN lists make a few dynamic variants). */
  #q(sql: string): Database.Statement {
    let stmt = this.#statements.get(sql);
    if (!stmt) {
      if (this.#statements.size > 256) this.#statements.clear();
      stmt = this.#open.prepare(sql);
      this.#statements.set(sql, stmt);
    }
    return stmt;
  }

  get #open(): Database.Database {
    if (!this.#db) throw incidentError(IncidentErrorCodes.STORE_CLOSED, 'The incident store has been closed');
    return this.#db;
  }

  /** Runs `fn` in an immediate transaction, mapping driver errors to stable codes. */
  #write<T>(what: string, fn: () => T): T {
    const db = this.#open;
    try {
      return db.transaction(() => fn()).immediate();
    } catch (err) {
      throw storeFailure(what, err);
    }
  }

  #read<T>(what: string, fn: () => T): T {
    if (!this.#db) throw incidentError(IncidentErrorCodes.STORE_CLOSED, 'The incident store has been closed');
    try {
      return fn();
    } catch (err) {
      throw storeFailure(what, err);
    }
  }

  #appendAudit(input: AuditInput, atMs: number): AuditRecord {
    const { details, text } = validateAuditInput(input);
    const head = this.#q('SELECT seq, hash FROM audit_head WHERE id = 1').get() as AuditHead;
    const record = sealAuditRecord(head, iso(atMs), input, details);
    this.#q(
      'INSERT INTO audit_log (seq, at, type, actor, incident_id, details, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    ).run(
      record.seq,
      record.at,
      record.type,
      record.actor,
      record.incidentId,
      text,
      record.prevHash,
      record.hash,
    );
    this.#q('UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1').run(record.seq, record.hash);
    return record;
  }

  #insertOutbox(payload: WebhookPayload, atMs: number): void {
    this.#q(
      'INSERT INTO outbox (id, type, incident_id, created_at, payload, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?)',
    ).run(payload.id, payload.type, payload.incident.id, atMs, JSON.stringify(payload), atMs);
  }

  #incidentRow(id: string): IncidentRow | undefined {
    return this.#q('SELECT * FROM incidents WHERE id = ?').get(id) as IncidentRow | undefined;
  }

  #loadIncident(id: string): Incident | undefined {
    const row = this.#incidentRow(id);
    if (!row) return undefined;
    const history = (
      this.#q('SELECT * FROM incident_history WHERE incident_id = ? ORDER BY n').all(id) as HistoryRow[]
    ).map(historyEvent);
    return incidentFromRow(rowData(row), history);
  }

  #requireIncident(id: string): IncidentRow {
    const row = isId('inc', id) ? this.#incidentRow(id) : undefined;
    if (!row)
      throw incidentError(
        IncidentErrorCodes.NOT_FOUND,
        `No incident with id ${isId('inc', id) ? id : '(malformed)'}`,
      );
    return row;
  }

  #addHistory(id: string, e: Omit<HistoryRow, 'incident_id' | 'n'>): void {
    const { n } = this.#q(
      'SELECT COALESCE(MAX(n), -1) + 1 AS n FROM incident_history WHERE incident_id = ?',
    ).get(id) as {
      n: number;
    };
    this.#q(
      'INSERT INTO incident_history (incident_id, n, from_state, to_state, actor, at, reason, report_reference) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    ).run(id, n, e.from_state, e.to_state, e.actor, e.at, e.reason, e.report_reference);
  }

  async createIncident(input: NewIncident): Promise<Incident> {
    const now = this.config.now();
    const p = prepareIncident(input, now, this.config.timeZone);
    return this.#write('record the incident', () => {
      try {
        this.#q(
          `INSERT INTO incidents (id, occurred_at, time_zone, utc_offset, action, source, state, state_changed_at,
             evidence_id, evidence_key_id, evidence_size, evidence_stored_at, body)
           VALUES (?, ?, ?, ?, ?, ?, 'new', ?, ?, ?, ?, ?, ?)`,
        ).run(
          p.id,
          p.occurredAtMs,
          p.timeZone,
          p.utcOffsetMinutes,
          p.action,
          p.body.source,
          now,
          p.evidence?.id ?? null,
          p.evidence?.keyId ?? null,
          p.evidence?.size ?? null,
          p.evidence ? Date.parse(p.evidence.storedAt) : null,
          JSON.stringify(p.body),
        );
      } catch (err) {
        if (isUniqueViolation(err))
          throw incidentError(IncidentErrorCodes.DUPLICATE, `An incident with id ${p.id} exists`);
        throw err;
      }
      const created = creationEvent(p, now);
      this.#addHistory(p.id, {
        from_state: null,
        to_state: 'new',
        actor: created.actor,
        at: now,
        reason: created.reason,
        report_reference: null,
      });
      if (p.body.ledger) {
        const linked = this.#q('UPDATE ledger SET incident_id = ? WHERE id = ? AND incident_id IS NULL').run(
          p.id,
          p.body.ledger.id,
        );
        if (linked.changes !== 1) {
          throw incidentError(
            IncidentErrorCodes.DUPLICATE,
            'The ledger record is unknown or already has an incident',
          );
        }
      }
      this.#appendAudit(
        {
          type: 'incident.created',
          actor: 'hashgate',
          incidentId: p.id,
          details: {
            action: p.action,
            source: p.body.source,
            dryRun: p.body.dryRun,
            matches: p.body.matches.length,
            evidenceKeyId: p.evidence?.keyId ?? null,
          },
        },
        now,
      );
      this.#insertOutbox(webhookPayload('incident.created', now, p, 'new', null), now);
      return this.#loadIncident(p.id)!;
    });
  }

  async getIncident(id: string): Promise<Incident | undefined> {
    if (!isId('inc', id)) return undefined;
    return this.#read('read the incident', () => this.#loadIncident(id));
  }

  async viewIncident(id: string, action: AuditedAction): Promise<Incident> {
    requireActor(action?.actor);
    const now = this.config.now();
    return this.#write('record the view', () => {
      this.#requireIncident(id);
      this.#appendAudit({ type: 'incident.viewed', actor: action.actor, incidentId: id }, now);
      return this.#loadIncident(id)!;
    });
  }

  async listIncidents(query: IncidentQuery = {}): Promise<Incident[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    if (query.from !== undefined) {
      where.push('occurred_at >= ?');
      args.push(toMs(query.from));
    }
    if (query.to !== undefined) {
      where.push('occurred_at < ?');
      args.push(toMs(query.to));
    }
    if (query.states && query.states.length > 0) {
      where.push(`state IN (${placeholders(query.states.length)})`);
      args.push(...query.states);
    }
    if (query.after) {
      where.push('(occurred_at, id) > (?, ?)');
      args.push(Date.parse(query.after.occurredAt), query.after.id);
    }
    const limit = query.limit ?? 1000;
    if (!Number.isInteger(limit) || limit < 1)
      throw incidentError(IncidentErrorCodes.INVALID_INPUT, '`limit` is a positive whole number');
    return this.#read('list incidents', () => {
      const rows = this.#q(
        `SELECT * FROM incidents ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY occurred_at, id LIMIT ?`,
      ).all(...args, limit) as IncidentRow[];
      const history = new Map<string, ReviewEvent[]>();
      for (const part of chunks(
        rows.map((r) => r.id),
        IN_CHUNK,
      )) {
        const hs = this.#q(
          `SELECT * FROM incident_history WHERE incident_id IN (${placeholders(part.length)}) ORDER BY incident_id, n`,
        ).all(...part) as HistoryRow[];
        for (const h of hs) {
          const list = history.get(h.incident_id) ?? [];
          list.push(historyEvent(h));
          history.set(h.incident_id, list);
        }
      }
      return rows.map((r) => incidentFromRow(rowData(r), history.get(r.id) ?? []));
    });
  }

  async transition(id: string, request: TransitionRequest): Promise<Incident> {
    const t = checkTransitionRequest(request);
    const now = this.config.now();
    return this.#write('change the review state', () => {
      const row = this.#requireIncident(id);
      const from = row.state as ReviewState;
      assertTransition(id, from, t.to);
      const data = rowData(row);
      const hold =
        t.to === 'reported'
          ? holdAfterReport(row.legal_hold_until, now, this.config.reportHoldMs)
          : row.legal_hold_until;
      this.#q(
        'UPDATE incidents SET state = ?, state_changed_at = ?, report_reference = COALESCE(?, report_reference), legal_hold_until = ? WHERE id = ?',
      ).run(t.to, now, t.reportReference, hold, id);
      this.#addHistory(id, {
        from_state: from,
        to_state: t.to,
        actor: t.actor,
        at: now,
        reason: t.reason,
        report_reference: t.reportReference,
      });
      if (t.allowlistTypes) {
        const status = this.config.requireSecondReviewer ? 'pending' : 'active';
        for (const c of allowlistCandidates(data.body, t.allowlistTypes)) {
          const entryId = newId('alw');
          const inserted = this.#q(
            `INSERT INTO allowlist (id, type, hex, status, reason, incident_id, proposed_by, proposed_at, approved_by, approved_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
          ).run(
            entryId,
            c.type,
            c.hex,
            status,
            t.reason,
            id,
            t.actor,
            now,
            status === 'active' ? t.actor : null,
            status === 'active' ? now : null,
          );
          if (inserted.changes === 1) {
            this.#appendAudit(
              {
                type: 'allowlist.added',
                actor: t.actor,
                incidentId: id,
                details: { entry: entryId, type: c.type, status, reason: t.reason },
              },
              now,
            );
          }
        }
      }
      this.#appendAudit(
        {
          type: 'incident.state_changed',
          actor: t.actor,
          incidentId: id,
          details: {
            from,
            to: t.to,
            reason: t.reason,
            reportReference: t.reportReference,
            legalHoldUntil: hold === null ? null : iso(hold),
          },
        },
        now,
      );
      this.#insertOutbox(
        webhookPayload(
          'incident.state_changed',
          now,
          { id, action: data.action, body: data.body },
          t.to,
          from,
        ),
        now,
      );
      return this.#loadIncident(id)!;
    });
  }

  async setLegalHold(
    id: string,
    request: AuditedAction & { readonly until: Date | number },
  ): Promise<Incident> {
    requireActor(request?.actor);
    const until = toMs(request.until);
    if (!Number.isFinite(until))
      throw incidentError(
        IncidentErrorCodes.INVALID_INPUT,
        '`until` is a Date or milliseconds since the epoch',
      );
    const now = this.config.now();
    return this.#write('set the legal hold', () => {
      const row = this.#requireIncident(id);
      const hold = Math.max(row.legal_hold_until ?? 0, until);
      this.#q('UPDATE incidents SET legal_hold_until = ? WHERE id = ?').run(hold, id);
      this.#appendAudit(
        {
          type: 'incident.legal_hold_set',
          actor: request.actor,
          incidentId: id,
          details: { until: iso(hold), reason: request.reason ?? null },
        },
        now,
      );
      return this.#loadIncident(id)!;
    });
  }

  async liftLegalHold(id: string, request: AuditedAction & { readonly reason: string }): Promise<Incident> {
    requireActor(request?.actor);
    const reason = checkLiftReason(request.reason);
    const now = this.config.now();
    return this.#write('lift the legal hold', () => {
      const row = this.#requireIncident(id);
      const hold = holdAfterLift(rowData(row), this.config.reportHoldMs);
      this.#q('UPDATE incidents SET legal_hold_until = ? WHERE id = ?').run(hold, id);
      this.#appendAudit(
        {
          type: 'incident.legal_hold_lifted',
          actor: request.actor,
          incidentId: id,
          details: {
            from: row.legal_hold_until === null ? null : iso(row.legal_hold_until),
            until: hold === null ? null : iso(hold),
            reason,
          },
        },
        now,
      );
      return this.#loadIncident(id)!;
    });
  }

  async attachEvidence(id: string, evidence: EvidenceRef, action: AuditedAction): Promise<Incident> {
    requireActor(action?.actor);
    const ref = normalizeEvidenceRef(evidence);
    const now = this.config.now();
    return this.#write('attach the evidence', () => {
      const row = this.#requireIncident(id);
      if (row.evidence_id !== null)
        throw incidentError(IncidentErrorCodes.EVIDENCE_EXISTS, `Incident ${id} already has evidence`);
      this.#q(
        'UPDATE incidents SET evidence_id = ?, evidence_key_id = ?, evidence_size = ?, evidence_stored_at = ? WHERE id = ?',
      ).run(ref.id, ref.keyId, ref.size, Date.parse(ref.storedAt), id);
      this.#appendAudit(
        { type: 'evidence.stored', actor: action.actor, incidentId: id, details: { keyId: ref.keyId } },
        now,
      );
      return this.#loadIncident(id)!;
    });
  }

  async recordEvidenceAccess(
    id: string,
    request: AuditedAction & {
      readonly kind: 'viewed' | 'exported';
      readonly details?: Record<string, string | number | boolean>;
    },
  ): Promise<void> {
    requireActor(request?.actor);
    if (request.kind !== 'viewed' && request.kind !== 'exported') {
      throw incidentError(IncidentErrorCodes.INVALID_INPUT, "`kind` is 'viewed' or 'exported'");
    }
    const now = this.config.now();
    this.#write('record the evidence access', () => {
      this.#requireIncident(id);
      if (request.kind === 'viewed') this.#q('UPDATE incidents SET evidence_viewed = 1 WHERE id = ?').run(id);
      this.#appendAudit(
        {
          type: request.kind === 'viewed' ? 'evidence.viewed' : 'evidence.exported',
          actor: request.actor,
          incidentId: id,
          details: { ...(request.details ?? {}), reason: request.reason ?? null },
        },
        now,
      );
    });
  }

  async listAllowlist(
    query: { readonly status?: readonly AllowlistStatus[] } = {},
  ): Promise<AllowlistEntry[]> {
    const status = query.status && query.status.length > 0 ? query.status : ['active'];
    return this.#read('list the allowlist', () =>
      (
        this.#q(
          `SELECT * FROM allowlist WHERE status IN (${placeholders(status.length)}) ORDER BY seq DESC`,
        ).all(...status) as AllowlistRow[]
      ).map(allowlistEntry),
    );
  }

  async findAllowlisted(
    hashes: readonly { readonly type: string; readonly hex: string }[],
  ): Promise<AllowlistEntry[]> {
    if (hashes.length === 0) return [];
    return this.#read('read the allowlist', () => {
      const out: AllowlistEntry[] = [];
      const stmt = this.#q("SELECT * FROM allowlist WHERE type = ? AND hex = ? AND status = 'active'");
      for (const h of hashes) {
        const row = stmt.get(h.type, h.hex.toLowerCase()) as AllowlistRow | undefined;
        if (row) out.push(allowlistEntry(row));
      }
      return out;
    });
  }

  #requireAllowlist(id: string): AllowlistRow {
    const row = isId('alw', id)
      ? (this.#q('SELECT * FROM allowlist WHERE id = ?').get(id) as AllowlistRow | undefined)
      : undefined;
    if (!row) throw incidentError(IncidentErrorCodes.NOT_FOUND, 'No allowlist entry with that id');
    return row;
  }

  async approveAllowlistEntry(id: string, action: AuditedAction): Promise<AllowlistEntry> {
    requireActor(action?.actor);
    const now = this.config.now();
    return this.#write('approve the allowlist entry', () => {
      const row = this.#requireAllowlist(id);
      if (row.status !== 'pending') {
        throw incidentError(
          IncidentErrorCodes.ALLOWLIST_STATE,
          `The allowlist entry is ${row.status}, not pending`,
        );
      }
      if (row.proposed_by === action.actor) {
        throw incidentError(
          IncidentErrorCodes.SAME_REVIEWER,
          'The allowlist entry needs a second reviewer: the approver must differ from the reviewer who proposed it',
        );
      }
      this.#q("UPDATE allowlist SET status = 'active', approved_by = ?, approved_at = ? WHERE id = ?").run(
        action.actor,
        now,
        id,
      );
      this.#appendAudit(
        {
          type: 'allowlist.approved',
          actor: action.actor,
          incidentId: row.incident_id,
          details: { entry: id, reason: action.reason ?? null },
        },
        now,
      );
      return allowlistEntry(this.#requireAllowlist(id));
    });
  }

  async revokeAllowlistEntry(
    id: string,
    action: AuditedAction & { readonly reason: string },
  ): Promise<AllowlistEntry> {
    requireActor(action?.actor);
    if (typeof action.reason !== 'string' || action.reason.trim().length === 0) {
      throw incidentError(IncidentErrorCodes.INVALID_INPUT, 'Revoking an allowlist entry needs a `reason`');
    }
    const now = this.config.now();
    return this.#write('revoke the allowlist entry', () => {
      const row = this.#requireAllowlist(id);
      if (row.status === 'revoked')
        throw incidentError(IncidentErrorCodes.ALLOWLIST_STATE, 'The allowlist entry is already revoked');
      this.#q(
        "UPDATE allowlist SET status = 'revoked', revoked_by = ?, revoked_at = ?, revoke_reason = ? WHERE id = ?",
      ).run(action.actor, now, action.reason, id);
      this.#appendAudit(
        {
          type: 'allowlist.revoked',
          actor: action.actor,
          incidentId: row.incident_id,
          details: { entry: id, reason: action.reason },
        },
        now,
      );
      return allowlistEntry(this.#requireAllowlist(id));
    });
  }

  async appendAudit(input: AuditInput): Promise<AuditRecord> {
    validateAuditInput(input);
    const now = this.config.now();
    return this.#write('append to the audit log', () => this.#appendAudit(input, now));
  }

  async readAudit(
    options: { readonly afterSeq?: number; readonly limit?: number } = {},
  ): Promise<AuditRecord[]> {
    const after = options.afterSeq ?? 0;
    const limit = options.limit ?? 1000;
    return this.#read('read the audit log', () =>
      (
        this.#q('SELECT * FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?').all(after, limit) as AuditRow[]
      ).map(auditRecord),
    );
  }

  async auditHead(): Promise<AuditHead> {
    return this.#read('read the audit head', () => {
      const h = this.#q('SELECT seq, hash FROM audit_head WHERE id = 1').get() as AuditHead;
      return { seq: h.seq, hash: h.hash };
    });
  }

  async verifyAuditChain(): Promise<AuditVerification> {
    const head = await this.auditHead();
    return verifyAuditPages((afterSeq) => this.readAudit({ afterSeq, limit: 5000 }), head);
  }

  async claimOutbox(request: {
    owner: string;
    limit: number;
    leaseMs: number;
    now: number;
  }): Promise<OutboxEvent[]> {
    const { owner, limit, leaseMs, now } = request;
    return this.#write('claim outbox events', () => {
      const rows = this.#q(
        `SELECT * FROM outbox WHERE delivered_at IS NULL AND next_attempt_at <= ?
             AND (lease_until IS NULL OR lease_until <= ?) ORDER BY seq LIMIT ?`,
      ).all(now, now, limit) as OutboxRow[];
      const lease = this.#q('UPDATE outbox SET lease_owner = ?, lease_until = ? WHERE seq = ?');
      for (const r of rows) lease.run(owner, now + leaseMs, r.seq);
      return rows.map(outboxEvent);
    });
  }

  async settleOutbox(eventId: string, owner: string, settlement: OutboxSettlement): Promise<boolean> {
    const now = this.config.now();
    return this.#write('settle the outbox event', () => {
      const row = this.#q('SELECT * FROM outbox WHERE id = ?').get(eventId) as OutboxRow | undefined;
      if (!row || row.lease_owner !== owner || row.delivered_at !== null) return false;
      const delivered = [
        ...new Set([...(JSON.parse(row.delivered_to) as string[]), ...settlement.deliveredTo]),
      ];
      this.#q(
        `UPDATE outbox SET attempts = attempts + 1, delivered_to = ?, delivered_at = ?, next_attempt_at = ?,
           last_error = ?, lease_owner = NULL, lease_until = NULL WHERE id = ?`,
      ).run(
        JSON.stringify(delivered),
        settlement.done ? now : null,
        settlement.done ? row.next_attempt_at : (settlement.nextAttemptAt ?? now),
        settlement.done ? null : (settlement.error ?? 'failed').slice(0, 200),
        eventId,
      );
      return true;
    });
  }

  async listOutbox(
    query: { incidentId?: string; pending?: boolean; limit?: number } = {},
  ): Promise<OutboxEvent[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    if (query.incidentId !== undefined) {
      where.push('incident_id = ?');
      args.push(query.incidentId);
    }
    if (query.pending) where.push('delivered_at IS NULL');
    return this.#read('list the outbox', () =>
      (
        this.#q(
          `SELECT * FROM outbox ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq LIMIT ?`,
        ).all(...args, query.limit ?? 1000) as OutboxRow[]
      ).map(outboxEvent),
    );
  }

  async listEvidenceDue(request: {
    storedBefore: number;
    now: number;
    limit: number;
  }): Promise<EvidenceDue[]> {
    return this.#read('list evidence due for deletion', () =>
      (
        this.#q(
          `SELECT * FROM incidents WHERE evidence_id IS NOT NULL AND evidence_deleted_at IS NULL
               AND evidence_stored_at < ? AND (legal_hold_until IS NULL OR legal_hold_until <= ?)
               AND state IN ('dismissed', 'reported') ORDER BY evidence_stored_at LIMIT ?`,
        ).all(request.storedBefore, request.now, request.limit) as IncidentRow[]
      ).map((r) => {
        const e = rowData(r).evidence!;
        return {
          incidentId: r.id,
          evidence: { id: e.id, keyId: e.keyId, size: e.size, storedAt: e.storedAt },
        };
      }),
    );
  }

  async markEvidenceDeleted(id: string, action: AuditedAction): Promise<void> {
    requireActor(action?.actor);
    const now = this.config.now();
    this.#write('mark the evidence deleted', () => {
      const row = this.#requireIncident(id);
      if (row.evidence_id === null || row.evidence_deleted_at !== null) {
        throw incidentError(IncidentErrorCodes.NOT_FOUND, `Incident ${id} has no evidence to delete`);
      }
      if (
        (row.legal_hold_until !== null && row.legal_hold_until > now) ||
        (row.state !== 'dismissed' && row.state !== 'reported')
      ) {
        throw incidentError(
          IncidentErrorCodes.EVIDENCE_HELD,
          `The evidence of incident ${id} is held or its review is open`,
        );
      }
      this.#q('UPDATE incidents SET evidence_deleted_at = ? WHERE id = ?').run(now, id);
      this.#appendAudit(
        {
          type: 'evidence.deleted',
          actor: action.actor,
          incidentId: id,
          details: { reason: action.reason ?? null },
        },
        now,
      );
    });
  }

  async addToLedger(records: readonly NewLedgerRecord[]): Promise<LedgerRecord[]> {
    if (!Array.isArray(records))
      throw incidentError(IncidentErrorCodes.INVALID_INPUT, 'addToLedger() takes an array of records');
    const now = this.config.now();
    const prepared = records.map((r) => prepareLedgerRecord(r, now));
    // The ledger is written for every accepted upload: its commits skip the fsync that incidents
    // get (WAL with synchronous=NORMAL survives a process crash, and may lose the last ledger
    // commits on a power loss). The connection's setting is restored right after.
    const relaxed = this.config.synchronous === 'full';
    if (relaxed) this.#open.pragma('synchronous = NORMAL');
    try {
      return this.#addToLedger(prepared);
    } finally {
      if (relaxed && this.#db) this.#db.pragma('synchronous = FULL');
    }
  }

  #addToLedger(prepared: ReturnType<typeof prepareLedgerRecord>[]): LedgerRecord[] {
    return this.#write('add to the ledger', () => {
      const insert = this.#q('INSERT INTO ledger (id, reference, accepted_at, body) VALUES (?, ?, ?, ?)');
      const exact = this.#q('INSERT OR IGNORE INTO ledger_exact (type, hash, seq) VALUES (?, ?, ?)');
      const perceptual = this.#q(
        'INSERT OR REPLACE INTO ledger_perceptual (type, seq, hashes) VALUES (?, ?, ?)',
      );
      return prepared.map((p) => {
        const seq = Number(
          insert.run(p.id, p.reference, p.acceptedAtMs, JSON.stringify(p.body)).lastInsertRowid,
        );
        for (const e of p.exact) exact.run(e.type, e.hash, seq);
        for (const h of p.perceptual) perceptual.run(h.type, seq, h.hashes);
        // built from what was written rather than parsed back: this runs for every accepted upload
        return {
          id: p.id,
          seq,
          reference: p.reference,
          acceptedAt: iso(p.acceptedAtMs),
          ...p.body,
          incidentId: null,
        };
      });
    });
  }

  async findLedgerExact(type: string, hexes: readonly string[]): Promise<LedgerExactHit[]> {
    return this.#read('search the ledger', () => {
      const out: LedgerExactHit[] = [];
      for (const part of chunks(hexes, IN_CHUNK)) {
        const rows = this.#q(
          `SELECT seq, hash FROM ledger_exact WHERE type = ? AND hash IN (${placeholders(part.length)})`,
        ).all(type, ...part.map((h) => Buffer.from(h, 'hex'))) as { seq: number; hash: Buffer }[];
        for (const r of rows) out.push({ seq: r.seq, type, hex: r.hash.toString('hex') });
      }
      return out;
    });
  }

  async scanLedgerPerceptual(type: string, afterSeq: number, limit: number): Promise<LedgerPerceptualPage> {
    return this.#read('scan the ledger', () => {
      const rows = this.#q(
        'SELECT seq, hashes FROM ledger_perceptual WHERE type = ? AND seq > ? ORDER BY seq LIMIT ?',
      )
        .raw()
        .all(type, afterSeq, limit) as [number, Buffer][];
      const seqs = new Array<number>(rows.length);
      const hashes = new Array<Uint8Array>(rows.length);
      for (let i = 0; i < rows.length; i++) {
        seqs[i] = rows[i]![0];
        hashes[i] = rows[i]![1];
      }
      return { seqs, hashes };
    });
  }

  async getLedgerRecords(seqs: readonly number[]): Promise<LedgerRecord[]> {
    return this.#read('read the ledger', () => {
      const out: LedgerRecord[] = [];
      for (const part of chunks([...new Set(seqs)], IN_CHUNK)) {
        const rows = this.#q(`SELECT * FROM ledger WHERE seq IN (${placeholders(part.length)})`).all(
          ...part,
        ) as LedgerRow[];
        for (const r of rows) out.push(ledgerRecord(r));
      }
      return out;
    });
  }

  async close(): Promise<void> {
    const db = this.#db;
    this.#db = null;
    db?.close();
  }
}

/**
 * Opens (creating when missing) a SQLite incident store and brings its schema up to date. WAL
 * mode lets readers (the console, `hashgate audit verify`) run beside the writer; several processes
 * may share the file, their writes serialised by SQLite's lock (`busyTimeoutMs`). better-sqlite3
 * is synchronous: each call holds the event loop for the length of one small transaction.
 *
 * @example
 * const store = await createSqliteStore({ path: '/var/lib/hashgate/incidents.db' });
 * const incident = await store.createIncident({ file: { size }, hashes, matches, action: 'block' });
 */
export async function createSqliteStore(
  options: SqliteStoreOptions,
): Promise<IncidentStore & { readonly config: SqliteStoreConfig }> {
  const config = parseSqliteStoreOptions(options);
  let db: Database.Database;
  try {
    if (config.path !== ':memory:') mkdirSync(dirname(config.path), { recursive: true });
    db = new Database(config.path, { timeout: config.busyTimeoutMs });
  } catch (err) {
    throw storeFailure('open the database file', err);
  }
  try {
    if (config.path !== ':memory:') db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${config.synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
    db.pragma('foreign_keys = ON');
    // 32 MiB of page cache (the default is 2 MiB): ledger inserts touch index pages at random
    db.pragma('cache_size = -32768');
    migrate(db);
  } catch (err) {
    db.close();
    throw storeFailure('prepare the database', err);
  }
  return new SqliteIncidentStore(config, db);
}
