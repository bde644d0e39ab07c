/**
 * The server side of the middleware benchmark, run in its own process so the load generator does
 * not share its event loop: five upload routes (multer only; multer + a sharp decode, the floor;
 * for reference, multer + a SHA-256 of the upload on the event loop and multer + a SHA-256 on a
 * thread the upload's memory is moved to; multer + hashgate) and a stats endpoint for the event
 * loop's delay and CPU time.
 */

import { hash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
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
  // The least a digest off the event loop costs it: the upload's memory is moved (not copied) to
  // a thread that digests it. hashgate cannot do this (the host's buffer would be gone, and lost
  // with a failing thread); it bounds what any offload could reach.
  const digester = new Worker(
    `const { parentPort } = require('node:worker_threads');
     const { hash } = require('node:crypto');
     parentPort.on('message', ([id, memory]) => parentPort.postMessage([id, hash('sha256', new Uint8Array(memory), 'hex')]));`,
    { eval: true },
  );
  digester.unref();
  let nextDigest = 0;
  const digesting = new Map<number, () => void>();
  digester.on('message', ([id]: [number, string]) => {
    digesting.get(id)?.();
    digesting.delete(id);
  });
  app.post('/sha256-moved', upload, async (req, res) => {
    const b = req.file!.buffer;
    const whole = b.byteOffset === 0 && b.byteLength === b.buffer.byteLength;
    const memory = whole
      ? (b.buffer as ArrayBuffer)
      : b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
    const id = nextDigest++;
    await new Promise<void>((resolve) => {
      digesting.set(id, resolve);
      digester.postMessage([id, memory], [memory as ArrayBuffer]);
    });
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
