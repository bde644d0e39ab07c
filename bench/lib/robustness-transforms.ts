/**
 * The image transforms of the robustness benchmark: each takes the bytes of a photo and returns the
 * bytes of the transformed image (PNG unless the transform is a JPEG re-encode), made with sharp.
 */

import sharp from 'sharp';
import { seededRandom } from './ops-random';

export interface Transform {
  readonly name: string;
  /** Which target group of issue 9 it belongs to, for the table. */
  readonly group: string;
  apply(input: Buffer, seed: number): Promise<Buffer>;
}

/** Lossless, fast output so that only the transform itself changes the pixels. */
const png = (s: ReturnType<typeof sharp>): Promise<Buffer> => s.png({ compressionLevel: 1 }).toBuffer();

async function size(input: Buffer): Promise<{ w: number; h: number }> {
  const m = await sharp(input).metadata();
  return { w: m.width, h: m.height };
}

const BLACK = { r: 0, g: 0, b: 0, alpha: 1 };

/** Applies `f` to every colour sample (alpha left alone) of the raw pixels, then encodes PNG. */
async function mapRaw(input: Buffer, f: (value: number, index: number) => number): Promise<Buffer> {
  const { data, info } = await sharp(input).raw().toBuffer({ resolveWithObject: true });
  const ch = info.channels;
  const colour = ch === 2 || ch === 4 ? ch - 1 : ch;
  for (let i = 0; i < data.length; i++) {
    if (i % ch >= colour) continue;
    const v = f(data[i]!, i);
    data[i] = v < 0 ? 0 : v > 255 ? 255 : Math.round(v);
  }
  return png(sharp(data, { raw: { width: info.width, height: info.height, channels: ch } }));
}

function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A large semi-transparent text watermark across the middle of the image, as an SVG overlay. */
function watermarkSvg(w: number, h: number): Buffer {
  const fontSize = Math.max(10, Math.round(Math.min(w / 7, h / 3)));
  const text = escapeXml('SAMPLE © 2026');
  return Buffer.from(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}">` +
      `<text x="50%" y="50%" dominant-baseline="middle" text-anchor="middle" font-family="DejaVu Sans, sans-serif" ` +
      `font-weight="bold" font-size="${fontSize}" fill="white" fill-opacity="0.6" stroke="black" stroke-opacity="0.6" ` +
      `stroke-width="${Math.max(1, Math.round(fontSize / 30))}">${text}</text></svg>`,
  );
}

/** A synthetic logo: a coloured rounded badge with a shape and initials, as PNG of side `s`. */
async function logoPng(s: number): Promise<Buffer> {
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" width="${s}" height="${s}">` +
    `<rect x="0" y="0" width="${s}" height="${s}" rx="${s / 6}" fill="#1e6fd9"/>` +
    `<circle cx="${s * 0.3}" cy="${s * 0.35}" r="${s * 0.18}" fill="#ffcc00"/>` +
    `<polygon points="${s * 0.55},${s * 0.15} ${s * 0.9},${s * 0.15} ${s * 0.72},${s * 0.5}" fill="#ffffff"/>` +
    `<text x="50%" y="${s * 0.85}" text-anchor="middle" font-family="DejaVu Sans, sans-serif" font-weight="bold" ` +
    `font-size="${Math.round(s * 0.28)}" fill="white">HG</text></svg>`;
  return sharp(Buffer.from(svg)).png().toBuffer();
}

const resize = (f: number) => async (input: Buffer) => {
  const { w, h } = await size(input);
  return png(
    sharp(input).resize(Math.max(1, Math.round(w * f)), Math.max(1, Math.round(h * f)), { fit: 'fill' }),
  );
};

/** Cuts the given fractions of the width or height off each side. */
const cropSides = (l: number, t: number, r: number, b: number) => async (input: Buffer) => {
  const { w, h } = await size(input);
  const left = Math.round(w * l);
  const top = Math.round(h * t);
  const width = w - left - Math.round(w * r);
  const height = h - top - Math.round(h * b);
  return png(sharp(input).extract({ left, top, width, height }));
};

/** Every transform of issue 9 (and a few more crops and borders), in the order of the table. */
export const TRANSFORMS: readonly Transform[] = [
  { name: 'jpeg q30', group: 'jpeg', apply: (i) => sharp(i).jpeg({ quality: 30 }).toBuffer() },
  { name: 'jpeg q70', group: 'jpeg', apply: (i) => sharp(i).jpeg({ quality: 70 }).toBuffer() },
  { name: 'resize 50%', group: 'resize', apply: resize(0.5) },
  { name: 'resize 25%', group: 'resize', apply: resize(0.25) },
  { name: 'upscale 150%', group: 'resize', apply: resize(1.5) },
  {
    name: 'crop 5% all sides',
    group: 'crop',
    apply: async (i) => {
      const { w, h } = await size(i);
      const dx = Math.round(w * 0.05);
      const dy = Math.round(h * 0.05);
      return png(sharp(i).extract({ left: dx, top: dy, width: w - 2 * dx, height: h - 2 * dy }));
    },
  },
  {
    name: 'crop 15% one side',
    group: 'crop',
    apply: async (i) => {
      const { w, h } = await size(i);
      return png(sharp(i).extract({ left: 0, top: 0, width: w - Math.round(w * 0.15), height: h }));
    },
  },
  // Crops that are not in list augmentation's set (src/lists/augment.ts), to show how far its six
  // crops reach beyond themselves.
  { name: 'crop 3% all sides', group: 'crop+', apply: cropSides(0.03, 0.03, 0.03, 0.03) },
  { name: 'crop 8% all sides', group: 'crop+', apply: cropSides(0.08, 0.08, 0.08, 0.08) },
  { name: 'crop 10% top', group: 'crop+', apply: cropSides(0, 0.1, 0, 0) },
  { name: 'crop 25% left', group: 'crop+', apply: cropSides(0.25, 0, 0, 0) },
  { name: 'crop 10% top-left', group: 'crop+', apply: cropSides(0.1, 0.1, 0, 0) },
  {
    name: 'border 10%',
    group: 'border',
    apply: async (i) => {
      const { w, h } = await size(i);
      const x = Math.round(w * 0.1);
      const y = Math.round(h * 0.1);
      return png(sharp(i).extend({ top: y, bottom: y, left: x, right: x, background: BLACK }));
    },
  },
  {
    name: 'letterbox 16:9',
    group: 'border',
    apply: async (i) => {
      const { w, h } = await size(i);
      if (w / h < 16 / 9) {
        const pad = Math.round((h * 16) / 9) - w;
        const left = Math.floor(pad / 2);
        return png(sharp(i).extend({ left, right: pad - left, background: BLACK }));
      }
      const pad = Math.round((w * 9) / 16) - h;
      const top = Math.floor(pad / 2);
      return png(sharp(i).extend({ top, bottom: pad - top, background: BLACK }));
    },
  },
  {
    name: 'white border 5% jpeg',
    group: 'border+',
    apply: async (i) => {
      const { w, h } = await size(i);
      const x = Math.round(w * 0.05);
      const y = Math.round(h * 0.05);
      const white = { r: 255, g: 255, b: 255, alpha: 1 };
      const framed = await png(sharp(i).extend({ top: y, bottom: y, left: x, right: x, background: white }));
      return sharp(framed).jpeg({ quality: 75 }).toBuffer();
    },
  },
  {
    name: 'text watermark',
    group: 'overlay',
    apply: async (i) => {
      const { w, h } = await size(i);
      return png(sharp(i).composite([{ input: watermarkSvg(w, h) }]));
    },
  },
  { name: 'brightness +20%', group: 'colour', apply: (i) => png(sharp(i).modulate({ brightness: 1.2 })) },
  { name: 'contrast +30%', group: 'colour', apply: (i) => png(sharp(i).linear(1.3, 128 - 128 * 1.3)) },
  {
    name: 'gamma 1.5',
    group: 'colour',
    apply: (i) => mapRaw(i, (v) => 255 * (v / 255) ** (1 / 1.5)),
  },
  { name: 'greyscale', group: 'colour', apply: (i) => png(sharp(i).greyscale()) },
  { name: 'blur sigma 2', group: 'filter', apply: (i) => png(sharp(i).blur(2)) },
  { name: 'sharpen', group: 'filter', apply: (i) => png(sharp(i).sharpen({ sigma: 1.5, m2: 3 })) },
  {
    name: 'noise (gauss sd 12)',
    group: 'filter',
    apply: (i, seed) => {
      const rnd = seededRandom(seed);
      return mapRaw(i, (v) => {
        const g = Math.sqrt(-2 * Math.log(1 - rnd())) * Math.cos(2 * Math.PI * rnd());
        return v + 12 * g;
      });
    },
  },
  { name: 'rotate 90', group: 'dihedral', apply: (i) => png(sharp(i).rotate(90)) },
  { name: 'rotate 180', group: 'dihedral', apply: (i) => png(sharp(i).rotate(180)) },
  { name: 'mirror (flop)', group: 'dihedral', apply: (i) => png(sharp(i).flop()) },
  { name: 'flip', group: 'dihedral', apply: (i) => png(sharp(i).flip()) },
  {
    name: 'rotate 3 deg',
    group: 'geometry',
    apply: (i) => png(sharp(i).rotate(3, { background: BLACK })),
  },
  {
    name: 'stretch aspect 10%',
    group: 'geometry',
    apply: async (i) => {
      const { w, h } = await size(i);
      return png(sharp(i).resize(Math.round(w * 1.1), h, { fit: 'fill' }));
    },
  },
  {
    name: 'logo in corner',
    group: 'overlay',
    apply: async (i) => {
      const { w, h } = await size(i);
      const s = Math.max(8, Math.round(Math.min(w, h) * 0.2));
      const m = Math.round(Math.min(w, h) * 0.03);
      const logo = await logoPng(s);
      return png(sharp(i).composite([{ input: logo, left: w - s - m, top: h - s - m }]));
    },
  },
];
