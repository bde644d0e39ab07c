/**
 * Benchmark of the middleware under load, with autocannon against local routes in the same run:
 *
 *   npm run bench:middleware -- /tmp/corpus/photos [--seconds 10] [--connections 8] [--photos 200]
 *     [--rounds 3] [--warmup 3] [--only <part of a case's label>] [--cpu-prof <folder>]
 *
 * Routes: multer only; multer + sharp decode to raw pixels (the floor); multer + hashgate; and, for
 * reference, multer + a SHA-256 of the upload on the event loop (the least a verdict cache keyed
 * by SHA-256 does, when it digests there) and multer + a SHA-256 on a worker thread that the
 * upload's memory is moved to, neither copied nor kept (the most a digest off the event loop could
 * save; hashgate must leave the host's buffer in place). Every route uses the same multer instance
 * and sends the same response body. Two workloads: fresh
 * photos (every request's bytes are new: a unique trailer after the image data, so the verdict
 * cache never answers) and repeated photos (the same few photos, cache hits).
 *
 * The machine is shared, so one run proves little: every route is warmed up first, then each
 * round runs the six cases back to back (the routes of each target's ratio run next to each
 * other, and the two reference routes on either side of multer only and hashgate) and the ratios
 * are taken within a round; the median over rounds is the figure. Besides
 * throughput, p50/p99 latency and the server's event-loop delay, each run reports the server
 * process's CPU time per request, which other processes on the machine disturb far less. After
 * the rounds, hashgate and the route it is compared with run again at a steady 70% of the
 * throughput hashgate reached, for the event loop's delay under a load the server sustains.
 * `--cpu-prof` writes a V8 CPU profile of the server process into the folder. Last, without HTTP,
 * the CPU time of the core's `scan()` for a repeated photo (cache hits, ledger writes included)
 * in this process: the figure to compare between two builds when the machine is busy.
 */

import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { createHashgate } from '../src/hashgate';
import { silentLogger } from '../src/observability/logger';
import { arg } from './lib/args';

const BOUNDARY = '----hashgatebench';

/** Idle and total CPU ticks of the whole machine, from /proc/stat (zeros where there is none). */
function machineTicks(): { idle: number; total: number } {
  try {
    const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    return { idle: (cpu[3] ?? 0) + (cpu[4] ?? 0), total: cpu.reduce((a, b) => a + b, 0) };
  } catch {
    return { idle: 0, total: 0 };
  }
}
function multipart(file: Buffer): Buffer {
  return Buffer.concat([
    Buffer.from(
      `--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="photo.jpg"\r\nContent-Type: image/jpeg\r\n\r\n`,
    ),
    file,
    Buffer.from(`\r\n--${BOUNDARY}--\r\n`),
  ]);
}

interface Run {
  rps: number;
  /** Server CPU time (user + system, all threads) per completed request, in ms. */
  cpuMs: number;
  /** The server's main thread's share of that (Linux only; NaN elsewhere). */
  mainCpuMs: number;
  /** The load generator's (this process's) CPU time per completed request, in ms. */
  clientCpuMs: number;
  /** Share of the machine's CPU time that was idle during the run (Linux only; NaN elsewhere). */
  idle: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
  loop: { maxMs: number; p99Ms: number };
}

async function main(): Promise<void> {
  const folder = process.argv[2];
  if (!folder || folder.startsWith('--')) {
    console.error(
      'usage: node dist-bench/bench/middleware.js <folder of photos> [--seconds 10] [--connections 8]',
    );
    process.exit(2);
  }
  const seconds = Number(arg('seconds', '10'));
  const connections = Number(arg('connections', '8'));
  const count = Number(arg('photos', '200'));
  const rounds = Number(arg('rounds', '3'));
  const warmup = Number(arg('warmup', '3'));
  const profileDir = arg('cpu-prof', '');
  const only = arg('only', '');
  const names = readdirSync(folder)
    .filter((f) => /\.jpe?g$/i.test(f))
    .sort();
  const step = Math.max(1, names.length / count);
  const photos: Buffer[] = [];
  for (let i = 0; i < names.length && photos.length < count; i += step)
    photos.push(readFileSync(join(folder, names[Math.floor(i)]!)));
  const dir = mkdtempSync(join(tmpdir(), 'hashgate-bench-mw-'));
  // A list that matches none of the photos: every request runs the whole scan and is allowed.
  const listFile = join(dir, 'list.txt');
  writeFileSync(listFile, `md5 ${randomBytes(16).toString('hex')}\n`);

  const port = 20000 + Math.floor(Math.random() * 20000);
  const server = fork(
    join(__dirname, 'lib/middleware-server.js'),
    [String(port), join(dir, 'data'), listFile],
    { stdio: 'inherit', execArgv: profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [] },
  );
  await new Promise<void>((resolve) => server.once('message', () => resolve()));
  const base = `http://127.0.0.1:${port}`;
  console.log(
    `middleware benchmark: ${photos.length} JPEG photos, ${connections} connections, ${seconds} s per run`,
  );

  const repeated = photos.slice(0, 8).map(multipart);
  /** One autocannon run; `rate` paces it (requests per second over all connections) instead of saturating the server. */
  const run = async (path: string, fresh: boolean, duration = seconds, rate?: number): Promise<Run> => {
    await fetch(`${base}/stats/reset`, { method: 'POST' });
    const ticks = machineTicks();
    const clientCpu = process.cpuUsage();
    let n = 0;
    const result = await autocannon({
      url: `${base}${path}`,
      connections,
      duration,
      ...(rate ? { overallRate: rate } : {}),
      requests: [
        {
          method: 'POST',
          headers: { 'content-type': `multipart/form-data; boundary=${BOUNDARY}` },
          setupRequest: (req: autocannon.Request) => {
            const i = n++;
            // fresh: the photo with a unique trailer after its end (decoders ignore it; SHA-256 changes)
            req.body = fresh
              ? multipart(Buffer.concat([photos[i % photos.length]!, randomBytes(16)]))
              : repeated[i % repeated.length]!;
            return req;
          },
        },
      ],
    });
    const after = machineTicks();
    const client = process.cpuUsage(clientCpu);
    const stats = (await (await fetch(`${base}/stats`)).json()) as {
      maxMs: number;
      p99Ms: number;
      cpuMs: number;
      mainCpuMs: number | null;
    };
    const requests = Math.max(1, result.requests.total);
    return {
      rps: result.requests.average,
      cpuMs: stats.cpuMs / requests,
      mainCpuMs: (stats.mainCpuMs ?? Number.NaN) / requests,
      clientCpuMs: (client.user + client.system) / 1000 / requests,
      idle: (after.idle - ticks.idle) / (after.total - ticks.total),
      p50: result.latency.p50,
      p99: result.latency.p99,
      errors: result.errors,
      non2xx: result.non2xx,
      loop: { maxMs: stats.maxMs, p99Ms: stats.p99Ms },
    };
  };

  const cases = (
    [
      ['decode floor, fresh', '/decode', true],
      ['hashgate, fresh', '/gate', true],
      ['multer + SHA-256, repeated', '/sha256', false],
      ['multer only, repeated', '/multer', false],
      ['hashgate, repeated', '/gate', false],
      ['multer + moved SHA-256, repeated', '/sha256-moved', false],
    ] as const
  ).filter(([label]) => label.includes(only));
  if (warmup > 0) for (const [, path, fresh] of cases) await run(path, fresh, warmup);

  const median = (xs: number[]): number => {
    const s = [...xs].sort((a, b) => a - b);
    const m = s.length >> 1;
    return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
  };
  const ratios = {
    fresh: [] as number[],
    repeated: [] as number[],
    sha256: [] as number[],
    moved: [] as number[],
    loop: [] as number[],
  };
  const cpu = { multer: [] as number[], gate: [] as number[] };
  const throughput = new Map<string, number[]>();
  for (let round = 1; round <= rounds; round++) {
    const rows: [string, Run][] = [];
    for (const [label, path, fresh] of cases) {
      const r = await run(path, fresh);
      rows.push([label, r]);
      throughput.set(label, [...(throughput.get(label) ?? []), r.rps]);
    }
    console.log(
      `\nround ${round}/${rounds}             req/s   p50 ms  p99 ms  errors  non-2xx  loop p99 ms  loop max ms  cpu ms/req  main ms/req  client ms/req  idle`,
    );
    for (const [label, r] of rows) {
      console.log(
        `${label.padEnd(26)} ${r.rps.toFixed(1).padStart(7)} ${String(r.p50).padStart(8)} ${String(r.p99).padStart(7)} ${String(r.errors).padStart(7)} ${String(r.non2xx).padStart(8)} ${r.loop.p99Ms.toFixed(1).padStart(12)} ${r.loop.maxMs.toFixed(1).padStart(12)} ${r.cpuMs.toFixed(2).padStart(11)} ${r.mainCpuMs.toFixed(2).padStart(12)} ${r.clientCpuMs.toFixed(2).padStart(14)} ${(100 * r.idle).toFixed(0).padStart(4)}%`,
      );
    }
    const get = (label: string): Run | undefined => rows.find(([l]) => l === label)?.[1];
    const decodeFresh = get('decode floor, fresh');
    const gateFresh = get('hashgate, fresh');
    const multerRepeated = get('multer only, repeated');
    const gateRepeated = get('hashgate, repeated');
    const shaRepeated = get('multer + SHA-256, repeated');
    const movedRepeated = get('multer + moved SHA-256, repeated');
    const parts: string[] = [];
    if (decodeFresh && gateFresh) {
      ratios.fresh.push(gateFresh.rps / decodeFresh.rps);
      parts.push(`fresh ${ratios.fresh.at(-1)!.toFixed(2)}x`);
    }
    if (multerRepeated && gateRepeated) {
      ratios.repeated.push(gateRepeated.rps / multerRepeated.rps);
      cpu.multer.push(multerRepeated.cpuMs);
      cpu.gate.push(gateRepeated.cpuMs);
      parts.push(`repeated ${ratios.repeated.at(-1)!.toFixed(2)}x`);
    }
    if (multerRepeated && shaRepeated) {
      ratios.sha256.push(shaRepeated.rps / multerRepeated.rps);
      parts.push(`SHA-256 alone ${ratios.sha256.at(-1)!.toFixed(2)}x`);
    }
    if (multerRepeated && movedRepeated) {
      ratios.moved.push(movedRepeated.rps / multerRepeated.rps);
      parts.push(`moved SHA-256 alone ${ratios.moved.at(-1)!.toFixed(2)}x`);
    }
    const loops = [gateFresh, gateRepeated].flatMap((r) => (r ? [r.loop.p99Ms] : []));
    if (loops.length > 0) ratios.loop.push(Math.max(...loops));
    if (parts.length > 0) console.log(`ratios this round: ${parts.join(', ')}`);
  }
  const list = (xs: number[], digits = 2): string => xs.map((x) => x.toFixed(digits)).join(', ');
  console.log(`\nmedians over ${rounds} round(s) (each round's figures in brackets)`);
  if (ratios.fresh.length > 0)
    console.log(
      `hashgate fresh / decode floor:      ${median(ratios.fresh).toFixed(2)}x   target >= 0.7x   [${list(ratios.fresh)}]`,
    );
  if (ratios.repeated.length > 0)
    console.log(
      `hashgate repeated / multer only:    ${median(ratios.repeated).toFixed(2)}x   target >= 0.9x   [${list(ratios.repeated)}]`,
    );
  if (ratios.sha256.length > 0)
    console.log(
      `multer + SHA-256 / multer only:     ${median(ratios.sha256).toFixed(2)}x   (the upload's SHA-256 on the event loop, for reference)   [${list(ratios.sha256)}]`,
    );
  if (ratios.moved.length > 0)
    console.log(
      `multer + moved SHA-256 / multer:   ${median(ratios.moved).toFixed(2)}x   (the upload's memory moved to a thread that digests it: the most any offload saves)   [${list(ratios.moved)}]`,
    );
  if (ratios.loop.length > 0)
    console.log(
      `event loop p99 with hashgate:       ${median(ratios.loop).toFixed(1)} ms   target <= 20 ms   [${list(ratios.loop, 1)}]`,
    );
  if (cpu.gate.length > 0)
    console.log(
      `server CPU per repeated upload:     multer only ${median(cpu.multer).toFixed(2)} ms, hashgate ${median(cpu.gate).toFixed(2)} ms`,
    );
  // Saturated, every route's event loop waits on a queue of requests (the multer-only route's
  // too), so the loop's delay is also measured at a steady rate: 70% of the throughput hashgate
  // reached on that workload, the same rate for hashgate and for the route it is compared with.
  const paced: [string, string, string, boolean][] = [
    ['hashgate, fresh', 'decode floor, fresh', '/decode', true],
    ['hashgate, repeated', 'multer only, repeated', '/multer', false],
  ];
  const pacedRows: [string, number, Run][] = [];
  for (const [label, baseLabel, basePath, fresh] of paced) {
    const reached = throughput.get(label);
    if (!reached || !throughput.get(baseLabel)) continue;
    const rate = Math.max(1, Math.round(0.7 * median(reached)));
    pacedRows.push([label, rate, await run('/gate', fresh, seconds, rate)]);
    pacedRows.push([baseLabel, rate, await run(basePath, fresh, seconds, rate)]);
  }
  if (pacedRows.length > 0) {
    console.log(
      '\nat a steady rate (70% of what hashgate reached)  req/s   p50 ms  p99 ms  loop p99 ms  loop max ms  main ms/req',
    );
    for (const [label, rate, r] of pacedRows) {
      console.log(
        `${`${label} at ${rate}/s`.padEnd(46)} ${r.rps.toFixed(1).padStart(7)} ${String(r.p50).padStart(8)} ${String(r.p99).padStart(7)} ${r.loop.p99Ms.toFixed(1).padStart(12)} ${r.loop.maxMs.toFixed(1).padStart(12)} ${r.mainCpuMs.toFixed(2).padStart(12)}`,
      );
    }
    const gateLoop = pacedRows.filter(([l]) => l.startsWith('hashgate')).map(([, , r]) => r.loop.p99Ms);
    console.log(
      `event loop p99 with hashgate, steady: ${Math.max(...gateLoop).toFixed(1)} ms   target <= 20 ms`,
    );
  }
  server.kill('SIGTERM');
  await new Promise((r) => server.once('exit', r));
  const costs = await scanCost(photos.slice(0, 8), listFile, join(dir, 'in-process'), rounds);
  console.log(
    `core CPU per cached scan:           ${median(costs).toFixed(3)} ms (in-process, no HTTP)   [${list(costs, 3)}]`,
  );
  rmSync(dir, { recursive: true, force: true });
}

/**
 * CPU time (all threads of this process) per `scan()` of a repeated photo, per round of 400 scans,
 * including the ledger writes they cause (each round waits for the ledger's flush).
 */
async function scanCost(
  photos: Buffer[],
  listFile: string,
  dataDir: string,
  rounds: number,
): Promise<number[]> {
  const gate = createHashgate({
    lists: [{ name: 'bench', file: listFile, format: 'threatexchange' }],
    dataDir,
    logger: silentLogger,
    evidence: false,
  });
  await gate.ready();
  const context = { route: 'POST /gate', uploader: { ip: '127.0.0.1', userAgent: 'bench' } };
  const batch = async (n: number): Promise<number> => {
    const before = process.cpuUsage();
    for (let i = 0; i < n; i++) {
      const bytes = photos[i % photos.length]!;
      await gate.scan(
        [{ bytes, originalName: 'photo.jpg', declaredType: 'image/jpeg', fieldname: 'file' }],
        context,
      );
    }
    await new Promise((r) => setTimeout(r, 150));
    const used = process.cpuUsage(before);
    return (used.user + used.system) / 1000 / n;
  };
  await batch(400);
  const costs: number[] = [];
  for (let round = 0; round < Math.max(3, rounds); round++) costs.push(await batch(400));
  await gate.close();
  return costs;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
