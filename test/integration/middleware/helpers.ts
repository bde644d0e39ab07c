/** A real Express app with real multer and a hashgate instance over a local list, for middleware tests. */

import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express, { type Express } from 'express';
import multer from 'multer';
import sharp from 'sharp';
import { createEvidenceKeyRing } from '../../../src/evidence/keys';
import { createHashgate, type Hashgate } from '../../../src/hashgate';
import { createHasher } from '../../../src/hashing/hasher';
import { silentLogger } from '../../../src/observability/logger';
import type { HashgateOptions, ListOptions } from '../../../src/options';
import { syntheticImage } from '../../helpers/images';

/** Benign stand-ins for "known content", and an unrelated image. */
export interface Images {
  known: Buffer;
  knownOther: Buffer;
  unrelated: Buffer;
  reencoded: Buffer;
  rotatedMirrored: Buffer;
}

export async function makeImages(): Promise<Images> {
  const known = await syntheticImage(640, 480, 'jpeg', 11);
  return {
    known,
    knownOther: await syntheticImage(600, 400, 'png', 21),
    unrelated: await syntheticImage(640, 480, 'jpeg', 37),
    reencoded: await sharp(known).resize(480).jpeg({ quality: 45 }).toBuffer(),
    rotatedMirrored: await sharp(known).rotate(90).flop().jpeg({ quality: 85 }).toBuffer(),
  };
}

/** `threatexchange` list lines (`<type> <hex>`) of these images: PDQ and MD5. */
export async function listLines(
  images: readonly Buffer[],
  types: readonly string[] = ['pdq', 'md5'],
): Promise<string> {
  const hasher = createHasher({ workers: 0, pdq: { dihedral: false } });
  const lines: string[] = [];
  for (const img of images) {
    const o = await hasher.hash({ bytes: img });
    for (const h of o.hashes) if (types.includes(h.type)) lines.push(`${h.type} ${h.hex}`);
  }
  await hasher.close();
  return `${lines.join('\n')}\n`;
}

export interface TestBed {
  dir: string;
  uploads: string;
  gate: Hashgate;
  app: Express;
  writeList(name: string, text: string): string;
  uploadedFiles(): string[];
  close(): Promise<void>;
}

/**
 * A hashgate instance over local list files in a temp folder, and an app with one route per
 * multer mode: `/memory` (single), `/array` (disk, array), `/fields` (memory, fields),
 * `/any` (memory, any), `/stored` (gate.storage around disk storage), `/limited` (1 KB limit),
 * `/review-only` (list `known` turned into review), `/referenced` (memory, the content reference
 * from the `x-content-ref` header).
 */
export async function makeTestBed(
  lists: (dir: string) => ListOptions[],
  options: Partial<HashgateOptions> = {},
  listFiles: Record<string, string> = {},
): Promise<TestBed> {
  const dir = mkdtempSync(join(tmpdir(), 'hashgate-mw-'));
  const uploads = join(dir, 'uploads');
  mkdirSync(uploads);
  const writeList = (name: string, text: string): string => {
    const path = join(dir, `${name}.txt`);
    writeFileSync(path, text);
    return path;
  };
  for (const [name, text] of Object.entries(listFiles)) writeList(name, text);
  const gate = createHashgate({
    lists: lists(dir),
    dataDir: join(dir, 'data'),
    hashing: { workers: 1 },
    logger: silentLogger,
    evidence: { keys: createEvidenceKeyRing({ current: { id: 'k1', key: randomBytes(32) } }) },
    ...options,
  });
  const app = express();
  const memory = multer({ storage: multer.memoryStorage() });
  const disk = multer({ dest: uploads });
  const handler = (req: express.Request, res: express.Response): void => {
    res.json({ ok: true, outcome: req.hashgate?.outcome, files: req.hashgate?.files.map((f) => f.outcome) });
  };
  app.get('/ready', gate.readiness());
  app.post('/memory', memory.single('file'), gate.middleware(), handler);
  app.post('/array', disk.array('files', 5), gate.middleware(), handler);
  app.post(
    '/fields',
    memory.fields([
      { name: 'avatar', maxCount: 1 },
      { name: 'gallery', maxCount: 3 },
    ]),
    gate.middleware(),
    handler,
  );
  app.post('/any', memory.any(), gate.middleware(), handler);
  app.post(
    '/stored',
    multer({ storage: gate.storage(multer.diskStorage({ destination: uploads })) }).array('files', 5),
    gate.middleware(),
    handler,
  );
  app.post(
    '/limited',
    multer({ dest: uploads, limits: { fileSize: 1024 } }).single('file'),
    gate.middleware(),
    handler,
  );
  app.post('/review-only', memory.single('file'), gate.middleware({ actions: { known: 'review' } }), handler);
  app.post(
    '/referenced',
    memory.single('file'),
    gate.middleware({ contentRef: (req) => req.get('x-content-ref') }),
    handler,
  );
  app.use(
    (
      err: Error & { code?: string },
      _req: express.Request,
      res: express.Response,
      _next: express.NextFunction,
    ) => {
      res.status(err.code === 'LIMIT_FILE_SIZE' ? 413 : 500).json({ error: err.code ?? 'error' });
    },
  );
  return {
    dir,
    uploads,
    gate,
    app,
    writeList,
    uploadedFiles: () => readdirSync(uploads),
    async close() {
      await gate.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
