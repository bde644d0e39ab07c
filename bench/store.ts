/**
 * Benchmark of the incident stores and the ledger re-check.
 *
 *   npx tsc -p tsconfig.bench.json && node dist-bench/bench/store.js [--incidents 2000] [--ledger 1000000]
 *     [--entries 10000] [--pg postgres://postgres@127.0.0.1:5432/test] [--pg-ledger]
 *
 * Prints incidents written per second (one at a time, and 8 at once) on SQLite (synchronous FULL,
 * the default, and NORMAL for comparison) and PostgreSQL when reachable, then the time of a ledger
 * re-check of a list update of `--entries` PDQ entries (plus a few MD5 entries) against `--ledger`
 * accepted uploads, each with MD5, SHA-1, SHA-256 and PDQ with its 8 dihedral variants (target:
 * 1 million records in <= 10 s). All hashes are random stand-ins; a few are planted near the new
 * entries so the re-check raises incidents.
 */

import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Pool } from 'pg';
import type { ComputedHash } from '../src/hashing/outcome';
import { createLedger } from '../src/incidents/ledger';
import { createPostgresStore } from '../src/incidents/postgres-store';
import { createSqliteStore } from '../src/incidents/sqlite-store';
import type { IncidentStore } from '../src/incidents/store';
import type { NewIncident, NewLedgerRecord } from '../src/incidents/types';
import type { ListSnapshot } from '../src/snapshot';
import { arg } from './lib/args';

const flag = (name: string): boolean => process.argv.includes(`--${name}`);
const fmt = (n: number, d = 0): string =>
  n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });

const VARIANTS = ['rot90', 'rot180', 'rot270', 'flipx', 'flipy', 'flipplus1', 'flipminus1'] as const;

// random stand-in bytes drawn from one large buffer (one randomBytes call per hash would dominate the run)
let pool = randomBytes(1 << 20);
let poolAt = 0;
function bytesOf(n: number): Buffer {
  if (poolAt + n > pool.length) {
    pool = randomBytes(1 << 20);
    poolAt = 0;
  }
  poolAt += n;
  return pool.subarray(poolAt - n, poolAt);
}

function hex(bytes: number): string {
  return bytesOf(bytes).toString('hex');
}

function incident(): NewIncident {
  return {
    route: 'POST /upload',
    requestId: hex(8),
    uploader: { userId: 'u1', ip: '203.0.113.9', port: 40123, userAgent: 'bench' },
    file: { originalName: 'stand-in.jpg', declaredType: 'image/jpeg', sniffedType: 'jpeg', size: 123_456 },
    hashes: [
      { type: 'md5', hex: hex(16), provenance: { algorithm: 'md5' } },
      { type: 'sha1', hex: hex(20), provenance: { algorithm: 'sha1' } },
      { type: 'sha256', hex: hex(32), provenance: { algorithm: 'sha256' } },
      { type: 'pdq', hex: hex(32), provenance: { algorithm: 'pdq', quality: 90, convention: 'fullres' } },
    ],
    matches: [
      {
        list: 'bench',
        listVersion: 1,
        entryId: 'e1',
        category: 'test',
        hashType: 'pdq',
        distance: 9,
        variant: 'orig',
        quality: 90,
      },
    ],
    action: 'block',
  };
}

async function incidentsPerSecond(store: IncidentStore, n: number, concurrency: number): Promise<number> {
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next++ < n) await store.createIncident(incident());
    }),
  );
  return n / ((performance.now() - started) / 1000);
}

function ledgerRecord(k: number, pdq: Buffer): NewLedgerRecord {
  const variants = Object.fromEntries(VARIANTS.map((v) => [v, hex(32)])) as Record<
    (typeof VARIANTS)[number],
    string
  >;
  const hashes: ComputedHash[] = [
    { type: 'md5', hex: hex(16), provenance: { algorithm: 'md5' } },
    { type: 'sha1', hex: hex(20), provenance: { algorithm: 'sha1' } },
    { type: 'sha256', hex: hex(32), provenance: { algorithm: 'sha256' } },
    {
      type: 'pdq',
      hex: pdq.toString('hex'),
      provenance: { algorithm: 'pdq', quality: 90, convention: 'fullres' },
      variants: { orig: pdq.toString('hex'), ...variants },
    },
  ];
  return {
    reference: `bucket/object-${k}`,
    uploader: { userId: `u${k % 1000}` },
    file: { size: 1000 + k },
    hashes,
  };
}

/** Flips `bits` random bits of a copy of `b`. */
function near(b: Buffer, bits: number): Buffer {
  const c = Buffer.from(b);
  const seen = new Set<number>();
  while (seen.size < bits) seen.add(randomBytes(1)[0]!);
  for (const p of seen) c[p >> 3]! ^= 0x80 >> (p & 7);
  return c;
}

async function fillLedger(
  store: IncidentStore,
  count: number,
  planted: Map<number, Buffer>,
  label: string,
): Promise<number> {
  const started = performance.now();
  const batch = 5000;
  for (let start = 0; start < count; start += batch) {
    const records: NewLedgerRecord[] = [];
    for (let k = start; k < Math.min(count, start + batch); k++)
      records.push(ledgerRecord(k, planted.get(k) ?? randomBytes(32)));
    await store.addToLedger(records);
    if ((start / batch) % 40 === 0)
      process.stdout.write(`  ${label}: ${fmt(start + records.length)} ledger records\r`);
  }
  const seconds = (performance.now() - started) / 1000;
  console.log(
    `  ${label}: ${fmt(count)} ledger records written in ${fmt(seconds, 1)} s (${fmt(count / seconds)} records/s)`,
  );
  return seconds;
}

function update(entries: number, pdqs: Buffer[], md5s: string[]): ListSnapshot {
  const pdq = new Uint8Array(entries * 32);
  for (let i = 0; i < entries; i++) pdq.set(pdqs[i] ?? randomBytes(32), i * 32);
  const md5 = new Uint8Array(md5s.length * 16);
  md5s.forEach((h, i) => {
    md5.set(Buffer.from(h, 'hex'), i * 16);
  });
  return {
    list: 'bench-list',
    version: 2,
    createdAt: new Date().toISOString(),
    categories: ['test'],
    byType: new Map([
      [
        'pdq',
        {
          type: 'pdq',
          count: entries,
          hashBytes: 32,
          hashes: pdq,
          ids: Array.from({ length: entries }, (_, i) => `p${i}`),
          categories: new Uint16Array(entries),
          labels: new Map(),
        },
      ],
      [
        'md5',
        {
          type: 'md5',
          count: md5s.length,
          hashBytes: 16,
          hashes: md5,
          ids: md5s.map((_, i) => `m${i}`),
          categories: new Uint16Array(md5s.length),
          labels: new Map(),
        },
      ],
    ]),
  };
}

async function recheckBench(
  store: IncidentStore,
  label: string,
  ledgerCount: number,
  entries: number,
): Promise<void> {
  // plant 50 records within distance 1..31 of new PDQ entries, and 50 exact MD5 matches
  const plantedAt = new Map<number, Buffer>();
  const entryPdqs: Buffer[] = [];
  for (let i = 0; i < 50; i++) {
    const e = randomBytes(32);
    entryPdqs.push(e);
    plantedAt.set(Math.floor(((i + 0.5) * ledgerCount) / 50), near(e, 1 + (i % 31)));
  }
  await fillLedger(store, ledgerCount, plantedAt, label);
  const md5s: string[] = [];
  const sample = await store.getLedgerRecords(
    Array.from({ length: 50 }, (_, i) => 1 + i * Math.floor(ledgerCount / 50)),
  );
  for (const r of sample) md5s.push(r.hashes.find((h) => h.type === 'md5')!.hex);
  const ledger = createLedger({ store });
  const started = performance.now();
  const report = await ledger.recheck(update(entries, entryPdqs, md5s));
  const seconds = (performance.now() - started) / 1000;
  console.log(
    `  ${label}: re-check of ${fmt(entries)} PDQ + ${md5s.length} MD5 new entries against ${fmt(report.scanned)} ledger records: ` +
      `${fmt(seconds, 2)} s (target <= 10 s: ${seconds <= 10 ? 'met' : 'MISSED'}), ${report.matched} matched, ${report.incidents.length} incidents`,
  );
}

async function main(): Promise<void> {
  const n = Number(arg('incidents', '2000'));
  const ledgerCount = Number(arg('ledger', '1000000'));
  const entries = Number(arg('entries', '10000'));
  const pgUrl = arg('pg', 'postgres://postgres@127.0.0.1:5432/test');
  console.log(`incident store benchmark: node ${process.version}, ${n} incidents per run`);
  const dir = mkdtempSync(join(tmpdir(), 'hashgate-bench-store-'));
  try {
    for (const synchronous of ['full', 'normal'] as const) {
      const store = await createSqliteStore({ path: join(dir, `incidents-${synchronous}.db`), synchronous });
      await incidentsPerSecond(store, 50, 1);
      const one = await incidentsPerSecond(store, n, 1);
      const eight = await incidentsPerSecond(store, n, 8);
      console.log(
        `  SQLite (synchronous ${synchronous}): ${fmt(one)} incidents/s one at a time, ${fmt(eight)} incidents/s 8 at once`,
      );
      await store.close();
    }

    let pool: Pool | undefined;
    try {
      pool = new Pool({ connectionString: pgUrl, max: 10 });
      await pool.query('SELECT 1');
    } catch (err) {
      console.log(
        `  PostgreSQL: not reachable at ${pgUrl} (${(err as { code?: string }).code ?? 'error'}); skipped`,
      );
      await pool?.end();
      pool = undefined;
    }
    const schema = `hashgate_bench_${randomBytes(4).toString('hex')}`;
    if (pool) {
      try {
        const store = await createPostgresStore({ pool, schema });
        await incidentsPerSecond(store, 50, 1);
        const one = await incidentsPerSecond(store, n, 1);
        const eight = await incidentsPerSecond(store, n, 8);
        console.log(
          `  PostgreSQL: ${fmt(one)} incidents/s one at a time, ${fmt(eight)} incidents/s 8 at once`,
        );
        await store.close();
      } finally {
        await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      }
    }

    console.log(`ledger re-check: ${fmt(ledgerCount)} accepted uploads, ${fmt(entries)}-entry list update`);
    const sqlitePath = join(dir, 'ledger.db');
    const sqlite = await createSqliteStore({ path: sqlitePath });
    await recheckBench(sqlite, 'SQLite', ledgerCount, entries);
    await sqlite.close();
    console.log(`  SQLite file: ${fmt(statSync(sqlitePath).size / 2 ** 20)} MiB`);
    if (pool && flag('pg-ledger')) {
      const ledgerSchema = `hashgate_bench_${randomBytes(4).toString('hex')}`;
      try {
        const store = await createPostgresStore({ pool, schema: ledgerSchema });
        await recheckBench(store, 'PostgreSQL', ledgerCount, entries);
        await store.close();
      } finally {
        await pool.query(`DROP SCHEMA IF EXISTS "${ledgerSchema}" CASCADE`);
      }
    }
    await pool?.end();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
