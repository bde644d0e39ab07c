import { Pool } from 'pg';
import { createPostgresStore, parsePostgresStoreOptions } from '../../../src/incidents/postgres-store';
import { sampleIncident } from '../../unit/incidents/helpers';
import { type AuditTamper, runStoreContract } from '../../unit/incidents/store-contract';
import { describePostgres, dropSchemas, freshSchema, PG_CONFIG } from './postgres';

function pgTamper(pool: () => Pool, schema: string): AuditTamper {
  const s = `"${schema}"`;
  const unguarded = async (sql: string, values: unknown[]): Promise<void> => {
    const c = await pool().connect();
    try {
      await c.query('BEGIN');
      await c.query(`ALTER TABLE ${s}.audit_log DISABLE TRIGGER USER`);
      await c.query(sql, values);
      await c.query(`ALTER TABLE ${s}.audit_log ENABLE TRIGGER USER`);
      await c.query('COMMIT');
    } finally {
      c.release();
    }
  };
  return {
    editDetails: (seq) =>
      unguarded(`UPDATE ${s}.audit_log SET details = '{"edited":true}' WHERE seq = $1`, [seq]),
    remove: (seq) => unguarded(`DELETE FROM ${s}.audit_log WHERE seq = $1`, [seq]),
    swap: (a, b) =>
      unguarded(
        `UPDATE ${s}.audit_log t SET at = o.at, type = o.type, actor = o.actor, incident_id = o.incident_id,
           details = o.details, prev_hash = o.prev_hash, hash = o.hash
         FROM ${s}.audit_log o WHERE (t.seq, o.seq) IN (($1, $2), ($2, $1))`,
        [a, b],
      ),
    async plainUpdate(seq) {
      try {
        await pool().query(`UPDATE ${s}.audit_log SET actor = 'mallory' WHERE seq = $1`, [seq]);
        return undefined;
      } catch (err) {
        return err;
      }
    },
  };
}

describePostgres('PostgreSQL store', (pool) => {
  const schemas: string[] = [];
  afterAll(async () => dropSchemas(pool(), schemas));

  runStoreContract('PostgreSQL', async (options) => {
    const schema = freshSchema();
    schemas.push(schema);
    const store = await createPostgresStore({ ...options, pool: pool(), schema });
    return {
      store,
      tamper: pgTamper(pool, schema),
      async cleanup() {
        await store.close();
        await dropSchemas(pool(), [schema]);
      },
    };
  });

  it('migrates once when several instances open the same schema at the same time', async () => {
    const schema = freshSchema();
    schemas.push(schema);
    const stores = await Promise.all(
      Array.from({ length: 4 }, () => createPostgresStore({ pool: pool(), schema })),
    );
    const { rows } = await pool().query(`SELECT version FROM "${schema}".schema_migrations`);
    expect(rows).toEqual([{ version: 1 }]);
    for (const s of stores) await s.close();
  });

  it('keeps one audit chain when two instances with their own pools write at once', async () => {
    const schema = freshSchema();
    schemas.push(schema);
    const a = await createPostgresStore({ connection: PG_CONFIG, schema, maxConnections: 4 });
    const b = await createPostgresStore({ connection: PG_CONFIG, schema, maxConnections: 4 });
    await Promise.all([
      ...Array.from({ length: 15 }, () => a.createIncident(sampleIncident())),
      ...Array.from({ length: 15 }, () => b.createIncident(sampleIncident())),
    ]);
    expect(await a.verifyAuditChain()).toMatchObject({ ok: true, records: 30 });
    // the two instances share the review queue: claims by two dispatchers never overlap
    const [ca, cb] = await Promise.all([
      a.claimOutbox({ owner: 'a', limit: 20, leaseMs: 60_000, now: Date.now() }),
      b.claimOutbox({ owner: 'b', limit: 20, leaseMs: 60_000, now: Date.now() }),
    ]);
    const ids = [...ca, ...cb].map((e) => e.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toHaveLength(30);
    await a.close();
    await b.close();
  });

  it('survives its connections being terminated between the queries of a transaction', async () => {
    // A server restart or failover ends connections while they are checked out; pg then emits
    // 'error' on the client, which must not end the process.
    const schema = freshSchema();
    schemas.push(schema);
    const app = `hashgate-test-${schema}`;
    const store = await createPostgresStore({
      connection: { ...PG_CONFIG, application_name: app },
      schema,
      maxConnections: 3,
    });
    let ok = 0;
    let failed = 0;
    let running = true;
    const writer = async (): Promise<void> => {
      while (running) {
        try {
          await store.createIncident(sampleIncident());
          ok++;
        } catch (err) {
          expect((err as { code?: string }).code).toBe('ERR_HASHGATE_STORE_FAILED');
          failed++;
        }
      }
    };
    const writers = [writer(), writer(), writer()];
    for (let i = 0; i < 15; i++) {
      await new Promise((r) => setTimeout(r, 20));
      await pool().query(
        'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1',
        [app],
      );
    }
    running = false;
    await Promise.all(writers);
    // the store recovers: new connections replace the terminated ones
    await store.createIncident(sampleIncident());
    expect(ok).toBeGreaterThan(0);
    expect(failed).toBeGreaterThan(0);
    await store.close();
  });

  it('says what is wrong with bad options in the shared message shape', () => {
    expect(() => parsePostgresStoreOptions({})).toThrow(
      'Expected exactly one of `pool`, `connectionString` or `connection` for `postgresStore` but received undefined',
    );
    expect(() => parsePostgresStoreOptions({ pool: new Pool(PG_CONFIG), schema: 'Bad-Name' })).toThrow(
      /postgresStore.schema/,
    );
  });
});
