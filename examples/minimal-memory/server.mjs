// The smallest useful setup: multer keeps uploads in memory and hashgate checks them against a
// local list file before the handler runs. `npm run build`, then `node examples/minimal-memory/server.mjs`.
import { fileURLToPath } from 'node:url';
import express from 'express';
import { createHashgate } from 'hashgate';
import multer from 'multer';

const gate = createHashgate({
  lists: [{ name: 'known', file: fileURLToPath(new URL('known-hashes.txt', import.meta.url)) }],
});

const app = express();
app.post('/upload', multer().single('file'), gate.middleware(), (req, res) => {
  res.json({ accepted: req.file?.originalname, outcome: req.hashgate?.outcome });
});
app.get('/ready', gate.readiness());

await gate.ready();
const server = app.listen(Number(process.env.PORT ?? 3000), () => {
  const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());
  console.log(`listening on http://localhost:${port}`);
});
