// First-start preparation of the demo: keys, the signed demo list and the files to try. Everything
// is written under the demo's var folder; nothing here prints a hash.
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import {
  createHasher,
  generateListKeyPair,
  parsePrivateKey,
  parsePublicKey,
  publishListVersion,
  readPublishedList,
  SnapshotBuilder,
} from 'hashgate';
import sharp from 'sharp';

/** Name of the demo list (in the manifest, the list URL and the gate's configuration). */
export const LIST_NAME = 'demo';

/** Hash types the demo list holds for each picture: two exact, two perceptual. */
const LIST_HASH_TYPES = ['md5', 'sha256', 'pdq', 'blockhash'];

const IMAGE = /\.(jpe?g|png|webp|gif|tiff?|avif)$/i;

/**
 * @param {string} dir
 * @returns {Promise<string[]>} image files in `dir`, sorted by name
 */
export async function imagesIn(dir) {
  const names = existsSync(dir) ? await readdir(dir) : [];
  return names
    .filter((n) => IMAGE.test(n) && !n.startsWith('.'))
    .sort()
    .map((n) => join(dir, n));
}

/**
 * Writes a secret file readable only by its owner (the mode is applied again in case the file
 * existed with a wider one).
 * @param {string} path
 * @param {string} text
 */
async function writeSecret(path, text) {
  await writeFile(path, text, { mode: 0o600 });
  await chmod(path, 0o600);
}

/**
 * The list signing key pair and the evidence key, generated at first start.
 * @param {string} keysDir
 * @returns {Promise<{ listPrivateKeyPem: string, listPublicKeyPem: string, evidenceKey: string, created: boolean }>}
 */
export async function ensureKeys(keysDir) {
  await mkdir(keysDir, { recursive: true, mode: 0o700 });
  const listKey = join(keysDir, 'list-signing.key');
  const listPub = join(keysDir, 'list-signing.pub');
  const evidenceKeyFile = join(keysDir, 'evidence.key');
  let created = false;
  if (!existsSync(listKey) || !existsSync(listPub)) {
    const pair = generateListKeyPair();
    await writeSecret(listKey, pair.privateKeyPem);
    await writeFile(listPub, pair.publicKeyPem, { mode: 0o644 });
    created = true;
  }
  if (!existsSync(evidenceKeyFile)) {
    // Base64 of 32 random bytes, the same form HASHGATE_EVIDENCE_KEY takes.
    await writeSecret(evidenceKeyFile, `${randomBytes(32).toString('base64')}\n`);
    created = true;
  }
  return {
    listPrivateKeyPem: await readFile(listKey, 'utf8'),
    listPublicKeyPem: await readFile(listPub, 'utf8'),
    evidenceKey: (await readFile(evidenceKeyFile, 'utf8')).trim(),
    created,
  };
}

/**
 * A fingerprint of the pictures the list is built from (names and contents), so that the list is
 * published again when someone adds, removes or changes a picture.
 * @param {string[]} files
 * @param {string} publicKeyPem
 */
async function sourceFingerprint(files, publicKeyPem) {
  const h = createHash('sha256').update(publicKeyPem);
  for (const f of files)
    h.update(basename(f))
      .update('\0')
      .update(await readFile(f));
  return h.digest('hex');
}

/**
 * Publishes the demo list from the pictures in `imagesDir` into `listDir`, signed with the demo
 * key: at first start, and again (as a new version) when the pictures or the key changed.
 * @param {{ imagesDir: string, listDir: string, stateFile: string, privateKeyPem: string, publicKeyPem: string }} o
 * @returns {Promise<{ version: number, entries: number, pictures: number, published: boolean, keyId: string }>}
 */
export async function ensureDemoList(o) {
  const files = await imagesIn(o.imagesDir);
  if (files.length === 0) throw new Error(`No pictures in ${o.imagesDir} to build the demo list from`);
  const keyId = parsePublicKey(o.publicKeyPem).keyId;
  const fingerprint = await sourceFingerprint(files, o.publicKeyPem);
  const current = await readPublishedList(o.listDir);
  const recorded = existsSync(o.stateFile) ? (await readFile(o.stateFile, 'utf8')).trim() : '';
  if (current && recorded === fingerprint) {
    return {
      version: current.manifest.version,
      entries: current.manifest.snapshot.entries,
      pictures: files.length,
      published: false,
      keyId,
    };
  }

  // Lists hold the hash of each picture as it is; uploads are queried with all 8 rotations and
  // mirrorings, so the list needs no dihedral variants. One worker is plenty for a few pictures.
  const hasher = createHasher({ workers: 1, pdq: { dihedral: false } });
  const builder = new SnapshotBuilder();
  try {
    for (const file of files) {
      const outcome = await hasher.hash({ path: file });
      const name = basename(file);
      for (const h of outcome.hashes) {
        if (!LIST_HASH_TYPES.includes(h.type)) continue;
        builder.addUntrusted({ id: `${name}:${h.type}`, type: h.type, hash: h.hex, category: 'demo' });
      }
    }
  } finally {
    await hasher.close();
  }
  const result = await publishListVersion({
    dir: o.listDir,
    name: LIST_NAME,
    entries: builder.build(LIST_NAME, 0, ''),
    keys: [parsePrivateKey(o.privateKeyPem)],
  });
  await writeFile(o.stateFile, `${fingerprint}\n`);
  return {
    version: result.manifest.version,
    entries: result.manifest.snapshot.entries,
    pictures: files.length,
    published: true,
    keyId,
  };
}

/**
 * Altered copies of one listed picture that hashgate still recognises by its perceptual hashes:
 * re-encoded at a low JPEG quality, resized to half its width, and rotated by 90 degrees. Their
 * bytes differ from the original, so no exact hash matches them.
 * @param {string} original
 * @param {string} tryDir
 * @returns {Promise<{ path: string, what: string }[]>}
 */
export async function writeAlteredCopies(original, tryDir) {
  await mkdir(tryDir, { recursive: true });
  const stem = basename(original).replace(/\.[^.]+$/, '');
  const meta = await sharp(original).metadata();
  const copies = [
    {
      name: `${stem}-reencoded.jpg`,
      what: 're-encoded as JPEG at quality 35',
      make: () => sharp(original).jpeg({ quality: 35 }),
    },
    {
      name: `${stem}-resized.jpg`,
      what: `resized to half its width, ${Math.round((meta.width ?? 800) / 2)} pixels`,
      make: () =>
        sharp(original)
          .resize(Math.round((meta.width ?? 800) / 2))
          .jpeg({ quality: 85 }),
    },
    {
      name: `${stem}-rotated.png`,
      what: 'rotated by 90 degrees and saved as PNG',
      make: () => sharp(original).rotate(90).png(),
    },
  ];
  const out = [];
  for (const c of copies) {
    const path = join(tryDir, c.name);
    if (!existsSync(path)) await c.make().toFile(path);
    out.push({ path, what: c.what });
  }
  return out;
}
