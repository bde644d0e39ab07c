/**
 * Owns list-side crop augmentation: for a list built from images the platform holds, the PDQ and
 * blockhash of a few crops of each image, indexed as extra entries whose ids derive from the
 * image's own entry, so that a cropped re-upload still matches and its incident names the
 * original entry. See docs/detection.md for how the crops were chosen and what they cost.
 */

import { DECODER_VERSION, decodeImage } from '../hashing/decode';
import type { HashingConfig } from '../hashing/hasher-options';
import type { ComputedHash } from '../hashing/outcome';
import type { HashSource } from '../hashing/perceptual';
import type { PixelBox } from '../hashing/pixels';
import { readFileHead, SNIFF_BYTES } from '../hashing/sniff';
import { hashRegion } from '../hashing/trim';

/** One crop: the fraction of the width or height removed from each side. */
export interface CropSpec {
  /** Short name used in entry ids and labels, `[a-z0-9]+` (e.g. `all5`, `top15`). */
  readonly name: string;
  readonly left: number;
  readonly top: number;
  readonly right: number;
  readonly bottom: number;
}

/**
 * The crops `hashgate list build --augment crops` indexes for every image: 5% and 10% from all
 * sides, and 15% from each single side. PDQ itself stops matching at about 2% cut from every side
 * or 2-3% from one side, and each indexed crop reaches about as far around itself: these crops catch
 * re-uploads cropped close to them, not every crop (measured in docs/detection.md, with crops that
 * are not in this set).
 */
export const DEFAULT_CROPS: readonly CropSpec[] = Object.freeze([
  { name: 'all5', left: 0.05, top: 0.05, right: 0.05, bottom: 0.05 },
  { name: 'all10', left: 0.1, top: 0.1, right: 0.1, bottom: 0.1 },
  { name: 'top15', left: 0, top: 0.15, right: 0, bottom: 0 },
  { name: 'bottom15', left: 0, top: 0, right: 0, bottom: 0.15 },
  { name: 'left15', left: 0.15, top: 0, right: 0, bottom: 0 },
  { name: 'right15', left: 0, top: 0, right: 0.15, bottom: 0 },
]);

/** Separator between a source entry's id and the suffix of an entry derived from it. */
export const DERIVED_ID_SEPARATOR = '~';

/** Label prefix of entries that augmentation (or trimming a list image) derived from another entry. */
export const AUGMENTED_LABEL_PREFIX = 'augmented:';

/**
 * The id of an entry derived from `sourceId`: `<sourceId>~crop-<name>` for a crop,
 * `<sourceId>~trimmed` for the trimmed content of a framed list image.
 */
export function derivedEntryId(
  sourceId: string,
  derivation: { kind: 'crop'; name: string } | { kind: 'trimmed' },
): string {
  const suffix = derivation.kind === 'crop' ? `crop-${derivation.name}` : 'trimmed';
  return `${sourceId}${DERIVED_ID_SEPARATOR}${suffix}`;
}

/** The label that marks an entry as derived: `augmented:crop-<name>` or `augmented:trimmed`. */
export function derivedEntryLabel(derivation: { kind: 'crop'; name: string } | { kind: 'trimmed' }): string {
  return `${AUGMENTED_LABEL_PREFIX}${derivation.kind === 'crop' ? `crop-${derivation.name}` : 'trimmed'}`;
}

/**
 * The source entry's id and the derivation of an entry id made by {@link derivedEntryId}, or
 * `undefined` for an id that was not derived. For an incident to name the original entry.
 */
export function parseDerivedEntryId(id: string): { sourceId: string; derivation: string } | undefined {
  const at = id.lastIndexOf(DERIVED_ID_SEPARATOR);
  if (at <= 0) return undefined;
  const derivation = id.slice(at + 1);
  if (!/^(crop-[a-z0-9]+|trimmed)$/.test(derivation)) return undefined;
  return { sourceId: id.slice(0, at), derivation };
}

/** The pixel box of `spec` in an image of `width` x `height`. */
export function cropBox(width: number, height: number, spec: CropSpec): PixelBox {
  const left = Math.round(width * spec.left);
  const top = Math.round(height * spec.top);
  const right = Math.round(width * spec.right);
  const bottom = Math.round(height * spec.bottom);
  return { left, top, width: Math.max(1, width - left - right), height: Math.max(1, height - top - bottom) };
}

/**
 * Decodes an image and computes the PDQ (without dihedral variants: a list holds the image as it
 * is) of each crop, and its blockhash with `withBlockhash` (off by default: blockhash crops added
 * false matches in the benchmark and no recall PDQ crops lacked), under the same decode limits and
 * quality rules as the hashing engine. Runs on the calling thread (decoding is asynchronous, the hashing is not): meant for
 * building lists, not for requests. A crop that yields no usable hash (flat, too small) is left
 * out; an image that cannot be decoded yields no crop hashes.
 *
 * @param config - the hashing configuration (decode limits, PDQ and blockhash settings)
 * @param crops - which crops, {@link DEFAULT_CROPS} by default
 * @param withBlockhash - also compute each crop's blockhash
 * @returns one {@link ComputedHash} per crop and hash type, each with `provenance.region` of kind `crop`
 *
 * @example
 * const hashes = await cropHashes({ path: 'known/1.jpg' }, parseHashingOptions({}));
 */
export async function cropHashes(
  source: HashSource,
  config: HashingConfig,
  crops: readonly CropSpec[] = DEFAULT_CROPS,
  withBlockhash = false,
): Promise<ComputedHash[]> {
  const head =
    'bytes' in source ? source.bytes.subarray(0, SNIFF_BYTES) : (await readFileHead(source.path)).head;
  const decoded = await decodeImage('bytes' in source ? source.bytes : source.path, head, {
    maxPixels: config.maxPixels,
    timeoutMs: config.timeoutMs,
    frame: config.frame,
    failOn: config.failOn,
  });
  if (!decoded.ok) return [];
  const image = decoded.image;
  const how = {
    pdq: config.pdq ? { ...config.pdq, dihedral: false } : (false as const),
    blockhash: withBlockhash && config.blockhash,
    decoder: DECODER_VERSION,
    frame: config.frame,
  };
  const out: ComputedHash[] = [];
  for (const spec of crops) {
    const box = cropBox(image.width, image.height, spec);
    out.push(...hashRegion(image, { kind: 'crop', name: spec.name, ...box }, how).hashes);
  }
  return out;
}
