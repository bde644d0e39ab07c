/**
 * Owns border and letterbox removal: finding the content box inside a uniform frame (solid
 * borders of any colour, letterbox and pillarbox bars) of decoded pixels, and hashing a
 * region of an image (PDQ with its dihedral variants, blockhash) with provenance that names the
 * region. Pure computation: no I/O, no decoder, no logging.
 */

import { performance } from 'node:perf_hooks';
import { BLOCKHASH_BITS, type BlockhashMethod, blockhashPixels } from './blockhash';
import { PERCEPTUAL_WEIGHT_RANGE } from './hash-types';
import type { ComputedHash, DihedralVariant, HashRegion } from './outcome';
import { PDQ_DIHEDRAL_VARIANTS, type PdqConvention, pdqHash } from './pdq';
import { cropPixels, type PixelBox, type Pixels, pdqSource } from './pixels';

/** Tuning of {@link findContentBox}. Every field has a measured default (docs/detection.md). */
export interface TrimSettings {
  /**
   * Largest difference, in 0-255 levels on any of R, G and B (on the grey value of a greyscale
   * layout), between a pixel and the frame colour for the pixel to count as frame; alpha is not
   * looked at. Absorbs JPEG noise; too large a value eats into dark or bright content. Levels are
   * whole numbers, so a fraction counts as the whole number below it.
   * @default 12
   */
  readonly tolerance?: number;
  /**
   * Fraction of a row or column whose pixels must be within `tolerance` of the frame colour for
   * the line to count as frame (a few outliers are JPEG ringing, dust or a stray pixel).
   * @default 0.98
   */
  readonly lineFraction?: number;
  /**
   * A frame is only removed when it takes at least this fraction of the width or of the height
   * (both sides together): thinner frames barely change a perceptual hash.
   * @default 0.03
   */
  readonly minTrimFraction?: number;
  /**
   * The content box keeps at least this fraction of each side, and at least 32 pixels: a frame
   * that would leave less is not a frame around content.
   * @default 0.2
   */
  readonly minContentFraction?: number;
}

/** Default frame tolerance, in 0-255 levels. */
export const TRIM_DEFAULT_TOLERANCE = 12;
const DEFAULT_LINE_FRACTION = 0.98;
const DEFAULT_MIN_TRIM_FRACTION = 0.03;
const DEFAULT_MIN_CONTENT_FRACTION = 0.2;
/** Opposite sides whose frames differ by more than this (plus 1% of the side) are evened up: two 8x8 JPEG blocks. */
const ASYMMETRY_SLACK_PX = 16;
/** Smallest content side kept, in pixels (PDQ flags sides under 32 px as unreliable). */
const MIN_CONTENT_SIDE = 32;

type Side = 'top' | 'bottom' | 'left' | 'right';

/**
 * Where R, G and B sit in a pixel of `channels` samples: the grey sample stands for all three in
 * a greyscale layout (1 or 2 channels).
 */
function colourOffsets(channels: number): readonly [number, number, number] {
  return channels < 3 ? [0, 0, 0] : [0, 1, 2];
}

/** Counts of each sample value along one line, per colour channel; reused by {@link medianColour}. */
const histogram = new Uint32Array(3 * 256);

/** The frame colour a side starts from: the per-channel median of its outermost line. */
function medianColour(
  px: Pixels,
  side: Side,
  box: { left: number; top: number; right: number; bottom: number },
): [number, number, number] {
  const hist = histogram.fill(0);
  const c = px.channels;
  const d = px.data;
  const [, g, b] = colourOffsets(c);
  const horizontal = side === 'top' || side === 'bottom';
  const from = horizontal ? box.left : box.top;
  const n = (horizontal ? box.right : box.bottom) - from;
  const step = horizontal ? c : px.width * c;
  let o = horizontal
    ? ((side === 'top' ? box.top : box.bottom - 1) * px.width + from) * c
    : (from * px.width + (side === 'left' ? box.left : box.right - 1)) * c;
  for (let i = 0; i < n; i++, o += step) {
    hist[d[o]!]!++;
    hist[256 + d[o + g]!]!++;
    hist[512 + d[o + b]!]!++;
  }
  const out: [number, number, number] = [0, 0, 0];
  for (let ch = 0; ch < 3; ch++) {
    let seen = 0;
    for (let v = 0; v < 256; v++) {
      seen += hist[ch * 256 + v]!;
      if (2 * seen >= n) {
        out[ch] = v;
        break;
      }
    }
  }
  return out;
}

/**
 * Pixels of one row (`y`, columns `from..to-1`) or column (`x`, rows `from..to-1`) within tolerance of `ref`.
 * A sample s is within tolerance t of r when s - (r - t), taken as unsigned, is at most 2t: one
 * subtraction and one comparison a channel.
 */
function lineMatches(
  px: Pixels,
  horizontal: boolean,
  at: number,
  from: number,
  to: number,
  ref: readonly [number, number, number],
  tolerance: number,
  needed: number,
): boolean {
  const d = px.data;
  const c = px.channels;
  const step = horizontal ? c : px.width * c;
  let o = horizontal ? (at * px.width + from) * c : (from * px.width + at) * c;
  const length = to - from;
  // Differences are whole numbers: within 2.5 is within 2.
  const t = Math.floor(tolerance);
  const span = 2 * t;
  const lo0 = ref[0] - t;
  // Stop at the first line that cannot reach the fraction any more: content is usually reached
  // within a few pixels, so an image without a frame costs one line a side.
  let allowed = length - needed;
  if (c < 3) {
    // Greyscale: the grey sample stands for R, G and B alike.
    for (let i = 0; i < length; i++, o += step) {
      if ((d[o]! - lo0) >>> 0 > span && --allowed < 0) return false;
    }
    return true;
  }
  const lo1 = ref[1] - t;
  const lo2 = ref[2] - t;
  for (let i = 0; i < length; i++, o += step) {
    if (
      ((d[o]! - lo0) >>> 0 > span || (d[o + 1]! - lo1) >>> 0 > span || (d[o + 2]! - lo2) >>> 0 > span) &&
      --allowed < 0
    )
      return false;
  }
  return true;
}

/**
 * Finds the content inside a uniform frame: solid borders of any colour and letterbox or
 * pillarbox bars, each side with its own colour, tolerant of JPEG noise. Each side is walked
 * inward line by line while the line stays within `tolerance` of the colour of that side's
 * outermost line; the walks repeat until the box stops shrinking (so a top bar and a left border
 * of another colour are both found). A band on one side only is not a frame; opposite sides that
 * differ by more than two JPEG blocks are evened up to the thinner one.
 *
 * @returns the content box, or `undefined` when there is no frame worth removing (thinner than
 *   `minTrimFraction` on both axes) or what is left would be too small to be content.
 *
 * @example
 * const box = findContentBox({ width, height, channels: 3, data }); // RGB
 * if (box) hashRegion(image, box, ...);
 */
export function findContentBox(pixels: Pixels, settings: TrimSettings = {}): PixelBox | undefined {
  const { width, height } = pixels;
  if (pixels.data.length !== width * height * pixels.channels || width < 1 || height < 1) return undefined;
  const tolerance = settings.tolerance ?? TRIM_DEFAULT_TOLERANCE;
  const lineFraction = settings.lineFraction ?? DEFAULT_LINE_FRACTION;
  const minTrim = settings.minTrimFraction ?? DEFAULT_MIN_TRIM_FRACTION;
  const minContent = settings.minContentFraction ?? DEFAULT_MIN_CONTENT_FRACTION;
  const minW = Math.max(MIN_CONTENT_SIDE, Math.ceil(width * minContent));
  const minH = Math.max(MIN_CONTENT_SIDE, Math.ceil(height * minContent));
  if (width < minW || height < minH) return undefined;

  // Half-open box [left, right) x [top, bottom).
  const box = { left: 0, top: 0, right: width, bottom: height };
  for (let pass = 0; pass < 4; pass++) {
    let changed = false;
    for (const side of ['top', 'bottom', 'left', 'right'] as const) {
      const horizontal = side === 'top' || side === 'bottom';
      const from = horizontal ? box.left : box.top;
      const to = horizontal ? box.right : box.bottom;
      const needed = Math.ceil((to - from) * lineFraction);
      const ref = medianColour(pixels, side, box);
      let moved = 0;
      for (;;) {
        const span = horizontal ? box.bottom - box.top : box.right - box.left;
        if (span - 1 < (horizontal ? minH : minW)) break;
        const at =
          side === 'top'
            ? box.top
            : side === 'bottom'
              ? box.bottom - 1
              : side === 'left'
                ? box.left
                : box.right - 1;
        if (!lineMatches(pixels, horizontal, at, from, to, ref, tolerance, needed)) break;
        if (side === 'top') box.top++;
        else if (side === 'bottom') box.bottom--;
        else if (side === 'left') box.left++;
        else box.right--;
        moved++;
      }
      if (moved > 0) changed = true;
    }
    if (!changed) break;
  }
  // A frame has two opposite sides (a border all round, letterbox bars above and below,
  // pillarbox bars left and right). A uniform band on one side only is far more often a clear sky,
  // a wall or a studio backdrop than a frame, and is left alone.
  if (box.top === 0 || box.bottom === height) {
    box.top = 0;
    box.bottom = height;
  }
  if (box.left === 0 || box.right === width) {
    box.left = 0;
    box.right = width;
  }
  // Framing tools add the same thickness on opposite sides. When one side went much further, the
  // photo's own edge there is close to the frame colour (a dark sky on a black border): that side
  // is cut back to the other's thickness so that no content is removed.
  const evenUp = (a: number, b: number, side: number): number =>
    Math.abs(a - b) <= ASYMMETRY_SLACK_PX + side * 0.01 ? -1 : Math.min(a, b);
  const vertical = evenUp(box.top, height - box.bottom, height);
  if (vertical >= 0) {
    box.top = vertical;
    box.bottom = height - vertical;
  }
  const horizontal = evenUp(box.left, width - box.right, width);
  if (horizontal >= 0) {
    box.left = horizontal;
    box.right = width - horizontal;
  }
  const trimmedW = width - (box.right - box.left);
  const trimmedH = height - (box.bottom - box.top);
  if (trimmedW < width * minTrim && trimmedH < height * minTrim) return undefined;
  return { left: box.left, top: box.top, width: box.right - box.left, height: box.bottom - box.top };
}

/** What {@link hashRegion} needs to know about how to hash. */
export interface RegionHashing {
  /** PDQ settings, or `false` to skip PDQ. */
  readonly pdq:
    | false
    | { readonly convention: PdqConvention; readonly dihedral: boolean; readonly minQuality: number };
  /** blockhash settings, or `false` to skip blockhash. */
  readonly blockhash: false | { readonly method: BlockhashMethod };
  /** Decoder identity recorded in the provenance. */
  readonly decoder: string;
  /** Frame of the file that was decoded. */
  readonly frame: number;
}

function outsideWeight(weight: number): boolean {
  return weight < PERCEPTUAL_WEIGHT_RANGE[0] || weight > PERCEPTUAL_WEIGHT_RANGE[1];
}

/**
 * PDQ and blockhash of one region of an image, as {@link ComputedHash} entries whose provenance
 * names the region. A region that hashes to a low-quality (PDQ quality under the minimum) or
 * degenerate value gives no entry: the hashes of the whole image say what could be hashed.
 *
 * @param region - which region and why (`trimmed` content, or a named `crop` of a list image)
 */
export function hashRegion(
  pixels: Pixels,
  region: HashRegion,
  how: RegionHashing,
): { hashes: ComputedHash[]; pdqMs: number; blockhashMs: number } {
  const box: PixelBox = region;
  const crop: Pixels = {
    width: box.width,
    height: box.height,
    channels: pixels.channels,
    data: cropPixels(pixels, box),
    ...(pixels.grey ? { grey: true } : {}),
  };
  const hashes: ComputedHash[] = [];
  const smallImage = box.width < 32 || box.height < 32;
  let pdqMs = 0;
  let blockhashMs = 0;
  let flat = false;
  if (how.pdq) {
    const t0 = performance.now();
    const pdq = pdqHash(pdqSource(crop), { convention: how.pdq.convention, dihedral: how.pdq.dihedral });
    pdqMs = performance.now() - t0;
    if (!pdq.ok || pdq.quality < how.pdq.minQuality) flat = true;
    else if (!pdq.degenerate) {
      let variants: Record<DihedralVariant, string> | undefined;
      if (pdq.dihedral) {
        variants = {} as Record<DihedralVariant, string>;
        for (const v of PDQ_DIHEDRAL_VARIANTS) variants[v] = pdq.dihedral[v].hex;
      }
      hashes.push({
        type: 'pdq',
        hex: pdq.hex,
        provenance: {
          algorithm: 'pdq',
          decoder: how.decoder,
          convention: how.pdq.convention,
          quality: pdq.quality,
          weight: pdq.weight,
          width: pdq.width,
          height: pdq.height,
          frame: how.frame,
          region,
          ...(smallImage ? { smallImage } : {}),
        },
        ...(variants ? { variants } : {}),
      });
    }
  }
  if (how.blockhash && !flat) {
    const t0 = performance.now();
    const bh = blockhashPixels(crop, how.blockhash.method);
    blockhashMs = performance.now() - t0;
    if (!outsideWeight(bh.weight)) {
      hashes.push({
        type: 'blockhash',
        hex: bh.hex,
        provenance: {
          algorithm: `blockhash-${bh.method}-${BLOCKHASH_BITS}`,
          decoder: how.decoder,
          weight: bh.weight,
          width: box.width,
          height: box.height,
          frame: how.frame,
          region,
          ...(smallImage ? { smallImage } : {}),
        },
      });
    }
  }
  return { hashes, pdqMs, blockhashMs };
}
