/**
 * The fuzzing engine shared by `bench/fuzz.ts` (thousands of cases) and `test/fuzz/` (a few
 * hundred in CI): seeded mutators for image files (bit flips, truncation, byte insertion and
 * deletion, header field corruption of JPEG/PNG/GIF/WebP, chunk duplication) and for list files
 * (NDJSON snapshot lines, manifests, plain text, threatexchange, threatexchange CSV), and runners
 * that push each mutated input through the real decode-and-hash path or the real parsers and
 * name its outcome. An outcome is a category (hashes computed, an unavailable reason, a stable
 * error code); anything else — a throw without a code, a hang past the watchdog — is a failure.
 * No hash or list content is ever part of an outcome.
 */

import { randomBytes } from 'node:crypto';
import { unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { deflateSync, gzipSync } from 'node:zlib';
import sharp from 'sharp';
import type { Hasher } from '../../src/hashing/hasher';
import { createHashTypeResolver } from '../../src/lists/entries';
import { type LocalListFormat, readLocalList } from '../../src/lists/formats';
import {
  generateListKeyPair,
  parsePrivateKey,
  parsePublicKey,
  signManifest,
  verifyManifestSignature,
} from '../../src/lists/keys';
import { parseManifest } from '../../src/lists/manifest';
import { crc32 } from './crc32';
import { seededRandom } from './ops-random';

/** A seeded random source with the helpers the mutators need. */
export class Rng {
  readonly #next: () => number;
  constructor(seed: number) {
    this.#next = seededRandom(seed);
  }
  float(): number {
    return this.#next();
  }
  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.#next() * n);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
  bytes(n: number): Buffer {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }
}

/** The case seed of case `i` of a run with `seed`, so that any one case can be replayed alone. */
export function caseSeed(seed: number, i: number): number {
  return (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) + Math.imul(i + 1, 0xc2b2ae35)) >>> 0;
}

// --- Image mutators --------------------------------------------------------------------------

/** Image formats the fuzzer feeds. */
export type ImageFormat = 'jpeg' | 'png' | 'gif' | 'webp';

/** One seed image. */
export interface SeedImage {
  name: string;
  format: ImageFormat;
  bytes: Buffer;
}

/**
 * Seed images from `files` (JPEG and PNG as they are), plus GIF and WebP versions of the first
 * few made with sharp, so every format has seeds.
 */
export async function seedImages(files: readonly { name: string; bytes: Buffer }[]): Promise<SeedImage[]> {
  const out: SeedImage[] = [];
  for (const f of files) {
    const format: ImageFormat = f.bytes[0] === 0x89 ? 'png' : 'jpeg';
    out.push({ name: f.name, format, bytes: f.bytes });
  }
  for (const f of files.slice(0, 4)) {
    const small = sharp(f.bytes).resize(160, 160, { fit: 'inside' });
    out.push({ name: `${f.name}.gif`, format: 'gif', bytes: await small.clone().gif().toBuffer() });
    out.push({
      name: `${f.name}.webp`,
      format: 'webp',
      bytes: await small.clone().webp({ quality: 70 }).toBuffer(),
    });
    out.push({
      name: `${f.name}.lossless.webp`,
      format: 'webp',
      bytes: await small.clone().webp({ lossless: true }).toBuffer(),
    });
  }
  return out;
}

interface Chunk {
  /** Offset of the whole chunk (PNG: length field; JPEG: the 0xFF marker; RIFF: the fourcc). */
  start: number;
  end: number;
  /** Offset of the chunk's payload. */
  data: number;
  type: string;
}

function pngChunks(b: Buffer): Chunk[] {
  const out: Chunk[] = [];
  let at = 8;
  while (at + 12 <= b.length) {
    const len = b.readUInt32BE(at);
    const end = at + 12 + len;
    if (end > b.length) break;
    out.push({ start: at, end, data: at + 8, type: b.toString('latin1', at + 4, at + 8) });
    at = end;
  }
  return out;
}

function jpegSegments(b: Buffer): Chunk[] {
  const out: Chunk[] = [];
  let at = 2;
  while (at + 4 <= b.length && b[at] === 0xff) {
    const marker = b[at + 1]!;
    if (marker === 0xd9 || marker === 0xda) {
      out.push({ start: at, end: b.length, data: at + 2, type: marker.toString(16) });
      break;
    }
    const len = b.readUInt16BE(at + 2);
    const end = at + 2 + len;
    if (end > b.length) break;
    out.push({ start: at, end, data: at + 4, type: marker.toString(16) });
    at = end;
  }
  return out;
}

function riffChunks(b: Buffer): Chunk[] {
  const out: Chunk[] = [];
  let at = 12;
  while (at + 8 <= b.length) {
    const len = b.readUInt32LE(at + 4);
    const end = at + 8 + len + (len & 1);
    if (end > b.length) break;
    out.push({ start: at, end, data: at + 8, type: b.toString('latin1', at, at + 4) });
    at = end;
  }
  return out;
}

/** Chunks (PNG, RIFF) or segments (JPEG) of an image; GIF has none here. */
function chunksOf(format: ImageFormat, b: Buffer): Chunk[] {
  if (format === 'png') return pngChunks(b);
  if (format === 'jpeg') return jpegSegments(b);
  if (format === 'webp') return riffChunks(b);
  return [];
}

/** Values that tend to break decoders: zero, one, the largest, a sign flip, a big one. */
function nastyNumber(rng: Rng, bits: 16 | 32): number {
  const max = bits === 16 ? 0xffff : 0xffffffff;
  return rng.pick([0, 1, 2, max, max >>> 1, (max >>> 1) + 1, 65_500, 100_000, rng.int(max)]) >>> 0;
}

function writeNumber(b: Buffer, at: number, bits: 16 | 32, v: number, little: boolean): void {
  if (at + bits / 8 > b.length) return;
  if (bits === 16) little ? b.writeUInt16LE(v & 0xffff, at) : b.writeUInt16BE(v & 0xffff, at);
  else little ? b.writeUInt32LE(v >>> 0, at) : b.writeUInt32BE(v >>> 0, at);
}

/** Corrupts a header field of the format: dimensions, depth, components, chunk lengths. */
function corruptHeader(rng: Rng, format: ImageFormat, src: Buffer): Buffer {
  const b = Buffer.from(src);
  if (format === 'png') {
    const chunks = pngChunks(b);
    const ihdr = chunks.find((c) => c.type === 'IHDR');
    const field = rng.int(5);
    if (ihdr && field < 4) {
      // width, height, bit depth, colour type; with the CRC fixed half of the time, so the
      // decoder gets past the checksum and meets the bad value.
      if (field < 2) writeNumber(b, ihdr.data + field * 4, 32, nastyNumber(rng, 32), false);
      else b[ihdr.data + 8 + (field - 2)] = rng.pick([0, 3, 5, 7, 16, 255]);
      if (rng.float() < 0.5) b.writeUInt32BE(crc32(b.subarray(ihdr.start + 4, ihdr.end - 4)), ihdr.end - 4);
      return b;
    }
    const c = chunks.length > 0 ? rng.pick(chunks) : undefined;
    if (c) writeNumber(b, c.start, 32, nastyNumber(rng, 32), false); // a chunk length
    return b;
  }
  if (format === 'jpeg') {
    const segs = jpegSegments(b);
    const sof = segs.find((s) => /^c[0-3]$/.test(s.type));
    const field = rng.int(5);
    if (sof && field < 4) {
      // precision, height, width, component count
      if (field === 0) b[sof.data] = rng.pick([0, 1, 7, 12, 16, 255]);
      else if (field < 3) writeNumber(b, sof.data + 1 + (field - 1) * 2, 16, nastyNumber(rng, 16), false);
      else b[sof.data + 5] = rng.pick([0, 2, 5, 255]);
      return b;
    }
    const s = segs.length > 0 ? rng.pick(segs) : undefined;
    if (s && s.start + 4 <= b.length) writeNumber(b, s.start + 2, 16, nastyNumber(rng, 16), false); // a segment length
    return b;
  }
  if (format === 'gif') {
    // logical screen width/height, packed flags (global colour table size), background index,
    // or the first image descriptor's position and size
    const field = rng.int(4);
    if (field < 2) writeNumber(b, 6 + field * 2, 16, nastyNumber(rng, 16), true);
    else if (field === 2 && b.length > 10) b[10] = rng.int(256);
    else {
      const desc = b.indexOf(0x2c, 13);
      if (desc > 0) writeNumber(b, desc + 1 + rng.int(4) * 2, 16, nastyNumber(rng, 16), true);
    }
    return b;
  }
  // WebP: the RIFF size, a chunk size, or the VP8/VP8L/VP8X dimensions
  const field = rng.int(3);
  if (field === 0) writeNumber(b, 4, 32, nastyNumber(rng, 32), true);
  else {
    const chunks = riffChunks(b);
    const c = chunks.length > 0 ? rng.pick(chunks) : undefined;
    if (c && field === 1) writeNumber(b, c.start + 4, 32, nastyNumber(rng, 32), true);
    else if (c?.type === 'VP8 ') writeNumber(b, c.data + 6 + rng.int(2) * 2, 16, nastyNumber(rng, 16), true);
    else if (c?.type === 'VP8L') writeNumber(b, c.data + 1, 32, nastyNumber(rng, 32), true);
    else if (c?.type === 'VP8X') writeNumber(b, c.data + 4 + rng.int(2) * 3, 16, nastyNumber(rng, 16), true);
  }
  return b;
}

/** Image mutation kinds. */
export const IMAGE_MUTATIONS = [
  'bit-flips',
  'truncate',
  'insert-bytes',
  'delete-bytes',
  'header-field',
  'duplicate-chunk',
  'splice-seeds',
  'huge-dimensions',
] as const;
export type ImageMutation = (typeof IMAGE_MUTATIONS)[number];

/** Applies one mutation to a seed image. */
export function mutateImage(rng: Rng, seed: SeedImage, other: SeedImage, kind: ImageMutation): Buffer {
  const b = seed.bytes;
  switch (kind) {
    case 'bit-flips': {
      const out = Buffer.from(b);
      const n = 1 + rng.int(rng.float() < 0.7 ? 8 : 200);
      for (let i = 0; i < n; i++) {
        // Half the flips land in the first 1 KiB, where the headers are.
        const at = rng.float() < 0.5 ? rng.int(Math.min(1024, out.length)) : rng.int(out.length);
        out[at] = out[at]! ^ (1 << rng.int(8));
      }
      return out;
    }
    case 'truncate':
      return b.subarray(0, rng.float() < 0.3 ? rng.int(Math.min(b.length, 64)) : rng.int(b.length));
    case 'insert-bytes': {
      const at = rng.int(b.length);
      const ins =
        rng.float() < 0.5 ? rng.bytes(1 + rng.int(64)) : Buffer.alloc(1 + rng.int(4096), rng.int(256));
      return Buffer.concat([b.subarray(0, at), ins, b.subarray(at)]);
    }
    case 'delete-bytes': {
      const at = rng.int(b.length);
      const len = 1 + rng.int(rng.float() < 0.7 ? 16 : 4096);
      return Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + len))]);
    }
    case 'header-field':
      return corruptHeader(rng, seed.format, b);
    case 'duplicate-chunk': {
      const chunks = chunksOf(seed.format, b);
      if (chunks.length === 0) {
        // GIF (or an unparsable file): duplicate a random range instead
        const from = rng.int(b.length);
        const to = Math.min(b.length, from + 1 + rng.int(2048));
        const at = rng.int(b.length);
        return Buffer.concat([b.subarray(0, at), b.subarray(from, to), b.subarray(at)]);
      }
      const c = rng.pick(chunks);
      const copies = 1 + rng.int(rng.float() < 0.9 ? 2 : 50);
      const dup = Buffer.concat(Array.from({ length: copies }, () => b.subarray(c.start, c.end)));
      const at = rng.float() < 0.5 ? c.end : rng.pick(chunks).start;
      return Buffer.concat([b.subarray(0, at), dup, b.subarray(at)]);
    }
    case 'splice-seeds': {
      // the head of one file on the tail of another (often of another format)
      const cut = rng.int(b.length);
      const cut2 = rng.int(other.bytes.length);
      return Buffer.concat([b.subarray(0, cut), other.bytes.subarray(cut2)]);
    }
    case 'huge-dimensions': {
      // A valid small file claiming a huge canvas: a decompression bomb must be refused by limits.
      if (seed.format === 'png') {
        const out = Buffer.from(b);
        const ihdr = pngChunks(out).find((c) => c.type === 'IHDR');
        if (!ihdr) return out;
        out.writeUInt32BE(30_000 + rng.int(70_000), ihdr.data);
        out.writeUInt32BE(30_000 + rng.int(70_000), ihdr.data + 4);
        out.writeUInt32BE(crc32(out.subarray(ihdr.start + 4, ihdr.end - 4)), ihdr.end - 4);
        return out;
      }
      return corruptHeader(rng, seed.format, b);
    }
  }
}

/** A synthetic PNG bomb: 20000 x 20000 pixels of zeros, a few KB compressed. */
export function pngBomb(side = 20_000): Buffer {
  const chunk = (type: string, data: Buffer): Buffer => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(td));
    return Buffer.concat([len, td, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(side, 0);
  ihdr.writeUInt32BE(side, 4);
  ihdr[8] = 8; // depth
  ihdr[9] = 0; // grey
  const raw = Buffer.alloc((side + 1) * 256); // the first 256 rows only: the rest is missing
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/**
 * Runs one input through the hasher and names the outcome: `pdq=<ok|reason> blockhash=<ok|reason>`,
 * or `threw <code>` / `hung` (failures: the hasher promises never to reject for bad input).
 */
export async function hashOutcome(
  hasher: Hasher,
  bytes: Buffer,
  watchdogMs: number,
): Promise<{ outcome: string; failure: boolean }> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<'hung'>((resolve) => {
    timer = setTimeout(() => resolve('hung'), watchdogMs);
  });
  try {
    const r = await Promise.race([hasher.hash({ bytes }), hang]);
    if (r === 'hung') return { outcome: 'hung', failure: true };
    const part = (type: string): string => {
      if (r.hashes.some((h) => h.type === type)) return 'ok';
      return r.unavailable.find((u) => u.type === type)?.reason ?? 'missing';
    };
    const exact = ['md5', 'sha1', 'sha256'].every((t) => r.hashes.some((h) => h.type === t));
    const outcome = `pdq=${part('pdq')} blockhash=${part('blockhash')}${exact ? '' : ' exact=missing'}`;
    return { outcome, failure: !exact || outcome.includes('missing') };
  } catch (err) {
    return { outcome: `threw ${(err as { code?: string }).code ?? (err as Error).name}`, failure: true };
  } finally {
    clearTimeout(timer);
  }
}

// --- List mutators ---------------------------------------------------------------------------

const HEX = '0123456789abcdef';
function hex(rng: Rng, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += HEX[rng.int(16)];
  return s;
}
const TYPE_LENGTHS: Record<string, number> = { md5: 32, sha1: 40, sha256: 64, pdq: 64, blockhash: 64 };

/** A random, valid hash of a type (perceptual ones with a balanced weight). */
function validHash(rng: Rng, type: string): string {
  return hex(rng, TYPE_LENGTHS[type]!);
}

/** List formats the fuzzer feeds. */
export const LIST_KINDS = [
  'ndjson',
  'ndjson.gz',
  'text',
  'threatexchange',
  'threatexchange-csv',
  'manifest',
] as const;
export type ListKind = (typeof LIST_KINDS)[number];

/** A valid list file of `kind` with a few dozen entries. */
export function validListText(rng: Rng, kind: Exclude<ListKind, 'manifest' | 'ndjson.gz'>): string {
  const n = 5 + rng.int(40);
  const types = Object.keys(TYPE_LENGTHS);
  const lines: string[] = [];
  if (kind === 'threatexchange-csv') lines.push('signal_type,signal_str,collab,category,tags');
  for (let i = 0; i < n; i++) {
    const type = rng.pick(types);
    const h = validHash(rng, type);
    if (kind === 'ndjson') {
      const e: Record<string, unknown> = { id: `e-${i}`, type, hash: h };
      if (rng.float() < 0.3) e.category = rng.pick(['csam', 'terror', 'ncii']);
      if (rng.float() < 0.2) e.labels = ['a', 'b'];
      lines.push(JSON.stringify(e));
    } else if (kind === 'text') lines.push(hex(rng, 32));
    else {
      // a python-threatexchange signal type and a hash of its length
      const [signal, length] = rng.pick([
        ['pdq', 64],
        ['md5', 32],
        ['photo_md5', 32],
        ['video_md5', 32],
        ['sha256', 64],
        ['photo_sha256', 64],
        ['url', 32],
      ] as const);
      const value = hex(rng, length);
      if (kind === 'threatexchange') lines.push(`${signal} ${value}`);
      else
        lines.push(
          `${signal},${value},${rng.pick(['', 'collab-a', '"x,y"'])},${rng.pick(['', 'POSITIVE_CLASS', 'NEGATIVE_CLASS', 'INVESTIGATION_SEED'])},${rng.pick(['', 'tag1 tag2'])}`,
        );
    }
  }
  return `${lines.join(rng.float() < 0.2 ? '\r\n' : '\n')}\n`;
}

/** Line-level and byte-level mutations of list text. */
export const LIST_MUTATIONS = [
  'bit-flips',
  'truncate',
  'insert-bytes',
  'delete-bytes',
  'duplicate-lines',
  'swap-fields',
  'hostile-values',
  'overlong-line',
] as const;
export type ListMutation = (typeof LIST_MUTATIONS)[number];

const HOSTILE_JSON = [
  `{"id":"x","type":"pdq","hash":"${'0'.repeat(64)}"}`,
  `{"id":"x","type":"pdq","hash":"${'f'.repeat(64)}"}`,
  `{"__proto__":{"polluted":1},"id":"p","type":"md5","hash":"${'1'.repeat(32)}"}`,
  `{"id":"c","type":"md5","hash":"${'2'.repeat(32)}","constructor":{"prototype":{"x":1}}}`,
  '['.repeat(5000) + ']'.repeat(5000),
  `{"id":${'1'.repeat(400)},"type":"md5","hash":"aa"}`,
  `{"id":"\\u0000","type":"md5","hash":"${'3'.repeat(32)}"}`,
  `{"id":"d","type":"MD5","hash":"${'A'.repeat(32)}"}`,
  '{"id":"e","type":"md5","hash":"' +
    '4'.repeat(32) +
    '","labels":' +
    JSON.stringify(Array(100).fill('l')) +
    '}',
  `{"id":"f","type":"md5","hash":"${'5'.repeat(32)}","category":"${'c'.repeat(5000)}"}`,
  '{"id":"g","type":"sha1","hash":null}',
  '{"id":"g","type":"toString","hash":"00"}',
  `{"id":"h","type":"hasOwnProperty","hash":"${'6'.repeat(64)}"}`,
  'null',
  '"a string"',
  '1e400',
  `\ufeff{"id":"bom","type":"md5","hash":"${'7'.repeat(32)}"}`,
  `{"id":"dup","type":"md5","hash":"${'8'.repeat(32)}","id":"dup2"}`,
];

/** Applies one mutation to list text. */
export function mutateListText(rng: Rng, text: string, kind: ListMutation): Buffer {
  const b = Buffer.from(text, 'utf8');
  const lines = text.split('\n');
  switch (kind) {
    case 'bit-flips': {
      const out = Buffer.from(b);
      const n = 1 + rng.int(20);
      for (let i = 0; i < n && out.length > 0; i++) {
        const at = rng.int(out.length);
        out[at] = out[at]! ^ (1 << rng.int(8));
      }
      return out;
    }
    case 'truncate':
      return b.subarray(0, rng.int(b.length + 1));
    case 'insert-bytes': {
      const at = rng.int(b.length + 1);
      return Buffer.concat([b.subarray(0, at), rng.bytes(1 + rng.int(32)), b.subarray(at)]);
    }
    case 'delete-bytes': {
      const at = rng.int(b.length + 1);
      return Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + 1 + rng.int(64)))]);
    }
    case 'duplicate-lines': {
      const out: string[] = [];
      for (const l of lines) {
        out.push(l);
        if (rng.float() < 0.3) for (let i = rng.int(5); i >= 0; i--) out.push(l);
      }
      return Buffer.from(out.join('\n'));
    }
    case 'swap-fields': {
      // mix the fields of different lines: types with hashes of another length, ids reused
      const fieldsOf = (l: string): string[] => l.split(/([, "])/);
      const out = lines.map((l) => {
        if (rng.float() < 0.5 || lines.length < 2) return l;
        const a = fieldsOf(l);
        const other = fieldsOf(rng.pick(lines));
        const i = rng.int(a.length);
        a[i] = other[rng.int(other.length)] ?? '';
        return a.join('');
      });
      return Buffer.from(out.join('\n'));
    }
    case 'hostile-values': {
      const out = [...lines];
      for (let i = 1 + rng.int(4); i > 0; i--) out.splice(rng.int(out.length + 1), 0, rng.pick(HOSTILE_JSON));
      return Buffer.from(out.join('\n'));
    }
    case 'overlong-line': {
      const out = [...lines];
      const long =
        rng.float() < 0.5 ? 'a'.repeat(70_000 + rng.int(200_000)) : rng.bytes(70_000).toString('latin1');
      out.splice(rng.int(out.length + 1), 0, long);
      return Buffer.from(out.join('\n'));
    }
  }
}

/** Mutations of a signed manifest's JSON: wrong types, missing fields, odd numbers, and the byte-level ones. */
function mutateManifest(rng: Rng, manifest: Buffer, kind: ListMutation): Buffer {
  if (kind !== 'swap-fields' && kind !== 'hostile-values')
    return mutateListText(rng, manifest.toString('utf8'), kind);
  const o = JSON.parse(manifest.toString('utf8')) as Record<string, unknown>;
  const keys = ['format', 'protocol', 'name', 'version', 'createdAt', 'counts', 'snapshot', 'deltas'];
  const nasty = [
    null,
    -1,
    0,
    1.5,
    2 ** 53,
    '1',
    '',
    'x'.repeat(5000),
    [],
    {},
    true,
    '../../etc/passwd',
    { path: '/abs' },
  ];
  const key = rng.pick(keys);
  if (rng.float() < 0.2) delete o[key];
  else if (key === 'snapshot' && typeof o.snapshot === 'object' && o.snapshot !== null && rng.float() < 0.7) {
    const s = o.snapshot as Record<string, unknown>;
    s[rng.pick(['path', 'sha256', 'size', 'entries', 'compression'])] = rng.pick(nasty);
  } else if (key === 'deltas' && rng.float() < 0.5) {
    o.deltas = Array.from({ length: rng.pick([1, 3, 1000]) }, () => ({
      path: 'd.ndjson',
      from: rng.int(5),
      to: rng.int(5),
      sha256: 'ab',
      size: 1,
    }));
  } else o[key] = rng.pick(nasty);
  return Buffer.from(JSON.stringify(o, null, 2));
}

/** What parsing a list file produced. */
export interface ListOutcome {
  outcome: string;
  failure: boolean;
}

const resolveType = createHashTypeResolver();

/** A signed manifest of a small list, to mutate. */
export interface ManifestSeed {
  bytes: Buffer;
  signature: Buffer;
  publicKeyPem: string;
}

/** Builds a valid, signed manifest to mutate. */
export function manifestSeed(): ManifestSeed {
  const pair = generateListKeyPair();
  const manifest = {
    format: 'hashgate-list',
    protocol: 1,
    name: 'fuzz',
    version: 7,
    createdAt: new Date(0).toISOString(),
    counts: { md5: 3, pdq: 2 },
    snapshot: {
      path: 'snapshot-7.ndjson.gz',
      sha256: 'a'.repeat(64),
      size: 1234,
      entries: 5,
      compression: 'gzip',
    },
    deltas: [
      {
        path: 'delta-6-7.ndjson.gz',
        sha256: 'b'.repeat(64),
        size: 99,
        from: 6,
        to: 7,
        adds: 1,
        removes: 0,
        compression: 'gzip',
      },
    ],
  };
  const bytes = Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`);
  const signature = Buffer.from(signManifest(bytes, [parsePrivateKey(pair.privateKeyPem)]));
  return { bytes, signature, publicKeyPem: pair.publicKeyPem };
}

/**
 * Runs one mutated list file through its parser and names the outcome: `parsed` with the most
 * frequent drop reason, or `refused <code>`. For manifests: `parsed`/`refused <code>` and the
 * signature verdict; a changed manifest whose signature still verifies is a failure.
 */
export async function listOutcome(
  rng: Rng,
  kind: ListKind,
  mutation: ListMutation,
  dir: string,
  manifest: ManifestSeed,
  watchdogMs: number,
): Promise<ListOutcome> {
  const run = async (): Promise<ListOutcome> => {
    if (kind === 'manifest') {
      const bytes = mutateManifest(rng, manifest.bytes, mutation);
      let parsed = 'parsed';
      try {
        parseManifest(bytes);
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (!code) return { outcome: `threw ${(err as Error).name}`, failure: true };
        parsed = `refused ${code.replace('ERR_HASHGATE_', '')}`;
      }
      let verified = false;
      try {
        verifyManifestSignature(bytes, manifest.signature, [parsePublicKey(manifest.publicKeyPem)]);
        verified = true;
      } catch (err) {
        if (!(err as { code?: string }).code)
          return { outcome: `signature threw ${(err as Error).name}`, failure: true };
      }
      const changed = !bytes.equals(manifest.bytes);
      const signature = verified ? 'signature verifies' : 'signature refused';
      return {
        outcome: `${parsed}, ${signature}${changed ? '' : ' (unchanged)'}`,
        failure: changed && verified,
      };
    }
    const base = kind === 'ndjson.gz' ? 'ndjson' : kind;
    let bytes = mutateListText(rng, validListText(rng, base), mutation);
    let name = `case-${randomBytes(6).toString('hex')}.${base}`;
    if (kind === 'ndjson.gz') {
      const gz = gzipSync(bytes);
      // Half the time the compressed bytes are damaged too.
      bytes = rng.float() < 0.5 ? mutateListText(rng, gz.toString('latin1'), 'bit-flips') : gz;
      if (rng.float() < 0.5 && kind === 'ndjson.gz') bytes = Buffer.from(bytes.toString('latin1'), 'latin1');
      name += '.gz';
    }
    const path = join(dir, name);
    await writeFile(path, bytes);
    try {
      const { dropped } = await readLocalList(
        path,
        { list: 'fuzz', version: 1, createdAt: new Date(0).toISOString() },
        {
          format: base as LocalListFormat,
          resolveType,
          ...(base === 'text' ? { hashType: 'md5' } : {}),
        },
      );
      const top = Object.entries(dropped).sort((a, b) => b[1] - a[1])[0];
      return { outcome: `parsed${top ? `, dropped most: ${top[0]}` : ', nothing dropped'}`, failure: false };
    } catch (err) {
      const code = (err as { code?: string }).code;
      return code?.startsWith('ERR_HASHGATE_')
        ? { outcome: `refused ${code.replace('ERR_HASHGATE_', '')}`, failure: false }
        : { outcome: `threw ${code ?? (err as Error).name}`, failure: true };
    } finally {
      await unlink(path).catch(() => undefined);
    }
  };
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<ListOutcome>((resolve) => {
    timer = setTimeout(() => resolve({ outcome: 'hung', failure: true }), watchdogMs);
  });
  try {
    return await Promise.race([run(), hang]);
  } finally {
    clearTimeout(timer);
  }
}

/** Counts outcomes and keeps the first few failing cases (their case seeds, never their bytes). */
export class Tally {
  readonly counts = new Map<string, number>();
  readonly failures: { label: string; caseSeed: number; outcome: string }[] = [];
  add(key: string, failure: boolean, label: string, seed: number): void {
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
    if (failure && this.failures.length < 50) this.failures.push({ label, caseSeed: seed, outcome: key });
  }
  /** Rows sorted by count. */
  rows(): [string, number][] {
    return [...this.counts.entries()].sort((a, b) => b[1] - a[1]);
  }
}
