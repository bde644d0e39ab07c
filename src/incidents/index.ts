/** Owns the public surface of the incident subsystem: re-exports only. */

export {
  AUDIT_FORMAT_VERSION,
  assertAuditChain,
  auditRecordHash,
  canonicalAuditForm,
  GENESIS_HASH,
  verifyAuditPages,
} from './audit-chain';
export { canonicalJson } from './canonical';
export { type IncidentErrorCode, IncidentErrorCodes } from './errors';
export {
  buildReportPackage,
  CSV_COLUMNS,
  csvCell,
  type ExportIncidentsOptions,
  exportIncidents,
  type ReportPackage,
  type ReportPackageOptions,
} from './export';
export { isIncidentId, newIncidentId } from './ids';
export {
  createLedger,
  DEFAULT_RECHECK_THRESHOLDS,
  type Ledger,
  type LedgerOptions,
  type RecheckReport,
  type TakedownRequest,
} from './ledger';
export {
  createWebhookDispatcher,
  type DispatcherTimers,
  type DispatchReport,
  type WebhookDispatcher,
  type WebhookDispatcherOptions,
  type WebhookEndpoint,
  type WebhookFetch,
} from './outbox-dispatcher';
export {
  createPostgresStore,
  type PostgresStoreConfig,
  type PostgresStoreOptions,
  parsePostgresStoreOptions,
} from './postgres-store';
export { canTransition, REVIEW_TRANSITIONS } from './review';
export {
  createSqliteStore,
  parseSqliteStoreOptions,
  type SqliteStoreConfig,
  type SqliteStoreOptions,
} from './sqlite-store';
export type { AuditedAction, IncidentStore } from './store';
export {
  DAY_MS,
  type IncidentStoreConfig,
  type IncidentStoreOptions,
  MIN_REPORT_HOLD_MS,
} from './store-options';
export type {
  AllowlistEntry,
  AllowlistRequest,
  AllowlistStatus,
  AuditEventType,
  AuditHead,
  AuditInput,
  AuditRecord,
  AuditVerification,
  EvidenceDue,
  EvidenceRef,
  Incident,
  IncidentAction,
  IncidentEvidence,
  IncidentFile,
  IncidentLedgerLink,
  IncidentMatch,
  IncidentQuery,
  IncidentSource,
  IncidentUploader,
  JsonValue,
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
export { REVIEW_STATES } from './types';
export { signWebhook, verifyWebhookSignature, WEBHOOK_HEADERS, type WebhookVerification } from './webhooks';
