/**
 * Owns what the console reads from the store beyond single calls: days in the console's zone,
 * the per-reviewer daily count of evidence views (an incremental tail of the audit log), an
 * incident's audit trail, filtered incident pages and the day's counts for the dashboard.
 */

import type { Registry } from 'prom-client';
import type { IncidentStore } from '../incidents/store';
import { utcOffsetMinutes } from '../incidents/time';
import type { AuditRecord, Incident, IncidentAction, ReviewState } from '../incidents/types';

const DAY_MS = 86_400_000;

/** `YYYY-MM-DD` of an instant in a zone. */
export function dayOf(ms: number, zone: string): string {
  return new Date(ms + utcOffsetMinutes(zone, ms) * 60_000).toISOString().slice(0, 10);
}

/** The instant a local day (`YYYY-MM-DD`) starts in a zone; NaN for a malformed day. */
export function startOfDay(day: string, zone: string): number {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) return Number.NaN;
  const utcMidnight = Date.parse(`${day}T00:00:00.000Z`);
  if (!Number.isFinite(utcMidnight)) return Number.NaN;
  // the offset at the guess, then once more at the corrected instant (DST changes)
  const guess = utcMidnight - utcOffsetMinutes(zone, utcMidnight) * 60_000;
  return utcMidnight - utcOffsetMinutes(zone, guess) * 60_000;
}

/** The start of today and of tomorrow in a zone. */
export function todayRange(now: number, zone: string): { day: string; from: number; to: number } {
  const day = dayOf(now, zone);
  const from = startOfDay(day, zone);
  const next = dayOf(from + DAY_MS + 3 * 3_600_000, zone);
  return { day, from, to: startOfDay(next, zone) };
}

/** The actor of a console user in the audit log. */
export function actorOf(user: string): string {
  return `console:${user}`;
}

/**
 * Evidence views per actor per day, from `evidence.viewed` records. Reads the audit log once
 * from the start, then only the records appended since the last read (every instance sees the
 * views of every other instance sharing the store).
 */
export class ViewCounter {
  #afterSeq = 0;
  readonly #counts = new Map<string, number>();
  #pending: Promise<void> | undefined;
  readonly #zone: string;

  constructor(zone: string) {
    this.#zone = zone;
  }

  /** Reads the records appended since the last call. */
  refresh(store: IncidentStore): Promise<void> {
    this.#pending ??= (async () => {
      try {
        for (;;) {
          const page = await store.readAudit({ afterSeq: this.#afterSeq, limit: 1000 });
          for (const r of page) {
            if (r.type === 'evidence.viewed') {
              const key = `${dayOf(Date.parse(r.at), this.#zone)}\n${r.actor}`;
              this.#counts.set(key, (this.#counts.get(key) ?? 0) + 1);
            }
            this.#afterSeq = r.seq;
          }
          if (page.length < 1000) break;
        }
      } finally {
        this.#pending = undefined;
      }
    })();
    return this.#pending;
  }

  /** Views by `actor` on `day`. */
  count(actor: string, day: string): number {
    return this.#counts.get(`${day}\n${actor}`) ?? 0;
  }

  /** Every actor's views on `day`, most first. */
  byActor(day: string): { actor: string; views: number }[] {
    const out: { actor: string; views: number }[] = [];
    for (const [key, views] of this.#counts) {
      const [d, actor] = key.split('\n');
      if (d === day && actor) out.push({ actor, views });
    }
    return out.sort((a, b) => b.views - a.views || a.actor.localeCompare(b.actor));
  }
}

/** The audit records of one incident, and whether the search stopped early. */
export interface AuditTrail {
  readonly records: readonly AuditRecord[];
  readonly truncated: boolean;
}

/** Slack for clocks of several instances when searching the log by time. */
const CLOCK_SLACK_MS = 10 * 60_000;
/** Most records read when collecting one incident's trail. */
const TRAIL_SCAN_LIMIT = 50_000;

/**
 * The audit records of an incident. The log has no index by incident, so this finds the first
 * record written near the incident's time by bisecting on `seq`, then reads forward.
 */
export async function auditTrail(store: IncidentStore, incident: Incident): Promise<AuditTrail> {
  const head = await store.auditHead();
  const since = Date.parse(incident.occurredAt) - CLOCK_SLACK_MS;
  let lo = 1;
  let hi = head.seq;
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    const [r] = await store.readAudit({ afterSeq: mid - 1, limit: 1 });
    if (!r) break;
    if (Date.parse(r.at) < since) lo = r.seq + 1;
    else hi = Math.min(mid, r.seq);
  }
  const records: AuditRecord[] = [];
  let after = Math.max(0, lo - 1);
  let scanned = 0;
  while (scanned < TRAIL_SCAN_LIMIT) {
    const page = await store.readAudit({ afterSeq: after, limit: 1000 });
    for (const r of page) if (r.incidentId === incident.id) records.push(r);
    scanned += page.length;
    if (page.length < 1000) return { records, truncated: false };
    after = page[page.length - 1]!.seq;
  }
  return { records, truncated: true };
}

/** Filters of the incidents page. */
export interface IncidentFilter {
  readonly state?: ReviewState;
  readonly list?: string;
  readonly action?: IncidentAction;
  /** Inclusive start, ms. */
  readonly from?: number;
  /** Exclusive end, ms. */
  readonly to?: number;
  /** Continue after this incident. */
  readonly after?: { readonly occurredAt: string; readonly id: string };
}

/** One page of incidents and where the next one starts. */
export interface IncidentPage {
  readonly incidents: readonly Incident[];
  /** Cursor of the next page, or undefined at the end. */
  readonly next: { readonly occurredAt: string; readonly id: string } | undefined;
}

/** Most incidents examined for one page when list or action filters skip many. */
const PAGE_SCAN_LIMIT = 5000;

/**
 * A page of incidents, oldest first (the review queue's order). State and time filter in the
 * store; list and action in memory, reading on until the page is full or a scan limit is hit
 * (the next link then continues the search).
 */
export async function findIncidents(
  store: IncidentStore,
  filter: IncidentFilter,
  size: number,
): Promise<IncidentPage> {
  const out: Incident[] = [];
  let after = filter.after;
  let scanned = 0;
  const batch = filter.list || filter.action ? 200 : size + 1;
  for (;;) {
    const page = await store.listIncidents({
      ...(filter.from !== undefined ? { from: filter.from } : {}),
      ...(filter.to !== undefined ? { to: filter.to } : {}),
      ...(filter.state ? { states: [filter.state] } : {}),
      ...(after ? { after } : {}),
      limit: batch,
    });
    for (const i of page) {
      scanned++;
      after = { occurredAt: i.occurredAt, id: i.id };
      if (filter.action && i.action !== filter.action) continue;
      if (filter.list && !i.matches.some((m) => m.list === filter.list)) continue;
      if (out.length === size) {
        const last = out[out.length - 1]!;
        return { incidents: out, next: { occurredAt: last.occurredAt, id: last.id } };
      }
      out.push(i);
    }
    if (page.length < batch) return { incidents: out, next: undefined };
    if (scanned >= PAGE_SCAN_LIMIT) return { incidents: out, next: after };
  }
}

/** Counts for the dashboard. */
export interface DayCounts {
  readonly blocked: number;
  readonly flagged: number;
  readonly logged: number;
  readonly takedowns: number;
  readonly incidents: number;
}

/** Counts of today's incidents by action (all instances sharing the store). */
export async function countIncidents(store: IncidentStore, from: number, to: number): Promise<DayCounts> {
  const counts = { blocked: 0, flagged: 0, logged: 0, takedowns: 0, incidents: 0 };
  let after: { occurredAt: string; id: string } | undefined;
  for (;;) {
    const page = await store.listIncidents({ from, to, limit: 1000, ...(after ? { after } : {}) });
    for (const i of page) {
      counts.incidents++;
      if (i.action === 'block') counts.blocked++;
      else if (i.action === 'review') counts.flagged++;
      else if (i.action === 'log') counts.logged++;
      else counts.takedowns++;
    }
    if (page.length < 1000) return counts;
    const last = page[page.length - 1]!;
    after = { occurredAt: last.occurredAt, id: last.id };
  }
}

/** Incidents awaiting review (`new`), counted up to a cap, and the oldest of them. */
export async function reviewQueue(
  store: IncidentStore,
  cap = 10_000,
): Promise<{ count: number; capped: boolean; oldest: Incident | undefined }> {
  const first = await store.listIncidents({ states: ['new'], limit: 1 });
  let count = 0;
  let after: { occurredAt: string; id: string } | undefined;
  while (count < cap) {
    const page = await store.listIncidents({ states: ['new'], limit: 1000, ...(after ? { after } : {}) });
    count += page.length;
    if (page.length < 1000) return { count: Math.min(count, cap), capped: false, oldest: first[0] };
    const last = page[page.length - 1]!;
    after = { occurredAt: last.occurredAt, id: last.id };
  }
  return { count: cap, capped: true, oldest: first[0] };
}

/**
 * Files this instance scanned today, by outcome, from prom-client's counters (which count from
 * the process's start). On the day the console was created the counts run from the start of the
 * process; on later days from the first time the console looked that day (`since`).
 */
export class ScanCounts {
  #day: string;
  #baseline = new Map<string, number>();
  #since: number | null = null;

  constructor(day: string) {
    this.#day = day;
  }

  /** Current totals by outcome from the registry, or undefined without metrics. */
  static async totals(registry: Registry | undefined): Promise<Map<string, number> | undefined> {
    const metric = registry?.getSingleMetric('hashgate_files_scanned_total');
    if (!metric) return undefined;
    const out = new Map<string, number>();
    for (const v of (await metric.get()).values) {
      const outcome = String(v.labels.outcome ?? '');
      out.set(outcome, (out.get(outcome) ?? 0) + v.value);
    }
    return out;
  }

  /** Today's counts; `since` null means since the process started. */
  async today(
    registry: Registry | undefined,
    day: string,
    now: number,
  ): Promise<{ counts: Map<string, number>; since: number | null } | undefined> {
    const totals = await ScanCounts.totals(registry);
    if (!totals) return undefined;
    if (this.#day !== day) {
      this.#day = day;
      this.#baseline = new Map(totals);
      this.#since = now;
    }
    const counts = new Map<string, number>();
    for (const [k, v] of totals) counts.set(k, v - (this.#baseline.get(k) ?? 0));
    return { counts, since: this.#since };
  }
}
