/** Draws the distance histograms of the robustness benchmark as an SVG, rendered to PNG with sharp. */

import sharp from 'sharp';

export interface HistogramSeries {
  readonly label: string;
  readonly colour: string;
  /** Counts per distance 0..bins-1. */
  readonly counts: readonly number[];
}

export interface ChartSpec {
  readonly title: string;
  readonly subtitle: string;
  readonly series: readonly HistogramSeries[];
  readonly threshold: number;
}

const W = 1000;
const H = 560;
const M = { left: 80, right: 30, top: 70, bottom: 70 };
/** Smallest fraction shown on the log axis. */
const FLOOR_EXP = -6;

/** SVG of the histograms, each normalised to fractions of its own total, on a log y axis. */
export function histogramSvg(spec: ChartSpec): string {
  const bins = Math.max(...spec.series.map((s) => s.counts.length));
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const x = (d: number): number => M.left + (d / bins) * pw;
  const y = (frac: number): number => {
    const e = frac <= 0 ? FLOOR_EXP : Math.max(FLOOR_EXP, Math.log10(frac));
    return M.top + (e / FLOOR_EXP) * ph;
  };
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="DejaVu Sans, sans-serif">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="28" text-anchor="middle" font-size="20" font-weight="bold">${spec.title}</text>`,
    `<text x="${W / 2}" y="50" text-anchor="middle" font-size="13" fill="#444">${spec.subtitle}</text>`,
  );
  // grid and y axis (decades)
  for (let e = 0; e >= FLOOR_EXP; e--) {
    const yy = y(10 ** e);
    parts.push(
      `<line x1="${M.left}" y1="${yy}" x2="${W - M.right}" y2="${yy}" stroke="#ddd"/>`,
      `<text x="${M.left - 8}" y="${yy + 4}" text-anchor="end" font-size="12">1e${e}</text>`,
    );
  }
  // x axis ticks
  for (let d = 0; d <= bins; d += 16) {
    const xx = x(d);
    parts.push(
      `<line x1="${xx}" y1="${M.top + ph}" x2="${xx}" y2="${M.top + ph + 5}" stroke="black"/>`,
      `<text x="${xx}" y="${M.top + ph + 20}" text-anchor="middle" font-size="12">${d}</text>`,
    );
  }
  parts.push(
    `<rect x="${M.left}" y="${M.top}" width="${pw}" height="${ph}" fill="none" stroke="black"/>`,
    `<text x="${M.left + pw / 2}" y="${H - 20}" text-anchor="middle" font-size="14">PDQ Hamming distance (bits, min over the 8 dihedral variants)</text>`,
    `<text transform="translate(22 ${M.top + ph / 2}) rotate(-90)" text-anchor="middle" font-size="14">fraction of pairs (log)</text>`,
  );
  // threshold
  const tx = x(spec.threshold + 1);
  parts.push(
    `<line x1="${tx}" y1="${M.top}" x2="${tx}" y2="${M.top + ph}" stroke="#c00" stroke-dasharray="6 4" stroke-width="2"/>`,
    `<text x="${tx + 6}" y="${M.top + 16}" font-size="12" fill="#c00">threshold &lt;= ${spec.threshold}</text>`,
  );
  // series as filled step histograms
  for (const s of spec.series) {
    const total = s.counts.reduce((a, b) => a + b, 0) || 1;
    let d = `M ${x(0)} ${y(0)}`;
    for (let i = 0; i < s.counts.length; i++) {
      const yy = y(s.counts[i]! / total);
      d += ` L ${x(i)} ${yy} L ${x(i + 1)} ${yy}`;
    }
    d += ` L ${x(s.counts.length)} ${y(0)} Z`;
    parts.push(
      `<path d="${d}" fill="${s.colour}" fill-opacity="0.35" stroke="${s.colour}" stroke-width="1.5"/>`,
    );
  }
  // legend
  spec.series.forEach((s, i) => {
    const ly = M.top + 20 + i * 22;
    const lx = W - M.right - 360;
    parts.push(
      `<rect x="${lx}" y="${ly - 11}" width="16" height="14" fill="${s.colour}" fill-opacity="0.6" stroke="${s.colour}"/>`,
      `<text x="${lx + 24}" y="${ly}" font-size="13">${s.label}</text>`,
    );
  });
  parts.push('</svg>');
  return parts.join('\n');
}

/** Renders the chart to a PNG file. */
export async function writeHistogramPng(spec: ChartSpec, path: string): Promise<void> {
  await sharp(Buffer.from(histogramSvg(spec)))
    .png()
    .toFile(path);
}
