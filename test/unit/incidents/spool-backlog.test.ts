import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BacklogItem, createLedgerBacklog } from '../../../src/incidents/durable-writes';
import { createSpool } from '../../../src/incidents/spool';
import type { NewLedgerRecord } from '../../../src/incidents/types';
import { silentLogger } from '../../../src/observability/logger';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'hashgate-backlog-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const item = (reference: string): BacklogItem => ({
  record: { reference, acceptedAt: 1, file: { size: 1 }, hashes: [] } as NewLedgerRecord,
  versions: { l: 3 },
});
const refs = (items: readonly BacklogItem[]): string[] => items.map((i) => i.record.reference);

/** A ledger that refuses writes while `down` and remembers what it took. */
function ledger() {
  const written: string[][] = [];
  const state = { down: true };
  return {
    state,
    written,
    commit: async (items: readonly BacklogItem[]): Promise<void> => {
      if (state.down) throw Object.assign(new Error('down'), { code: 'ERR_HASHGATE_STORE_FAILED' });
      written.push(refs(items));
    },
  };
}

describe('ledger backlog', () => {
  test('past the memory bound the oldest batches go to the spool, and a retry lands everything in order', async () => {
    const spool = createSpool(join(dir, 'spool'));
    const l = ledger();
    const backlog = createLedgerBacklog({
      spool,
      logger: silentLogger,
      commit: l.commit,
      maxRecordsInMemory: 2,
      retryMinMs: 60_000,
    });
    backlog.add([item('a'), item('b')], new Error('down'));
    backlog.add([item('c')], new Error('down'));
    backlog.add([item('d')], new Error('down'));
    expect(await backlog.retry()).toBe(false);
    expect(backlog.status()).toEqual({
      records: 2,
      spooledBatches: 1,
      lastError: 'ERR_HASHGATE_STORE_FAILED',
    });
    expect(await spool.list('ledger')).toHaveLength(1);
    l.state.down = false;
    expect(await backlog.retry()).toBe(true);
    expect(l.written).toEqual([['c'], ['d'], ['a', 'b']]);
    expect(backlog.status()).toEqual({ records: 0, spooledBatches: 0, lastError: null });
    expect(await spool.list('ledger')).toEqual([]);
    await backlog.close();
  });

  test('close spools what the ledger still refuses, and the next backlog over the spool lands it', async () => {
    const spool = createSpool(join(dir, 'spool'));
    const l = ledger();
    const first = createLedgerBacklog({ spool, logger: silentLogger, commit: l.commit, retryMinMs: 60_000 });
    first.add([item('a')], new Error('down'));
    await first.close();
    expect(await spool.list('ledger')).toHaveLength(1);
    l.state.down = false;
    const next = createLedgerBacklog({ spool, logger: silentLogger, commit: l.commit });
    expect(await next.retry()).toBe(true);
    expect(l.written).toEqual([['a']]);
    await next.close();
  });

  test('a failed batch is retried in the background with backoff', async () => {
    const spool = createSpool(join(dir, 'spool'));
    const l = ledger();
    const backlog = createLedgerBacklog({ spool, logger: silentLogger, commit: l.commit, retryMinMs: 20 });
    backlog.add([item('a')], new Error('down'));
    await new Promise((r) => setTimeout(r, 60));
    l.state.down = false;
    const until = Date.now() + 5000;
    while (l.written.length === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    expect(l.written).toEqual([['a']]);
    await backlog.close();
  });
});
