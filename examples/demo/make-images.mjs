// Regenerates the demo's benign pictures in examples/demo/images (synthetic scenes drawn as SVG and
// rendered with sharp). The pictures are committed; run this only to change them:
//   node examples/demo/make-images.mjs
import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';

const W = 800;
const H = 600;

/**
 * A scene: SVG body drawn over a textured sky-to-ground backdrop. `seed` varies the texture.
 * @param {number} seed
 * @param {[string, string, string]} colours sky top, sky bottom, ground
 * @param {string} body
 * @param {number} [grain] opacity of the texture
 */
function svg(seed, [skyTop, skyBottom, ground], body, grain = 0.55) {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}">
  <defs>
    <linearGradient id="sky" x1="0" y1="0" x2="0" y2="1">
      <stop offset="0" stop-color="${skyTop}"/><stop offset="1" stop-color="${skyBottom}"/>
    </linearGradient>
    <filter id="grain" x="0" y="0" width="100%" height="100%">
      <feTurbulence type="fractalNoise" baseFrequency="0.012" numOctaves="4" seed="${seed}"/>
      <feColorMatrix type="matrix" values="0 0 0 0 0.5  0 0 0 0 0.5  0 0 0 0 0.5  0.9 0.9 0 0 -0.5"/>
    </filter>
  </defs>
  <rect width="${W}" height="${H}" fill="url(#sky)"/>
  <rect y="${H * 0.62}" width="${W}" height="${H * 0.38}" fill="${ground}"/>
  ${body}
  <rect width="${W}" height="${H}" filter="url(#grain)" opacity="${grain}"/>
</svg>`;
}

const scenes = {
  'on-list/lighthouse.jpg': svg(
    3,
    ['#4a7fc1', '#cfe3f5', '#2b5d8a'],
    `<circle cx="640" cy="120" r="55" fill="#fff6c8"/>
     <polygon points="0,372 260,300 420,372" fill="#6b6f4e"/>
     <polygon points="170,330 200,120 240,120 270,330" fill="#f2f2ee"/>
     <rect x="185" y="170" width="70" height="28" fill="#c8312b"/>
     <rect x="192" y="240" width="56" height="26" fill="#c8312b"/>
     <rect x="195" y="92" width="50" height="30" fill="#333"/>
     <polygon points="190,92 220,62 250,92" fill="#c8312b"/>
     <path d="M0 420 Q200 400 400 425 T800 420 V600 H0Z" fill="#1f4a70"/>
     <path d="M0 480 Q220 460 430 490 T800 485 V600 H0Z" fill="#173a5a"/>`,
  ),
  'on-list/mountains.jpg': svg(
    7,
    ['#f0a35e', '#fbe2b8', '#3d5a3a'],
    `<circle cx="400" cy="300" r="80" fill="#ffd27a"/>
     <polygon points="-40,372 180,110 330,372" fill="#5b4a6b"/>
     <polygon points="180,110 215,170 150,150" fill="#f4f1f7"/>
     <polygon points="220,372 470,150 700,372" fill="#4a3d5c"/>
     <polygon points="470,150 510,205 430,200" fill="#efeaf3"/>
     <polygon points="560,372 760,200 900,372" fill="#3b3050"/>
     <path d="M0 372 Q400 340 800 380 V600 H0Z" fill="#2e4a2c"/>
     <rect x="90" y="430" width="14" height="60" fill="#3a2a1e"/><circle cx="97" cy="420" r="34" fill="#1f3b1d"/>
     <rect x="640" y="450" width="14" height="70" fill="#3a2a1e"/><circle cx="647" cy="438" r="40" fill="#1f3b1d"/>`,
  ),
  'on-list/balloons.jpg': svg(
    11,
    ['#2f8fd8', '#a9dbfb', '#7fb04a'],
    `<ellipse cx="210" cy="170" rx="75" ry="90" fill="#e94b3c"/>
     <rect x="190" y="270" width="40" height="30" fill="#7a5230"/>
     <line x1="160" y1="230" x2="192" y2="272" stroke="#333" stroke-width="3"/><line x1="260" y1="230" x2="228" y2="272" stroke="#333" stroke-width="3"/>
     <ellipse cx="520" cy="110" rx="55" ry="66" fill="#f5c518"/>
     <rect x="506" y="184" width="28" height="22" fill="#7a5230"/>
     <ellipse cx="660" cy="260" rx="45" ry="54" fill="#6a4fc7"/>
     <rect x="648" y="320" width="24" height="18" fill="#7a5230"/>
     <path d="M0 372 Q150 330 320 372 T640 360 T800 372 V600 H0Z" fill="#6a9d3e"/>
     <path d="M0 470 Q260 430 520 480 T800 470 V600 H0Z" fill="#588a30"/>`,
  ),
  'on-list/city-night.jpg': svg(
    19,
    ['#0b1230', '#33386b', '#15152a'],
    `<circle cx="130" cy="100" r="40" fill="#f3f0d8"/>
     <rect x="40" y="200" width="90" height="200" fill="#22233f"/>
     <rect x="150" y="140" width="110" height="260" fill="#2b2c4c"/>
     <rect x="290" y="230" width="80" height="170" fill="#1f2038"/>
     <rect x="390" y="110" width="120" height="290" fill="#30315a"/>
     <rect x="540" y="180" width="100" height="220" fill="#24254a"/>
     <rect x="660" y="240" width="110" height="160" fill="#2a2b4e"/>
     <g fill="#ffd86b">
       <rect x="165" y="170" width="16" height="20"/><rect x="215" y="220" width="16" height="20"/>
       <rect x="410" y="140" width="16" height="20"/><rect x="460" y="200" width="16" height="20"/>
       <rect x="420" y="280" width="16" height="20"/><rect x="560" y="210" width="16" height="20"/>
       <rect x="600" y="290" width="16" height="20"/><rect x="60" y="240" width="16" height="20"/>
       <rect x="690" y="270" width="16" height="20"/><rect x="310" y="260" width="16" height="20"/>
     </g>
     <path d="M0 420 Q400 400 800 425 V600 H0Z" fill="#101028"/>`,
    0.3,
  ),
  'not-on-list/forest.jpg': svg(
    23,
    ['#9fc9a8', '#e8f1da', '#35502c'],
    `<polygon points="60,400 120,140 180,400" fill="#1f4d2b"/>
     <polygon points="170,410 250,100 330,410" fill="#245a31"/>
     <polygon points="320,400 380,170 440,400" fill="#1b4527"/>
     <polygon points="450,420 540,80 630,420" fill="#2a6337"/>
     <polygon points="620,400 690,160 760,400" fill="#1f4d2b"/>
     <path d="M0 470 Q300 440 800 480 V600 H0Z" fill="#4a3a24"/>`,
  ),
  'not-on-list/desert.jpg': svg(
    29,
    ['#e6b566', '#fbe7c2', '#d9a35a'],
    `<circle cx="600" cy="130" r="60" fill="#fff1b5"/>
     <path d="M0 380 Q200 320 420 390 T800 370 V600 H0Z" fill="#c98e45"/>
     <path d="M0 470 Q260 420 560 480 T800 460 V600 H0Z" fill="#b87c37"/>
     <rect x="150" y="300" width="22" height="110" rx="10" fill="#3f6b35"/>
     <rect x="120" y="330" width="16" height="45" rx="8" fill="#3f6b35"/>
     <rect x="186" y="320" width="16" height="40" rx="8" fill="#3f6b35"/>
     <polygon points="430,372 470,250 610,250 650,372" fill="#a5603a"/>
     <polygon points="640,380 665,300 740,300 770,380" fill="#96552f"/>
     <ellipse cx="520" cy="520" rx="60" ry="18" fill="#8a5a2b"/>`,
    0.8,
  ),
  'not-on-list/sailboat.png': svg(
    31,
    ['#5aa9d6', '#e3f3fb', '#1d6fa3'],
    `<path d="M0 372 Q400 360 800 372 V600 H0Z" fill="#1d6fa3"/>
     <polygon points="380,130 380,400 250,400" fill="#fbfbf5"/>
     <polygon points="395,160 395,400 500,400" fill="#f0c24a"/>
     <rect x="383" y="120" width="8" height="290" fill="#5a4330"/>
     <path d="M260 410 L540 410 L500 450 L300 450 Z" fill="#8a3b2b"/>
     <path d="M0 500 Q200 480 420 505 T800 500 V600 H0Z" fill="#165a86"/>`,
  ),
};

const root = fileURLToPath(new URL('./images/', import.meta.url));
for (const [name, body] of Object.entries(scenes)) {
  await mkdir(new URL(`./images/${name.split('/')[0]}/`, import.meta.url), { recursive: true });
  const img = sharp(Buffer.from(body));
  if (name.endsWith('.png'))
    await img.png({ compressionLevel: 9, palette: true, colours: 128 }).toFile(root + name);
  else await img.jpeg({ quality: 86, mozjpeg: true }).toFile(root + name);
  console.log(`wrote examples/demo/images/${name}`);
}
