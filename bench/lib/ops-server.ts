/**
 * The server side of the load and fault benchmarks, run in its own process (so its memory and
 * event loop are its own): a demo-style app with the real `createHashgate()`, a signed list synced
 * by URL (or a local list file), multer with disk storage into a private folder, encrypted
 * evidence, SQLite or PostgreSQL incidents, and optionally a webhook dispatcher. It prints no
 * hashes; `/stats` reports counts only.
 *
 * Two upload routes: `/upload` (multer disk storage, then `gate.middleware()`) and `/stream`
 * (`gate.storage()` around multer's disk storage, then `gate.middleware()`). An accepted file is
 * counted and then removed by the handler (as if moved to permanent storage), so at the end the
 * upload folder must be empty: anything left is a file the middleware failed to clean up.
 */

import { unlink } from 'node:fs/promises';
import express, { type NextFunction, type Request, type Response } from 'express';
import multer from 'multer';
import { Pool } from 'pg';
import { createEvidenceKeyRing } from '../../src/evidence/keys';
import { createHashgate } from '../../src/hashgate';
import { createWebhookDispatcher, type WebhookDispatcher } from '../../src/incidents/outbox-dispatcher';
import { createPostgresStore } from '../../src/incidents/postgres-store';
import type { IncidentStore } from '../../src/incidents/store';
import type { Logger } from '../../src/observability/logger';

/** The configuration the driver passes as JSON in argv[2]. */
export interface OpsServerConfig {
  port: number;
  dataDir: string;
  uploadDir: string;
  evidenceDir: string;
  evidenceKey: string;
  listUrl?: string;
  listFile?: string;
  publicKeyPem?: string;
  refreshIntervalMs?: number;
  maxStalenessMs?: number;
  postgres?: string;
  /**
   * Give the store a pool the host made, with an error listener on every client (the workaround
   * for a checked-out client's connection error crashing the process), instead of letting the
   * store create its own pool.
   */
  postgresHostPool?: boolean;
  webhookUrl?: string;
  hashing?: { maxQueue?: number; timeoutMs?: number; workers?: number };
}

/** What `/stats` answers: counts only. */
export interface OpsServerStats {
  rss: number;
  /** JavaScript heap and memory held by JavaScript objects outside it (Buffers), main thread only. */
  heapUsed: number;
  external: number;
  acceptedFiles: number;
  /** Status codes of the answers the server sent (`closed-…` when the client left first). */
  answers: Record<string, number>;
  inFlight: number;
  blockedWithIncident: number;
  blockedWithoutIncident: number;
  unscannedWithoutRetryAfter: number;
  /** Requests whose client left before the answer: the status the server set later, and the scan outcome. */
  abandoned: Record<string, number>;
  /** Of those, how many were blocked (they have incidents too). */
  blockedAbandoned: number;
  handlerErrors: Record<string, number>;
  logged: Record<string, number>;
  ready: boolean;
  fresh: boolean;
  lists: { version: number | null; stale: boolean; lastError: string | null }[];
  workers: { size: number; queued: number; running: number; replaced: number };
  /** Writes that failed and wait in memory or in the spool for a replay (incidents, evidence, ledger records and batches). */
  pending: { incidents: number; evidence: number; ledgerRecords: number; ledgerBatches: number };
}

async function main(): Promise<void> {
  const config = JSON.parse(process.argv[2]!) as OpsServerConfig;
  // Log messages are counted by text (hashgate never puts hashes in them), not printed.
  const logged: Record<string, number> = {};
  const count =
    (level: string) =>
    (message: string, fields?: Record<string, unknown>): void => {
      const code = typeof fields?.code === 'string' ? ` [${fields.code}]` : '';
      const key = `${level}: ${message}${code}`;
      logged[key] = (logged[key] ?? 0) + 1;
    };
  const logger: Logger = { info: () => undefined, warn: count('warn'), error: count('error') };
  let store: IncidentStore | undefined;
  if (config.postgres && config.postgresHostPool) {
    const pool = new Pool({ connectionString: config.postgres, max: 10 });
    pool.on('error', () => undefined);
    pool.on('connect', (client) => client.on('error', () => undefined));
    store = await createPostgresStore({ pool });
  } else if (config.postgres) {
    store = await createPostgresStore({ connectionString: config.postgres, maxConnections: 10 });
  }
  const gate = createHashgate({
    lists: [
      config.listUrl
        ? {
            name: 'ops',
            url: config.listUrl,
            publicKeys: [config.publicKeyPem!],
            refreshIntervalMs: config.refreshIntervalMs ?? 300_000,
            ...(config.maxStalenessMs ? { maxStalenessMs: config.maxStalenessMs } : {}),
          }
        : { name: 'ops', file: config.listFile!, format: 'ndjson' },
    ],
    dataDir: config.dataDir,
    logger,
    ...(store ? { store } : {}),
    evidence: {
      dir: config.evidenceDir,
      keys: createEvidenceKeyRing({ current: { id: 'ops-1', key: config.evidenceKey } }),
    },
    ...(config.hashing ? { hashing: config.hashing } : {}),
  });
  await gate.ready();
  let dispatcher: WebhookDispatcher | undefined;
  if (config.webhookUrl) {
    dispatcher = createWebhookDispatcher({
      store: await gate.store(),
      endpoints: [
        { name: 'receiver', url: config.webhookUrl, secret: 'ops-bench-webhook-secret-0123456789' },
      ],
      pollIntervalMs: 200,
      retryInitialMs: 200,
      retryMaxMs: 2_000,
      requestTimeoutMs: 2_000,
    });
    dispatcher.start();
  }

  let acceptedFiles = 0;
  const handlerErrors: Record<string, number> = {};
  const disk = multer.diskStorage({ destination: config.uploadDir });
  const limits = { fileSize: 32 * 1024 * 1024, files: 4 };
  const viaDisk = multer({ storage: disk, limits }).array('files', 4);
  const viaStorage = multer({ storage: gate.storage(disk), limits }).array('files', 4);
  const accept = async (req: Request, res: Response): Promise<void> => {
    const files = Array.isArray(req.files) ? req.files : [];
    acceptedFiles += files.length;
    // The host would move the file to permanent storage here; the benchmark removes it.
    await Promise.all(files.map((f) => (f.path ? unlink(f.path).catch(() => undefined) : undefined)));
    res.status(201).json({ outcome: req.hashgate?.outcome ?? 'none', files: files.length });
  };

  // Answers as the server sent them (the client may have gone away before reading one).
  const answers: Record<string, number> = {};
  let inFlight = 0;
  let blockedWithIncident = 0;
  let blockedWithoutIncident = 0;
  let unscannedWithoutRetryAfter = 0;
  const abandoned: { req: Request; res: Response }[] = [];
  const app = express();
  app.use((req, res, next) => {
    if (req.method !== 'POST' || !/^\/(upload|stream)$/.test(req.path)) {
      next();
      return;
    }
    inFlight++;
    let done = false;
    const settle = (how: string): void => {
      if (done) return;
      done = true;
      inFlight--;
      const key = how === 'finish' ? String(res.statusCode) : `${how}-${res.statusCode}`;
      answers[key] = (answers[key] ?? 0) + 1;
      if (res.statusCode === 451) {
        if ((req.hashgate?.incidentIds.length ?? 0) > 0) blockedWithIncident++;
        else blockedWithoutIncident++;
      }
      if (res.statusCode === 503 && !res.getHeader('retry-after')) unscannedWithoutRetryAfter++;
    };
    res.on('finish', () => settle('finish'));
    // A client that leaves early does not stop the scan: what the server then decided is read
    // when the stats are asked for.
    res.on('close', () => {
      if (!res.writableFinished) abandoned.push({ req, res });
      settle('closed');
    });
    next();
  });
  app.post('/upload', viaDisk, gate.middleware({ route: 'POST /upload' }), accept);
  app.post('/stream', viaStorage, gate.middleware({ route: 'POST /stream' }), accept);
  app.get('/stats', (_req, res) => {
    const s = gate.status();
    const stats: OpsServerStats = {
      rss: process.memoryUsage().rss,
      heapUsed: process.memoryUsage().heapUsed,
      external: process.memoryUsage().external,
      acceptedFiles,
      answers,
      inFlight,
      blockedWithIncident,
      blockedWithoutIncident,
      unscannedWithoutRetryAfter,
      abandoned: abandoned.reduce<Record<string, number>>((acc, { req, res }) => {
        const k = `${res.statusCode}${req.hashgate ? `-${req.hashgate.outcome}` : ''}`;
        acc[k] = (acc[k] ?? 0) + 1;
        return acc;
      }, {}),
      blockedAbandoned: abandoned.filter(({ req }) => req.hashgate?.outcome === 'block').length,
      handlerErrors,
      logged,
      ready: s.ready,
      fresh: s.fresh,
      lists: s.lists.map((l) => ({
        version: l.version,
        stale: l.stale,
        lastError: l.lastError?.code ?? null,
      })),
      workers: s.workers,
      pending: {
        incidents: s.pending.incidents.incidents,
        evidence: s.pending.incidents.evidence,
        ledgerRecords: s.pending.ledger.records,
        ledgerBatches: s.pending.ledger.spooledBatches,
      },
    };
    res.json(stats);
  });
  app.post('/refresh', (_req, res) => {
    gate.refreshLists().then(
      () => res.json({ ok: true }),
      () => res.json({ ok: false }),
    );
  });
  app.post('/dispatch', (_req, res) => {
    if (!dispatcher) {
      res.json({ delivered: 0 });
      return;
    }
    dispatcher.runOnce().then(
      (r) => res.json(r),
      () => res.json({ delivered: 0, failed: true }),
    );
  });
  app.use((err: Error & { code?: string }, _req: Request, res: Response, _next: NextFunction) => {
    // multer's and busboy's messages name no file contents ("Request aborted", "Unexpected end of form").
    const key = err.code ?? `${err.name}: ${err.message}`;
    handlerErrors[key] = (handlerErrors[key] ?? 0) + 1;
    res.status(err.code?.startsWith('LIMIT_') ? 413 : 500).json({ error: key });
  });
  const server = app.listen(config.port, '127.0.0.1', () => process.send?.('listening'));
  server.keepAliveTimeout = 60_000;
  const stop = async (): Promise<void> => {
    server.close();
    server.closeAllConnections();
    await dispatcher?.stop();
    await gate.close();
    await store?.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  process.on('message', (m) => {
    if (m === 'stop') void stop();
  });
}

main().catch((err: unknown) => {
  console.error('ops server failed to start:', (err as { code?: string }).code ?? (err as Error).message);
  process.exit(1);
});
