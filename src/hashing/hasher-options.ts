/** Owns the hashing options: their defaults, their validation and the frozen configuration derived from them. */

import { cpus } from 'node:os';
import { invalidOption } from '../errors';
import { booleanOption, enumOption, integerOption, objectOption, rejectUnknownKeys } from '../validate';
import type { BlockhashMethod } from './blockhash';
import { TRIM_DEFAULT_TOLERANCE } from './trim';

/** Options for hashing uploads. Every field is optional; numeric options carry their unit. */
export interface HashingOptions {
  /**
   * Worker threads that decode and hash images off the event loop. `0` runs everything on the
   * calling thread (for command-line tools; it blocks the event loop).
   * @default the number of CPU cores
   */
  workers?: number;
  /** Largest image accepted for perceptual hashing, as width x height. @default 100_000_000 */
  maxPixels?: number;
  /** Largest input accepted for decoding, in bytes (exact hashes are still computed beyond it). @default 268_435_456 (256 MiB) */
  maxInputBytes?: number;
  /** Time limit for decoding and hashing one image, in milliseconds. @default 30_000 */
  timeoutMs?: number;
  /** Jobs that may wait for a worker before scans fail with `overloaded`. @default 256 */
  maxQueue?: number;
  /** Frame of an animated or multi-page image to hash. @default 0 (the first) */
  frame?: number;
  /** How strict the decoder is with damaged data: `error` decodes a truncated file as far as it goes. @default 'error' */
  failOn?: 'none' | 'truncated' | 'error' | 'warning';
  /** PDQ options, or `false` to skip PDQ. */
  pdq?: false | PdqOptions;
  /** blockhash options, or `false` to skip blockhash. */
  blockhash?: false | BlockhashOptions;
  /**
   * Border and letterbox removal: when an image sits in a uniform frame (a solid border of any
   * colour, letterbox or pillarbox bars), its trimmed content is hashed too, so that framing an
   * image does not evade matching. `false` hashes the whole image only. See docs/detection.md.
   * @default {} (on)
   */
  trim?: false | TrimOptions;
}

/** Border and letterbox removal options. */
export interface TrimOptions {
  /** Largest difference (0-255, on any of R, G, B) between a frame pixel and the frame colour. @default 12 */
  tolerance?: number;
  /**
   * Also compute the blockhash of the trimmed content (PDQ's is always computed). Off because it
   * added false matches among dark astronomical plates in the benchmark while PDQ alone already
   * matched every framed copy (docs/detection.md). @default false
   */
  blockhash?: boolean;
}

/** PDQ options. */
export interface PdqOptions {
  /** `fullres` hashes the decoded pixels (interoperable); `cli512` squashes to 512x512 first like the reference CLI. @default 'fullres' */
  convention?: 'fullres' | 'cli512';
  /** Compute the 8 rotations and mirrorings from one DCT, so rotated or mirrored uploads match. @default true */
  dihedral?: boolean;
  /** PDQ hashes with a quality under this are reported `low-quality` and never matched. @default 50 */
  minQuality?: number;
}

/** blockhash options. */
export interface BlockhashOptions {
  /** `precise` (reference default) or `quick`. @default 'precise' */
  method?: BlockhashMethod;
}

/** The validated, frozen hashing configuration. */
export interface HashingConfig {
  readonly workers: number;
  readonly maxPixels: number;
  readonly maxInputBytes: number;
  readonly timeoutMs: number;
  readonly maxQueue: number;
  readonly frame: number;
  readonly failOn: 'none' | 'truncated' | 'error' | 'warning';
  readonly pdq: false | Readonly<Required<PdqOptions>>;
  readonly blockhash: false | Readonly<Required<BlockhashOptions>>;
  readonly trim: false | Readonly<Required<TrimOptions>>;
}

const KNOWN = [
  'workers',
  'maxPixels',
  'maxInputBytes',
  'timeoutMs',
  'maxQueue',
  'frame',
  'failOn',
  'pdq',
  'blockhash',
  'trim',
];

/**
 * Applies defaults to hashing options and validates them. Throws `ERR_HASHGATE_INVALID_OPTION`
 * with the expected / received / fix message for anything wrong.
 *
 * @param prefix - the option path shown in messages (e.g. `hashing`)
 */
export function parseHashingOptions(options: unknown = {}, prefix = 'hashing'): HashingConfig {
  const o = objectOption(prefix, options);
  rejectUnknownKeys(prefix, o, KNOWN);
  const name = (k: string): string => `${prefix}.${k}`;

  let pdq: HashingConfig['pdq'] = false;
  if (o.pdq !== false) {
    const p = objectOption(name('pdq'), o.pdq);
    rejectUnknownKeys(name('pdq'), p, ['convention', 'dihedral', 'minQuality']);
    pdq = Object.freeze({
      convention: enumOption(name('pdq.convention'), p.convention, ['fullres', 'cli512'] as const, 'fullres'),
      dihedral: booleanOption(name('pdq.dihedral'), p.dihedral, true),
      minQuality: integerOption(name('pdq.minQuality'), p.minQuality, 50, 0, 100),
    });
  }
  let blockhash: HashingConfig['blockhash'] = false;
  if (o.blockhash !== false) {
    const b = objectOption(name('blockhash'), o.blockhash);
    rejectUnknownKeys(name('blockhash'), b, ['method']);
    blockhash = Object.freeze({
      method: enumOption(name('blockhash.method'), b.method, ['precise', 'quick'] as const, 'precise'),
    });
  }
  let trim: HashingConfig['trim'] = false;
  if (o.trim !== false) {
    const t = objectOption(name('trim'), o.trim);
    rejectUnknownKeys(name('trim'), t, ['tolerance', 'blockhash']);
    trim = Object.freeze({
      tolerance: integerOption(name('trim.tolerance'), t.tolerance, TRIM_DEFAULT_TOLERANCE, 0, 255),
      blockhash: booleanOption(name('trim.blockhash'), t.blockhash, false),
    });
  }
  const workers = integerOption(name('workers'), o.workers, cpus().length, 0, 256);
  const config: HashingConfig = {
    workers,
    maxPixels: integerOption(name('maxPixels'), o.maxPixels, 100_000_000, 1),
    maxInputBytes: integerOption(name('maxInputBytes'), o.maxInputBytes, 256 * 1024 * 1024, 1),
    timeoutMs: integerOption(name('timeoutMs'), o.timeoutMs, 30_000, 1),
    maxQueue: integerOption(name('maxQueue'), o.maxQueue, 256, 0),
    frame: integerOption(name('frame'), o.frame, 0, 0),
    failOn: enumOption(name('failOn'), o.failOn, ['none', 'truncated', 'error', 'warning'] as const, 'error'),
    pdq,
    blockhash,
    trim,
  };
  if (config.maxPixels > 2 ** 31) {
    throw invalidOption(
      name('maxPixels'),
      'at most 2147483648 pixels',
      config.maxPixels,
      'Larger images cannot be decoded into memory',
    );
  }
  return Object.freeze(config);
}
