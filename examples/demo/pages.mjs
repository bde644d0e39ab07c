// Server-rendered pages of the demo: plain HTML with one stylesheet and no scripts. Every value
// that comes from a request or a file name is escaped. No page shows a hash.

/**
 * @param {unknown} value
 * @returns {string} the value as text safe inside HTML elements and quoted attributes
 */
export function esc(value) {
  return String(value)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/**
 * @param {number} bytes
 * @returns {string}
 */
function size(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/** Where the review console is mounted, once the server knows; linked from every page. */
let consoleLink = /** @type {string | null} */ (null);

/**
 * @param {string | null} url
 */
export function setConsoleLink(url) {
  consoleLink = url;
}

/**
 * @param {string} title
 * @param {string} body
 * @returns {string}
 */
function layout(title, body) {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)} · hashgate demo</title>
<link rel="stylesheet" href="/style.css">
</head>
<body>
<header class="top"><a class="brand" href="/">hashgate <span>demo</span></a>
<nav><a href="/">Upload</a>${consoleLink ? `<a href="${esc(consoleLink)}">Console</a>` : ''}<a href="/ready">Readiness</a><a href="/metrics">Metrics</a></nav></header>
<main>
${body}
</main>
<footer>Every picture in this demo is a harmless synthetic scene standing in for known material.</footer>
</body>
</html>
`;
}

/**
 * @typedef {{ url: string, label: string, what: string, expect: 'blocked' | 'accepted' }} Sample
 * @typedef {{ title: string, note: string, samples: Sample[] }} SampleGroup
 * @typedef {{ name: string, version: number | null, entries: number, fresh: boolean }} ListLine
 */

/**
 * The upload page.
 * @param {{ groups: SampleGroup[], lists: ListLine[], consoleUrl: string | null }} o
 * @returns {string}
 */
export function uploadPage(o) {
  const groups = o.groups
    .map(
      (g) => `<section class="group">
<h3>${esc(g.title)}</h3>
<p class="note">${esc(g.note)}</p>
<ul class="samples">
${g.samples
  .map(
    (s) => `<li class="sample ${s.expect}">
<a href="${esc(s.url)}" download><img src="${esc(s.url)}" alt="${esc(s.label)}" loading="lazy"></a>
<span class="label">${esc(s.label)}</span>
<span class="what">${esc(s.what)}</span>
<span class="expect">${s.expect === 'blocked' ? 'expect: blocked (451)' : 'expect: accepted'}</span>
</li>`,
  )
  .join('\n')}
</ul>
</section>`,
    )
    .join('\n');
  const lists = o.lists
    .map(
      (l) =>
        `<li><strong>${esc(l.name)}</strong> version ${l.version ?? '—'}, ${l.entries} entries, ${l.fresh ? '<span class="ok">fresh</span>' : '<span class="bad">not fresh</span>'}</li>`,
    )
    .join('\n');
  return layout(
    'Upload',
    `<section class="card upload">
<h1>Upload pictures</h1>
<p>Every file sent here is checked by hashgate before the app would keep it: exact hashes (MD5, SHA-256)
and perceptual hashes (PDQ, blockhash) are matched against the signed demo list. A match refuses the
whole upload with status 451, keeps the file as encrypted evidence and records an incident.</p>
<form class="uploader" method="post" action="/upload" enctype="multipart/form-data">
<label for="files">Choose one or more pictures</label>
<input id="files" type="file" name="files" multiple required>
<button type="submit">Upload and check</button>
</form>
</section>
<section class="card">
<h2>Pictures to try</h2>
<p>Download a picture (click it), then upload it above. The same files are on disk; the server printed their paths when it started.</p>
${groups}
</section>
<section class="card status">
<h2>Lists</h2>
<ul>${lists}</ul>
<p><a href="/ready">/ready</a> answers 200 when every list is loaded and fresh; <a href="/metrics">/metrics</a> is the Prometheus text.${o.consoleUrl ? ` Review incidents in the <a href="${esc(o.consoleUrl)}">console</a>.` : ''}</p>
</section>`,
  );
}

/**
 * The page after an accepted upload.
 * @param {{ files: { name: string, size: number, format: string, outcome: string }[] }} o
 * @returns {string}
 */
export function acceptedPage(o) {
  const words = /** @type {Record<string, string>} */ ({
    allow: 'accepted',
    review: 'accepted, held for review',
    unscanned: 'accepted without a check',
  });
  const rows = o.files
    .map(
      (f) =>
        `<tr><td>${esc(f.name)}</td><td>${esc(f.format)}</td><td>${size(f.size)}</td><td class="${esc(f.outcome)}">${esc(words[f.outcome] ?? f.outcome)}</td></tr>`,
    )
    .join('\n');
  return layout(
    'Accepted',
    `<section class="card result accepted">
<h1>Upload accepted</h1>
<p>hashgate found none of these files on the demo list. (The demo keeps nothing: a real app would store them now.)</p>
<table><thead><tr><th>File</th><th>Format</th><th>Size</th><th>Result</th></tr></thead>
<tbody>${rows}</tbody></table>
<p><a class="button" href="/">Upload more</a></p>
</section>`,
  );
}

/**
 * The page of a refused upload. Like hashgate's own answer it names no file, list or hash: a
 * response must not tell an uploader what matched.
 * @param {{ message: string, reference: string | undefined, dataDir: string, consoleUrl: string | null }} o
 * @returns {string}
 */
export function blockedPage(o) {
  return layout(
    'Refused',
    `<section class="card result blocked">
<h1>Upload refused</h1>
<p class="message">${esc(o.message)}</p>
${o.reference ? `<p>Reference: <code>${esc(o.reference)}</code></p>` : ''}
<p class="note">Demo note: the incident and the encrypted file are now in <code>${esc(o.dataDir)}</code>.
The answer is the same whatever matched, so that it cannot be used to probe the list.${o.consoleUrl ? ` Reviewers see what matched in the <a href="${esc(o.consoleUrl)}">console</a>.` : ''}</p>
<p><a class="button" href="/">Back</a></p>
</section>`,
  );
}

/**
 * A page for a request the demo could not take (no file, too large, too many).
 * @param {{ title: string, message: string }} o
 * @returns {string}
 */
export function problemPage(o) {
  return layout(
    o.title,
    `<section class="card result problem">
<h1>${esc(o.title)}</h1>
<p>${esc(o.message)}</p>
<p><a class="button" href="/">Back</a></p>
</section>`,
  );
}
