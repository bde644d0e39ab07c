/**
 * Load benchmark: autocannon against a demo-style app (real createHashgate, a signed list synced
 * from a local list server, multer disk storage, encrypted evidence, SQLite incidents) with many
 * concurrent uploads of mixed sizes for a bounded time:
 *
 *   npm run bench:load -- /tmp/corpus/photos [--seconds 40] [--connections 200] [--per-class 12] [--seed 1]
 *
 * Uploads: small (< 100 KiB), medium (< 1 MiB) and large (>= 1 MiB, multi-megapixel) photos, a
 * share of each on the list ("known"), and a few non-images. Half of the requests carry a unique
 * trailer after the file's bytes (new SHA-256, so the verdict cache cannot answer; a known photo
 * gets one only when the list has its PDQ, so it must still be blocked). A quarter of the requests
 * go through `gate.storage()`, the rest through multer's disk storage and `gate.middleware()`.
 *
 * Prints throughput, latency, status codes per kind of upload, memory over time, and checks:
 * the only errors are 503s with Retry-After; memory stays bounded; no file is left in the upload
 * folder or the spool folder; known uploads are never answered 2xx; incidents recorded equal
 * blocked answers. Exits 1 when a check fails. Never prints a hash.
 */

import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { startListServer } from '../src/lists/list-server';
import {
  arg,
  chooseUploads,
  countFiles,
  MULTIPART_TYPE,
  mib,
  multipart,
  printTable,
  publishKnownList,
  RssSampler,
  randomPort,
  seededRandom,
  sqliteCounts,
  startOpsServer,
  type Upload,
} from './lib/ops-common';

interface Sent {
  kind: string;
  altered: boolean;
  route: string;
}

async function main(): Promise<void> {
  const folder = process.argv[2];
  if (!folder || folder.startsWith('--')) {
    console.error(
      'usage: npm run bench:load -- <folder of photos> [--seconds 40] [--connections 200] [--per-class 12] [--seed 1]',
    );
    process.exit(2);
  }
  const seconds = Number(arg('seconds', '40'));
  const connections = Number(arg('connections', '200'));
  const perClass = Number(arg('per-class', '12'));
  const seed = Number(arg('seed', '1'));
  const maxQueue = Number(arg('max-queue', '256'));
  const keep = process.argv.includes('--keep');

  const dir = mkdtempSync(join(tmpdir(), 'hashgate-bench-load-'));
  const uploadDir = join(dir, 'uploads');
  const spoolDir = join(dir, 'spool');
  const evidenceDir = join(dir, 'evidence');
  mkdirSync(uploadDir);
  mkdirSync(spoolDir);
  const { uploads, knownPaths } = chooseUploads(folder, { perClass, knownShare: 1 / 3, nonImages: 4, seed });
  const list = await publishKnownList(join(dir, 'published', 'ops'), knownPaths);
  const listServer = await startListServer({ root: join(dir, 'published') });
  const server = await startOpsServer(
    {
      port: randomPort(),
      dataDir: join(dir, 'data'),
      uploadDir,
      evidenceDir,
      evidenceKey: randomBytes(32).toString('base64'),
      listUrl: `${listServer.url}ops/`,
      publicKeyPem: list.publicKeyPem,
      refreshIntervalMs: 10_000,
      hashing: { maxQueue },
    },
    // gate.storage() spools large uploads to the system's temporary folder: make it ours.
    { TMPDIR: spoolDir },
  );

  const bodies = uploads.map((u) => multipart(u));
  const counts = (k: string): number => uploads.filter((u) => u.kind === k).length;
  console.log(
    `load benchmark: ${uploads.length} files (${counts('known')} known, ${counts('unknown')} not known, ${counts('non-image')} non-images; ` +
      `${uploads.filter((u) => u.size === 'small').length} small, ${uploads.filter((u) => u.size === 'medium').length} medium, ` +
      `${uploads.filter((u) => u.size === 'large').length} large up to ${mib(Math.max(...uploads.map((u) => u.bytes.length)))}), ` +
      `${connections} connections, ${seconds} s, seed ${seed}, hashing.maxQueue ${maxQueue}`,
  );

  const random = seededRandom(seed);
  const tally = new Map<string, Record<string, number>>();
  const note = (key: string, status: string): void => {
    const t = tally.get(key) ?? {};
    t[status] = (t[status] ?? 0) + 1;
    tally.set(key, t);
  };
  let missingRetryAfter = 0;
  let knownAccepted = 0;
  const sampler = new RssSampler(server.child.pid!, 500);
  // The main thread's JavaScript heap and Buffers next to the RSS: if they stay flat while the
  // RSS grows, the growth is native memory (the decoders in the workers, or the allocator).
  const heap: { t: number; heapUsed: number; external: number }[] = [];
  const t0 = Date.now();
  const heapTimer = setInterval(() => {
    fetch(`${server.base}/stats`, { signal: AbortSignal.timeout(4_000) })
      .then((r) => r.json() as Promise<{ heapUsed: number; external: number }>)
      .then((s) => heap.push({ t: (Date.now() - t0) / 1000, heapUsed: s.heapUsed, external: s.external }))
      .catch(() => undefined);
  }, 5_000);
  const pick = (): { u: Upload; body: Buffer; altered: boolean } => {
    const i = Math.floor(random() * uploads.length);
    const u = uploads[i]!;
    const canAlter = u.kind !== 'known' || (u.path !== undefined && list.perceptualPaths.has(u.path));
    if (canAlter && random() < 0.5) {
      // A unique trailer after the file: new exact hashes, same pixels.
      return { u, body: multipart(u, randomBytes(16)), altered: true };
    }
    return { u, body: bodies[i]!, altered: false };
  };

  const result = await autocannon({
    url: server.base,
    connections,
    duration: seconds,
    timeout: 120,
    requests: [
      {
        method: 'POST',
        path: '/upload',
        setupRequest: (req, context) => {
          const { u, body, altered } = pick();
          const route = random() < 0.25 ? '/stream' : '/upload';
          (context as { sent?: Sent }).sent = { kind: u.kind, altered, route };
          return { ...req, path: route, body, headers: { 'content-type': MULTIPART_TYPE } };
        },
        onResponse: (status, _body, context, headers) => {
          const sent = (context as { sent?: Sent }).sent;
          if (!sent) return;
          const key = `${sent.kind}${sent.altered ? ' (new bytes)' : ''}`;
          note(key, String(status));
          if (status >= 200 && status < 300 && sent.kind === 'known') knownAccepted++;
          if (status === 503) {
            const h = headers as unknown;
            const has = Array.isArray(h)
              ? h.some((v, idx) => idx % 2 === 0 && String(v).toLowerCase() === 'retry-after')
              : Object.keys((h ?? {}) as object).some((k) => k.toLowerCase() === 'retry-after');
            if (!has) missingRetryAfter++;
          }
        },
      },
    ],
  });

  // Let the requests the load generator abandoned at the end finish on the server.
  let stats = await server.stats();
  const waitStart = Date.now();
  while (
    (stats.inFlight > 0 || stats.workers.queued > 0 || stats.workers.running > 0) &&
    Date.now() - waitStart < 180_000
  ) {
    await new Promise((r) => setTimeout(r, 500));
    stats = await server.stats();
  }
  await new Promise((r) => setTimeout(r, 500)); // the ledger batch
  sampler.stop();
  clearInterval(heapTimer);
  stats = await server.stats();
  const leftUploads = countFiles(uploadDir);
  const leftSpool = countFiles(spoolDir);
  const evidenceFiles = countFiles(evidenceDir);
  await server.stop();
  await listServer.close();
  const store = sqliteCounts(join(dir, 'data', 'incidents.sqlite'));

  // --- Report -------------------------------------------------------------------------------
  console.log('');
  console.log(
    `throughput ${result.requests.average.toFixed(1)} req/s (${result.requests.total} answered in ${seconds} s), ` +
      `${(result.throughput.average / 1024 / 1024).toFixed(1)} MiB/s of responses; ` +
      `latency p50 ${result.latency.p50} ms, p90 ${result.latency.p90} ms, p99 ${result.latency.p99} ms, max ${result.latency.max} ms`,
  );
  console.log(
    `client: errors ${result.errors}, timeouts ${result.timeouts}, non-2xx ${result.non2xx}; ` +
      `status codes ${JSON.stringify(Object.fromEntries(Object.entries(result.statusCodeStats ?? {}).map(([k, v]) => [k, v.count])))}`,
  );
  console.log('');
  const statuses = [...new Set([...tally.values()].flatMap((t) => Object.keys(t)))].sort();
  printTable([
    ['upload', ...statuses, 'total'],
    ...[...tally.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, t]) => [
        k,
        ...statuses.map((s) => String(t[s] ?? 0)),
        String(Object.values(t).reduce((a, b) => a + b, 0)),
      ]),
  ]);
  console.log('');
  console.log(
    `server answers: ${JSON.stringify(stats.answers)}; abandoned by the client at the end: ${JSON.stringify(stats.abandoned)}; ` +
      `files accepted ${stats.acceptedFiles}; handler errors ${JSON.stringify(stats.handlerErrors)}`,
  );
  console.log(`server log messages by kind: ${JSON.stringify(stats.logged)}`);
  console.log(
    `store: ${store.incidents} incidents (${store.incidentsWithEvidence} with evidence), ${store.ledger} ledger records; ` +
      `evidence files ${evidenceFiles}; workers replaced ${stats.workers.replaced}`,
  );
  const s = sampler.samples;
  const every = Math.max(1, Math.floor(s.length / 12));
  console.log(
    `server RSS over time: ${s
      .filter((_, i) => i % every === 0)
      .map((x) => `${x.t.toFixed(0)}s ${mib(x.rss)}`)
      .join(', ')}`,
  );
  const everyHeap = Math.max(1, Math.floor(heap.length / 12));
  console.log(
    `server main-thread heap used / external (Buffers): ${heap
      .filter((_, i) => i % everyHeap === 0)
      .map((x) => `${x.t.toFixed(0)}s ${mib(x.heapUsed)} / ${mib(x.external)}`)
      .join(', ')}`,
  );
  // Thirds of the load itself; the drain afterwards (abandoned requests finishing) is reported apart.
  const middle = sampler.peakBetween(1 / 3, 2 / 3, seconds);
  const last = sampler.peakBetween(2 / 3, 1, seconds);
  const drain = sampler.peakBetween(1, Number.POSITIVE_INFINITY, seconds);
  console.log(
    `peak RSS ${mib(sampler.peak)}; during the load: peak in the middle third ${mib(middle)}, in the last third ${mib(last)}; ` +
      `while the server drained the abandoned requests ${mib(drain)}`,
  );

  // --- Checks ---------------------------------------------------------------------------------
  const served = stats.answers;
  const unexpected = Object.keys(served).filter(
    (k) => !['201', '451', '503'].includes(k) && !k.startsWith('closed-'),
  );
  const blocked = served['451'] ?? 0;
  const checks: [string, boolean, string][] = [
    [
      'only errors are the policy 503s with Retry-After',
      unexpected.length === 0 &&
        missingRetryAfter === 0 &&
        stats.unscannedWithoutRetryAfter === 0 &&
        result.errors === 0,
      `other statuses ${JSON.stringify(unexpected)}, 503 without Retry-After ${missingRetryAfter + stats.unscannedWithoutRetryAfter}, client errors ${result.errors} (timeouts ${result.timeouts})`,
    ],
    [
      'memory bounded (load: peak of the last third <= peak of the middle third + 15% + 64 MiB)',
      last <= middle * 1.15 + 64 * 1024 * 1024,
      `${mib(middle)} -> ${mib(last)}`,
    ],
    ['no file left in the upload folder', leftUploads === 0, `${leftUploads} left`],
    ['no spooled temporary file left', leftSpool === 0, `${leftSpool} left`],
    ['known uploads never answered 2xx', knownAccepted === 0, `${knownAccepted} accepted`],
    [
      'incidents recorded == blocked answers sent',
      store.incidents === blocked + stats.blockedAbandoned && stats.blockedWithoutIncident === 0,
      `${store.incidents} incidents, ${blocked} answers 451 + ${stats.blockedAbandoned} blocked after the client left (${stats.blockedWithoutIncident} answers without an incident)`,
    ],
    [
      'every incident has its evidence',
      store.incidentsWithEvidence === store.incidents && evidenceFiles === store.incidents,
      `${store.incidentsWithEvidence} with evidence, ${evidenceFiles} evidence files`,
    ],
    [
      'every accepted file is in the ledger',
      store.ledger === stats.acceptedFiles,
      `${store.ledger} ledger records, ${stats.acceptedFiles} files accepted`,
    ],
  ];
  console.log('');
  for (const [name, ok, detail] of checks) console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}: ${detail}`);
  if (!keep) rmSync(dir, { recursive: true, force: true });
  else console.log(`kept ${dir}`);
  process.exit(checks.every(([, ok]) => ok) ? 0 : 1);
}

void main();
