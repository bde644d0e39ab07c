/**
 * The server side of the middleware benchmark, run in its own process so the load generator does
 * not share its event loop: four upload routes (multer only; multer + a sharp decode, the floor;
 * multer + a SHA-256 of the upload on the event loop, for reference; multer + hashgate) and a
 * stats endpoint for the event loop's delay and CPU time.
 */

import { hash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import express from 'express';
import multer from 'multer';
import sharp from 'sharp';
import { createHashgate } from '../../src/hashgate';
import { silentLogger } from '../../src/observability/logger';

/**
 * CPU time of this process's main thread (the event loop) in ms, from Linux's per-thread stat
 * (clock ticks of 10 ms); NaN elsewhere. The whole-process figure also counts libuv's and the
 * hashing workers' threads.
 */
function mainThreadCpuMs(): number {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return Number.NaN;
  }
}

async function main(): Promise<void> {
  const [port, dataDir, listFile] = process.argv.slice(2);
  const gate = createHashgate({
    lists: [{ name: 'bench', file: listFile!, format: 'threatexchange' }],
    dataDir: dataDir!,
    logger: silentLogger,
    evidence: false,
  });
  await gate.ready();
  const app = express();
  const upload = multer({ storage: multer.memoryStorage(), limits: { fileSize: 64 * 1024 * 1024 } }).single(
    'file',
  );
  let h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  let cpu = process.cpuUsage();
  let mainCpu = mainThreadCpuMs();
  // Every route answers with the same body, so the response costs the same on each.
  app.post('/multer', upload, (_req, res) => {
    res.json({ ok: true });
  });
  app.post('/decode', upload, async (req, res) => {
    await sharp(req.file!.buffer).raw().toBuffer();
    res.json({ ok: true });
  });
  // The least a verdict cache keyed by SHA-256 does when it digests on the event loop.
  app.post('/sha256', upload, (req, res) => {
    hash('sha256', req.file!.buffer, 'hex');
    res.json({ ok: true });
  });
  app.post('/gate', upload, gate.middleware(), (_req, res) => {
    res.json({ ok: true });
  });
  app.post('/stats/reset', (_req, res) => {
    h.disable();
    h = monitorEventLoopDelay({ resolution: 1 });
    h.enable();
    cpu = process.cpuUsage();
    mainCpu = mainThreadCpuMs();
    res.json({ ok: true });
  });
  app.get('/stats', (_req, res) => {
    const used = process.cpuUsage(cpu);
    res.json({
      cpuMs: (used.user + used.system) / 1000,
      mainCpuMs: mainThreadCpuMs() - mainCpu,
      maxMs: h.max / 1e6,
      p99Ms: h.percentile(99) / 1e6,
      meanMs: h.mean / 1e6,
      cache: gate.status().cache,
    });
  });
  const server = app.listen(Number(port), '127.0.0.1', () => process.send?.('listening'));
  process.on('SIGTERM', () => {
    server.close();
    void gate.close().then(() => process.exit(0));
  });
}

void main();
