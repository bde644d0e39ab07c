/**
 * Fault benchmark: the demo-style app (real createHashgate, a signed list synced every second from
 * a list server this benchmark controls, PostgreSQL incidents in a throwaway cluster of its own,
 * encrypted evidence, a webhook dispatcher) under a steady load of mixed uploads while one thing
 * goes wrong at a time:
 *
 *   npm run bench:faults -- /tmp/corpus/photos [--seconds 14] [--connections 12] [--seed 1]
 *       [--pg-dir /tmp/hg-pg-faults] [--pg-port 5499]
 *
 * Faults: the list server dies; returns garbage; serves an older, validly signed version
 * (rollback); PostgreSQL restarts; the webhook receiver is down; the evidence folder becomes
 * unwritable (replaced by a file, which fails for root too, unlike chmod). Each phase runs the
 * load for `--seconds`, injects the fault after 2 s and lifts it 2 s before the end, then waits
 * for the server to settle and checks, for the uploads of that phase:
 *
 * - every upload answered 451 carries a reference, and the store has that incident with its
 *   evidence (and the evidence file exists);
 * - every upload answered 2xx was scanned (`allow`) and is in the ledger of accepted uploads;
 *   every 503 carries Retry-After (the policy is `reject`);
 * - known uploads are never answered 2xx;
 * - every incident's webhook is delivered in the end (the outbox keeps what the receiver missed);
 * - no file is left in the upload folder or the spool folder.
 *
 * Prints one table row per fault. Never prints a hash.
 */

import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createListRequestHandler } from '../src/lists/list-server';
import {
  arg,
  chooseUploads,
  countFiles,
  MULTIPART_TYPE,
  multipart,
  postgresCounts,
  printTable,
  publishKnownList,
  publishVersion,
  randomPort,
  type StoreCounts,
  seededRandom,
  sqliteCounts,
  startOpsServer,
  type Upload,
} from './lib/ops-common';
import { startThrowawayPostgres } from './lib/ops-postgres';

/** One upload the load loop sent and what came back. */
interface Sent {
  kind: Upload['kind'];
  at: number;
  status: number;
  retryAfter: boolean;
  reference?: string;
  outcome?: string;
  error?: string;
}

type ListMode = 'ok' | 'garbage' | 'rollback';

/** A server that can be stopped and started again on the same port. */
class Restartable {
  #server: Server | undefined;
  constructor(
    readonly port: number,
    readonly handler: (req: IncomingMessage, res: ServerResponse) => void,
  ) {}
  async up(): Promise<void> {
    if (this.#server) return;
    const server = createServer(this.handler);
    server.keepAliveTimeout = 1_000;
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.#server = server;
  }
  async down(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    this.#server = undefined;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

async function main(): Promise<void> {
  const folder = process.argv[2];
  if (!folder || folder.startsWith('--')) {
    console.error(
      'usage: npm run bench:faults -- <folder of photos> [--seconds 14] [--connections 12] [--seed 1]',
    );
    process.exit(2);
  }
  const seconds = Number(arg('seconds', '14'));
  const connections = Number(arg('connections', '12'));
  const seed = Number(arg('seed', '1'));
  const keep = process.argv.includes('--keep');

  const dir = mkdtempSync(join(tmpdir(), 'hashgate-bench-faults-'));
  const uploadDir = join(dir, 'uploads');
  const spoolDir = join(dir, 'spool');
  const evidenceDir = join(dir, 'evidence');
  mkdirSync(uploadDir);
  mkdirSync(spoolDir);
  mkdirSync(evidenceDir, { mode: 0o700 });

  // --- The list: version 1 kept aside (for the rollback), then versions 2 and 3 ---------------
  const { uploads, knownPaths } = chooseUploads(folder, { perClass: 5, knownShare: 0.4, nonImages: 2, seed });
  const published = join(dir, 'published');
  const list = await publishKnownList(join(published, 'ops'), knownPaths);
  const oldRoot = join(dir, 'published-v1');
  cpSync(published, oldRoot, { recursive: true });
  await publishVersion(join(published, 'ops'), list, 5);
  const latest = await publishVersion(join(published, 'ops'), list, 10);

  let listMode: ListMode = 'ok';
  const serveCurrent = createListRequestHandler(published);
  const serveOld = createListRequestHandler(oldRoot);
  const listServer = new Restartable(randomPort(), (req, res) => {
    if (listMode === 'garbage') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(randomBytes(2_000));
    } else if (listMode === 'rollback') serveOld(req, res);
    else serveCurrent(req, res);
  });
  await listServer.up();

  // --- The webhook receiver ----------------------------------------------------------------------
  const webhookIncidents = new Set<string>();
  let webhookPosts = 0;
  const receiver = new Restartable(randomPort(), (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      webhookPosts++;
      try {
        const payload = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
          type?: string;
          incident?: { id?: string };
        };
        if (payload.type === 'incident.created' && payload.incident?.id)
          webhookIncidents.add(payload.incident.id);
      } catch {
        // counted as a post; an unreadable body is the dispatcher's bug, shown by the check
      }
      res.writeHead(204).end();
    });
  });
  await receiver.up();

  // --- PostgreSQL: our own cluster --------------------------------------------------------------
  const pg = startThrowawayPostgres(arg('pg-dir', '/tmp/hg-pg-faults'), Number(arg('pg-port', '5499')));
  if (!pg) console.log('no PostgreSQL binaries: the store is SQLite and the PostgreSQL restart is skipped');

  const serverConfig = {
    port: randomPort(),
    dataDir: join(dir, 'data'),
    uploadDir,
    evidenceDir,
    evidenceKey: randomBytes(32).toString('base64'),
    listUrl: `http://127.0.0.1:${listServer.port}/ops/`,
    publicKeyPem: list.publicKeyPem,
    refreshIntervalMs: 1_000,
    maxStalenessMs: 4_000,
    ...(pg ? { postgres: pg.connectionString } : {}),
    webhookUrl: `http://127.0.0.1:${receiver.port}/hook`,
  };
  // gate.storage() spools large uploads to the system's temporary folder: make it ours.
  const serverEnv = { TMPDIR: spoolDir };
  let server = await startOpsServer(serverConfig, serverEnv);
  let crashed: string | undefined;
  const watchCrash = (): void => {
    const current = server;
    // 'close' comes after the child's standard error is read to the end.
    current.child.once('close', (code, signal) => {
      if (current === server)
        crashed = `exit ${signal ?? code}: ${current.firstError() ?? 'no error printed'}`;
    });
  };
  watchCrash();
  const replaceServer = async (
    config: typeof serverConfig & { postgresHostPool?: boolean },
  ): Promise<void> => {
    await server.stop();
    server = await startOpsServer(config, serverEnv);
    crashed = undefined;
    watchCrash();
  };
  const counts = async (): Promise<StoreCounts> =>
    pg ? postgresCounts(pg.connectionString) : sqliteCounts(join(dir, 'data', 'incidents.sqlite'));
  console.log(
    `fault benchmark: ${uploads.length} files (${uploads.filter((u) => u.kind === 'known').length} known), ` +
      `${connections} concurrent uploads, ${seconds} s per fault, list version ${latest} refreshed every 1 s ` +
      `(stale after 4 s), store ${pg ? `PostgreSQL (own cluster on port ${pg.port})` : 'SQLite'}`,
  );

  const random = seededRandom(seed);
  const bodies = uploads.map((u) => multipart(u));
  const sendOne = async (): Promise<Sent> => {
    const i = Math.floor(random() * uploads.length);
    const u = uploads[i]!;
    const route = random() < 0.25 ? '/stream' : '/upload';
    const at = Date.now();
    try {
      const res = await fetch(`${server.base}${route}`, {
        method: 'POST',
        headers: { 'content-type': MULTIPART_TYPE, accept: 'application/json' },
        body: bodies[i]!,
        signal: AbortSignal.timeout(120_000),
      });
      const text = await res.text();
      let body: { outcome?: string; error?: { reference?: string } } = {};
      try {
        body = JSON.parse(text) as typeof body;
      } catch {
        // not JSON: counted by status only
      }
      return {
        kind: u.kind,
        at,
        status: res.status,
        retryAfter: res.headers.has('retry-after'),
        ...(body.error?.reference ? { reference: body.error.reference } : {}),
        ...(body.outcome ? { outcome: body.outcome } : {}),
      };
    } catch (err) {
      // No server to talk to (it crashed): do not spin.
      await new Promise((r) => setTimeout(r, 200));
      return { kind: u.kind, at, status: 0, retryAfter: false, error: (err as Error).name };
    }
  };

  const settle = async (): Promise<void> => {
    const t0 = Date.now();
    for (;;) {
      if (crashed) return;
      const s = await server.stats().catch(() => undefined);
      if (!s) {
        // Dead: wait for its 'close' (which sets `crashed`), at most 10 s.
        if (Date.now() - t0 > 10_000) return;
        await new Promise((r) => setTimeout(r, 250));
        continue;
      }
      if ((s.inFlight === 0 && s.workers.queued === 0 && s.workers.running === 0) || Date.now() - t0 > 60_000)
        break;
      await new Promise((r) => setTimeout(r, 250));
    }
    await new Promise((r) => setTimeout(r, 400)); // the ledger batch
  };

  /**
   * Waits until no write is pending (a failed incident, evidence or ledger write is replayed with
   * a backoff of up to a minute), at most 120 s; returns how long that took, or null if writes
   * were still pending then.
   */
  const drain = async (): Promise<number | null> => {
    const t0 = Date.now();
    for (;;) {
      const s = await server.stats().catch(() => undefined);
      if (!s) return null;
      const p = s.pending;
      if (p.incidents + p.evidence + p.ledgerRecords + p.ledgerBatches === 0) return Date.now() - t0;
      if (Date.now() - t0 > 120_000) return null;
      await new Promise((r) => setTimeout(r, 500));
    }
  };

  const waitFresh = async (): Promise<void> => {
    const t0 = Date.now();
    while (Date.now() - t0 < 30_000) {
      const s = await server.stats().catch(() => undefined);
      if (!s) return;
      if (s.ready && s.fresh && s.lists.every((l) => l.version === latest)) return;
      await new Promise((r) => setTimeout(r, 250));
    }
  };

  /** Waits until every outbox event is delivered (at most 30 s). */
  const waitOutbox = async (): Promise<StoreCounts> => {
    const t0 = Date.now();
    let c = await counts();
    while (c.outboxDelivered < c.outbox && Date.now() - t0 < 30_000) {
      await new Promise((r) => setTimeout(r, 500));
      c = await counts();
    }
    return c;
  };

  interface Phase {
    name: string;
    before?: () => Promise<void>;
    after?: () => Promise<void>;
    inject: () => Promise<void> | void;
    lift: () => Promise<void> | void;
  }
  const evidenceAway = `${evidenceDir}.away`;
  const phases: Phase[] = [
    { name: 'none (baseline)', inject: () => undefined, lift: () => undefined },
    { name: 'list server dies', inject: () => listServer.down(), lift: () => listServer.up() },
    {
      name: 'list server returns garbage',
      inject: () => {
        listMode = 'garbage';
      },
      lift: () => {
        listMode = 'ok';
      },
    },
    {
      name: 'list server serves an older version',
      inject: () => {
        listMode = 'rollback';
      },
      lift: () => {
        listMode = 'ok';
      },
    },
    ...(pg
      ? [
          {
            name: 'PostgreSQL restarts',
            inject: () => pg.restart(),
            lift: () => undefined,
          },
          {
            name: 'PostgreSQL restarts (host pool, client error listeners)',
            before: () => replaceServer({ ...serverConfig, postgresHostPool: true }),
            inject: () => pg.restart(),
            lift: () => undefined,
            after: () => replaceServer(serverConfig),
          },
        ]
      : []),
    { name: 'webhook receiver down', inject: () => receiver.down(), lift: () => receiver.up() },
    {
      name: 'evidence folder unwritable',
      inject: () => {
        // root ignores chmod: take the folder away and put a file in its place.
        renameSync(evidenceDir, evidenceAway);
        writeFileSync(evidenceDir, 'not a folder\n');
      },
      lift: () => {
        rmSync(evidenceDir, { force: true });
        renameSync(evidenceAway, evidenceDir);
      },
    },
  ];

  const rows: string[][] = [
    [
      'fault',
      'answers during the fault',
      'answers over the phase',
      'list state seen',
      '451: incident + evidence',
      '2xx: in ledger',
      'webhooks',
      'stray files',
      'verdict',
    ],
  ];
  const problems: string[] = [];
  let before = await counts();
  for (const phase of phases) {
    await phase.before?.();
    await waitFresh();
    const strayBefore = countFiles(uploadDir) + countFiles(spoolDir);
    const sent: Sent[] = [];
    let stop = false;
    const workers = Array.from({ length: connections }, async () => {
      while (!stop) sent.push(await sendOne());
    });
    const t0 = Date.now();
    const listStates = new Set<string>();
    const poll = setInterval(() => {
      server.stats().then(
        (s) =>
          listStates.add(
            s.lists
              .map(
                (l) =>
                  `${s.fresh ? 'fresh' : l.stale ? 'stale' : 'ready'}${l.lastError ? ` ${l.lastError.replace('ERR_HASHGATE_', '')}` : ''}`,
              )
              .join(','),
          ),
        () => undefined,
      );
    }, 500);
    await new Promise((r) => setTimeout(r, 2_000));
    const injectedAt = Date.now();
    await phase.inject();
    await new Promise((r) => setTimeout(r, Math.max(1_000, (seconds - 4) * 1000)));
    const liftedAt = Date.now();
    await phase.lift();
    await new Promise((r) => setTimeout(r, Math.max(0, seconds * 1000 - (Date.now() - t0))));
    stop = true;
    await Promise.all(workers);
    clearInterval(poll);
    await settle();
    const stats = crashed ? undefined : await server.stats().catch(() => undefined);
    const crashedNow = crashed;
    if (crashed) {
      // The process died: start it again (as an orchestrator would) so the outbox and the
      // remaining faults can be checked; what it acknowledged before dying is checked below.
      server = await startOpsServer(serverConfig, serverEnv);
      crashed = undefined;
      watchCrash();
    }
    const drainedMs = crashedNow ? 0 : await drain();
    if (drainedMs === null) console.log(`${phase.name}: writes still pending after 120 s`);
    else if (drainedMs > 0)
      console.log(`${phase.name}: pending writes replayed ${(drainedMs / 1000).toFixed(1)} s after the load`);
    const after = await waitOutbox();

    // --- Checks for this phase ---------------------------------------------------------------
    const statusCounts = (list: Sent[]): string => {
      const c: Record<string, number> = {};
      for (const s of list) {
        const k = s.status === 0 ? `no answer (${s.error})` : String(s.status);
        c[k] = (c[k] ?? 0) + 1;
      }
      return Object.entries(c)
        .sort()
        .map(([k, v]) => `${k}: ${v}`)
        .join(', ');
    };
    const during = sent.filter((s) => s.at >= injectedAt && s.at < liftedAt);
    const blocked = sent.filter((s) => s.status === 451);
    const newIncidents = [...after.incidentIds].filter((id) => !before.incidentIds.has(id));
    const blockedNoRef = blocked.filter((s) => !s.reference).length;
    const blockedNoIncident = blocked.filter(
      (s) => s.reference && !after.incidentIds.has(s.reference),
    ).length;
    const blockedNoEvidence = blocked.filter(
      (s) => s.reference && after.incidentIds.has(s.reference) && !after.evidenceIds.has(s.reference),
    ).length;
    // The vault keeps `<dir>/<id characters 4-5>/<id>.hgev`.
    const evidenceFilesMissing = blocked.filter(
      (s) =>
        s.reference &&
        after.evidenceIds.has(s.reference) &&
        !existsSync(join(evidenceDir, s.reference.slice(4, 6), `${s.reference}.hgev`)),
    ).length;
    const accepted = sent.filter((s) => s.status >= 200 && s.status < 300);
    const acceptedNotAllow = accepted.filter((s) => s.outcome !== 'allow').length;
    const ledgerAdded = after.ledger - before.ledger;
    const knownAccepted = accepted.filter((s) => s.kind === 'known').length;
    const no503RetryAfter = sent.filter((s) => s.status === 503 && !s.retryAfter).length;
    const other = sent.filter((s) => ![0, 201, 451, 503].includes(s.status)).length;
    const unanswered = sent.filter((s) => s.status === 0).length;
    const undelivered = newIncidents.filter((id) => !webhookIncidents.has(id)).length;
    const stray = countFiles(uploadDir) + countFiles(spoolDir) - strayBefore;
    const p: string[] = [];
    if (crashedNow) p.push(`the server process crashed (${crashedNow}) during the fault`);
    if (blockedNoRef + blockedNoIncident > 0)
      p.push(`${blockedNoRef + blockedNoIncident} blocked answers without a recorded incident`);
    if (blockedNoEvidence + evidenceFilesMissing > 0)
      p.push(`${blockedNoEvidence + evidenceFilesMissing} incidents without evidence`);
    if (ledgerAdded < accepted.length)
      p.push(`${accepted.length - ledgerAdded} accepted uploads missing from the ledger`);
    if (acceptedNotAllow > 0) p.push(`${acceptedNotAllow} 2xx answers not scanned as allow`);
    if (knownAccepted > 0) p.push(`${knownAccepted} known uploads accepted`);
    if (no503RetryAfter > 0) p.push(`${no503RetryAfter} 503s without Retry-After`);
    if (other > 0) p.push(`${other} answers other than 201/451/503`);
    if (unanswered > 0)
      p.push(
        `${unanswered} uploads got no answer (not acknowledged, so not lost, but refused by a dead server)`,
      );
    if (undelivered > 0) p.push(`${undelivered} incidents whose webhook never arrived`);
    if (stray > 0) p.push(`${stray} stray files`);
    for (const x of p) problems.push(`${phase.name}: ${x}`);
    rows.push([
      phase.name,
      statusCounts(during) || '-',
      statusCounts(sent),
      [...listStates].join(' / '),
      `${blocked.length - blockedNoRef - blockedNoIncident - blockedNoEvidence}/${blocked.length}`,
      `${Math.min(ledgerAdded, accepted.length)}/${accepted.length}`,
      `${newIncidents.length - undelivered}/${newIncidents.length}`,
      String(stray),
      crashedNow ? 'CRASHED' : p.length === 0 ? 'nothing lost' : 'LOST (see below)',
    ]);
    console.log(
      `${phase.name}: ${sent.length} uploads; ${statusCounts(sent)}; ` +
        (stats ? `server log so far: ${JSON.stringify(stats.logged)}` : `server crashed (${crashedNow})`),
    );
    before = after;
    await phase.after?.();
  }

  console.log('');
  printTable(rows);
  console.log('');
  if (problems.length === 0) console.log('ok   nothing acknowledged was lost under any fault');
  else for (const x of problems) console.log(`FAIL ${x}`);
  console.log(`webhook posts received: ${webhookPosts}`);

  await server.stop();
  await listServer.down();
  await receiver.down();
  pg?.stop();
  if (!keep) rmSync(dir, { recursive: true, force: true });
  else console.log(`kept ${dir}`);
  process.exit(problems.length === 0 ? 0 : 1);
}

void main();
