// The hashgate demo (`npm start`): an upload page protected by hashgate, a signed demo list served
// by hashgate's own list server on loopback, SQLite incidents and encrypted evidence under
// var/demo, /metrics and /ready.
//
// Environment: PORT (default 3000), HOST (default 127.0.0.1), HASHGATE_DEMO_DIR (default var/demo
// in the repository). Delete that folder to start from scratch.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { basename, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import express from 'express';
import {
  createEvidenceKeyRing,
  createHashgate,
  ErrorCodes,
  hashConsolePassword,
  startListServer,
} from 'hashgate';
import multer from 'multer';
import { acceptedPage, blockedPage, problemPage, setConsoleLink, uploadPage } from './pages.mjs';
import { ensureDemoList, ensureKeys, imagesIn, LIST_NAME, writeAlteredCopies } from './setup.mjs';

const here = fileURLToPath(new URL('.', import.meta.url));
const repo = resolve(here, '../..');
const varDir = resolve(process.env.HASHGATE_DEMO_DIR ?? join(repo, 'var', 'demo'));
const port = Number(process.env.PORT ?? 3000);
const host = process.env.HOST ?? '127.0.0.1';
const images = { onList: join(here, 'images', 'on-list'), notOnList: join(here, 'images', 'not-on-list') };
const tryDir = join(varDir, 'try');
/** A path as printed: relative to the working folder when it is inside it. */
const shown = (/** @type {string} */ p) => {
  const r = relative(process.cwd(), p);
  return r === '' ? '.' : r.startsWith('..') ? p : r;
};

// --- First start: keys, the signed list, the files to try -------------------------------------
const keys = await ensureKeys(join(varDir, 'keys'));
const publishedDir = join(varDir, 'published');
const list = await ensureDemoList({
  imagesDir: images.onList,
  listDir: join(publishedDir, LIST_NAME),
  stateFile: join(varDir, 'list-source.sha256'),
  privateKeyPem: keys.listPrivateKeyPem,
  publicKeyPem: keys.listPublicKeyPem,
});
const onList = await imagesIn(images.onList);
const notOnList = await imagesIn(images.notOnList);
const altered = await writeAlteredCopies(
  onList.find((f) => basename(f).startsWith('lighthouse')) ?? /** @type {string} */ (onList[0]),
  tryDir,
);

// --- hashgate's list server publishes the list on loopback, as a CDN would in production ------
const listServer = await startListServer({ root: publishedDir, host: '127.0.0.1', port: 0 });

// --- The gate: syncs the list by URL, verifies its signature, keeps incidents and evidence -----
const gate = createHashgate({
  lists: [
    {
      name: LIST_NAME,
      url: `${listServer.url}${LIST_NAME}/`,
      publicKeys: [keys.listPublicKeyPem],
      refreshIntervalMs: 30_000,
    },
  ],
  dataDir: join(varDir, 'hashgate'),
  // The demo keeps its evidence key in a file; a real deployment sets HASHGATE_EVIDENCE_KEY.
  evidence: { keys: createEvidenceKeyRing({ current: { id: 'demo-1', key: keys.evidenceKey } }) },
});
await gate.ready();

// --- The app ----------------------------------------------------------------------------------
const app = express();
app.disable('x-powered-by');
app.use((_req, res, next) => {
  // No scripts at all; styles and images from this origin only.
  res.setHeader(
    'Content-Security-Policy',
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
  );
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'no-referrer');
  next();
});

/** Sample files the page offers for download, by URL path (nothing else is served from disk). */
const samples = new Map();
/**
 * @param {string} group
 * @param {string} path
 */
const sampleUrl = (group, path) => {
  const url = `/samples/${group}/${encodeURIComponent(basename(path))}`;
  samples.set(url, path);
  return url;
};
const groups = [
  {
    title: 'On the demo list',
    note: 'The list holds their MD5, SHA-256, PDQ and blockhash: blocked by an exact match.',
    samples: onList.map((p) => ({
      url: sampleUrl('on-list', p),
      label: basename(p),
      what: 'listed picture',
      expect: /** @type {const} */ ('blocked'),
    })),
  },
  {
    title: 'Altered copies of a listed picture',
    note: 'Different bytes, so no exact hash matches; the perceptual hashes still do.',
    samples: altered.map((a) => ({
      url: sampleUrl('altered', a.path),
      label: basename(a.path),
      what: a.what,
      expect: /** @type {const} */ ('blocked'),
    })),
  },
  {
    title: 'Not on the list',
    note: 'Unrelated pictures: accepted.',
    samples: notOnList.map((p) => ({
      url: sampleUrl('not-on-list', p),
      label: basename(p),
      what: 'unrelated picture',
      expect: /** @type {const} */ ('accepted'),
    })),
  },
];

// --- The review console --------------------------------------------------------------------
// Trust-and-safety reviewers work here (docs/console.md). The demo makes one admin with a fresh
// random password at every start and prints it once; admins add further users in the console.
/** @type {{ url: string, user: string, password: string } | null} */
let reviewConsole = null;
if (typeof gate.console === 'function') {
  const password = randomBytes(12).toString('base64url');
  const passwordHash = await hashConsolePassword(password);
  app.use('/console', gate.console({ users: [{ name: 'admin', role: 'admin', passwordHash }] }));
  reviewConsole = { url: '/console/', user: 'admin', password };
  setConsoleLink(reviewConsole.url);
}

app.get('/style.css', (_req, res) => {
  res.sendFile(join(here, 'public', 'style.css'));
});
app.get('/samples/:group/:name', (req, res) => {
  const path = samples.get(req.path);
  if (!path || !existsSync(path)) {
    res.status(404).type('text/plain').send('Not found\n');
    return;
  }
  res.sendFile(path);
});

app.get('/', (_req, res) => {
  const status = gate.status();
  res.type('html').send(
    uploadPage({
      groups,
      lists: status.lists.map((l) => ({
        name: l.list,
        version: l.version,
        entries: l.enabledEntries,
        fresh: !l.stale,
      })),
      consoleUrl: reviewConsole?.url ?? null,
    }),
  );
});

const upload = multer({ storage: multer.memoryStorage(), limits: { fileSize: 25 * 1024 * 1024, files: 10 } });
app.post(
  '/upload',
  upload.array('files', 10),
  gate.middleware({
    route: 'POST /upload',
    // Browsers get a page; API clients (curl, fetch) get hashgate's JSON answer. Both say only
    // that the upload cannot be accepted, with the incident reference.
    onBlocked(req, res, result) {
      const { statusCode, message } = gate.config.response;
      const reference = result.incidentIds[0];
      res.status(statusCode).setHeader('Cache-Control', 'no-store');
      if ((req.get('accept') ?? '').includes('text/html')) {
        res.type('html').send(
          blockedPage({
            message,
            reference,
            dataDir: shown(join(varDir, 'hashgate')),
            consoleUrl: reviewConsole?.url ?? null,
          }),
        );
      } else {
        res.json({
          error: { code: ErrorCodes.UPLOAD_BLOCKED, message, ...(reference ? { reference } : {}) },
        });
      }
    },
  }),
  (req, res) => {
    const scan = req.hashgate;
    const files = Array.isArray(req.files) ? req.files : [];
    if (!scan || files.length === 0) {
      res
        .status(400)
        .type('html')
        .send(problemPage({ title: 'No file', message: 'Choose at least one file.' }));
      return;
    }
    const rows = files.map((f, i) => ({
      name: f.originalname,
      size: f.size,
      format: scan.files[i]?.format ?? 'unknown',
      outcome: scan.files[i]?.outcome ?? 'allow',
    }));
    if ((req.get('accept') ?? '').includes('text/html')) res.type('html').send(acceptedPage({ files: rows }));
    else res.json({ accepted: rows });
  },
);

app.get('/ready', gate.readiness());
app.get('/metrics', async (_req, res) => {
  // Metrics are public here because the demo listens on loopback; protect them in production.
  const registry = gate.metrics;
  if (!registry) {
    res.status(404).end();
    return;
  }
  res.type(registry.contentType).send(await registry.metrics());
});

app.use(
  /**
   * @param {Error & { code?: string }} err
   * @param {import('express').Request} _req
   * @param {import('express').Response} res
   * @param {import('express').NextFunction} _next
   */
  (err, _req, res, _next) => {
    const tooBig = err.code === 'LIMIT_FILE_SIZE' || err.code === 'LIMIT_FILE_COUNT';
    const status = tooBig ? 413 : err.code?.startsWith('LIMIT_') ? 400 : 500;
    if (status === 500) console.error('demo: request failed:', err.code ?? err.name);
    res
      .status(status)
      .type('html')
      .send(
        problemPage({
          title: status === 500 ? 'Something went wrong' : 'Upload not taken',
          message: tooBig
            ? 'At most 10 files of 25 MB each.'
            : status === 500
              ? 'See the server log.'
              : err.message,
        }),
      );
  },
);

const server = app.listen(port, host);
server.on('error', (/** @type {NodeJS.ErrnoException} */ err) => {
  console.error(
    err.code === 'EADDRINUSE'
      ? `demo: port ${port} is in use; try PORT=3001 npm start`
      : `demo: ${err.message}`,
  );
  process.exit(1);
});
server.on('listening', () => {
  const address = /** @type {import('node:net').AddressInfo} */ (server.address());
  const base = `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`;
  const lines = [
    '',
    'hashgate demo',
    `  upload page   ${base}/`,
    `  metrics       ${base}/metrics`,
    `  readiness     ${base}/ready`,
    ...(reviewConsole
      ? [`  console       ${base}${reviewConsole.url}  (user ${reviewConsole.user}, password below)`]
      : []),
    `  list server   ${listServer.url}${LIST_NAME}/  (list "${LIST_NAME}" version ${list.version}, ${list.entries} entries from ${list.pictures} pictures, signed by key ${list.keyId}${list.published ? ', just published' : ''})`,
    `  data          ${shown(varDir)}  (keys, the published list, SQLite incidents and encrypted evidence in hashgate/)`,
    ...(keys.created
      ? ['  first start: generated the list signing key and the evidence key (mode 0600) in keys/']
      : []),
    ...(reviewConsole
      ? [
          `  console password for ${reviewConsole.user} (shown once, new at every start): ${reviewConsole.password}`,
        ]
      : []),
    '',
    'Files to try:',
    '  on the demo list (blocked, 451):',
    ...onList.map((p) => `    ${shown(p)}`),
    '  altered copies of a listed picture (blocked by a perceptual match):',
    ...altered.map((a) => `    ${shown(a.path)}  (${a.what})`),
    '  not on the list (accepted):',
    ...notOnList.map((p) => `    ${shown(p)}`),
    '',
    `  curl -i -F files=@${shown(onList[0] ?? 'picture.jpg')} ${base}/upload`,
    '',
    `hashgate demo listening on ${base}/  (Ctrl-C to stop)`,
  ];
  console.log(lines.join('\n'));
});

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  server.close();
  server.closeAllConnections();
  await gate.close();
  await listServer.close();
  process.exit(0);
};
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());
