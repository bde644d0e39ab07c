/**
 * Benchmark of the middleware under load, with autocannon against local routes in the same run:
 *
 *   npm run bench:middleware -- /tmp/corpus/photos [--seconds 10] [--connections 8] [--photos 200]
 *
 * Routes: multer only; multer + sharp decode to raw pixels (the floor); multer + hashgate. Two
 * workloads: fresh photos (every request's bytes are new: a unique trailer after the image data,
 * so the verdict cache never answers) and repeated photos (the same few photos, cache hits).
 * Prints throughput, p50/p99 latency, ratios, and the server's event-loop delay.
 */

import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

const BOUNDARY = '----hashgatebench';
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
    { stdio: 'inherit' },
  );
  await new Promise<void>((resolve) => server.once('message', () => resolve()));
  const base = `http://127.0.0.1:${port}`;
  console.log(
    `middleware benchmark: ${photos.length} JPEG photos, ${connections} connections, ${seconds} s per run`,
  );

  const run = async (path: string, fresh: boolean): Promise<Run> => {
    await fetch(`${base}/stats/reset`, { method: 'POST' });
    let n = 0;
    const repeated = photos.slice(0, 8).map(multipart);
    const result = await autocannon({
      url: `${base}${path}`,
      connections,
      duration: seconds,
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
    const loop = (await (await fetch(`${base}/stats`)).json()) as { maxMs: number; p99Ms: number };
    return {
      rps: result.requests.average,
      p50: result.latency.p50,
      p99: result.latency.p99,
      errors: result.errors,
      non2xx: result.non2xx,
      loop,
    };
  };

  const rows: [string, Run][] = [];
  for (const [label, path, fresh] of [
    ['multer only, repeated', '/multer', false],
    ['decode floor, fresh', '/decode', true],
    ['hashgate, fresh', '/gate', true],
    ['hashgate, repeated', '/gate', false],
  ] as const) {
    rows.push([label, await run(path, fresh)]);
  }
  console.log(
    '\nroute                       req/s   p50 ms  p99 ms  errors  non-2xx  loop p99 ms  loop max ms',
  );
  for (const [label, r] of rows) {
    console.log(
      `${label.padEnd(26)} ${r.rps.toFixed(1).padStart(7)} ${String(r.p50).padStart(8)} ${String(r.p99).padStart(7)} ${String(r.errors).padStart(7)} ${String(r.non2xx).padStart(8)} ${r.loop.p99Ms.toFixed(1).padStart(12)} ${r.loop.maxMs.toFixed(1).padStart(12)}`,
    );
  }
  const get = (label: string): Run => rows.find(([l]) => l === label)![1];
  console.log(
    `\nhashgate fresh / decode floor:      ${(get('hashgate, fresh').rps / get('decode floor, fresh').rps).toFixed(2)}x   target >= 0.7x`,
  );
  console.log(
    `hashgate repeated / multer only:    ${(get('hashgate, repeated').rps / get('multer only, repeated').rps).toFixed(2)}x   target >= 0.9x`,
  );
  console.log(
    `event loop p99 with hashgate:       ${Math.max(get('hashgate, fresh').loop.p99Ms, get('hashgate, repeated').loop.p99Ms).toFixed(1)} ms   target <= 20 ms`,
  );
  server.kill('SIGTERM');
  await new Promise((r) => server.once('exit', r));
  rmSync(dir, { recursive: true, force: true });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
