/**
 * Owns the local list formats besides protocol NDJSON: plain text (one hash a line, type from
 * the configuration), python-threatexchange's `local_file` format (`<signal_type> <hash>` a
 * line) and the CSV its CLI exports (`signal_type,signal_str,collab,category,tags`).
 */

import { createHash } from 'node:crypto';
import { Yielder } from '../cooperative';
import type { HashType } from '../hashing/hash-types';
import type { ListSnapshot } from '../snapshot';
import { type DropCounts, type HashTypeResolver, isValidCategory, SnapshotBuilder } from './entries';
import { ListErrorCodes, listError } from './errors';
import { readLines } from './lines';
import { parseSnapshotLines, readEntryFile } from './ndjson';

/** Formats of local list files. */
export type LocalListFormat = 'ndjson' | 'text' | 'threatexchange' | 'threatexchange-csv';

/** Every local format name. */
export const LOCAL_LIST_FORMATS: readonly LocalListFormat[] = Object.freeze([
  'ndjson',
  'text',
  'threatexchange',
  'threatexchange-csv',
]);

/**
 * python-threatexchange signal types that hashgate can enforce, mapped to hashgate hash types.
 * `video_md5` and `video_sha256` are hashes of the file bytes, exactly what hashgate's exact
 * hashes are, so they match uploads of the identical file whatever its media type.
 */
export const THREATEXCHANGE_TYPE_MAP: Readonly<Record<string, string>> = Object.freeze({
  pdq: 'pdq',
  md5: 'md5',
  photo_md5: 'md5',
  video_md5: 'md5',
  sha1: 'sha1',
  sha256: 'sha256',
  photo_sha256: 'sha256',
  video_sha256: 'sha256',
});

/**
 * python-threatexchange signal types that are not hashes of an upload's bytes (a URL, text,
 * an MD5 of a URL or of text, video or OCR signals): dropped as `unsupported-type`.
 */
export const THREATEXCHANGE_UNSUPPORTED: ReadonlySet<string> = new Set([
  'url',
  'url_md5',
  'raw_text',
  'text_md5',
  'trend_query',
  'video_tmk_pdqf',
  'pdq_ocr',
  'tlsh',
  'tlsh_pdf',
  'clip',
]);

/**
 * The entry id hashgate gives a hash that comes without one (text formats, hash lines):
 * `h-` plus 20 hex digits of SHA-256 over `<type>:<hash bytes>`. Stable across versions, so a
 * later `list remove` of the same hash finds it, and it does not reveal the hash.
 */
export function deriveEntryId(type: HashType, bytes: Uint8Array): string {
  return `h-${createHash('sha256').update(type.name).update(':').update(bytes).digest('hex').slice(0, 20)}`;
}

/** Options for reading a local file into a builder. */
export interface LocalParseOptions {
  format: LocalListFormat;
  /**
   * Hash type of every line. Required for `text`; for `threatexchange` it means the lines hold
   * only the hash (python-threatexchange's `signal_type` setting).
   */
  hashType?: string;
  /** Category of entries that have none. @default 'default' */
  category?: string;
  resolveType: HashTypeResolver;
  /** Longest decoded size of the file. */
  maxBytes?: number;
}

/** Adds a hash without an id (derived id). Duplicates of the same hash count as `duplicate-hash`. */
export function addHashLine(
  builder: SnapshotBuilder,
  resolveType: HashTypeResolver,
  typeName: string,
  hash: string,
  category?: string,
  labels?: readonly string[],
): boolean {
  const type = resolveType(typeName.toLowerCase());
  if (!type) return builder.drop('unknown-type');
  const parsed = type.validate(hash);
  if (!parsed.ok) {
    return builder.drop(parsed.issue === 'not-a-string' ? 'invalid-entry' : parsed.issue);
  }
  const id = deriveEntryId(type, parsed.bytes);
  if (builder.hasId(id)) return builder.drop('duplicate-hash');
  return builder.addHex(id, type.name, hash, category, labels);
}

function mapThreatExchangeType(builder: SnapshotBuilder, signalType: string): string | null {
  const t = signalType.trim().toLowerCase();
  const mapped = THREATEXCHANGE_TYPE_MAP[t];
  if (mapped) return mapped;
  builder.drop(THREATEXCHANGE_UNSUPPORTED.has(t) ? 'unsupported-type' : 'unknown-type');
  return null;
}

/** Splits one CSV record (RFC 4180 quoting, no embedded newlines). Returns null when the quoting is broken. */
export function splitCsvLine(line: string): string[] | null {
  const out: string[] = [];
  let i = 0;
  for (;;) {
    if (line[i] === '"') {
      let v = '';
      i++;
      for (;;) {
        const q = line.indexOf('"', i);
        if (q === -1) return null;
        v += line.slice(i, q);
        if (line[q + 1] === '"') {
          v += '"';
          i = q + 2;
        } else {
          i = q + 1;
          break;
        }
      }
      out.push(v);
      if (i === line.length) return out;
      if (line[i] !== ',') return null;
      i++;
    } else {
      const c = line.indexOf(',', i);
      if (c === -1) {
        out.push(line.slice(i));
        return out;
      }
      out.push(line.slice(i, c));
      i = c + 1;
    }
  }
}

/**
 * Maps a threatexchange opinion category to a hashgate category: `POSITIVE_CLASS` ->
 * `positive-class`, `INVESTIGATION_SEED` -> `investigation-seed`, empty -> default;
 * `NEGATIVE_CLASS` (known benign) -> null, meaning "drop".
 */
export function mapThreatExchangeCategory(category: string): string | undefined | null {
  const c = category.trim();
  if (c === '') return undefined;
  if (c.toUpperCase() === 'NEGATIVE_CLASS') return null;
  return c.toLowerCase().replace(/_/g, '-');
}

/**
 * Reads a local list file of any format into `builder` (plain or, for a `.gz` name, gzip).
 * Bad lines are dropped and counted on the builder. Throws `ERR_HASHGATE_LIST_SOURCE_READ_FAILED`
 * when the file cannot be read.
 */
export async function parseLocalFile(
  path: string,
  builder: SnapshotBuilder,
  o: LocalParseOptions,
): Promise<void> {
  const yielder = new Yielder();
  const source = readEntryFile(path, path.endsWith('.gz') ? 'gzip' : 'none', o.maxBytes);
  const cat = o.category;
  if (cat !== undefined && !isValidCategory(cat)) {
    throw listError(
      ListErrorCodes.SOURCE_READ_FAILED,
      'The default category of a local list is not a valid category name',
    );
  }
  const overlong = { yielder, onOverlong: () => builder.drop('line-too-long') };
  try {
    switch (o.format) {
      case 'ndjson':
        await parseSnapshotLines(source, builder, yielder);
        return;
      case 'text': {
        const typeName = o.hashType;
        if (!typeName)
          throw listError(
            ListErrorCodes.SOURCE_READ_FAILED,
            'A plain-text list needs a hash type (hashType)',
          );
        await readLines(
          source,
          (line) => {
            const s = line.trim();
            if (s.startsWith('#')) return;
            addHashLine(builder, o.resolveType, typeName, s, cat);
          },
          overlong,
        );
        return;
      }
      case 'threatexchange':
        await readLines(
          source,
          (line) => {
            const s = line.trim();
            if (s.startsWith('#')) return;
            let typeName: string | null | undefined = o.hashType;
            let hash = s;
            if (!typeName) {
              const sp = s.indexOf(' ');
              if (sp === -1) {
                builder.drop('invalid-entry');
                return;
              }
              typeName = mapThreatExchangeType(builder, s.slice(0, sp));
              hash = s.slice(sp + 1);
            }
            if (typeName) addHashLine(builder, o.resolveType, typeName, hash, cat);
          },
          overlong,
        );
        return;
      case 'threatexchange-csv': {
        let columns: Map<string, number> | null = null;
        await readLines(
          source,
          (line) => {
            const fields = splitCsvLine(line);
            if (!columns) {
              columns = new Map((fields ?? []).map((f, i) => [f.trim().toLowerCase(), i]));
              if (!columns.has('signal_type') || !columns.has('signal_str')) {
                throw listError(
                  ListErrorCodes.FILE_INVALID,
                  'A threatexchange CSV needs a header with signal_type and signal_str columns',
                );
              }
              return;
            }
            if (!fields) {
              builder.drop('invalid-entry');
              return;
            }
            const get = (name: string): string => {
              const i = columns?.get(name);
              return i === undefined ? '' : (fields[i] ?? '');
            };
            const typeName = mapThreatExchangeType(builder, get('signal_type'));
            if (!typeName) return;
            const category = mapThreatExchangeCategory(get('category'));
            if (category === null) {
              builder.drop('negative-opinion');
              return;
            }
            const labels = get('tags').split(/\s+/).filter(Boolean);
            const collab = get('collab').trim();
            if (collab) labels.push(`collab:${collab}`);
            addHashLine(
              builder,
              o.resolveType,
              typeName,
              get('signal_str'),
              category ?? cat,
              labels.length ? labels : undefined,
            );
          },
          overlong,
        );
        return;
      }
    }
  } catch (err) {
    if ((err as { code?: string }).code?.startsWith('ERR_HASHGATE_')) throw err;
    throw listError(ListErrorCodes.SOURCE_READ_FAILED, 'The local list file could not be read', err);
  }
}

/** Reads a whole local list file into a snapshot. */
export async function readLocalList(
  path: string,
  meta: { list: string; version: number; createdAt: string; maxEntries?: number },
  o: LocalParseOptions,
): Promise<{ snapshot: ListSnapshot; dropped: DropCounts }> {
  const builder = new SnapshotBuilder({
    resolveType: o.resolveType,
    ...(meta.maxEntries === undefined ? {} : { maxEntries: meta.maxEntries }),
  });
  await parseLocalFile(path, builder, o);
  return { snapshot: builder.build(meta.list, meta.version, meta.createdAt), dropped: builder.dropped };
}
