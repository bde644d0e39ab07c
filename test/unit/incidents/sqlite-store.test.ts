import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { createSqliteStore, parseSqliteStoreOptions } from '../../../src/incidents/sqlite-store';
import { type AuditTamper, runStoreContract } from './store-contract';

function sqliteTamper(path: string): AuditTamper {
  const raw = (fn: (db: Database.Database) => void): void => {
    const db = new Database(path);
    try {
      fn(db);
    } finally {
      db.close();
    }
  };
  const unguard = (db: Database.Database): void => {
    db.exec('DROP TRIGGER IF EXISTS audit_log_no_update; DROP TRIGGER IF EXISTS audit_log_no_delete;');
  };
  return {
    async editDetails(seq) {
      raw((db) => {
        unguard(db);
        db.prepare(`UPDATE audit_log SET details = '{"edited":true}' WHERE seq = ?`).run(seq);
      });
    },
    async remove(seq) {
      raw((db) => {
        unguard(db);
        db.prepare('DELETE FROM audit_log WHERE seq = ?').run(seq);
      });
    },
    async swap(a, b) {
      raw((db) => {
        unguard(db);
        const get = db.prepare('SELECT * FROM audit_log WHERE seq = ?');
        const ra = get.get(a) as Record<string, unknown>;
        const rb = get.get(b) as Record<string, unknown>;
        const put = db.prepare(
          'UPDATE audit_log SET at = ?, type = ?, actor = ?, incident_id = ?, details = ?, prev_hash = ?, hash = ? WHERE seq = ?',
        );
        const cols = (r: Record<string, unknown>) => [
          r.at,
          r.type,
          r.actor,
          r.incident_id,
          r.details,
          r.prev_hash,
          r.hash,
        ];
        put.run(...cols(rb), a);
        put.run(...cols(ra), b);
      });
    },
    async plainUpdate(seq) {
      let error: unknown;
      raw((db) => {
        try {
          db.prepare("UPDATE audit_log SET actor = 'mallory' WHERE seq = ?").run(seq);
        } catch (err) {
          error = err;
        }
      });
      return error;
    },
  };
}

runStoreContract('SQLite', async (options) => {
  const dir = mkdtempSync(join(tmpdir(), 'hashgate-sqlite-'));
  const path = join(dir, 'incidents.db');
  const store = await createSqliteStore({ ...options, path });
  return {
    store,
    tamper: sqliteTamper(path),
    async cleanup() {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

describe('SQLite store', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'hashgate-sqlite-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('opens in WAL mode with synchronous FULL by default', async () => {
    const path = join(dir, 'a.db');
    const store = await createSqliteStore({ path });
    await store.close();
    const db = new Database(path);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    db.close();
    expect(store.config.synchronous).toBe('full');
    expect(Object.isFrozen(store.config)).toBe(true);
  });

  it('runs each migration once, however often the store is opened', async () => {
    const path = join(dir, 'nested/folder/b.db');
    for (let k = 0; k < 3; k++) await (await createSqliteStore({ path })).close();
    const db = new Database(path);
    expect(db.prepare('SELECT version FROM schema_migrations').all()).toEqual([{ version: 1 }]);
    db.close();
  });

  it('refuses a database whose schema is newer than it knows', async () => {
    const path = join(dir, 'c.db');
    await (await createSqliteStore({ path })).close();
    const db = new Database(path);
    db.prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (99, 'future', 0)").run();
    db.close();
    await expect(createSqliteStore({ path })).rejects.toMatchObject({
      code: 'ERR_HASHGATE_STORE_SCHEMA_TOO_NEW',
    });
  });

  it('says what is wrong with bad options in the shared message shape', () => {
    expect(() => parseSqliteStoreOptions({})).toThrow(
      'Expected the path of the database file for `sqliteStore.path` but received undefined',
    );
    expect(() => parseSqliteStoreOptions({ path: 'x', synchronous: 'off' })).toThrow(
      "Expected one of 'full', 'normal' for `sqliteStore.synchronous` but received 'off'",
    );
    expect(() => parseSqliteStoreOptions({ path: 'x', reportHoldMs: 1000 })).toThrow(/reportHoldMs/);
    expect(() => parseSqliteStoreOptions({ path: 'x', timeZone: 'Mars/Olympus' })).toThrow(/IANA time zone/);
    expect(() => parseSqliteStoreOptions({ path: 'x', pth: 1 })).toThrow(/Check the spelling/);
  });
});
