/**
 * Owns what keeps incidents, their evidence and the ledger of accepted uploads from being lost
 * when the incident store or the evidence folder fails: brief retries, then the local spool, and
 * a replay (in the background, at start-up and on close) until the store and the vault accept.
 */

import { IncidentErrorCodes } from '../error-codes';
import type { EvidenceMetadata } from '../evidence/format';
import type { EvidenceVault } from '../evidence/vault';
import { errorFields, type Logger } from '../observability/logger';
import type { Spool } from './spool';
import type { IncidentStore } from './store';
import type { EvidenceRef, NewIncident, NewLedgerRecord } from './types';

/** Where a recorded incident is. */
export type IncidentLanding = 'store' | 'spool' | 'lost';

/** What waits in the spool, for status and metrics. */
export interface PendingIncidentWrites {
  /** Incidents the store has not accepted yet (they are in the spool). */
  readonly incidents: number;
  /** Sealed evidence in the spool, not yet in the evidence folder or not yet attached. */
  readonly evidence: number;
  /** Code of the last failure to write an incident (null once a replay landed everything). */
  readonly lastIncidentError: string | null;
  /** Code of the last failure to write evidence into the evidence folder (null once it worked). */
  readonly lastEvidenceError: string | null;
}

/** Options of {@link createIncidentRecorder}. */
export interface IncidentRecorderOptions {
  readonly store: Promise<IncidentStore>;
  readonly spool: Spool;
  readonly vault: EvidenceVault | undefined;
  readonly logger: Logger;
  /** Called for every failed write, with the operation (`incident`, `evidence`). */
  readonly onFailure?: (operation: 'incident' | 'evidence') => void;
  /** Called once per incident the store accepted (directly or by a replay). */
  readonly onRecorded?: (incident: NewIncident) => void;
  /** Pauses before each retry of `createIncident`. @default [100, 400, 1000] */
  readonly retryDelaysMs?: readonly number[];
  /** First and longest pause between background replays. @default 1000 and 60000 */
  readonly replayMinMs?: number;
  readonly replayMaxMs?: number;
}

/** Records incidents so that none is lost to a failing store or evidence folder. */
export interface IncidentRecorder {
  /**
   * Seals the evidence (when given) and writes it into the vault, or into the spool when the
   * vault fails; creates the incident with brief retries, or spools it. Never throws.
   */
  record(
    incident: NewIncident & { readonly id: string },
    evidence?: {
      readonly source: { readonly bytes: Uint8Array } | { readonly path: string };
      readonly metadata: EvidenceMetadata;
    },
  ): Promise<IncidentLanding>;
  /** One replay pass over the spool; resolves true when nothing is left. Never throws. */
  replay(): Promise<boolean>;
  status(): PendingIncidentWrites;
  /** Stops the background replay after a last pass. */
  close(): Promise<void>;
}

/** A spooled incident: the incident still to create (null once created) and evidence still to attach. */
interface SpooledIncident {
  readonly v: 1;
  readonly incident: (NewIncident & { readonly id: string }) | null;
  readonly evidence: EvidenceRef | null;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const codeOf = (err: unknown): string | undefined => {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
};
/** Failures that a retry cannot fix: the incident is kept in the spool all the same. */
const PERMANENT = new Set<string>([IncidentErrorCodes.INVALID_INPUT]);

/** Creates the incident recorder over a store, the spool and the evidence vault. */
export function createIncidentRecorder(options: IncidentRecorderOptions): IncidentRecorder {
  const { spool, vault, logger: log } = options;
  const retryDelays = options.retryDelaysMs ?? [100, 400, 1000];
  const replayMin = options.replayMinMs ?? 1000;
  const replayMax = options.replayMaxMs ?? 60_000;
  let incidents = 0;
  let evidence = 0;
  let lastIncidentError: string | null = null;
  let lastEvidenceError: string | null = null;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let delay = replayMin;
  let running: Promise<boolean> | undefined;

  const itemName = (id: string): string => `${id}.json`;
  const evidenceName = (id: string): string => `${id}.hgev`;

  /** Creates the incident; true when it is in the store (a duplicate id means an earlier try landed). */
  const create = async (input: NewIncident, retries: readonly number[], tried: boolean): Promise<boolean> => {
    const store = await options.store;
    for (let attempt = 0; ; attempt++) {
      try {
        await store.createIncident(input);
        return true;
      } catch (err) {
        if (codeOf(err) === IncidentErrorCodes.DUPLICATE && (attempt > 0 || tried)) return true;
        lastIncidentError = codeOf(err) ?? 'ERR_UNKNOWN';
        options.onFailure?.('incident');
        if (attempt >= retries.length || PERMANENT.has(lastIncidentError)) {
          log.error('an incident could not be written to the store', {
            ...errorFields(err),
            incident: input.id,
          });
          return false;
        }
      }
      await sleep(retries[attempt]!);
    }
  };

  const schedule = (): void => {
    if (closed || timer) return;
    timer = setTimeout(() => {
      timer = undefined;
      void recorder.replay().then((done) => {
        if (done) delay = replayMin;
        else {
          delay = Math.min(replayMax, delay * 2);
          schedule();
        }
      });
    }, delay);
    timer.unref();
  };

  /** Moves spooled evidence into the vault and attaches it; true when done. */
  const attach = async (id: string, ref: EvidenceRef): Promise<boolean> => {
    if (!vault) return false;
    const data = await spool.read('evidence', evidenceName(id));
    if (data) {
      try {
        await vault.putSealed(id, data);
        lastEvidenceError = null;
      } catch (err) {
        lastEvidenceError = codeOf(err) ?? 'ERR_UNKNOWN';
        options.onFailure?.('evidence');
        return false;
      }
    } else if (!(await vault.inspect(id))) {
      log.error('spooled evidence is missing; the incident stays without evidence', { incident: id });
      return true;
    }
    const store = await options.store;
    try {
      await store.attachEvidence(id, ref, { actor: 'hashgate' });
    } catch (err) {
      if (codeOf(err) !== IncidentErrorCodes.EVIDENCE_EXISTS) {
        lastIncidentError = codeOf(err) ?? 'ERR_UNKNOWN';
        options.onFailure?.('incident');
        return false;
      }
    }
    await spool.remove('evidence', evidenceName(id));
    return true;
  };

  const pass = async (): Promise<boolean> => {
    let left = 0;
    let leftEvidence = 0;
    let storeDown = false;
    let vaultDown = false;
    for (const name of await spool.list('incidents')) {
      const raw = await spool.read('incidents', name);
      if (!raw) continue;
      let item: SpooledIncident;
      try {
        item = JSON.parse(raw.toString('utf8')) as SpooledIncident;
      } catch (err) {
        log.error('a spooled incident could not be read; it is left in the spool', errorFields(err));
        left++;
        continue;
      }
      let pending = item.incident;
      if (pending && !storeDown) {
        if (await create(pending, [], true)) {
          options.onRecorded?.(pending);
          pending = null;
        } else storeDown = true;
      }
      if (pending) {
        left++;
        if (item.evidence) leftEvidence++;
        continue;
      }
      if (item.evidence) {
        const id = item.evidence.id;
        if (vaultDown || storeDown || !(await attach(id, item.evidence))) {
          vaultDown = true;
          leftEvidence++;
          // the incident is in the store now: only the evidence remains to be attached
          if (item.incident)
            await spool.write('incidents', name, JSON.stringify({ ...item, incident: null }));
          continue;
        }
      }
      await spool.remove('incidents', name);
    }
    // sealed evidence whose item was never written (a crash between the two writes, or a failed
    // item write): kept and counted, for a person to attach
    const items = new Set((await spool.list('incidents')).map((n) => n.replace(/\.json$/, '')));
    for (const name of await spool.list('evidence')) {
      if (!items.has(name.replace(/\.hgev$/, ''))) leftEvidence++;
    }
    incidents = left;
    evidence = leftEvidence;
    if (left === 0) lastIncidentError = null;
    if (leftEvidence === 0 && !vaultDown) lastEvidenceError = null;
    return left === 0 && leftEvidence === 0;
  };

  const recorder: IncidentRecorder = {
    async record(incident, ev) {
      const id = incident.id;
      let ref: EvidenceRef | null = null;
      let spooledEvidence: EvidenceRef | null = null;
      if (ev && vault) {
        let sealed: Awaited<ReturnType<EvidenceVault['seal']>> | undefined;
        try {
          sealed = await vault.seal(id, ev.source, ev.metadata);
        } catch (err) {
          options.onFailure?.('evidence');
          log.error('evidence could not be sealed; the incident is recorded without it', {
            ...errorFields(err),
            incident: id,
          });
        }
        if (sealed) {
          try {
            await vault.putSealed(id, sealed.data);
            ref = sealed.ref;
          } catch (err) {
            lastEvidenceError = codeOf(err) ?? 'ERR_UNKNOWN';
            options.onFailure?.('evidence');
            try {
              // still encrypted: the same sealed file, moved into the vault by a later replay
              await spool.write('evidence', evidenceName(id), sealed.data);
              spooledEvidence = sealed.ref;
              evidence++;
              log.error('the evidence folder could not be written; the sealed evidence waits in the spool', {
                ...errorFields(err),
                incident: id,
              });
            } catch (spoolErr) {
              log.error('evidence could not be stored, neither in the evidence folder nor in the spool', {
                ...errorFields(spoolErr),
                incident: id,
              });
            }
          }
        }
      }
      const input = { ...incident, evidence: ref };
      const landed = await create(input, retryDelays, false);
      if (landed) options.onRecorded?.(input);
      if (landed && !spooledEvidence) return 'store';
      const item: SpooledIncident = { v: 1, incident: landed ? null : input, evidence: spooledEvidence };
      try {
        await spool.write('incidents', itemName(id), JSON.stringify(item));
      } catch (err) {
        log.error('an incident could not be written to the spool', { ...errorFields(err), incident: id });
        if (!landed) return 'lost';
        return 'store';
      }
      if (!landed) {
        incidents++;
        log.warn('the incident waits in the spool until the store accepts it', { incident: id });
      }
      schedule();
      return landed ? 'store' : 'spool';
    },

    replay() {
      if (running) return running;
      running = pass()
        .catch((err: unknown) => {
          log.error('the spool could not be replayed', errorFields(err));
          return false;
        })
        .finally(() => {
          running = undefined;
        });
      return running.then((done) => {
        if (!done) schedule();
        return done;
      });
    },

    status: () => ({ incidents, evidence, lastIncidentError, lastEvidenceError }),

    async close() {
      if (timer) clearTimeout(timer);
      timer = undefined;
      await running;
      await recorder.replay();
      closed = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
    },
  };
  return recorder;
}

/** One accepted upload waiting for the ledger, with what its late commit must re-check. */
export interface BacklogItem {
  readonly record: NewLedgerRecord;
  /** Lists the upload could not be matched against (not loaded when it was decided). */
  readonly unchecked?: readonly string[];
  /**
   * Per list, the version whose re-check could not include the record (it was not committed yet);
   * -1 when a re-check may have been missed already. Lists at another version when the record
   * lands are re-checked for it.
   */
  readonly versions: Readonly<Record<string, number>>;
}

/** What waits for the ledger, for status and metrics. */
export interface PendingLedgerWrites {
  /** Accepted uploads held in memory for a retry. */
  readonly records: number;
  /** Batches spooled to disk. */
  readonly spooledBatches: number;
  /** Code of the last failed ledger write (null after a success). */
  readonly lastError: string | null;
}

/** Options of {@link createLedgerBacklog}. */
export interface LedgerBacklogOptions {
  readonly spool: Spool;
  readonly logger: Logger;
  /** Writes records to the ledger and does the bookkeeping of a late commit; throws on failure. */
  readonly commit: (items: readonly BacklogItem[]) => Promise<void>;
  /** Records kept in memory before the oldest batches go to the spool. @default 10_000 */
  readonly maxRecordsInMemory?: number;
  /** First and longest pause between retries. @default 500 and 30000 */
  readonly retryMinMs?: number;
  readonly retryMaxMs?: number;
  /** Clock for spool file names. @default Date.now */
  readonly now?: () => number;
}

/** Ledger batches that failed: retried with backoff, spooled past a bound, replayed at start-up. */
export interface LedgerBacklog {
  /** Takes a batch whose write failed. */
  add(items: readonly BacklogItem[], err: unknown): void;
  /** One pass: memory first, then spooled batches. Resolves true when nothing is left. Never throws. */
  retry(): Promise<boolean>;
  status(): PendingLedgerWrites;
  /** A last attempt, then whatever remains goes to the spool. */
  close(): Promise<void>;
}

interface SpooledBatch {
  readonly v: 1;
  readonly items: readonly BacklogItem[];
}

/** Creates the backlog of failed ledger batches. */
export function createLedgerBacklog(options: LedgerBacklogOptions): LedgerBacklog {
  const { spool, logger: log, commit } = options;
  const maxInMemory = options.maxRecordsInMemory ?? 10_000;
  const retryMin = options.retryMinMs ?? 500;
  const retryMax = options.retryMaxMs ?? 30_000;
  const now = options.now ?? Date.now;
  const batches: BacklogItem[][] = [];
  let records = 0;
  let spooledBatches = 0;
  let lastError: string | null = null;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let delay = retryMin;
  let chain: Promise<boolean> = Promise.resolve(true);
  let seq = 0;

  const toSpool = async (items: readonly BacklogItem[]): Promise<boolean> => {
    const name = `${String(now()).padStart(15, '0')}-${process.pid}-${String(seq++).padStart(6, '0')}.json`;
    try {
      await spool.write('ledger', name, JSON.stringify({ v: 1, items } satisfies SpooledBatch));
      spooledBatches++;
      return true;
    } catch (err) {
      log.error('accepted uploads could not be written to the spool; they stay in memory', {
        ...errorFields(err),
        records: items.length,
      });
      return false;
    }
  };

  /** Past the bound, the oldest batches go to disk (one at a time, in order). */
  const bound = async (): Promise<void> => {
    while (records > maxInMemory && batches.length > 0) {
      const oldest = batches[0]!;
      if (!(await toSpool(oldest))) return;
      if (batches[0] === oldest) {
        batches.shift();
        records -= oldest.length;
      }
    }
  };

  const schedule = (): void => {
    if (closed || timer) return;
    timer = setTimeout(() => {
      timer = undefined;
      void backlog.retry().then((done) => {
        if (done) delay = retryMin;
        else {
          delay = Math.min(retryMax, delay * 2);
          schedule();
        }
      });
    }, delay);
    timer.unref();
  };

  const attempt = async (items: readonly BacklogItem[]): Promise<boolean> => {
    try {
      await commit(items);
      lastError = null;
      return true;
    } catch (err) {
      lastError = (err as { code?: string } | null)?.code ?? 'ERR_UNKNOWN';
      log.error('accepted uploads could not be added to the ledger; they are retried', {
        ...errorFields(err),
        records: items.length,
      });
      return false;
    }
  };

  const pass = async (): Promise<boolean> => {
    while (batches.length > 0) {
      const batch = batches[0]!;
      if (!(await attempt(batch))) return false;
      batches.shift();
      records -= batch.length;
    }
    const names = await spool.list('ledger');
    spooledBatches = names.length;
    for (const name of names) {
      const raw = await spool.read('ledger', name);
      if (raw) {
        let batch: SpooledBatch;
        try {
          batch = JSON.parse(raw.toString('utf8')) as SpooledBatch;
        } catch (err) {
          log.error('a spooled ledger batch could not be read; it is left in the spool', errorFields(err));
          continue;
        }
        if (!(await attempt(batch.items))) return false;
        // a crash right here replays the batch once more: records are written at least once
        await spool.remove('ledger', name);
      }
      spooledBatches--;
    }
    return spooledBatches === 0;
  };

  const backlog: LedgerBacklog = {
    add(items, err) {
      lastError = (err as { code?: string } | null)?.code ?? 'ERR_UNKNOWN';
      batches.push([...items]);
      records += items.length;
      if (records > maxInMemory) chain = chain.then(bound).then(() => false);
      schedule();
    },

    retry() {
      chain = chain.then(pass).catch((err: unknown) => {
        log.error('the ledger backlog could not be replayed', errorFields(err));
        return false;
      });
      return chain;
    },

    status: () => ({ records, spooledBatches, lastError }),

    async close() {
      if (timer) clearTimeout(timer);
      timer = undefined;
      closed = true;
      await backlog.retry();
      if (timer) clearTimeout(timer);
      timer = undefined;
      await chain;
      while (batches.length > 0) {
        const batch = batches[0]!;
        if (!(await toSpool(batch))) {
          log.error('accepted uploads are lost: neither the ledger nor the spool could take them', {
            records: records,
          });
          return;
        }
        batches.shift();
        records -= batch.length;
      }
    },
  };
  return backlog;
}
