/**
 * Finds the test PostgreSQL (127.0.0.1:5432, trust auth, database `test`, user `postgres`) and
 * registers suites that need it: when it is unreachable a suite becomes one test that logs why
 * and passes, except in CI (`CI=true`), where it fails.
 */

import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Pool, type PoolConfig } from 'pg';

/** Connection settings of the test database (overridable with the usual PG* variables). */
export const PG_CONFIG: PoolConfig = {
  host: process.env.PGHOST ?? '127.0.0.1',
  port: Number(process.env.PGPORT ?? 5432),
  user: process.env.PGUSER ?? 'postgres',
  database: process.env.PGDATABASE ?? 'test',
  max: 8,
};

let probed: { ok: true } | { ok: false; reason: string } | undefined;

/** Connects once, synchronously (a child process), so suites can be chosen at registration time. */
export function probePostgres(): { ok: true } | { ok: false; reason: string } {
  if (probed) return probed;
  const script = `
    const { Client } = require('pg');
    const c = new Client(${JSON.stringify({ ...PG_CONFIG, max: undefined, connectionTimeoutMillis: 3000 })});
    c.connect().then(() => c.query('SELECT 1')).then(() => c.end()).then(
      () => process.exit(0),
      (e) => { process.stderr.write(String(e && (e.code || e.message))); process.exit(1); });`;
  const r = spawnSync(process.execPath, ['-e', script], {
    encoding: 'utf8',
    timeout: 10_000,
    cwd: __dirname,
  });
  probed =
    r.status === 0
      ? { ok: true }
      : {
          ok: false,
          reason: `PostgreSQL at ${PG_CONFIG.host}:${PG_CONFIG.port} is not reachable (${(r.stderr || r.error?.message || 'no answer').trim()})`,
        };
  return probed;
}

/** A fresh schema name for one test. */
export function freshSchema(): string {
  return `hashgate_test_${randomBytes(6).toString('hex')}`;
}

/** Drops schemas created by a suite. */
export async function dropSchemas(pool: Pool, schemas: readonly string[]): Promise<void> {
  for (const s of schemas) await pool.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
}

/**
 * `describe(name, body)` when PostgreSQL is reachable; otherwise one test that explains why it did
 * not run (and fails in CI).
 */
export function describePostgres(name: string, body: (pool: () => Pool) => void): void {
  const probe = probePostgres();
  if (!probe.ok) {
    const reason = probe.reason;
    describe(name, () => {
      if (process.env.CI === 'true') {
        it('needs PostgreSQL in CI', () => {
          throw new Error(`${reason}; CI must run the PostgreSQL suites`);
        });
      } else {
        it('did not run: PostgreSQL is not reachable', () => {
          console.warn(`${name}: not run. ${reason}. Start PostgreSQL on 127.0.0.1:5432 to run it.`);
        });
      }
    });
    return;
  }
  describe(name, () => {
    let pool: Pool | undefined;
    beforeAll(() => {
      pool = new Pool(PG_CONFIG);
    });
    body(() => pool!);
    // registered after the body's hooks, so that they can still use the pool
    afterAll(async () => {
      await pool?.end();
    });
  });
}
