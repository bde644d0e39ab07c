/** Owns the shape of "what hashing one file produced": every hash with how it was made, and a reason for each hash that could not be made. */

import type { PdqDihedralVariant as DihedralVariant } from './pdq-dct';
import type { SniffedFormat } from './sniff';

/** The eight rotations and mirrorings of an image that one PDQ DCT yields, in the reference's order. */
export {
  PDQ_DIHEDRAL_VARIANTS as DIHEDRAL_VARIANTS,
  type PdqDihedralVariant as DihedralVariant,
} from './pdq-dct';

/**
 * Why a hash could not be computed (or may not be used for matching):
 * - `not-an-image`: the bytes are no image format (perceptual hashes only apply to images)
 * - `unsupported-format`: an image format hashgate does not decode (SVG, BMP, ICO, JPEG XL, video)
 * - `undecodable`: the decoder could not read the image
 * - `too-large`: more bytes or pixels than the configured limits
 * - `too-small`: a side under 5 pixels (PDQ) or no pixels
 * - `low-quality`: PDQ quality under the configured minimum (flat or featureless image)
 * - `degenerate`: a hash with almost no bits or almost all bits set, which would match unrelated images
 * - `timed-out`: decoding or hashing ran past its time limit
 * - `worker-failed`: the worker thread died while hashing
 * - `overloaded`: the scan queue was full
 * - `disabled`: the hash type is turned off in the configuration
 */
export type UnavailableReason =
  | 'not-an-image'
  | 'unsupported-format'
  | 'undecodable'
  | 'too-large'
  | 'too-small'
  | 'low-quality'
  | 'degenerate'
  | 'timed-out'
  | 'worker-failed'
  | 'overloaded'
  | 'disabled';

/** How a hash was made: enough for an incident to say exactly what matched, and for a list to be rebuilt the same way. */
export interface HashProvenance {
  /** Algorithm identity, e.g. `md5`, `pdq`, `blockhash-precise-16`. */
  readonly algorithm: string;
  /** Decoder used for perceptual hashes, e.g. `sharp 0.35.5 / libvips 8.18.7`. */
  readonly decoder?: string;
  /** PDQ convention: `fullres` (interoperable default) or `cli512`. */
  readonly convention?: 'fullres' | 'cli512';
  /** PDQ quality, 0-100. */
  readonly quality?: number;
  /** Number of set bits of a perceptual hash. */
  readonly weight?: number;
  /** Size of the pixels that were hashed. */
  readonly width?: number;
  readonly height?: number;
  /** Which frame of a multi-frame image was hashed. */
  readonly frame?: number;
  /** Set when an image side is under 32 pixels: the hash is computed but less reliable. */
  readonly smallImage?: boolean;
  /** Set when the hash is of a region of the image, not all of it (see {@link HashRegion}). */
  readonly region?: HashRegion;
}

/**
 * The region of the decoded image a perceptual hash was made from, when it is not the whole image:
 * - `trimmed`: the content inside a uniform border or letterbox bars (the hasher's `trim` option);
 *   the file's hashes then hold both the whole image's and the trimmed content's.
 * - `crop`: a crop of a list image made for list augmentation (`hashgate list build --augment`),
 *   `name` saying which (for example `all5` or `top15`).
 */
export interface HashRegion {
  readonly kind: 'trimmed' | 'crop';
  /** Crop name, for `crop` regions. */
  readonly name?: string;
  /** The region, in pixels of the decoded image. */
  readonly left: number;
  readonly top: number;
  readonly width: number;
  readonly height: number;
}

/** One computed hash. */
export interface ComputedHash {
  /** Hash type name: `md5`, `sha1`, `sha256`, `pdq` or `blockhash`. */
  readonly type: string;
  /** Lower-case hex. */
  readonly hex: string;
  readonly provenance: HashProvenance;
  /** For PDQ with dihedral queries on: the hex of all eight variants (`orig` equals `hex`). */
  readonly variants?: Readonly<Record<DihedralVariant, string>>;
}

/** A hash type that produced no usable value, and why. */
export interface UnavailableHash {
  readonly type: string;
  readonly reason: UnavailableReason;
  /** A short human explanation; never contains input bytes, paths or hashes. */
  readonly detail: string;
  /** PDQ quality when the reason is `low-quality`. */
  readonly quality?: number;
}

/** What the decoder saw, when the input was decoded. */
export interface ImageFacts {
  readonly width: number;
  readonly height: number;
  /** Frames or pages in the file. */
  readonly pages: number;
  readonly space: string;
  readonly depth: string;
  readonly grey: boolean;
  readonly hasIcc: boolean;
  /** EXIF orientation tag, recorded, not applied. */
  readonly orientation?: number;
}

/** The perceptual half of hashing one file (what a worker returns). */
export interface PerceptualOutcome {
  /** Format sniffed from the bytes. */
  readonly format: SniffedFormat;
  readonly image?: ImageFacts;
  readonly hashes: readonly ComputedHash[];
  readonly unavailable: readonly UnavailableHash[];
  /** Milliseconds spent decoding and hashing, for metrics. */
  readonly timings: {
    readonly decodeMs: number;
    readonly pdqMs: number;
    readonly blockhashMs: number;
    /** Finding a border and hashing the trimmed content (included in neither `pdqMs` nor `blockhashMs`). */
    readonly trimMs?: number;
  };
}

/** Everything hashing one file produced. */
export interface HashOutcome extends PerceptualOutcome {
  /** Size of the input in bytes. */
  readonly size: number;
}
