/** Owns the SQLite schema of the incident store as versioned migrations, applied in order at open. */

import { GENESIS_HASH } from './audit-chain';

/** One schema migration: applied once, in version order, inside one transaction. */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

/** Every SQLite migration, oldest first. Never edit a released migration; add a new one. */
export const SQLITE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'incidents, review history, allowlist, audit chain, outbox, ledger',
    sql: `
CREATE TABLE incidents (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  occurred_at INTEGER NOT NULL,
  time_zone TEXT NOT NULL,
  utc_offset INTEGER NOT NULL,
  action TEXT NOT NULL,
  source TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('new', 'confirmed', 'reported', 'dismissed')),
  state_changed_at INTEGER NOT NULL,
  report_reference TEXT,
  legal_hold_until INTEGER,
  evidence_viewed INTEGER NOT NULL DEFAULT 0,
  evidence_id TEXT,
  evidence_key_id TEXT,
  evidence_size INTEGER,
  evidence_stored_at INTEGER,
  evidence_deleted_at INTEGER,
  body TEXT NOT NULL
);
CREATE INDEX incidents_by_time ON incidents (occurred_at, id);
CREATE INDEX incidents_by_state ON incidents (state, occurred_at);
CREATE INDEX incidents_evidence_live ON incidents (evidence_stored_at)
  WHERE evidence_id IS NOT NULL AND evidence_deleted_at IS NULL;

CREATE TABLE incident_history (
  incident_id TEXT NOT NULL REFERENCES incidents (id),
  n INTEGER NOT NULL,
  from_state TEXT,
  to_state TEXT NOT NULL,
  actor TEXT NOT NULL,
  at INTEGER NOT NULL,
  reason TEXT NOT NULL,
  report_reference TEXT,
  PRIMARY KEY (incident_id, n)
) WITHOUT ROWID;

CREATE TABLE allowlist (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  type TEXT NOT NULL,
  hex TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pending', 'active', 'revoked')),
  reason TEXT NOT NULL,
  incident_id TEXT,
  proposed_by TEXT NOT NULL,
  proposed_at INTEGER NOT NULL,
  approved_by TEXT,
  approved_at INTEGER,
  revoked_by TEXT,
  revoked_at INTEGER,
  revoke_reason TEXT
);
CREATE UNIQUE INDEX allowlist_live ON allowlist (type, hex) WHERE status <> 'revoked';

CREATE TABLE audit_log (
  seq INTEGER PRIMARY KEY,
  at TEXT NOT NULL,
  type TEXT NOT NULL,
  actor TEXT NOT NULL,
  incident_id TEXT,
  details TEXT NOT NULL,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL
);
CREATE INDEX audit_by_incident ON audit_log (incident_id) WHERE incident_id IS NOT NULL;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;

CREATE TABLE audit_head (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  seq INTEGER NOT NULL,
  hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '${GENESIS_HASH}');

CREATE TABLE outbox (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  type TEXT NOT NULL,
  incident_id TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  payload TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  delivered_at INTEGER,
  delivered_to TEXT NOT NULL DEFAULT '[]',
  last_error TEXT,
  lease_owner TEXT,
  lease_until INTEGER
);
CREATE INDEX outbox_pending ON outbox (next_attempt_at) WHERE delivered_at IS NULL;
CREATE INDEX outbox_by_incident ON outbox (incident_id);

CREATE TABLE ledger (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  reference TEXT NOT NULL,
  accepted_at INTEGER NOT NULL,
  body TEXT NOT NULL,
  incident_id TEXT
);
CREATE TABLE ledger_exact (
  type TEXT NOT NULL,
  hash BLOB NOT NULL,
  seq INTEGER NOT NULL,
  PRIMARY KEY (type, hash, seq)
) WITHOUT ROWID;
CREATE TABLE ledger_perceptual (
  type TEXT NOT NULL,
  seq INTEGER NOT NULL,
  hashes BLOB NOT NULL,
  PRIMARY KEY (type, seq)
) WITHOUT ROWID;
`,
  },
];

/** The newest schema version this code knows. */
export const SQLITE_SCHEMA_VERSION = SQLITE_MIGRATIONS[SQLITE_MIGRATIONS.length - 1]!.version;
