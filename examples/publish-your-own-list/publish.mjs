// Publishing your own hash list with the hashgate list protocol (docs/list-protocol.md): a key
// pair, a signed version built from pictures your reviewers confirmed, a check as a client would
// make it, and a server. The published folder is plain static files: in production copy it to any
// web server, bucket or CDN; `startListServer` here is for development.
//
//   npm run build
//   node examples/publish-your-own-list/publish.mjs [folder of pictures]
//
// The same with the command line: see examples/README.md.
import { existsSync } from 'node:fs';
import { chmod, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  createHasher,
  createHashgate,
  generateListKeyPair,
  parsePrivateKey,
  parsePublicKey,
  publishListVersion,
  SnapshotBuilder,
  startListServer,
  verifyPublishedList,
} from 'hashgate';

const NAME = 'my-list';
const pictures = resolve(
  process.argv[2] ?? fileURLToPath(new URL('../demo/images/on-list/', import.meta.url)),
);
const home = resolve(process.env.LIST_HOME ?? 'var/my-list');
const keyFile = join(home, 'keys', `${NAME}.key`);
const pubFile = join(home, 'keys', `${NAME}.pub`);
const publicDir = join(home, 'public');

// 1. The signing key pair, once. The private key signs every version: keep it offline or in a
//    secrets manager. Clients trust the public key (several during a rotation).
if (!existsSync(keyFile)) {
  await mkdir(join(home, 'keys'), { recursive: true, mode: 0o700 });
  const pair = generateListKeyPair();
  await writeFile(keyFile, pair.privateKeyPem, { mode: 0o600 });
  await chmod(keyFile, 0o600);
  await writeFile(pubFile, pair.publicKeyPem);
  console.log(`generated key ${pair.keyId}: ${keyFile} (secret) and ${pubFile}`);
}
const signingKey = parsePrivateKey(await readFile(keyFile, 'utf8'));
const publicKeyPem = await readFile(pubFile, 'utf8');

// 2. The entries: the hashes of each picture. Lists hold the picture as it is; hashgate queries
//    uploads with every rotation and mirroring, so no dihedral variants are needed here.
const hasher = createHasher({ workers: 1, pdq: { dihedral: false } });
const builder = new SnapshotBuilder();
const files = (await readdir(pictures)).filter((n) => /\.(jpe?g|png|webp|gif)$/i.test(n)).sort();
try {
  for (const name of files) {
    const outcome = await hasher.hash({ path: join(pictures, name) });
    for (const h of outcome.hashes) {
      if (!['md5', 'sha256', 'pdq'].includes(h.type)) continue;
      // Entry ids are yours: a case number keeps them meaningful to your reviewers.
      builder.addUntrusted({
        id: `${basename(name)}:${h.type}`,
        type: h.type,
        hash: h.hex,
        category: 'confirmed',
      });
    }
  }
} finally {
  await hasher.close();
}

// 3. A new version: snapshot, delta from the previous version, manifest, signature.
const published = await publishListVersion({
  dir: join(publicDir, NAME),
  name: NAME,
  entries: builder.build(NAME, 0, ''),
  keys: [signingKey],
});
const delta = published.delta ? `, delta +${published.delta.adds} -${published.delta.removes}` : '';
console.log(
  `published ${NAME} version ${published.manifest.version}: ${published.manifest.snapshot.entries} entries from ${files.length} pictures${delta}`,
);

// 4. Check the folder as a client would: signature, every file's size and SHA-256, every entry.
const report = await verifyPublishedList(join(publicDir, NAME), { trusted: [parsePublicKey(publicKeyPem)] });
console.log(`verified: signed by key ${report.keyId}, ${report.entries.total} valid entries`);

// 5. Serve it, and 6. consume it the way every hashgate instance will.
const server = await startListServer({ root: publicDir, port: Number(process.env.LIST_PORT ?? 8080) });
const gate = createHashgate({
  lists: [{ name: NAME, url: `${server.url}${NAME}/`, publicKeys: [publicKeyPem] }],
  dataDir: join(home, 'client'),
  evidence: false,
});
await gate.ready(); // may resolve with the copy persisted by an earlier run...
await gate.refreshLists(); // ...so ask the server now (normally it is checked every refreshIntervalMs)
const status = gate.status().lists[0];
console.log(
  `a hashgate client synced ${NAME} version ${status?.version} (${status?.enabledEntries} entries)`,
);
console.log(`
Clients configure:
  { name: '${NAME}', url: '${server.url}${NAME}/', publicKeys: [<contents of ${pubFile}>] }
listening on ${server.url} (Ctrl-C to stop)`);

const stop = async () => {
  await gate.close();
  await server.close();
  process.exit(0);
};
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());
