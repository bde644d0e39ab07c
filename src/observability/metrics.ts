/**
 * Owns hashgate's Prometheus metrics (prom-client) on a registry the host injects or one of its
 * own. Labels carry only bounded, non-sensitive values: outcomes, reasons, stages, list names,
 * hash types and actions — never a hash, a file name, a user or an incident id.
 */

import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ListStatus } from '../lists/list-sync';

/** The metrics one hashgate instance updates. */
export interface HashgateMetrics {
  readonly registry: Registry;
  readonly filesScanned: Counter<'outcome'>;
  readonly unscanned: Counter<'reason'>;
  readonly matches: Counter<'list' | 'hash_type' | 'action'>;
  readonly scanDuration: Histogram<'stage'>;
  readonly cache: Counter<'result'>;
  readonly incidents: Counter<'action'>;
  readonly failures: Counter<'operation'>;
}

/** Live values the gauges read when Prometheus scrapes. */
export interface MetricsSources {
  listStatuses(): readonly ListStatus[];
  queueDepth(): number;
  indexEntries(): number;
  indexBytes(): number;
  /**
   * Writes waiting for the store or the evidence folder, by kind: `incident`, `evidence`,
   * `ledger_record` (in memory), `ledger_batch` (spooled to disk).
   */
  pendingWrites?(): Readonly<Record<'incident' | 'evidence' | 'ledger_record' | 'ledger_batch', number>>;
}

/**
 * Creates the metrics on `registry` (a new one when omitted). The names follow
 * `hashgate_<noun>_<unit>`; docs/metrics.md lists every metric.
 */
export function createMetrics(sources: MetricsSources, registry: Registry = new Registry()): HashgateMetrics {
  const registers = [registry];
  const lists = (): readonly ListStatus[] => sources.listStatuses();
  new Gauge({
    name: 'hashgate_list_version',
    help: 'Version of each list in use (0 before the first load)',
    labelNames: ['list'],
    registers,
    collect() {
      for (const s of lists()) this.set({ list: s.list }, s.version ?? 0);
    },
  });
  new Gauge({
    name: 'hashgate_list_entries',
    help: 'Entries of each list in enabled categories',
    labelNames: ['list'],
    registers,
    collect() {
      for (const s of lists()) this.set({ list: s.list }, s.enabledEntries);
    },
  });
  new Gauge({
    name: 'hashgate_list_age_seconds',
    help: 'Seconds since each list was last confirmed by its source (-1 before the first load)',
    labelNames: ['list'],
    registers,
    collect() {
      for (const s of lists()) this.set({ list: s.list }, s.ageMs === null ? -1 : s.ageMs / 1000);
    },
  });
  new Gauge({
    name: 'hashgate_list_stale',
    help: '1 when a list is not loaded or older than maxStalenessMs',
    labelNames: ['list'],
    registers,
    collect() {
      for (const s of lists()) this.set({ list: s.list }, s.stale ? 1 : 0);
    },
  });
  new Gauge({
    name: 'hashgate_list_sync_failures',
    help: 'Failed checks of each list in a row (0 after a success)',
    labelNames: ['list'],
    registers,
    collect() {
      for (const s of lists()) this.set({ list: s.list }, s.consecutiveFailures);
    },
  });
  new Gauge({
    name: 'hashgate_scan_queue_depth',
    help: 'Files waiting for a hashing worker',
    registers,
    collect() {
      this.set(sources.queueDepth());
    },
  });
  new Gauge({
    name: 'hashgate_index_entries',
    help: 'Entries in the match index in use',
    registers,
    collect() {
      this.set(sources.indexEntries());
    },
  });
  new Gauge({
    name: 'hashgate_index_bytes',
    help: 'Bytes of typed arrays of the match index in use',
    registers,
    collect() {
      this.set(sources.indexBytes());
    },
  });
  new Gauge({
    name: 'hashgate_pending_writes',
    help: 'Writes waiting for the store or the evidence folder, by kind (incident, evidence, ledger_record in memory, ledger_batch spooled)',
    labelNames: ['kind'],
    registers,
    collect() {
      const pending = sources.pendingWrites?.();
      if (!pending) return;
      for (const [kind, n] of Object.entries(pending)) this.set({ kind }, n);
    },
  });
  return {
    registry,
    filesScanned: new Counter({
      name: 'hashgate_files_scanned_total',
      help: 'Files scanned, by outcome (allow, block, review, unscanned)',
      labelNames: ['outcome'],
      registers,
    }),
    unscanned: new Counter({
      name: 'hashgate_unscanned_total',
      help: 'Files that could not be checked, by reason',
      labelNames: ['reason'],
      registers,
    }),
    matches: new Counter({
      name: 'hashgate_matches_total',
      help: 'List matches that took effect, by list, hash type and action (dry-run matches have action dry-run)',
      labelNames: ['list', 'hash_type', 'action'],
      registers,
    }),
    scanDuration: new Histogram({
      name: 'hashgate_scan_duration_seconds',
      help: 'Time to scan one file, by stage (exact, perceptual, match, record, total)',
      labelNames: ['stage'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    cache: new Counter({
      name: 'hashgate_verdict_cache_requests_total',
      help: 'Verdict cache lookups, by result (hit, miss)',
      labelNames: ['result'],
      registers,
    }),
    incidents: new Counter({
      name: 'hashgate_incidents_total',
      help: 'Incidents recorded, by action (block, review, log, dry-run, takedown)',
      labelNames: ['action'],
      registers,
    }),
    failures: new Counter({
      name: 'hashgate_failures_total',
      help: 'Operations that failed and were handled (incident, evidence, ledger, allowlist, recheck, index)',
      labelNames: ['operation'],
      registers,
    }),
  };
}
