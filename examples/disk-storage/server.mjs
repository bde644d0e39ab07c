// Uploads go to disk, and only if they pass: `gate.storage()` wraps multer's disk storage, hashes
// each file while it streams in and hands it to disk storage only when it may be kept, so a
// blocked upload never reaches the uploads folder. `gate.middleware()` after multer answers the
// request (451 when a file is blocked, 503 when a file could not be checked) and removes the
// other files of a refused request.
//
// `npm run build`, then `node examples/disk-storage/server.mjs`; uploads land in ./var/uploads.
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import express from 'express';
import { createHashgate } from 'hashgate';
import multer from 'multer';

const uploads = resolve(process.env.UPLOAD_DIR ?? 'var/uploads');
mkdirSync(uploads, { recursive: true });

const gate = createHashgate({
  lists: [
    {
      name: 'known',
      file: fileURLToPath(new URL('../minimal-memory/known-hashes.txt', import.meta.url)),
      // What a match does: 'block' refuses the upload, 'review' keeps it and flags it for a person,
      // 'log' only records an incident.
      action: 'block',
    },
  ],
  dataDir: 'var/hashgate',
  // Production: HASHGATE_EVIDENCE_KEY (base64 of 32 random bytes) keeps blocked files as encrypted
  // evidence; without it incidents are recorded without the file, and hashgate warns at start.
});

const diskStorage = multer.diskStorage({
  destination: uploads,
  // Never trust the client's file name for a path.
  filename: (_req, file, cb) => cb(null, `${randomUUID()}${extname(file.originalname).toLowerCase()}`),
});
// The route's scan options go to gate.storage(), where the scan happens: here the uploader's id in
// your own terms, recorded in incidents with the IP address, port and user agent.
const scanning = gate.storage(diskStorage, { uploader: (req) => req.get('x-user-id') });
const upload = multer({
  storage: scanning,
  limits: { fileSize: 50 * 1024 * 1024, files: 5 },
});

const app = express();
app.post(
  '/photos',
  upload.array('photos', 5),
  // Answers a refused request (451, or 503 when a file could not be checked) and removes the
  // files of it that were stored; `onBlocked` would go here.
  gate.middleware(),
  (req, res) => {
    const files = Array.isArray(req.files) ? req.files : [];
    res.status(201).json({ stored: files.map((f) => f.filename) });
  },
);
app.get('/ready', gate.readiness());
app.get('/metrics', async (_req, res) => {
  res.type('text/plain; version=0.0.4').send((await gate.metrics?.metrics()) ?? '');
});

await gate.ready();
const server = app.listen(Number(process.env.PORT ?? 3000), () => {
  const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());
  console.log(`listening on http://localhost:${port} (POST /photos, field "photos"; files in ${uploads})`);
});

const stop = () => {
  server.close();
  void gate.close().then(() => process.exit(0));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
