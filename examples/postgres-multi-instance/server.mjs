// Several app instances behind a load balancer, sharing one PostgreSQL for incidents, the review
// queue, the audit chain, the outbox and the ledger of accepted uploads. Each instance holds its own
// copy of the lists in memory and syncs them on its own (with jitter and conditional requests), so
// nothing needs a leader. Run it twice:
//
//   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test PORT=3001 node examples/postgres-multi-instance/server.mjs
//   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test PORT=3002 node examples/postgres-multi-instance/server.mjs
//
// In production give every instance the same LIST_URL and LIST_PUBLIC_KEY (a list published with
// the hashgate list protocol; see examples/publish-your-own-list), the same HASHGATE_EVIDENCE_KEY,
// and an EVIDENCE_DIR on storage they share (evidence files are written once and never modified).
import { hostname } from 'node:os';
import { fileURLToPath } from 'node:url';
import express from 'express';
import { createHashgate, createPostgresStore, createWebhookDispatcher } from 'hashgate';
import multer from 'multer';

const instance = process.env.INSTANCE ?? `${hostname()}-${process.pid}`;

// One store object per instance; the schema is created (and migrated) by whichever instance
// starts first. `pool` instead of `connectionString` shares a pg Pool the app already has.
const store = await createPostgresStore({
  connectionString: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
  schema: process.env.HASHGATE_DB_SCHEMA ?? 'hashgate',
  maxConnections: 5,
});

/** @type {import('hashgate').ListOptions[]} */
const lists = process.env.LIST_URL
  ? [
      {
        name: process.env.LIST_NAME ?? 'hotline',
        url: process.env.LIST_URL,
        publicKeys: [process.env.LIST_PUBLIC_KEY ?? ''],
        refreshIntervalMs: 300_000,
      },
    ]
  : [{ name: 'known', file: fileURLToPath(new URL('../minimal-memory/known-hashes.txt', import.meta.url)) }];

const gate = createHashgate({
  lists,
  store,
  // Per instance: the persisted copy of each list (lists/); evidence goes to the shared folder.
  dataDir: process.env.DATA_DIR ?? `var/${instance}`,
  evidence: { dir: process.env.EVIDENCE_DIR ?? 'var/shared-evidence' },
  // Refuse (503, Retry-After) what cannot be checked; see docs/operations.md.
  whenUnavailable: 'reject',
});

// Webhooks (optional): every instance may run a dispatcher; each outbox event is leased to one
// instance at a time (FOR UPDATE SKIP LOCKED), so nothing is delivered twice at once.
const dispatcher = process.env.WEBHOOK_URL
  ? createWebhookDispatcher({
      store,
      owner: instance,
      endpoints: [{ url: process.env.WEBHOOK_URL, secret: process.env.WEBHOOK_SECRET ?? '' }],
    })
  : undefined;
dispatcher?.start();

const app = express();
const upload = multer({ storage: multer.memoryStorage(), limits: { fileSize: 25 * 1024 * 1024 } });
app.post('/upload', upload.single('file'), gate.middleware(), (req, res) => {
  res.json({ instance, outcome: req.hashgate?.outcome });
});
// Load balancers send traffic only to instances whose lists are loaded and fresh.
app.get('/ready', gate.readiness());
app.get('/metrics', async (_req, res) => {
  const registry = gate.metrics;
  res.type(registry?.contentType ?? 'text/plain').send((await registry?.metrics()) ?? '');
});

await gate.ready();
const server = app.listen(Number(process.env.PORT ?? 3000), () => {
  const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());
  console.log(`instance ${instance} listening on http://localhost:${port} (store: PostgreSQL)`);
});

const stop = async () => {
  server.close();
  await dispatcher?.stop();
  await gate.close(); // a store passed in stays open: close it yourself
  await store.close();
  process.exit(0);
};
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());
