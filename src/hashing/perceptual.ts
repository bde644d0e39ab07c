/**
 * Owns the perceptual half of hashing one file: sniff, decode under limits, PDQ (with its
 * dihedral variants) and blockhash, each with its provenance or a reason. Runs inside a worker
 * thread (hash-worker.ts) or, with `workers: 0`, on the calling thread.
 */

import { performance } from 'node:perf_hooks';
import { BLOCKHASH_BITS, blockhashPixels } from './blockhash';
import { DECODER_VERSION, decodeImage } from './decode';
import { PERCEPTUAL_WEIGHT_RANGE } from './hash-types';
import type { HashingConfig } from './hasher-options';
import {
  type ComputedHash,
  DIHEDRAL_VARIANTS,
  type DihedralVariant,
  type ImageFacts,
  type PerceptualOutcome,
  type UnavailableHash,
} from './outcome';
import { type PdqDihedralHashes, pdqHash } from './pdq';
import { pdqSource } from './pixels';
import { readFileHead, SNIFF_BYTES, sniffFormat } from './sniff';
import { findContentBox, hashRegion } from './trim';

/**
 * Bytes read from the start of a file given by path: enough for the JPEG or PNG header (EXIF and
 * ICC segments included, in most files), which spares the decoder a metadata pass.
 */
const HEADER_BYTES = 64 * 1024;

/** Where the bytes to hash are: in memory, or in a file the decoder reads itself. */
export type HashSource = { readonly bytes: Uint8Array } | { readonly path: string };

function perceptualTypes(config: HashingConfig): string[] {
  const types: string[] = [];
  if (config.pdq) types.push('pdq');
  if (config.blockhash) types.push('blockhash');
  return types;
}

function allUnavailable(
  config: HashingConfig,
  reason: UnavailableHash['reason'],
  detail: string,
): UnavailableHash[] {
  return perceptualTypes(config).map((type) => ({ type, reason, detail }));
}

function outsideWeight(weight: number): boolean {
  return weight < PERCEPTUAL_WEIGHT_RANGE[0] || weight > PERCEPTUAL_WEIGHT_RANGE[1];
}

function dihedralHex(d: PdqDihedralHashes): Record<DihedralVariant, string> {
  const out = {} as Record<DihedralVariant, string>;
  for (const v of DIHEDRAL_VARIANTS) out[v] = d[v].hex;
  return out;
}

/**
 * Computes the perceptual hashes of one file. Never throws for bad input: a file that cannot be
 * hashed gets an `unavailable` entry per hash type with the reason.
 */
export async function computePerceptual(
  source: HashSource,
  config: HashingConfig,
): Promise<PerceptualOutcome> {
  const timings = { decodeMs: 0, pdqMs: 0, blockhashMs: 0 };
  const disabled: UnavailableHash[] = [];
  if (!config.pdq) disabled.push({ type: 'pdq', reason: 'disabled', detail: 'PDQ is turned off' });
  if (!config.blockhash)
    disabled.push({ type: 'blockhash', reason: 'disabled', detail: 'blockhash is turned off' });

  let head: Uint8Array;
  let size: number;
  if ('bytes' in source) {
    head = source.bytes.subarray(0, SNIFF_BYTES);
    size = source.bytes.byteLength;
  } else {
    try {
      ({ head, size } = await readFileHead(source.path, HEADER_BYTES));
    } catch {
      return {
        format: 'unknown',
        hashes: [],
        unavailable: [...disabled, ...allUnavailable(config, 'undecodable', 'the file could not be read')],
        timings,
      };
    }
  }
  const format = sniffFormat(head);
  if (perceptualTypes(config).length === 0) return { format, hashes: [], unavailable: disabled, timings };
  if (size === 0) {
    return {
      format,
      hashes: [],
      unavailable: [...disabled, ...allUnavailable(config, 'not-an-image', 'the file is empty')],
      timings,
    };
  }
  if (size > config.maxInputBytes) {
    const detail = `the file has ${size} bytes, over the decode limit of ${config.maxInputBytes}`;
    return {
      format,
      hashes: [],
      unavailable: [...disabled, ...allUnavailable(config, 'too-large', detail)],
      timings,
    };
  }

  const t0 = performance.now();
  const decoded = await decodeImage('bytes' in source ? source.bytes : source.path, head, {
    maxPixels: config.maxPixels,
    timeoutMs: config.timeoutMs,
    frame: config.frame,
    failOn: config.failOn,
  });
  timings.decodeMs = performance.now() - t0;
  if (!decoded.ok) {
    return {
      format,
      hashes: [],
      unavailable: [...disabled, ...allUnavailable(config, decoded.reason, decoded.detail)],
      timings,
    };
  }
  const image = decoded.image;
  const facts: ImageFacts = {
    width: image.width,
    height: image.height,
    pages: image.pages,
    space: image.space,
    depth: image.depth,
    grey: image.grey,
    hasIcc: image.hasIcc,
    ...(image.orientation !== undefined ? { orientation: image.orientation } : {}),
  };
  const smallImage = image.width < 32 || image.height < 32;
  const hashes: ComputedHash[] = [];
  const unavailable: UnavailableHash[] = [...disabled];
  let pdqQuality: number | undefined;

  if (config.pdq) {
    const t1 = performance.now();
    const pdq = pdqHash(pdqSource(image), {
      convention: config.pdq.convention,
      dihedral: config.pdq.dihedral,
    });
    timings.pdqMs = performance.now() - t1;
    if (!pdq.ok) {
      unavailable.push({
        type: 'pdq',
        reason: 'too-small',
        detail: 'PDQ needs at least 5 pixels on each side',
      });
    } else {
      pdqQuality = pdq.quality;
      if (pdq.quality < config.pdq.minQuality) {
        unavailable.push({
          type: 'pdq',
          reason: 'low-quality',
          detail: `PDQ quality ${pdq.quality} is under the minimum of ${config.pdq.minQuality}`,
          quality: pdq.quality,
        });
      } else if (pdq.degenerate) {
        unavailable.push({
          type: 'pdq',
          reason: 'degenerate',
          detail: `the PDQ hash has ${pdq.weight} of 256 bits set`,
        });
      } else {
        hashes.push({
          type: 'pdq',
          hex: pdq.hex,
          provenance: {
            algorithm: 'pdq',
            decoder: DECODER_VERSION,
            convention: config.pdq.convention,
            quality: pdq.quality,
            weight: pdq.weight,
            width: pdq.width,
            height: pdq.height,
            frame: config.frame,
            ...(smallImage ? { smallImage } : {}),
          },
          ...(pdq.dihedral ? { variants: dihedralHex(pdq.dihedral) } : {}),
        });
      }
    }
  }

  if (config.blockhash) {
    const t2 = performance.now();
    const bh = blockhashPixels(image, config.blockhash.method);
    timings.blockhashMs = performance.now() - t2;
    // blockhash has no quality measure of its own; a flat image (low PDQ quality) or a hash with
    // almost no bits set collides with every other flat image, so both are refused.
    if (pdqQuality !== undefined && config.pdq && pdqQuality < config.pdq.minQuality) {
      unavailable.push({
        type: 'blockhash',
        reason: 'low-quality',
        detail: `the image is too flat to hash reliably (PDQ quality ${pdqQuality})`,
        quality: pdqQuality,
      });
    } else if (outsideWeight(bh.weight)) {
      unavailable.push({
        type: 'blockhash',
        reason: 'degenerate',
        detail: `the blockhash has ${bh.weight} of 256 bits set`,
      });
    } else {
      hashes.push({
        type: 'blockhash',
        hex: bh.hex,
        provenance: {
          algorithm: `blockhash-${bh.method}-${BLOCKHASH_BITS}`,
          decoder: DECODER_VERSION,
          weight: bh.weight,
          width: image.width,
          height: image.height,
          frame: config.frame,
          ...(smallImage ? { smallImage } : {}),
        },
      });
    }
  }
  // Border and letterbox removal (docs/detection.md): the content inside a uniform frame is
  // hashed too, next to the whole image, when the whole image could be hashed at all.
  if (config.trim) {
    const t3 = performance.now();
    const box = findContentBox(image, { tolerance: config.trim.tolerance });
    if (box) {
      const region = { kind: 'trimmed', ...box } as const;
      const how = {
        ...config,
        blockhash: config.trim.blockhash && config.blockhash,
        decoder: DECODER_VERSION,
      };
      hashes.push(...hashRegion(image, region, how).hashes);
    }
    return {
      format,
      image: facts,
      hashes,
      unavailable,
      timings: { ...timings, trimMs: performance.now() - t3 },
    };
  }
  return { format, image: facts, hashes, unavailable, timings };
}
