/** Owns the PostgreSQL schema of the incident store as versioned migrations, applied in order at open under an advisory lock. */

import { GENESIS_HASH } from './audit-chain';

/**
 * Every PostgreSQL migration, oldest first, as a function of the quoted schema name. Never edit a
 * released migration; add a new one.
 */
export const POSTGRES_MIGRATIONS: readonly {
  readonly version: number;
  readonly name: string;
  sql(s: string): string;
}[] = [
  {
    version: 1,
    name: 'incidents, review history, allowlist, audit chain, outbox, ledger',
    sql: (s) => `
CREATE TABLE ${s}.incidents (
  seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id text NOT NULL UNIQUE,
  occurred_at timestamptz NOT NULL,
  time_zone text NOT NULL,
  utc_offset integer NOT NULL,
  action text NOT NULL,
  source text NOT NULL,
  state text NOT NULL CHECK (state IN ('new', 'confirmed', 'reported', 'dismissed')),
  state_changed_at timestamptz NOT NULL,
  report_reference text,
  legal_hold_until timestamptz,
  evidence_viewed boolean NOT NULL DEFAULT false,
  evidence_id text,
  evidence_key_id text,
  evidence_size bigint,
  evidence_stored_at timestamptz,
  evidence_deleted_at timestamptz,
  body jsonb NOT NULL
);
CREATE INDEX incidents_by_time ON ${s}.incidents (occurred_at, id);
CREATE INDEX incidents_by_state ON ${s}.incidents (state, occurred_at);
CREATE INDEX incidents_evidence_live ON ${s}.incidents (evidence_stored_at)
  WHERE evidence_id IS NOT NULL AND evidence_deleted_at IS NULL;

CREATE TABLE ${s}.incident_history (
  incident_id text NOT NULL REFERENCES ${s}.incidents (id),
  n integer NOT NULL,
  from_state text,
  to_state text NOT NULL,
  actor text NOT NULL,
  at timestamptz NOT NULL,
  reason text NOT NULL,
  report_reference text,
  PRIMARY KEY (incident_id, n)
);

CREATE TABLE ${s}.allowlist (
  seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id text NOT NULL UNIQUE,
  type text NOT NULL,
  hex text NOT NULL,
  status text NOT NULL CHECK (status IN ('pending', 'active', 'revoked')),
  reason text NOT NULL,
  incident_id text,
  proposed_by text NOT NULL,
  proposed_at timestamptz NOT NULL,
  approved_by text,
  approved_at timestamptz,
  revoked_by text,
  revoked_at timestamptz,
  revoke_reason text
);
CREATE UNIQUE INDEX allowlist_live ON ${s}.allowlist (type, hex) WHERE status <> 'revoked';

CREATE TABLE ${s}.audit_log (
  seq bigint PRIMARY KEY,
  at text NOT NULL,
  type text NOT NULL,
  actor text NOT NULL,
  incident_id text,
  details text NOT NULL,
  prev_hash text NOT NULL,
  hash text NOT NULL
);
CREATE INDEX audit_by_incident ON ${s}.audit_log (incident_id) WHERE incident_id IS NOT NULL;
CREATE FUNCTION ${s}.audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'the audit log is append-only';
END
$$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON ${s}.audit_log
  FOR EACH ROW EXECUTE FUNCTION ${s}.audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON ${s}.audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION ${s}.audit_log_append_only();

CREATE TABLE ${s}.audit_head (
  id integer PRIMARY KEY CHECK (id = 1),
  seq bigint NOT NULL,
  hash text NOT NULL
);
INSERT INTO ${s}.audit_head (id, seq, hash) VALUES (1, 0, '${GENESIS_HASH}');

CREATE TABLE ${s}.outbox (
  seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id text NOT NULL UNIQUE,
  type text NOT NULL,
  incident_id text NOT NULL,
  created_at timestamptz NOT NULL,
  payload jsonb NOT NULL,
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL,
  delivered_at timestamptz,
  delivered_to jsonb NOT NULL DEFAULT '[]',
  last_error text,
  lease_owner text,
  lease_until timestamptz
);
CREATE INDEX outbox_pending ON ${s}.outbox (next_attempt_at) WHERE delivered_at IS NULL;
CREATE INDEX outbox_by_incident ON ${s}.outbox (incident_id);

CREATE TABLE ${s}.ledger (
  seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id text NOT NULL UNIQUE,
  reference text NOT NULL,
  accepted_at timestamptz NOT NULL,
  body jsonb NOT NULL,
  incident_id text
);
CREATE TABLE ${s}.ledger_exact (
  type text NOT NULL,
  hash bytea NOT NULL,
  seq bigint NOT NULL,
  PRIMARY KEY (type, hash, seq)
);
CREATE TABLE ${s}.ledger_perceptual (
  type text NOT NULL,
  seq bigint NOT NULL,
  hashes bytea NOT NULL,
  PRIMARY KEY (type, seq)
);
`,
  },
];

/** The newest schema version this code knows. */
export const POSTGRES_SCHEMA_VERSION = POSTGRES_MIGRATIONS[POSTGRES_MIGRATIONS.length - 1]!.version;
