/**
 * Owns the PostgreSQL incident store, for several hashgate instances that share one review queue,
 * audit chain, outbox and ledger: every change with its audit record and outbox event in one
 * transaction, audit appends serialised on the chain's head row, outbox claims with
 * `FOR UPDATE SKIP LOCKED`.
 */

import { Pool, type PoolClient, type PoolConfig, type QueryResultRow } from 'pg';
import { invalidOption } from '../errors';
import { integerOption, objectOption, rejectUnknownKeys } from '../validate';
import { requireActor, sealAuditRecord, validateAuditInput, verifyAuditPages } from './audit-chain';
import { IncidentErrorCodes, incidentError, storeFailure } from './errors';
import { isId, newId } from './ids';
import { POSTGRES_MIGRATIONS, POSTGRES_SCHEMA_VERSION } from './postgres-schema';
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

/** Options of {@link createPostgresStore}: a pool, a connection string or a pool config. */
export interface PostgresStoreOptions extends IncidentStoreOptions {
  /** An existing pool (the store leaves it open on `close()`). */
  pool?: Pool;
  /** A connection string such as `postgres://hashgate@db/hashgate`. */
  connectionString?: string;
  /** A full `pg` pool configuration. */
  connection?: PoolConfig;
  /** Schema that holds hashgate's tables; created when missing. @default 'hashgate' */
  schema?: string;
  /** Largest number of connections of a pool the store creates. @default 10 */
  maxConnections?: number;
}

/** The validated, frozen config of a PostgreSQL store. */
export interface PostgresStoreConfig extends IncidentStoreConfig {
  readonly schema: string;
  readonly maxConnections: number;
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** Validates {@link PostgresStoreOptions} (throws `ERR_HASHGATE_INVALID_OPTION`). The pool and connection settings are checked, not copied. */
export function parsePostgresStoreOptions(options: unknown): PostgresStoreConfig {
  const o = objectOption('postgresStore', options);
  rejectUnknownKeys('postgresStore', o, [
    ...SHARED_STORE_OPTION_KEYS,
    'pool',
    'connectionString',
    'connection',
    'schema',
    'maxConnections',
  ]);
  const given = ['pool', 'connectionString', 'connection'].filter((k) => o[k] !== undefined);
  if (given.length !== 1) {
    throw invalidOption(
      'postgresStore',
      'exactly one of `pool`, `connectionString` or `connection`',
      given.length === 0 ? undefined : given.join(', '),
    );
  }
  if (o.pool !== undefined && !(o.pool instanceof Pool)) {
    throw invalidOption('postgresStore.pool', 'a pg Pool', o.pool);
  }
  if (
    o.connectionString !== undefined &&
    (typeof o.connectionString !== 'string' || o.connectionString.length === 0)
  ) {
    throw invalidOption('postgresStore.connectionString', 'a postgres:// connection string', '(not shown)');
  }
  if (o.connection !== undefined && (typeof o.connection !== 'object' || o.connection === null)) {
    throw invalidOption('postgresStore.connection', 'a pg pool configuration object', o.connection);
  }
  const schema = o.schema ?? 'hashgate';
  if (typeof schema !== 'string' || !SCHEMA_NAME.test(schema)) {
    throw invalidOption(
      'postgresStore.schema',
      'a lower-case schema name (letters, digits and _, at most 63)',
      schema,
    );
  }
  return Object.freeze({
    ...parseSharedStoreOptions(o, 'postgresStore'),
    schema,
    maxConnections: integerOption('postgresStore.maxConnections', o.maxConnections, 10, 1, 1000),
  });
}

interface IncidentRow {
  id: string;
  occurred_at: Date;
  time_zone: string;
  utc_offset: number;
  action: string;
  state: string;
  state_changed_at: Date;
  report_reference: string | null;
  legal_hold_until: Date | null;
  evidence_viewed: boolean;
  evidence_id: string | null;
  evidence_key_id: string | null;
  evidence_size: string | null;
  evidence_stored_at: Date | null;
  evidence_deleted_at: Date | null;
  body: IncidentBody;
}

interface HistoryRow {
  incident_id: string;
  n: number;
  from_state: string | null;
  to_state: string;
  actor: string;
  at: Date;
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
  proposed_at: Date;
  approved_by: string | null;
  approved_at: Date | null;
  revoked_by: string | null;
  revoked_at: Date | null;
  revoke_reason: string | null;
}

interface AuditRow {
  seq: string;
  at: string;
  type: string;
  actor: string;
  incident_id: string | null;
  details: string;
  prev_hash: string;
  hash: string;
}

interface OutboxRow {
  seq: string;
  id: string;
  type: string;
  incident_id: string;
  created_at: Date;
  payload: WebhookPayload;
  attempts: number;
  next_attempt_at: Date;
  delivered_at: Date | null;
  delivered_to: string[];
  last_error: string | null;
  lease_owner: string | null;
  lease_until: Date | null;
}

interface LedgerRow {
  seq: string;
  id: string;
  reference: string;
  accepted_at: Date;
  body: Pick<LedgerRecord, 'route' | 'requestId' | 'uploader' | 'file' | 'hashes'>;
  incident_id: string | null;
}

const ms = (d: Date | null): number | null => (d === null ? null : d.getTime());
const isoOrNull = (d: Date | null): string | null => (d === null ? null : d.toISOString());
const dateOrNull = (v: number | null | undefined): Date | null =>
  v === null || v === undefined ? null : new Date(v);

function rowData(r: IncidentRow): IncidentRowData {
  return {
    id: r.id,
    occurredAtMs: r.occurred_at.getTime(),
    timeZone: r.time_zone,
    utcOffsetMinutes: r.utc_offset,
    action: r.action as IncidentAction,
    state: r.state as ReviewState,
    stateChangedAtMs: r.state_changed_at.getTime(),
    reportReference: r.report_reference,
    legalHoldUntilMs: ms(r.legal_hold_until),
    evidenceViewed: r.evidence_viewed,
    evidence:
      r.evidence_id === null
        ? null
        : {
            id: r.evidence_id,
            keyId: r.evidence_key_id ?? '',
            size: Number(r.evidence_size ?? 0),
            storedAt: (r.evidence_stored_at ?? new Date(0)).toISOString(),
            deletedAt: isoOrNull(r.evidence_deleted_at),
          },
    body: r.body,
  };
}

function historyEvent(r: HistoryRow): ReviewEvent {
  return {
    from: r.from_state as ReviewState | null,
    to: r.to_state as ReviewState,
    actor: r.actor,
    at: r.at.toISOString(),
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
    proposedAt: r.proposed_at.toISOString(),
    approvedBy: r.approved_by,
    approvedAt: isoOrNull(r.approved_at),
    revokedBy: r.revoked_by,
    revokedAt: isoOrNull(r.revoked_at),
    revokeReason: r.revoke_reason,
  };
}

function auditRecord(r: AuditRow): AuditRecord {
  return {
    seq: Number(r.seq),
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
    seq: Number(r.seq),
    type: r.type as OutboxEventType,
    incidentId: r.incident_id,
    createdAt: r.created_at.toISOString(),
    payload: r.payload,
    attempts: r.attempts,
    nextAttemptAt: r.next_attempt_at.toISOString(),
    deliveredAt: isoOrNull(r.delivered_at),
    deliveredTo: r.delivered_to,
    lastError: r.last_error,
  };
}

function ledgerRecord(r: LedgerRow): LedgerRecord {
  return {
    id: r.id,
    seq: Number(r.seq),
    reference: r.reference,
    acceptedAt: r.accepted_at.toISOString(),
    route: r.body.route,
    requestId: r.body.requestId,
    uploader: r.body.uploader,
    file: r.body.file,
    hashes: r.body.hashes,
    incidentId: r.incident_id,
  };
}

function isUniqueViolation(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === '23505';
}

type Db = Pick<PoolClient, 'query'>;

async function rows<T extends QueryResultRow>(db: Db, text: string, values: unknown[] = []): Promise<T[]> {
  return (await db.query<T>(text, values)).rows;
}

/** The last connection error of each client the store has used (see {@link watchClient}). */
const clientErrors = new WeakMap<PoolClient, Error | undefined>();

/**
 * Listens for a client's errors for its whole life. While a client is checked out, pg-pool does
 * not listen, so a server restart or `pg_terminate_backend` would surface as an unhandled 'error'
 * event and end the process; a new connection's closing message can even arrive in the same read
 * as its ready message, before `pool.connect()` has resolved. Registered on the pool's 'connect'
 * event, and again at checkout for clients a host's pool made before the store existed.
 */
function watchClient(client: PoolClient): void {
  if (clientErrors.has(client)) return;
  clientErrors.set(client, undefined);
  client.on('error', (err: Error) => {
    clientErrors.set(client, err);
  });
}

/** A connection checked out of the pool; `release()` hands it back as broken when it failed. */
async function checkout(pool: Pool): Promise<{ client: PoolClient; release(err?: Error): void }> {
  const client = await pool.connect();
  watchClient(client);
  return {
    client,
    release(err?: Error): void {
      client.release(err ?? clientErrors.get(client));
    },
  };
}

/** Applies the pending migrations in one transaction under an advisory lock, so instances starting together migrate once. */
async function migrate(pool: Pool, schema: string): Promise<void> {
  const s = `"${schema}"`;
  const { client, release } = await checkout(pool);
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`hashgate-migrate:${schema}`]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${s}.schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
    );
    const [row] = await rows<{ v: number | null }>(
      client,
      `SELECT MAX(version) AS v FROM ${s}.schema_migrations`,
    );
    const current = row?.v ?? 0;
    if (current > POSTGRES_SCHEMA_VERSION) {
      throw incidentError(
        IncidentErrorCodes.SCHEMA_TOO_NEW,
        `The incident database has schema version ${current}; this hashgate knows up to ${POSTGRES_SCHEMA_VERSION}. Upgrade hashgate`,
      );
    }
    for (const m of POSTGRES_MIGRATIONS) {
      if (m.version <= current) continue;
      await client.query(m.sql(s));
      await client.query(`INSERT INTO ${s}.schema_migrations (version, name) VALUES ($1, $2)`, [
        m.version,
        m.name,
      ]);
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch((e: Error) => {
      broken = e;
    });
    throw err;
  } finally {
    release(broken);
  }
}

class PostgresIncidentStore implements IncidentStore {
  readonly kind = 'postgres';
  readonly config: PostgresStoreConfig;
  readonly #pool: Pool;
  readonly #ownsPool: boolean;
  readonly #s: string;
  #closed = false;

  constructor(config: PostgresStoreConfig, pool: Pool, ownsPool: boolean) {
    this.config = config;
    this.#pool = pool;
    this.#ownsPool = ownsPool;
    this.#s = `"${config.schema}"`;
  }

  #check(): void {
    if (this.#closed)
      throw incidentError(IncidentErrorCodes.STORE_CLOSED, 'The incident store has been closed');
  }

  /** Runs `fn` in a transaction on one connection; any error rolls back. */
  async #tx<T>(what: string, fn: (db: Db) => Promise<T>): Promise<T> {
    this.#check();
    let client: PoolClient;
    let release: (err?: Error) => void;
    try {
      ({ client, release } = await checkout(this.#pool));
    } catch (err) {
      throw storeFailure(what, err);
    }
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch((e: Error) => {
        broken = e;
      });
      throw storeFailure(what, err);
    } finally {
      release(broken);
    }
  }

  async #read<T>(what: string, fn: (db: Db) => Promise<T>): Promise<T> {
    this.#check();
    try {
      return await fn(this.#pool);
    } catch (err) {
      throw storeFailure(what, err);
    }
  }

  /** Appends one audit record; the head row lock serialises appends across every instance. */
  async #appendAudit(db: Db, input: AuditInput, atMs: number): Promise<AuditRecord> {
    const { details, text } = validateAuditInput(input);
    const [head] = await rows<{ seq: string; hash: string }>(
      db,
      `SELECT seq, hash FROM ${this.#s}.audit_head WHERE id = 1 FOR UPDATE`,
    );
    if (!head) throw incidentError(IncidentErrorCodes.STORE_FAILED, 'The audit head row is missing');
    const record = sealAuditRecord({ seq: Number(head.seq), hash: head.hash }, iso(atMs), input, details);
    await db.query(
      `INSERT INTO ${this.#s}.audit_log (seq, at, type, actor, incident_id, details, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [
        record.seq,
        record.at,
        record.type,
        record.actor,
        record.incidentId,
        text,
        record.prevHash,
        record.hash,
      ],
    );
    await db.query(`UPDATE ${this.#s}.audit_head SET seq = $1, hash = $2 WHERE id = 1`, [
      record.seq,
      record.hash,
    ]);
    return record;
  }

  async #insertOutbox(db: Db, payload: WebhookPayload, atMs: number): Promise<void> {
    await db.query(
      `INSERT INTO ${this.#s}.outbox (id, type, incident_id, created_at, payload, next_attempt_at) VALUES ($1, $2, $3, $4, $5, $4)`,
      [payload.id, payload.type, payload.incident.id, new Date(atMs), JSON.stringify(payload)],
    );
  }

  async #loadIncident(db: Db, id: string): Promise<Incident | undefined> {
    const [row] = await rows<IncidentRow>(db, `SELECT * FROM ${this.#s}.incidents WHERE id = $1`, [id]);
    if (!row) return undefined;
    const history = await rows<HistoryRow>(
      db,
      `SELECT * FROM ${this.#s}.incident_history WHERE incident_id = $1 ORDER BY n`,
      [id],
    );
    return incidentFromRow(rowData(row), history.map(historyEvent));
  }

  /** Reads and locks an incident row for the rest of the transaction. */
  async #lockIncident(db: Db, id: string): Promise<IncidentRow> {
    const [row] = isId('inc', id)
      ? await rows<IncidentRow>(db, `SELECT * FROM ${this.#s}.incidents WHERE id = $1 FOR UPDATE`, [id])
      : [];
    if (!row)
      throw incidentError(
        IncidentErrorCodes.NOT_FOUND,
        `No incident with id ${isId('inc', id) ? id : '(malformed)'}`,
      );
    return row;
  }

  async #addHistory(
    db: Db,
    id: string,
    e: Omit<HistoryRow, 'incident_id' | 'n' | 'at'> & { at: number },
  ): Promise<void> {
    await db.query(
      `INSERT INTO ${this.#s}.incident_history (incident_id, n, from_state, to_state, actor, at, reason, report_reference)
       SELECT $1, COALESCE(MAX(n), -1) + 1, $2, $3, $4, $5, $6, $7 FROM ${this.#s}.incident_history WHERE incident_id = $1`,
      [id, e.from_state, e.to_state, e.actor, new Date(e.at), e.reason, e.report_reference],
    );
  }

  async createIncident(input: NewIncident): Promise<Incident> {
    this.#check();
    const now = this.config.now();
    const p = prepareIncident(input, now, this.config.timeZone);
    return this.#tx('record the incident', async (db) => {
      try {
        await db.query(
          `INSERT INTO ${this.#s}.incidents (id, occurred_at, time_zone, utc_offset, action, source, state, state_changed_at,
             evidence_id, evidence_key_id, evidence_size, evidence_stored_at, body)
           VALUES ($1, $2, $3, $4, $5, $6, 'new', $7, $8, $9, $10, $11, $12)`,
          [
            p.id,
            new Date(p.occurredAtMs),
            p.timeZone,
            p.utcOffsetMinutes,
            p.action,
            p.body.source,
            new Date(now),
            p.evidence?.id ?? null,
            p.evidence?.keyId ?? null,
            p.evidence?.size ?? null,
            p.evidence ? new Date(p.evidence.storedAt) : null,
            JSON.stringify(p.body),
          ],
        );
      } catch (err) {
        if (isUniqueViolation(err))
          throw incidentError(IncidentErrorCodes.DUPLICATE, `An incident with id ${p.id} exists`);
        throw err;
      }
      const created = creationEvent(p, now);
      await this.#addHistory(db, p.id, {
        from_state: null,
        to_state: 'new',
        actor: created.actor,
        at: now,
        reason: created.reason,
        report_reference: null,
      });
      if (p.body.ledger) {
        const linked = await db.query(
          `UPDATE ${this.#s}.ledger SET incident_id = $1 WHERE id = $2 AND incident_id IS NULL`,
          [p.id, p.body.ledger.id],
        );
        if (linked.rowCount !== 1) {
          throw incidentError(
            IncidentErrorCodes.DUPLICATE,
            'The ledger record is unknown or already has an incident',
          );
        }
      }
      await this.#insertOutbox(db, webhookPayload('incident.created', now, p, 'new', null), now);
      await this.#appendAudit(
        db,
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
      return (await this.#loadIncident(db, p.id))!;
    });
  }

  async getIncident(id: string): Promise<Incident | undefined> {
    if (!isId('inc', id)) return undefined;
    return this.#read('read the incident', (db) => this.#loadIncident(db, id));
  }

  async viewIncident(id: string, action: AuditedAction): Promise<Incident> {
    requireActor(action?.actor);
    const now = this.config.now();
    return this.#tx('record the view', async (db) => {
      await this.#lockIncident(db, id);
      await this.#appendAudit(db, { type: 'incident.viewed', actor: action.actor, incidentId: id }, now);
      return (await this.#loadIncident(db, id))!;
    });
  }

  async listIncidents(query: IncidentQuery = {}): Promise<Incident[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    const arg = (v: unknown): string => {
      args.push(v);
      return `$${args.length}`;
    };
    if (query.from !== undefined) where.push(`occurred_at >= ${arg(new Date(toMs(query.from)))}`);
    if (query.to !== undefined) where.push(`occurred_at < ${arg(new Date(toMs(query.to)))}`);
    if (query.states && query.states.length > 0) where.push(`state = ANY(${arg([...query.states])})`);
    if (query.after)
      where.push(`(occurred_at, id) > (${arg(new Date(query.after.occurredAt))}, ${arg(query.after.id)})`);
    const limit = query.limit ?? 1000;
    if (!Number.isInteger(limit) || limit < 1)
      throw incidentError(IncidentErrorCodes.INVALID_INPUT, '`limit` is a positive whole number');
    return this.#read('list incidents', async (db) => {
      const found = await rows<IncidentRow>(
        db,
        `SELECT * FROM ${this.#s}.incidents ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY occurred_at, id LIMIT ${arg(limit)}`,
        args,
      );
      const history = new Map<string, ReviewEvent[]>();
      if (found.length > 0) {
        const hs = await rows<HistoryRow>(
          db,
          `SELECT * FROM ${this.#s}.incident_history WHERE incident_id = ANY($1) ORDER BY incident_id, n`,
          [found.map((r) => r.id)],
        );
        for (const h of hs) {
          const list = history.get(h.incident_id) ?? [];
          list.push(historyEvent(h));
          history.set(h.incident_id, list);
        }
      }
      return found.map((r) => incidentFromRow(rowData(r), history.get(r.id) ?? []));
    });
  }

  async transition(id: string, request: TransitionRequest): Promise<Incident> {
    const t = checkTransitionRequest(request);
    const now = this.config.now();
    return this.#tx('change the review state', async (db) => {
      const row = await this.#lockIncident(db, id);
      const from = row.state as ReviewState;
      assertTransition(id, from, t.to);
      const data = rowData(row);
      const hold =
        t.to === 'reported'
          ? holdAfterReport(data.legalHoldUntilMs, now, this.config.reportHoldMs)
          : data.legalHoldUntilMs;
      await db.query(
        `UPDATE ${this.#s}.incidents SET state = $1, state_changed_at = $2, report_reference = COALESCE($3, report_reference),
           legal_hold_until = $4 WHERE id = $5`,
        [t.to, new Date(now), t.reportReference, dateOrNull(hold), id],
      );
      await this.#addHistory(db, id, {
        from_state: from,
        to_state: t.to,
        actor: t.actor,
        at: now,
        reason: t.reason,
        report_reference: t.reportReference,
      });
      const audits: AuditInput[] = [];
      if (t.allowlistTypes) {
        const status = this.config.requireSecondReviewer ? 'pending' : 'active';
        for (const c of allowlistCandidates(data.body, t.allowlistTypes)) {
          const entryId = newId('alw');
          const inserted = await db.query(
            `INSERT INTO ${this.#s}.allowlist (id, type, hex, status, reason, incident_id, proposed_by, proposed_at, approved_by, approved_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING`,
            [
              entryId,
              c.type,
              c.hex,
              status,
              t.reason,
              id,
              t.actor,
              new Date(now),
              status === 'active' ? t.actor : null,
              status === 'active' ? new Date(now) : null,
            ],
          );
          if (inserted.rowCount === 1) {
            audits.push({
              type: 'allowlist.added',
              actor: t.actor,
              incidentId: id,
              details: { entry: entryId, type: c.type, status, reason: t.reason },
            });
          }
        }
      }
      audits.push({
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
      });
      await this.#insertOutbox(
        db,
        webhookPayload(
          'incident.state_changed',
          now,
          { id, action: data.action, body: data.body },
          t.to,
          from,
        ),
        now,
      );
      // the chain's head row is locked last and held briefly: every writer takes locks in the same order
      for (const a of audits) await this.#appendAudit(db, a, now);
      return (await this.#loadIncident(db, id))!;
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
    return this.#tx('set the legal hold', async (db) => {
      const row = await this.#lockIncident(db, id);
      const hold = Math.max(ms(row.legal_hold_until) ?? 0, until);
      await db.query(`UPDATE ${this.#s}.incidents SET legal_hold_until = $1 WHERE id = $2`, [
        new Date(hold),
        id,
      ]);
      await this.#appendAudit(
        db,
        {
          type: 'incident.legal_hold_set',
          actor: request.actor,
          incidentId: id,
          details: { until: iso(hold), reason: request.reason ?? null },
        },
        now,
      );
      return (await this.#loadIncident(db, id))!;
    });
  }

  async liftLegalHold(id: string, request: AuditedAction & { readonly reason: string }): Promise<Incident> {
    requireActor(request?.actor);
    const reason = checkLiftReason(request.reason);
    const now = this.config.now();
    return this.#tx('lift the legal hold', async (db) => {
      const row = await this.#lockIncident(db, id);
      const data = rowData(row);
      const hold = holdAfterLift(data, this.config.reportHoldMs);
      await db.query(`UPDATE ${this.#s}.incidents SET legal_hold_until = $1 WHERE id = $2`, [
        dateOrNull(hold),
        id,
      ]);
      await this.#appendAudit(
        db,
        {
          type: 'incident.legal_hold_lifted',
          actor: request.actor,
          incidentId: id,
          details: {
            from: data.legalHoldUntilMs === null ? null : iso(data.legalHoldUntilMs),
            until: hold === null ? null : iso(hold),
            reason,
          },
        },
        now,
      );
      return (await this.#loadIncident(db, id))!;
    });
  }

  async attachEvidence(id: string, evidence: EvidenceRef, action: AuditedAction): Promise<Incident> {
    requireActor(action?.actor);
    const ref = normalizeEvidenceRef(evidence);
    const now = this.config.now();
    return this.#tx('attach the evidence', async (db) => {
      const row = await this.#lockIncident(db, id);
      if (row.evidence_id !== null)
        throw incidentError(IncidentErrorCodes.EVIDENCE_EXISTS, `Incident ${id} already has evidence`);
      await db.query(
        `UPDATE ${this.#s}.incidents SET evidence_id = $1, evidence_key_id = $2, evidence_size = $3, evidence_stored_at = $4 WHERE id = $5`,
        [ref.id, ref.keyId, ref.size, new Date(ref.storedAt), id],
      );
      await this.#appendAudit(
        db,
        { type: 'evidence.stored', actor: action.actor, incidentId: id, details: { keyId: ref.keyId } },
        now,
      );
      return (await this.#loadIncident(db, id))!;
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
    await this.#tx('record the evidence access', async (db) => {
      await this.#lockIncident(db, id);
      if (request.kind === 'viewed')
        await db.query(`UPDATE ${this.#s}.incidents SET evidence_viewed = true WHERE id = $1`, [id]);
      await this.#appendAudit(
        db,
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
    const status = query.status && query.status.length > 0 ? [...query.status] : ['active'];
    return this.#read('list the allowlist', async (db) =>
      (
        await rows<AllowlistRow>(
          db,
          `SELECT * FROM ${this.#s}.allowlist WHERE status = ANY($1) ORDER BY seq DESC`,
          [status],
        )
      ).map(allowlistEntry),
    );
  }

  async findAllowlisted(
    hashes: readonly { readonly type: string; readonly hex: string }[],
  ): Promise<AllowlistEntry[]> {
    if (hashes.length === 0) return [];
    return this.#read('read the allowlist', async (db) =>
      (
        await rows<AllowlistRow>(
          db,
          `SELECT a.* FROM ${this.#s}.allowlist a JOIN unnest($1::text[], $2::text[]) AS q(type, hex)
             ON a.type = q.type AND a.hex = q.hex WHERE a.status = 'active'`,
          [hashes.map((h) => h.type), hashes.map((h) => h.hex.toLowerCase())],
        )
      ).map(allowlistEntry),
    );
  }

  async #lockAllowlist(db: Db, id: string): Promise<AllowlistRow> {
    const [row] = isId('alw', id)
      ? await rows<AllowlistRow>(db, `SELECT * FROM ${this.#s}.allowlist WHERE id = $1 FOR UPDATE`, [id])
      : [];
    if (!row) throw incidentError(IncidentErrorCodes.NOT_FOUND, 'No allowlist entry with that id');
    return row;
  }

  async approveAllowlistEntry(id: string, action: AuditedAction): Promise<AllowlistEntry> {
    requireActor(action?.actor);
    const now = this.config.now();
    return this.#tx('approve the allowlist entry', async (db) => {
      const row = await this.#lockAllowlist(db, id);
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
      const [updated] = await rows<AllowlistRow>(
        db,
        `UPDATE ${this.#s}.allowlist SET status = 'active', approved_by = $1, approved_at = $2 WHERE id = $3 RETURNING *`,
        [action.actor, new Date(now), id],
      );
      await this.#appendAudit(
        db,
        {
          type: 'allowlist.approved',
          actor: action.actor,
          incidentId: row.incident_id,
          details: { entry: id, reason: action.reason ?? null },
        },
        now,
      );
      return allowlistEntry(updated!);
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
    return this.#tx('revoke the allowlist entry', async (db) => {
      const row = await this.#lockAllowlist(db, id);
      if (row.status === 'revoked')
        throw incidentError(IncidentErrorCodes.ALLOWLIST_STATE, 'The allowlist entry is already revoked');
      const [updated] = await rows<AllowlistRow>(
        db,
        `UPDATE ${this.#s}.allowlist SET status = 'revoked', revoked_by = $1, revoked_at = $2, revoke_reason = $3 WHERE id = $4 RETURNING *`,
        [action.actor, new Date(now), action.reason, id],
      );
      await this.#appendAudit(
        db,
        {
          type: 'allowlist.revoked',
          actor: action.actor,
          incidentId: row.incident_id,
          details: { entry: id, reason: action.reason },
        },
        now,
      );
      return allowlistEntry(updated!);
    });
  }

  async appendAudit(input: AuditInput): Promise<AuditRecord> {
    validateAuditInput(input);
    const now = this.config.now();
    return this.#tx('append to the audit log', (db) => this.#appendAudit(db, input, now));
  }

  async readAudit(
    options: { readonly afterSeq?: number; readonly limit?: number } = {},
  ): Promise<AuditRecord[]> {
    return this.#read('read the audit log', async (db) =>
      (
        await rows<AuditRow>(db, `SELECT * FROM ${this.#s}.audit_log WHERE seq > $1 ORDER BY seq LIMIT $2`, [
          options.afterSeq ?? 0,
          options.limit ?? 1000,
        ])
      ).map(auditRecord),
    );
  }

  async auditHead(): Promise<AuditHead> {
    return this.#read('read the audit head', async (db) => {
      const [h] = await rows<{ seq: string; hash: string }>(
        db,
        `SELECT seq, hash FROM ${this.#s}.audit_head WHERE id = 1`,
      );
      if (!h) throw incidentError(IncidentErrorCodes.STORE_FAILED, 'The audit head row is missing');
      return { seq: Number(h.seq), hash: h.hash };
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
    return this.#tx('claim outbox events', async (db) => {
      const claimed = await rows<OutboxRow>(
        db,
        `UPDATE ${this.#s}.outbox SET lease_owner = $1, lease_until = $2
         WHERE seq IN (
           SELECT seq FROM ${this.#s}.outbox
           WHERE delivered_at IS NULL AND next_attempt_at <= $3 AND (lease_until IS NULL OR lease_until <= $3)
           ORDER BY seq LIMIT $4 FOR UPDATE SKIP LOCKED)
         RETURNING *`,
        [owner, new Date(now + leaseMs), new Date(now), limit],
      );
      return claimed.map(outboxEvent).sort((a, b) => a.seq - b.seq);
    });
  }

  async settleOutbox(eventId: string, owner: string, settlement: OutboxSettlement): Promise<boolean> {
    const now = this.config.now();
    return this.#tx('settle the outbox event', async (db) => {
      const [row] = await rows<OutboxRow>(db, `SELECT * FROM ${this.#s}.outbox WHERE id = $1 FOR UPDATE`, [
        eventId,
      ]);
      if (!row || row.lease_owner !== owner || row.delivered_at !== null) return false;
      const delivered = [...new Set([...row.delivered_to, ...settlement.deliveredTo])];
      await db.query(
        `UPDATE ${this.#s}.outbox SET attempts = attempts + 1, delivered_to = $1, delivered_at = $2, next_attempt_at = $3,
           last_error = $4, lease_owner = NULL, lease_until = NULL WHERE id = $5`,
        [
          JSON.stringify(delivered),
          settlement.done ? new Date(now) : null,
          settlement.done ? row.next_attempt_at : new Date(settlement.nextAttemptAt ?? now),
          settlement.done ? null : (settlement.error ?? 'failed').slice(0, 200),
          eventId,
        ],
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
      args.push(query.incidentId);
      where.push(`incident_id = $${args.length}`);
    }
    if (query.pending) where.push('delivered_at IS NULL');
    args.push(query.limit ?? 1000);
    return this.#read('list the outbox', async (db) =>
      (
        await rows<OutboxRow>(
          db,
          `SELECT * FROM ${this.#s}.outbox ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq LIMIT $${args.length}`,
          args,
        )
      ).map(outboxEvent),
    );
  }

  async listEvidenceDue(request: {
    storedBefore: number;
    now: number;
    limit: number;
  }): Promise<EvidenceDue[]> {
    return this.#read('list evidence due for deletion', async (db) =>
      (
        await rows<IncidentRow>(
          db,
          `SELECT * FROM ${this.#s}.incidents WHERE evidence_id IS NOT NULL AND evidence_deleted_at IS NULL
             AND evidence_stored_at < $1 AND (legal_hold_until IS NULL OR legal_hold_until <= $2)
             AND state IN ('dismissed', 'reported') ORDER BY evidence_stored_at LIMIT $3`,
          [new Date(request.storedBefore), new Date(request.now), request.limit],
        )
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
    await this.#tx('mark the evidence deleted', async (db) => {
      const row = await this.#lockIncident(db, id);
      if (row.evidence_id === null || row.evidence_deleted_at !== null) {
        throw incidentError(IncidentErrorCodes.NOT_FOUND, `Incident ${id} has no evidence to delete`);
      }
      const hold = ms(row.legal_hold_until);
      if ((hold !== null && hold > now) || (row.state !== 'dismissed' && row.state !== 'reported')) {
        throw incidentError(
          IncidentErrorCodes.EVIDENCE_HELD,
          `The evidence of incident ${id} is held or its review is open`,
        );
      }
      await db.query(`UPDATE ${this.#s}.incidents SET evidence_deleted_at = $1 WHERE id = $2`, [
        new Date(now),
        id,
      ]);
      await this.#appendAudit(
        db,
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
    this.#check();
    if (records.length === 0) return [];
    const now = this.config.now();
    const prepared = records.map((r) => prepareLedgerRecord(r, now));
    return this.#tx('add to the ledger', async (db) => {
      const inserted = await rows<LedgerRow>(
        db,
        `INSERT INTO ${this.#s}.ledger (id, reference, accepted_at, body)
         SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::jsonb[]) RETURNING *`,
        [
          prepared.map((p) => p.id),
          prepared.map((p) => p.reference),
          prepared.map((p) => new Date(p.acceptedAtMs)),
          prepared.map((p) => JSON.stringify(p.body)),
        ],
      );
      const seqOf = new Map(inserted.map((r) => [r.id, r.seq]));
      const exact: [string[], Buffer[], string[]] = [[], [], []];
      const perceptual: [string[], string[], Buffer[]] = [[], [], []];
      for (const p of prepared) {
        const seq = seqOf.get(p.id)!;
        for (const e of p.exact) {
          exact[0].push(e.type);
          exact[1].push(e.hash);
          exact[2].push(seq);
        }
        for (const h of p.perceptual) {
          perceptual[0].push(h.type);
          perceptual[1].push(seq);
          perceptual[2].push(h.hashes);
        }
      }
      if (exact[0].length > 0) {
        await db.query(
          `INSERT INTO ${this.#s}.ledger_exact (type, hash, seq) SELECT * FROM unnest($1::text[], $2::bytea[], $3::bigint[])
           ON CONFLICT DO NOTHING`,
          exact,
        );
      }
      if (perceptual[0].length > 0) {
        await db.query(
          `INSERT INTO ${this.#s}.ledger_perceptual (type, seq, hashes) SELECT * FROM unnest($1::text[], $2::bigint[], $3::bytea[])
           ON CONFLICT (type, seq) DO UPDATE SET hashes = EXCLUDED.hashes`,
          perceptual,
        );
      }
      const byId = new Map(inserted.map((r) => [r.id, r]));
      return prepared.map((p) => ledgerRecord(byId.get(p.id)!));
    });
  }

  async findLedgerExact(type: string, hexes: readonly string[]): Promise<LedgerExactHit[]> {
    if (hexes.length === 0) return [];
    return this.#read('search the ledger', async (db) =>
      (
        await rows<{ seq: string; hash: Buffer }>(
          db,
          `SELECT seq, hash FROM ${this.#s}.ledger_exact WHERE type = $1 AND hash = ANY($2::bytea[])`,
          [type, hexes.map((h) => Buffer.from(h, 'hex'))],
        )
      ).map((r) => ({ seq: Number(r.seq), type, hex: r.hash.toString('hex') })),
    );
  }

  async scanLedgerPerceptual(type: string, afterSeq: number, limit: number): Promise<LedgerPerceptualPage> {
    return this.#read('scan the ledger', async (db) => {
      const result = await db.query<[string, Buffer]>({
        text: `SELECT seq, hashes FROM ${this.#s}.ledger_perceptual WHERE type = $1 AND seq > $2 ORDER BY seq LIMIT $3`,
        values: [type, afterSeq, limit],
        rowMode: 'array',
      });
      const seqs = new Array<number>(result.rows.length);
      const hashes = new Array<Uint8Array>(result.rows.length);
      for (let i = 0; i < result.rows.length; i++) {
        const r = result.rows[i]!;
        seqs[i] = Number(r[0]);
        hashes[i] = r[1];
      }
      return { seqs, hashes };
    });
  }

  async getLedgerRecords(seqs: readonly number[]): Promise<LedgerRecord[]> {
    if (seqs.length === 0) return [];
    return this.#read('read the ledger', async (db) =>
      (
        await rows<LedgerRow>(db, `SELECT * FROM ${this.#s}.ledger WHERE seq = ANY($1::bigint[])`, [
          [...new Set(seqs)],
        ])
      ).map(ledgerRecord),
    );
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#pool.off('connect', watchClient);
    if (this.#ownsPool) await this.#pool.end();
  }
}

/**
 * Connects to PostgreSQL and brings the store's schema up to date (migrations run once, under an
 * advisory lock, however many instances start together). Use it when several hashgate instances
 * share incidents, the audit chain, the outbox and the ledger.
 *
 * @example
 * const store = await createPostgresStore({ connectionString: process.env.DATABASE_URL, schema: 'hashgate' });
 */
export async function createPostgresStore(
  options: PostgresStoreOptions,
): Promise<IncidentStore & { readonly config: PostgresStoreConfig }> {
  const config = parsePostgresStoreOptions(options);
  const ownsPool = options.pool === undefined;
  const pool =
    options.pool ??
    new Pool({
      ...(options.connection ?? {}),
      ...(options.connectionString ? { connectionString: options.connectionString } : {}),
      max: config.maxConnections,
    });
  if (ownsPool) {
    // an idle client that loses its connection must not crash the process
    pool.on('error', () => undefined);
  }
  pool.on('connect', watchClient);
  try {
    await migrate(pool, config.schema);
  } catch (err) {
    pool.off('connect', watchClient);
    if (ownsPool) await pool.end().catch(() => undefined);
    throw storeFailure('prepare the database schema', err);
  }
  return new PostgresIncidentStore(config, pool, ownsPool);
}
